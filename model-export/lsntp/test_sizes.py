"""Matched sizes: every run configuration in configs/ has, on its data set's grid, a parameter
count within 20% of that data set's LS-NTP configuration, so the comparison weighs systems, not
sizes. The grids are the shipped models' (their ONNX metadata, matched by grid_id)."""
import glob
import os

import numpy as np
import onnx
import pytest

from . import config
from .config import PROJECT_ROOT
from .data import MinMax
from .forecaster import build_forecaster

CONFIGS = sorted(glob.glob(os.path.join(PROJECT_ROOT, "model-export", "configs", "*.yaml")))
TOLERANCE = 0.2


def shipped_grids() -> dict[str, tuple[int, int, np.ndarray, np.ndarray]]:
    """grid_id -> (height, width, latitudes, longitudes) of the shipped models (the sparse graph's
    neighbours come from the coordinates)."""
    grids = {}
    for path in glob.glob(os.path.join(PROJECT_ROOT, "models", "*", "model.onnx")):
        meta = {p.key: p.value for p in onnx.load(path).metadata_props}
        h, w = int(meta["grid_height"]), int(meta["grid_width"])
        lats = float(meta["grid_lat0"]) + float(meta["grid_dlat"]) * np.arange(h)
        lons = float(meta["grid_lon0"]) + float(meta["grid_dlon"]) * np.arange(w)
        grids[meta["grid_id"]] = (h, w, lats, lons)
    return grids


def parameters(cfg: config.RunConfig, grids: dict) -> int:
    h, w, lats, lons = grids[cfg.data.grid_id]
    model = build_forecaster(cfg.model, h, w, beta=cfg.data.beta, norm=MinMax(0.0, 1.0), lats=lats, lons=lons)
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def reference():
    """grid_id -> (shipped grid, LS-NTP's parameter count on it)."""
    grids = shipped_grids()
    refs = [cfg for cfg in map(config.load, CONFIGS) if cfg.model.kind == "lsntp" and cfg.model.graph == "dense"]
    assert sorted(cfg.data.grid_id for cfg in refs) == sorted(grids)  # one (dense) LS-NTP per shipped grid
    return grids, {cfg.data.grid_id: parameters(cfg, grids) for cfg in refs}


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_within_20_percent_of_ls_ntp(path, reference):
    grids, lsntp = reference
    cfg = config.load(path)
    n = parameters(cfg, grids)
    target = lsntp[cfg.data.grid_id]
    assert abs(n / target - 1) <= TOLERANCE, f"{cfg.name}: {n:,} parameters against LS-NTP's {target:,}"

