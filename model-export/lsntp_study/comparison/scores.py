"""Each finished run's scores on its data set's held-out test part, predicted once and cached.

A run's best checkpoint (the best validation MAE of its run) predicts every test window once; its
scores per window and lead are cached in OUT/cache/RUN.npz under a key made of the checkpoint's
SHA-256, the metric definitions' version (METRICS_VERSION) and the data set's signature, so a rerun
only predicts new or changed runs. A run that has not finished says why (run_state).
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from lsntp import metrics
from lsntp.config import ConfigError
from lsntp.paths import project_relative

from .. import bootstrap, queue

METRICS_VERSION = 2  # part of every cache key: bump when a score's definition changes
WINDOW_SCORES = ("abs", "sq", "ssim", "ssim_paper")  # what metrics.per_window gives and the cache keeps


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_state(run_dir: str) -> tuple[str, str]:
    """(state, why) of a queue run: finished, or the reason it has no row yet."""
    st = queue.state(run_dir)
    if st == "finished":
        if not os.path.exists(os.path.join(run_dir, "best.pt")):
            return "missing", "finished, but its best.pt is missing"
        return "finished", ""
    if st == "failed":
        with open(os.path.join(run_dir, "failed.txt")) as f:
            return "failed", "failed: " + f.read().strip() + f" ({project_relative(os.path.join(run_dir, 'failed.txt'))})"
    if st in ("training", "stopped"):
        with open(os.path.join(run_dir, "progress.json")) as f:
            p = json.load(f)
        at = f"epoch {p.get('epoch', '?')}/{p.get('epochs', '?')}"
        if st == "training":
            return "training", f"training now, {at} (not finished yet)"
        return "stopped", f"stopped at {at} before it finished (resumable: the queue continues it)"
    return "waiting", "not trained yet (waiting in the queue)"


def _run_history(run_dir: str, ck_history: dict) -> dict:
    """The whole run's history (history.json, every epoch) where there is one, else the checkpoint's."""
    p = os.path.join(run_dir, "history.json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return ck_history


def _history_facts(hist: dict, fallback_seconds: float = 0.0) -> dict:
    """What a run's history says of its training: epochs run, the best one, minutes, where, why it ended."""
    from lsntp.checkpoint import trained_on

    epochs = [e["val_mae"] for e in hist.get("epochs", [])]
    return {"epochs": len(epochs), "best_epoch": int(np.argmin(epochs)) + 1 if epochs else None,
            "train_minutes": round(hist.get("train_seconds", fallback_seconds) / 60, 1),
            "trained_on": trained_on(hist), "finished": hist.get("finished")}


def _data_signature(cfg) -> dict:
    d = cfg.data
    return {"file": os.path.basename(d.path), "grid_id": d.grid_id, "val_start": d.val_start,
            "test_start": d.test_start, "alpha": d.alpha, "beta": d.beta}


class DataSet:
    """A data set's test part, prepared once: truth, windows, issue days, references."""

    def __init__(self, cfg):
        from lsntp.data import prepare

        self.cfg = cfg
        self.prepared = prepare(cfg.data)
        p = self.prepared
        self.xs, self.ys = p.test.arrays()
        self.mask = p.series.mask
        self.data_range = p.norm.hi - p.norm.lo
        self.target_times = np.stack([p.test.target_times(i) for i in range(len(p.test))])
        self.issue_times = np.array([p.test.times[int(s) + cfg.data.alpha - 1] for s in p.test.starts])
        self.blocks = bootstrap.issue_days(self.issue_times)
        self.signature = _data_signature(cfg)

    def scores(self, pred: np.ndarray) -> dict[str, np.ndarray]:
        return metrics.per_window(pred, self.ys, self.mask, self.data_range)


def scores_of_run(run_dir: str, ds: DataSet, cache_dir: str, log) -> dict:
    """The run's per-window scores and facts, from the cache when its checkpoint has not changed."""
    import torch

    from lsntp.checkpoint import build_model, read, run_config
    from lsntp.forecaster import predict

    best = os.path.join(run_dir, "best.pt")
    sha = _sha256(best)
    key = json.dumps({"sha256": sha, "metrics": METRICS_VERSION, "data": ds.signature, "windows": int(len(ds.xs)),
                      "data_bytes": os.path.getsize(ds.cfg.data.resolved_path)}, sort_keys=True)
    name = os.path.basename(os.path.normpath(run_dir))
    cache = os.path.join(cache_dir, f"{name}.npz")
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                facts = {**json.loads(str(z["facts"])), "checkpoint": project_relative(best)}  # where it is now
                if os.path.exists(os.path.join(run_dir, "history.json")):  # training may have gone on without a new best
                    facts.update(_history_facts(_run_history(run_dir, {}), facts.get("train_minutes", 0) * 60))
                return {"facts": facts, **{k: z[k] for k in WINDOW_SCORES}}
    t0 = time.time()
    ck = read(best)
    cfg = run_config(ck)
    if _data_signature(cfg) != ds.signature:
        raise ConfigError(f"{name} was trained on {_data_signature(cfg)}, not the data set's {ds.signature}")
    norm = ck.get("norm")
    if norm and (abs(norm["lo"] - ds.prepared.norm.lo) > 1e-4 or abs(norm["hi"] - ds.prepared.norm.hi) > 1e-4):
        raise ConfigError(f"{name}: its normalisation {norm} is not the data set's {ds.prepared.norm}")
    model = build_model(cfg, ds.prepared)
    model.load_state_dict(ck["model"])
    model.eval()
    pred = predict(model, torch.from_numpy(ds.xs))
    w = ds.scores(pred)
    hist = _run_history(run_dir, ck.get("history", {}))
    facts = {"run": name, "checkpoint": project_relative(best), "sha256": sha, "config": cfg.name,
             "label": cfg.model.label, "kind": cfg.model.kind, "seed": cfg.train.seed,
             "parameters": int(sum(p.numel() for p in model.parameters())), "validation_mae": float(ck["best"]),
             **_history_facts(hist, ck.get("history", {}).get("train_seconds", 0.0))}
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, key=np.array(key), facts=np.array(json.dumps(facts)), **{k: w[k] for k in WINDOW_SCORES})
    os.replace(tmp, cache)
    log(f"compare: {name}: predicted {len(ds.xs)} test windows in {time.time() - t0:.0f} s")
    return {"facts": facts, **w}


def parameters(cfg, ds: DataSet) -> int:
    """A configuration's parameter count on the data set's grid (for a row with no finished run too)."""
    from lsntp.checkpoint import build_model

    return int(sum(p.numel() for p in build_model(cfg, ds.prepared).parameters()))
