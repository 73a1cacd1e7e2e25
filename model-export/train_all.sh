#!/usr/bin/env bash
# The exact commands that trained the shipped models and every run their reports compare.
# Run from anywhere: model-export/train_all.sh [era5|ncep|ablations]. Every run resumes from its
# last checkpoint if interrupted (and stops at once if it already finished).
# Two runs may share the machine: LSNTP_THREADS=1 model-export/train_all.sh era5 & LSNTP_THREADS=1 model-export/train_all.sh ncep
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
what="${1:-all}"
run() { "$PY" -m lsntp train "$@" --resume; }
if [[ "$what" == all || "$what" == era5 ]]; then
  run configs/era5-lsntp.yaml
  run configs/era5-convlstm.yaml
  run configs/era5-convgru.yaml
  run configs/era5-predrnn.yaml
fi
if [[ "$what" == all || "$what" == ncep ]]; then
  run configs/ncep-lsntp.yaml
  run configs/ncep-convlstm.yaml
  run configs/ncep-convgru.yaml
  run configs/ncep-predrnn.yaml
fi
if [[ "$what" == all || "$what" == ablations ]]; then
  # The seed's ablations (Table 4), distance threshold (Q1) and kernel size (Q2) on ERA5, each with
  # the main run's settings; the reports list the ones that were trained.
  run configs/era5-lsntp.yaml --set name=era5-lsntp-d0 --set model.distance_km=0 --run-dir runs/era5-lsntp-d0
  run configs/era5-lsntp.yaml --set name=era5-lsntp-no-lagc --set model.lagc=false --run-dir runs/era5-lsntp-no-lagc
  run configs/era5-lsntp.yaml --set name=era5-lsntp-no-nsa --set model.nsa=false --run-dir runs/era5-lsntp-no-nsa
  run configs/era5-lsntp.yaml --set name=era5-lsntp-d300 --set model.distance_km=300 --run-dir runs/era5-lsntp-d300
  run configs/era5-lsntp.yaml --set name=era5-lsntp-no-lsi --set model.lsi=false --run-dir runs/era5-lsntp-no-lsi
  run configs/era5-lsntp.yaml --set name=era5-lsntp-no-nsa-lagc --set model.nsa=false --set model.lagc=false --run-dir runs/era5-lsntp-no-nsa-lagc
  run configs/era5-lsntp.yaml --set name=era5-lsntp-k1 --set model.kernel=1 --run-dir runs/era5-lsntp-k1
  run configs/era5-lsntp.yaml --set name=era5-lsntp-k5 --set model.kernel=5 --run-dir runs/era5-lsntp-k5
fi
