#!/bin/bash
# What a lent GPU run needs that its machine lacks (no network there; the device tool carries a
# working tree of at most 64 MiB), in .gpu/ (ignored by git; pass `carry: [".gpu"]`):
#   bash tools/gpu_prepare.sh pack DATA    # here: DATA packed by tools/pack_data.py into .gpu/data
#                                          # (21 MB) and the wheels below into .gpu/whl (6.2 MB)
#   bash tools/gpu_prepare.sh install      # there (tools/gpu_*.sh run it first): the wheels,
#                                          # only when $PY cannot import diffusers
# The wheels are the ones session 6 found missing on the GPU image (PyTorch and transformers were
# there, diffusers and three of its small dependencies not), at the versions tools/requirements.txt
# pins or this venv resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
WHEELS=(diffusers==0.42.1 importlib_metadata==10.2.0 lazy-importer==0.1.0 zipp==4.1.2)
case "${1:-}" in
  pack)
    data=${2:?usage: gpu_prepare.sh pack DATA}
    rm -rf .gpu/data .gpu/whl
    "$PY" tools/pack_data.py pack --data "$data" --out .gpu/data
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: --dest .gpu/whl "${WHEELS[@]}"
    du -sh .gpu/data .gpu/whl ;;
  install)
    if "$PY" -c "import diffusers" 2>/dev/null; then exit 0; fi
    [ -d .gpu/whl ] || { echo "gpu_prepare.sh install: no .gpu/whl (run 'gpu_prepare.sh pack DATA' before the run and carry .gpu)" >&2; exit 1; }
    "$PY" -m pip install --quiet --no-index --find-links .gpu/whl "${WHEELS[@]}"
    "$PY" -c "import diffusers; print('diffusers', diffusers.__version__, 'installed from .gpu/whl')" ;;
  *)
    echo "usage: gpu_prepare.sh pack DATA | install" >&2; exit 2 ;;
esac
