"""A tiny queue with real runs, and the real queue's NCEP systems, for the study's tests
(lsntp_study/conftest.py): one definition of both."""
from __future__ import annotations

import os

import numpy as np
import yaml

from lsntp import config, train
from lsntp.paths import PROJECT_ROOT

COMPARISON_QUEUE = os.path.join(PROJECT_ROOT, "model-export", "queues", "comparison.yaml")


def make_tiny_queue(folder: str, data_path: str) -> tuple[str, str]:
    """Configs, a queue and its runs under folder; returns (queue file, runs dir). Two seeds of LS-NTP
    and one of ConvLSTM trained two steps each on the small real cut; an ablation (w/o NSA) waiting,
    the k = 1 sweep failed."""
    base = {"name": "tiny-lsntp", "data": {"path": data_path, "grid_id": "test-grid", "val_start": "2019-03-02T00:00",
                                           "test_start": "2019-03-02T12:00", "alpha": 3, "beta": 2},
            "model": {"kind": "lsntp", "hidden": 4, "embed_dim": 8, "down_channels": 4, "nsa_hidden": 4},
            "train": {"epochs": 1, "batch": 4}}
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tiny-lsntp.yaml"), "w") as f:
        yaml.safe_dump(base, f)
    with open(os.path.join(folder, "tiny-convlstm.yaml"), "w") as f:
        yaml.safe_dump({"base": "tiny-lsntp.yaml", "name": "tiny-convlstm", "model": {"kind": "convlstm", "hidden": 4}}, f)
    cfgs = {n: os.path.join(folder, f"{n}.yaml") for n in ("tiny-lsntp", "tiny-convlstm")}
    q = os.path.join(folder, "queue.yaml")
    with open(q, "w") as f:
        yaml.safe_dump({"runs": [{"config": cfgs["tiny-lsntp"], "seeds": [0, 1]}, {"config": cfgs["tiny-convlstm"], "seeds": [0]},
                                 {"config": cfgs["tiny-lsntp"], "name": "tiny-lsntp-no-nsa", "set": {"model.nsa": False}},
                                 {"config": cfgs["tiny-lsntp"], "name": "tiny-lsntp-k1", "set": {"model.kernel": 1}}]}, f)
    runs = os.path.join(folder, "runs")
    for name, cfg_name, seed in (("tiny-lsntp-s0", "tiny-lsntp", 0), ("tiny-lsntp-s1", "tiny-lsntp", 1),
                                 ("tiny-convlstm-s0", "tiny-convlstm", 0)):
        cfg = config.load(cfgs[cfg_name], {"name": name, "train.seed": seed})
        train.train(cfg, os.path.join(runs, name), max_steps=2, quiet=True)
    os.makedirs(os.path.join(runs, "tiny-lsntp-k1"))
    with open(os.path.join(runs, "tiny-lsntp-k1", "failed.txt"), "w") as f:
        f.write("exit status 1; see train.log\n")
    return q, runs


def resolution_scenario():
    """The real queue's NCEP reference, its full-resolution LS-NTP and the other systems queued at full
    resolution, with rows and per-window MAEs made up for them (20 days of 4 windows): LS-NTP at full
    resolution better on validation (1.98 K against 2.013 K mean) and on test. Returns (ref, full,
    peers, rows, window_mae, blocks); rows are as the report holds them (reference, label, runs)."""
    from .comparison.systems import full_resolution_of, full_resolution_peers, references, systems

    members = systems(COMPARISON_QUEUE)
    ref = references(members)["ncep-na-2p5"]
    ncep = [s for s in members if s.grid_id == "ncep-na-2p5"]
    full, peers = full_resolution_of(ref, ncep), full_resolution_peers(ref, ncep)
    rng = np.random.default_rng(0)
    blocks = np.repeat(np.arange(20), 4)
    window_mae = {"ncep-lsntp": 2.1 + rng.normal(0, 0.05, 80), "ncep-lsntp-full-res": 2.0 + rng.normal(0, 0.05, 80),
                  "ncep-convlstm": 2.1 + rng.normal(0, 0.05, 80), "Persistence": 2.7 + rng.normal(0, 0.05, 80)}
    run = lambda v: {"validation_mae": v}
    rows = [{"system": "ncep-lsntp", "kind": "lsntp", "label": "LS-NTP", "table": "3", "reference": True, "seeds": 3,
             "parameters": 164265, "runs": [run(2.02), run(1.99), run(2.03)]},
            {"system": "ncep-lsntp-full-res", "kind": "lsntp", "label": "LS-NTP", "table": "6", "seeds": 1,
             "parameters": 402037, "runs": [run(1.98)]},
            {"system": "ncep-convlstm", "kind": "convlstm", "label": "ConvLSTM", "table": "3", "seeds": 3,
             "parameters": 162117, "runs": [run(2.0)]}]
    return ref, full, peers, rows, window_mae, blocks
