"""Parity fixtures for the Java build: one tiny trained model of every kind, exported as shipped models are.

    /usr/bin/python3 -m lsntp parity-fixtures --out DIR [--kinds k1,k2]

For each kind, a tiny model (fixtures.tiny_config: hidden 4, 3 frames in, 2 out) trains two steps
on a real 9 x 12, 60-hour cut of ERA5 (fixtures.write_small_era5) and export.export writes
DIR/<kind>/model.onnx with parity-input.f32, parity-expected.f32 and parity.json, exactly as for a
shipped model. The Java side runs each model in ONNX Runtime and compares it with PyTorch's forecast.

Two training steps leave the network's part of a forecast (forecast minus the last frame) at a few
hundredths of a kelvin, so a parity tolerance of 1e-4 K would hardly see a wrong network. Before
export each fixture's persistence-residual scale is set so that part is about NETWORK_PART_K on the
parity window: the fixture then checks the network, not the persistence it adds to.
"""
from __future__ import annotations

import os
import tempfile

import torch

from . import checkpoint, export, train
from .fixtures import tiny_config, write_small_era5
from .kinds import KINDS

TRAINING_STEPS = 2
# Fixtures besides one per kind: DIR/<name>/ with (kind, further model keys).
VARIANTS = {"lsntp-sparse": ("lsntp", {"graph": "sparse", "graph_k": 5}),
            # over export.SINGLE_GATHER_MAX: the body gathers the neighbours in blocks of 7, 7, 6 (Slice, Add)
            "lsntp-sparse-blocked": ("lsntp", {"graph": "sparse", "graph_k": 20})}
NETWORK_PART_K = 1.0  # mean |forecast - last frame| of a fixture on its parity window, kelvin


def network_part_k(model, x) -> float:
    with torch.no_grad():
        return (model(x) - x[:, -1:]).abs().mean().item()


def amplify_network(path: str, target_k: float = NETWORK_PART_K) -> float:
    """Rescales the checkpoint's persistence-residual `change_scale` (the network's output is divided
    by it) so the network's part is about target_k on the parity window; returns that part after."""
    model, _, prepared, ck = checkpoint.load(path)
    x = torch.from_numpy(prepared.test[0][0][None].copy())  # export's parity window
    keys = [k for k in ck["model"] if k.endswith("change_scale")]
    for _ in range(3):  # the tendency input scales too, so the part is not exactly inverse in the scale
        part = network_part_k(model, x)
        if not keys or abs(part / target_k - 1) < 0.2:
            break
        for k in keys:
            ck["model"][k] = ck["model"][k] * (part / target_k)
        model.load_state_dict(ck["model"])
    checkpoint.save(ck, path)
    return network_part_k(model, x)


def write(out_dir: str, kinds: list[str] | None = None, command: str | None = None) -> list[str]:
    """Writes DIR/<kind>/ for every kind (or VARIANTS name) asked for (all by default); returns the model files."""
    kinds = list(KINDS) + list(VARIANTS) if not kinds else kinds
    unknown = [k for k in kinds if k not in KINDS and k not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown model kind(s) {', '.join(unknown)}; choose from {', '.join(list(KINDS) + list(VARIANTS))}")
    models = []
    with tempfile.TemporaryDirectory() as work:
        data = write_small_era5(os.path.join(work, "era5-small.nc"))
        for kind in kinds:
            run = os.path.join(work, kind)
            base, extra = VARIANTS.get(kind, (kind, None))
            train.train(tiny_config(data, base, extra), run, max_steps=TRAINING_STEPS, quiet=True)
            amplify_network(os.path.join(run, "best.pt"))
            models.append(export.export(os.path.join(run, "best.pt"), os.path.join(out_dir, kind, "model.onnx"),
                                        version="0.0.0-parity", command=command))
    return models
