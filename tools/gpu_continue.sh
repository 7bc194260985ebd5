#!/bin/bash
# Continues the default model on a lent GPU in one unattended run (the device tool's 10-minute
# command), everything in the CPU recipe's commands with --device cuda:
#   stage 2 from $INIT (default Weights/default) for A_MIN minutes at batch 256 -> export A ->
#   stage 3 on A (in the background); stage 2 on for B_MIN minutes with the learning rate
#   annealed -> export B -> stage 3 on B; beside it all, the VAE decoder fine-tuned from
#   $INIT/vae for V_MIN minutes (0: skip). Results land in $OUT as they finish, at most 8 files:
#   refA.tgz, refB.tgz (or expB.tgz when stage 3 on B did not finish), vae.tgz and the logs.
# Run from the repository root, with the dataset packed by tools/gpu_prepare.sh pack in $PACKED:
#   PACKED=.gpu/data OUT=$OUT A_MIN=2.75 B_MIN=2.5 V_MIN=6 bash tools/gpu_continue.sh
set -u
T0=$(date +%s)
PY=${PY:-python3}; DEV=${DEV:-cuda}; INIT=${INIT:-Weights/default}; PACKED=${PACKED:-.gpu/data}
A=${A_MIN:-2.75}; B=${B_MIN:-2.5}; V=${V_MIN:-6}; RS=${RS:-6000}; BATCH=${BATCH:-256}; VAE_LR=${VAE_LR:-5e-4}
A_ANNEAL=${A_ANNEAL:+--anneal}  # A_ANNEAL=1: anneal segment A too (a run with no segment B)
W=${WORK:-/tmp/w}; O=${OUT:-/tmp/out}; mkdir -p $W $O
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
fail() { log "FAILED: $*"; for f in $O/*.log; do echo "== $f"; tail -25 $f; done; kill $(jobs -p) 2>/dev/null; exit 1; }
PY=$PY bash tools/gpu_prepare.sh install > $O/wheels.log 2>&1 || { cat $O/wheels.log; fail wheels; }
$PY tools/pack_data.py unpack --packed $PACKED --data $W/data || fail unpack
log unpacked
if [ "$V" != 0 ]; then
  ( $PY tools/train_vae.py --data $W/data --ckpt $W/vae.pt --init $INIT/vae --decoder-only --lr $VAE_LR --batch 128 \
      --minutes $V --save-minutes 100 --threads 4 --device $DEV --anneal --warmup 300 --export $W/vae-out > $O/vae.log 2>&1 \
    && tar czf $O/vae.tgz -C $W vae-out && echo "[vae done]" >> $O/vae.log ) &
fi
$PY tools/train_model.py prepare --data $W/data --vae $INIT/vae --work $W/s2 --init $INIT --device $DEV > $O/s2.log 2>&1 || fail prepare
log prepared
$PY tools/train_model.py train --work $W/s2 --init $INIT --snr-gamma 1 --batch $BATCH --minutes $A $A_ANNEAL \
    --save-minutes 100 --threads 6 --device $DEV >> $O/s2.log 2>&1 &
S2=$!
sleep ${CHECK_S:-45}  # fail fast: both trainers must be past their first steps
kill -0 $S2 2>/dev/null || { wait $S2 || fail "stage 2 segment A"; }
[ -f $O/vae.log ] && grep -q Traceback $O/vae.log && fail vae
log "running"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null
wait $S2 || fail "stage 2 segment A"
$PY tools/train_model.py export --work $W/s2 --vae $INIT/vae --out $W/expA --device $DEV >> $O/s2.log 2>&1 || fail "export A"
log "exported A"
( $PY tools/refine_style.py --model $W/expA --work $W/s2 --out $W/refA --steps $RS --threads 3 --device $DEV > $O/refA.log 2>&1 \
  && tar czf $O/refA.tgz -C $W --exclude=refA/vae refA && echo "[refA done]" >> $O/refA.log ) &
if [ "$B" != 0 ]; then
  $PY tools/train_model.py train --work $W/s2 --snr-gamma 1 --batch $BATCH --minutes $B --anneal \
      --save-minutes 100 --threads 6 --device $DEV >> $O/s2.log 2>&1 || fail "stage 2 segment B"
  $PY tools/train_model.py export --work $W/s2 --vae $INIT/vae --out $W/expB --device $DEV >> $O/s2.log 2>&1 || fail "export B"
  tar czf $O/expB.tgz -C $W --exclude=expB/vae expB
  log "exported B"
  $PY tools/refine_style.py --model $W/expB --work $W/s2 --out $W/refB --steps $RS --threads 6 --device $DEV > $O/refB.log 2>&1 \
    && tar czf $O/refB.tgz -C $W --exclude=refB/vae refB && rm -f $O/expB.tgz
  log "refined B"
fi
wait
log "all done"; ls -la $O
