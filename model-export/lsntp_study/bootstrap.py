"""Block bootstrap of paired per-window scores: how sure is a difference in test MAE?

Test windows overlap (stride 1) and weather persists, so neighbouring windows are not independent
draws. The comparison resamples whole blocks, the calendar days (UTC date of each window's issue
time, the valid time of its newest input frame), with replacement, as many as there are days; a
resample's statistic is taken over all the windows of the days drawn (a day drawn twice counts
twice). The interval is the percentile interval of the statistic over the resamples.

Caveats, said in every report that uses it: windows of adjacent days still share frames (a window
issued at 23 UTC forecasts the next day), so days are not fully independent either; and with few
days (ERA5's test part has 5) the percentile interval is too narrow by about sqrt((n-1)/n) and
coarse, since there are only so many distinct resamples.

numpy only.
"""
from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 20_240_601
DEFAULT_LEVEL = 0.95


def issue_days(issue_times: np.ndarray) -> np.ndarray:
    """The block of each window: the UTC calendar date of its issue time, as 'YYYY-MM-DD'."""
    return np.datetime_as_string(np.asarray(issue_times).astype("datetime64[D]"), unit="D")


def _block_sums(values: np.ndarray, blocks: np.ndarray):
    labels, inverse = np.unique(np.asarray(blocks), return_inverse=True)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    sums = np.zeros((len(labels), values.shape[1]))
    np.add.at(sums, inverse, values)
    counts = np.bincount(inverse, minlength=len(labels)).astype(np.float64)
    return labels, sums, counts


def resampled_means(values: np.ndarray, blocks: np.ndarray, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED) -> np.ndarray:
    """Means over windows of each column of values (S,) or (S, k), for n_resamples block resamples:
    (n_resamples, k). Paired columns (e.g. two systems' MAE per window) are resampled together."""
    labels, sums, counts = _block_sums(values, blocks)
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, sums.shape[1]))
    chunk = max(1, 2_000_000 // max(1, len(labels)))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, len(labels), size=(stop - start, len(labels)))
        out[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)[:, None]
    return out


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def mean_difference(a: np.ndarray, b: np.ndarray, blocks: np.ndarray, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL) -> dict:
    """Mean of a - b over windows (a, b: (S,) paired per window) with its block-bootstrap interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired per-window values needed, got shapes {a.shape} and {b.shape}")
    if len(blocks) != len(a):
        raise ValueError(f"{len(blocks)} block labels for {len(a)} windows")
    diff = a - b
    samples = resampled_means(diff, blocks, n_resamples, seed)[:, 0]
    lo, hi = _interval(samples, level)
    return {"diff": float(diff.mean()), "lo": lo, "hi": hi, "level": level, "blocks": int(len(np.unique(blocks))),
            "windows": int(len(a)), "resamples": int(n_resamples), "seed": int(seed)}


def ratio_of_means(a: np.ndarray, b: np.ndarray, blocks: np.ndarray, n_resamples: int = DEFAULT_RESAMPLES,
                   seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL) -> dict:
    """mean(a) / mean(b) over windows (e.g. a system's MAE over persistence's) with its block-bootstrap interval."""
    samples = resampled_means(np.stack([a, b], axis=1), blocks, n_resamples, seed)
    lo, hi = _interval(samples[:, 0] / samples[:, 1], level)
    return {"ratio": float(np.mean(a) / np.mean(b)), "lo": lo, "hi": hi, "level": level,
            "blocks": int(len(np.unique(blocks))), "windows": int(len(a)), "resamples": int(n_resamples), "seed": int(seed)}
