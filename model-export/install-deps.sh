#!/usr/bin/env bash
# One install step for model-export: Debian packages only (no PyPI here). Installs only what is missing.
set -euo pipefail
pkgs=(python3-torch python3-onnx python3-numpy python3-xarray python3-cfgrib python3-netcdf4
      python3-matplotlib python3-cartopy python3-skimage python3-scipy python3-tqdm python3-pytest
      python3-avro python3-yaml python3-pandas python3-pyshp)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
