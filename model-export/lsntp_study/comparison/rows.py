"""A row of the tables from its seeds' per-window scores: mean +- sd over seeds, per lead, per seed.

A row's value of each score is the mean over its seeds of that seed's mean over windows and leads;
the sd over seeds is given from two seeds on. What the bootstrap pairs with LS-NTP is the row's
per-window MAE averaged over its seeds.
"""
from __future__ import annotations

import numpy as np

from lsntp import metrics

SCORES = ("mae", "rmse", "ssim", "ssim_paper", "psnr")


def _mean_scores(w: dict) -> tuple[dict, dict]:
    """(mean over leads, per lead) of each score from per-window scores."""
    lead = metrics.from_windows(w)
    return {k: float(np.mean(lead[k])) for k in SCORES}, {k: [float(v) for v in lead[k]] for k in SCORES}


def _seed_stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) >= 2 else None, "per_seed": [float(x) for x in v]}


def row(name: str, table: str, label: str, kind: str, window_scores: list[dict], facts: list[dict]) -> tuple[dict, np.ndarray]:
    """A row from its seeds' per-window scores: per seed means, mean +- sd over seeds, per lead means
    over seeds, and the per-window MAE averaged over seeds (what the bootstrap pairs)."""
    per_seed = [_mean_scores(w) for w in window_scores]
    leads = {k: [float(np.mean([ps[1][k][i] for ps in per_seed])) for i in range(len(per_seed[0][1][k]))] for k in SCORES}
    out = {"system": name, "table": table, "row": label, "kind": kind, "seeds": len(window_scores),
           "metrics": {k: _seed_stats([ps[0][k] for ps in per_seed]) for k in SCORES}, "per_lead": leads,
           "runs": [{**f, "test": ps[0], "test_per_lead": ps[1]} for f, ps in zip(facts, per_seed)]}
    return out, np.mean([w["abs"].mean(axis=1) for w in window_scores], axis=0)
