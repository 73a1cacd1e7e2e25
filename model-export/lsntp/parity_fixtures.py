"""Parity fixtures for the Java build: one tiny trained model of every kind, exported as shipped models are.

    python3 -m lsntp parity-fixtures --out DIR [--kinds k1,k2]

For each kind, a tiny model (fixtures.tiny_config: hidden 4, 3 frames in, 2 out) trains two steps
on a real 9 x 12, 60-hour cut of ERA5 (fixtures.write_small_era5) and export.export writes
DIR/<kind>/model.onnx with parity-input.f32, parity-expected.f32 and parity.json, exactly as for a
shipped model. The Java side runs each model in ONNX Runtime and compares it with PyTorch's forecast.
"""
from __future__ import annotations

import os
import tempfile

from . import export, train
from .fixtures import tiny_config, write_small_era5
from .kinds import KINDS

TRAINING_STEPS = 2


def write(out_dir: str, kinds: list[str] | None = None, command: str | None = None) -> list[str]:
    """Writes DIR/<kind>/ for every kind asked for (all by default); returns the model files."""
    kinds = list(KINDS) if not kinds else kinds
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown model kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}")
    models = []
    with tempfile.TemporaryDirectory() as work:
        data = write_small_era5(os.path.join(work, "era5-small.nc"))
        for kind in kinds:
            run = os.path.join(work, kind)
            train.train(tiny_config(data, kind), run, max_steps=TRAINING_STEPS, quiet=True)
            models.append(export.export(os.path.join(run, "best.pt"), os.path.join(out_dir, kind, "model.onnx"),
                                        version="0.0.0-parity", command=command))
    return models
