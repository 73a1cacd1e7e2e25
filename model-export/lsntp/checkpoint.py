"""Checkpoints: what a training run saves each epoch, and rebuilding a trained model from one.

A checkpoint is a plain dict (torch.save) holding the model and optimiser state, the run's
configuration as a dict, the normalisation, the history and where training stood. Loading goes
through config.parse, the same check every YAML configuration gets, and maps tensors to the CPU,
so a checkpoint written on a GPU machine (a newer torch) loads on Debian's torch 1.13 and back.
A checkpoint records its data file where it was on the machine that trained it; loading finds the
file in the project's data/raw/ by its name when it is no longer there (data_where_it_is).
"""
from __future__ import annotations

import dataclasses
import os
import sys

import torch

from . import config as config_mod
from .data import Prepared, prepare
from .forecaster import Normalised, build_forecaster
from .paths import RAW_DATA_DIR, project_relative


def build_model(cfg: config_mod.RunConfig, prepared: Prepared) -> Normalised:
    """A fresh model for a run configuration and its prepared data (grid, normalisation, step change)."""
    s = prepared.series
    return build_forecaster(cfg.model, s.lats.size, s.lons.size, cfg.data.beta, prepared.norm, s.lats, s.lons,
                            prepared.step_change_k)


def save(ck: dict, path: str) -> None:
    """Writes atomically: an interrupted save never leaves a truncated checkpoint behind."""
    tmp = path + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, path)


def trained_on(history: dict) -> str:
    """Where a run trained, from the machines its history records (train.py adds one per machine a
    run was trained or resumed on), e.g. "AMD EPYC, 2 cores, 1 thread(s), cpu". A run resumed on the
    same machine with another thread count reads "AMD EPYC, 2 cores, 1 and 2 thread(s), cpu"; machines
    follow one another with ", then "."""
    machines = history.get("machines") or []
    if not machines:
        return "not recorded (trained before runs recorded their machine)"
    threads: dict[tuple, list] = {}
    for m in machines:
        key = (m.get("host_cpu", "?"), m.get("cores", "?"), m.get("gpu") or m.get("device", "cpu"))
        seen, t = threads.setdefault(key, []), str(m.get("threads", "?"))
        if t not in seen:
            seen.append(t)
    return ", then ".join(f"{host}, {cores} cores, {' and '.join(ts)} thread(s), {device}"
                        for (host, cores, device), ts in threads.items())


def read(path: str) -> dict:
    """The raw checkpoint dict, tensors on the CPU whatever device wrote them."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint (train the model first)")
    try:  # torch >= 1.13 knows weights_only; >= 2.6 defaults it to True, which refuses our plain dicts
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # pragma: no cover - torch older than 1.13
        return torch.load(path, map_location="cpu")


def run_config(ck: dict) -> config_mod.RunConfig:
    return config_mod.parse(ck["config"])


def data_where_it_is(cfg: config_mod.RunConfig, log=lambda m: print(m, file=sys.stderr)) -> config_mod.RunConfig:
    """The run configuration with its data file where it is now: a recorded path that does not exist
    (the checkpoint was trained on another machine, or before the raw data moved into the project)
    is replaced by data/raw/<the same file name> when that exists, and log says so; otherwise the
    configuration is returned as it is (a missing file is then reported by the data reader)."""
    recorded = cfg.data.resolved_path
    here = os.path.join(RAW_DATA_DIR, os.path.basename(cfg.data.path))
    if os.path.exists(recorded) or not os.path.exists(here):
        return cfg
    log(f"lsntp: note: the checkpoint's data file {cfg.data.path} is not there; reading {project_relative(here)}, "
        "the file of the same name in the project (--data FILE reads another)")
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path=project_relative(here)))


def load(path: str, data_path: str | None = None):
    """Rebuild a trained model from a checkpoint; returns (model, run config, prepared data, checkpoint).
    data_path: the data file to read instead of the one the checkpoint records (data_where_it_is)."""
    ck = read(path)
    cfg = run_config(ck)
    if data_path is None:
        cfg = data_where_it_is(cfg)
    prepared = prepare(cfg.data, data_path)
    model = build_model(cfg, prepared)
    model.load_state_dict(ck["model"])
    model.eval()
    return model, cfg, prepared, ck
