#!/bin/bash
# Latent consistency distillation of the default model on a lent GPU in one unattended run (the
# device tool's 10-minute command): the CPU recipe's commands with --device cuda and a larger
# batch. Continues $RESUME (a lcm.pt from the CPU run, optional) for MIN minutes, then exports
# unet_lcm/ and leaves in $OUT: lcm.tgz (the export), lcm.pt (the checkpoint, to go on with on
# the CPU) and lcm.log. Run from the repository root with the dataset packed by
# tools/gpu_prepare.sh pack in $PACKED:
#   PACKED=.gpu/data OUT=$OUT MIN=7 RESUME=.gpu/lcm.pt bash tools/gpu_lcm.sh
set -u
T0=$(date +%s)
PY=${PY:-python3}; DEV=${DEV:-cuda}; INIT=${INIT:-Weights/default}; PACKED=${PACKED:-.gpu/data}
MIN=${MIN:-7}; BATCH=${BATCH:-256}; LR=${LR:-5e-5}
W=${WORK:-/tmp/w}; O=${OUT:-/tmp/out}; mkdir -p $W/lcm $O
log() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
fail() { log "FAILED: $*"; tail -25 $O/lcm.log; exit 1; }
PY=$PY bash tools/gpu_prepare.sh install > $O/wheels.log 2>&1 || { cat $O/wheels.log; fail wheels; }
$PY tools/pack_data.py unpack --packed $PACKED --data $W/data || fail unpack
$PY tools/train_model.py prepare --data $W/data --vae $INIT/vae --work $W/s2 --init $INIT --device $DEV > $O/lcm.log 2>&1 || fail prepare
ln -sf $W/s2/cache.pt $W/lcm/cache.pt
[ -n "${RESUME:-}" ] && cp "$RESUME" $W/lcm/lcm.pt
log prepared
$PY tools/train_lcm.py train --work $W/lcm --teacher $INIT --minutes $MIN --batch $BATCH --lr $LR --save-minutes 100 \
    --threads 6 --device $DEV >> $O/lcm.log 2>&1 || fail train
$PY tools/train_lcm.py export --work $W/lcm --out $W/export >> $O/lcm.log 2>&1 || fail export
tar czf $O/lcm.tgz -C $W/export unet_lcm && cp $W/lcm/lcm.pt $O/lcm.pt
log "all done"; ls -la $O
