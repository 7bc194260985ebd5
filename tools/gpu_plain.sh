#!/bin/bash
# Stage 5's UNet fine-tune (plain-word captions on the distilled text encoder) on a lent GPU in
# one unattended run (the device tool's 10-minute command): tools/train_model.py train with
# --device cuda and a larger batch, from $INIT (a stage-5 export: tools/train_text.py export, or
# an earlier run of this script), for MIN minutes, then the export, left in $OUT as plain.tgz
# with plain.log. The teacher embeddings (290 MB) do not travel, so the text encoder is frozen
# here (--freeze text style) instead of trained with the distillation regulariser as on the CPU.
# Run from the repository root with the dataset packed in $PACKED (tools/gpu_prepare.sh pack) and the
# caption variants of tools/build_phrases.py in $PHRASES (captions.json):
#   PACKED=.gpu/data PHRASES=.gpu/phrases INIT=.gpu/init OUT=$OUT MIN=7 bash tools/gpu_plain.sh
# With PHRASES empty the prompts are the dataset's own captions: the content-fitting run RECIPE
# stage 5 (session 32) calls for, from the shipped model with its text encoder frozen, so the
# caption-map student (tools/train_text.py --map) stays valid for the result:
#   PACKED=.gpu/data PHRASES= INIT=Weights/default OUT=$OUT MIN=8 bash tools/gpu_plain.sh
set -u
T0=$(date +%s)
PY=${PY:-python3}; DEV=${DEV:-cuda}; INIT=${INIT:-.gpu/init}; PACKED=${PACKED:-.gpu/data}; PHRASES=${PHRASES-.gpu/phrases}
MIN=${MIN:-7}; BATCH=${BATCH:-256}; LR=${LR:-2e-4}
W=${WORK:-/tmp/w}; O=${OUT:-/tmp/out}; mkdir -p $W $O
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
fail() { log "FAILED: $*"; tail -25 $O/plain.log; exit 1; }
PY=$PY bash tools/gpu_prepare.sh install > $O/wheels.log 2>&1 || { cat $O/wheels.log; fail wheels; }
$PY tools/pack_data.py unpack --packed $PACKED --data $W/data || fail unpack
$PY tools/train_model.py prepare --data $W/data --vae $INIT/vae --work $W/s2 --init $INIT --device $DEV > $O/plain.log 2>&1 || fail prepare
log prepared
$PY tools/train_model.py train --work $W/s2 --init $INIT ${PHRASES:+--captions $PHRASES} --freeze text style --snr-gamma 1 \
    --minutes $MIN --batch $BATCH --lr $LR --save-minutes 100 --threads 6 --device $DEV >> $O/plain.log 2>&1 || fail train
$PY tools/train_model.py export --work $W/s2 --vae $INIT/vae --out $W/export --device $DEV >> $O/plain.log 2>&1 || fail export
tar czf $O/plain.tgz -C $W/export . || fail pack
log "all done"; ls -la $O
