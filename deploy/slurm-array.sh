#!/usr/bin/env bash
# A prompt file spread over a Slurm job array: each task gets SLURM_ARRAY_TASK_ID (and the
# array's SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT), from which `stylediff batch` takes
# its shard when no --shard/--shards is given (the array must have step 1). Outputs and
# manifest-I-of-N.jsonl go to one shared folder; the union equals an unsharded run. A task that
# exits 75 (write failure, or SIGTERM when preempted) is requeued and resumes.
#
#   sbatch deploy/slurm-array.sh prompts.jsonl /shared/out /models/stable-diffusion-v1-5
#
#SBATCH --job-name=stylediff
#SBATCH --array=0-7
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --requeue
#SBATCH --signal=TERM@60
set -euo pipefail
prompts=${1:?prompt file}
out=${2:?output folder}
model=${3:?model folder}
status=0
stylediff batch "$prompts" --out-dir "$out" --model "$model" --threads "${SLURM_CPUS_PER_TASK:-2}" || status=$?
if [ "$status" -eq 75 ]; then
  scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
fi
exit "$status"
