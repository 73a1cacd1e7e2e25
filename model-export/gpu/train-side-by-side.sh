#!/bin/bash
# Train several runs side by side on one GPU machine, with the same code as the CPU queue, and pack
# each run folder as a tarball to bring back: how the NCEP runs trained on a GPU were made (on
# 2026-11-28, an NVIDIA H200 with torch 2.11, lent for 15 minutes). Six ran side by side there,
# an epoch in 3-7 s each (one run alone was not timed).
#
#   model-export/gpu/train-side-by-side.sh prepare   # here (needs netCDF4): the NCEP file as NetCDF3
#   OUT=DIR model-export/gpu/train-side-by-side.sh   # there, from the repo root, the .gpu folder with it
#
# Why a NetCDF3 copy: the GPU image has xarray and scipy but not netCDF4, and scipy reads NetCDF3
# only. `prepare` checks that the copy loads to the same values, times and grid as the original.
# The runs keep their configs' data.path (the original file in data/raw/), so evaluating them here reads it.
# Env: ONLY=REGEX trains the runs whose names match it only (unanchored: ^...$ for one run); DEADLINE (seconds, default 480) stops what is still
# training (last.pt resumes with `lsntp queue` or `train --resume` anywhere); DEVICE (cuda); PY
# (python3); RUNS_DIR (/tmp/gpu-runs); EXTRA (more `lsntp train` arguments, e.g. --max-steps 2).
# Back here: `tar -xzf RUN.tgz -C RUNS` into the queue's runs folder, whose runs must not be worked
# on by a queue worker at the time (a worker writes into the folder by its path).
set -u
cd "$(dirname "$0")/../.."
NC=ncep-air-sig995-na-2013-01_2014-02-6hourly.nc
if [ "${1:-}" = prepare ]; then
  mkdir -p .gpu
  cd model-export && exec "${PY:-/usr/bin/python3}" - "../data/raw/$NC" "../.gpu/$NC" <<'PYEOF'
import sys, numpy as np, xarray as xr
from lsntp.data import load_series
src, dst = sys.argv[1], sys.argv[2]
xr.open_dataset(src, decode_cf=False).to_netcdf(dst, format="NETCDF3_64BIT", engine="scipy")
a, b = load_series(src), load_series(dst)
same = all(np.array_equal(x, y, equal_nan=True) for x, y in ((a.values, b.values), (a.times, b.times), (a.lats, b.lats), (a.lons, b.lons)))
print(f"{dst}: NetCDF3 copy, {'the same series as' if same else 'DIFFERS from'} {src}")
sys.exit(0 if same else 1)
PYEOF
fi
PY=${PY:-python3}; DEVICE=${DEVICE:-cuda}; DEADLINE=${DEADLINE:-480}; EXTRA=${EXTRA:-}
RUNS=${RUNS_DIR:-/tmp/gpu-runs}; OUT=${OUT:?set OUT, the folder the tarballs go to}; mkdir -p "$RUNS" "$OUT"
DATA=$PWD/.gpu/$NC
exec > >(tee -a "$OUT/gpu-log.txt") 2>&1
date -u; nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
"$PY" -c "import torch, numpy, xarray, scipy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__, 'xarray', xarray.__version__)"
cd model-export
pids=()
start() {  # name config seed [downsample]
  local name=$1 cfg=$2 seed=$3 ds=${4:-true}
  [ -n "${ONLY:-}" ] && ! [[ "$name" =~ $ONLY ]] && return
  mkdir -p "$RUNS/$name"
  LSNTP_THREADS=2 PYTHONUNBUFFERED=1 "$PY" -m lsntp train "$cfg" --data "$DATA" --run-dir "$RUNS/$name" --resume \
    --set name="$name" --set train.seed="$seed" --set model.downsample="$ds" --device "$DEVICE" $EXTRA \
    > "$RUNS/$name/train.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!)"
}
# the runs of queues/comparison.yaml trained this way (names and overrides as the queue gives them)
start ncep-saconvlstm-s2 configs/ncep-saconvlstm.yaml 2
start ncep-convlstm-full-res-s0 configs/ncep-convlstm.yaml 0 false
start ncep-convlstm-full-res-s1 configs/ncep-convlstm.yaml 1 false
start ncep-convlstm-full-res-s2 configs/ncep-convlstm.yaml 2 false
start ncep-saconvlstm-full-res-s0 configs/ncep-saconvlstm.yaml 0 false
start ncep-dconvlstm-full-res-s0 configs/ncep-dconvlstm.yaml 0 false
start ncep-dconvlstm-full-res-s1 configs/ncep-dconvlstm.yaml 1 false
start ncep-dconvlstm-full-res-s2 configs/ncep-dconvlstm.yaml 2 false
t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$DEADLINE" ]; do
  alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
  [ "$alive" -eq 0 ] && break
  sleep 20
  echo "--- $((SECONDS - t0)) s, $alive training"
  for d in "$RUNS"/*/; do tail -n 1 "$d/train.log" | cut -c1-150; done
done
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
sleep 3
for d in "$RUNS"/*/; do n=$(basename "$d"); echo "== $n"; tail -n 3 "$d/train.log"; tar -czf "$OUT/$n.tgz" -C "$RUNS" "$n"; done
ls -la "$OUT"; date -u
