"""Forecast scores per lead time, with masked (missing) cells left out of every one.

- MAE and RMSE in kelvin.
- PSNR as the paper's tables compute it: 10 log10(255^2 / MSE) with the error in kelvin (their
  RMSE/PSNR pairs fit a peak of 255 within 0.2 dB: ERA5 1.199 K -> 46.5 dB, NCEP 2.318 K -> 40.7 dB).
- Two SSIMs, both Wang et al.'s structural similarity of forecast and truth frames with a 7 x 7
  uniform window, sample covariance, K1 = 0.01, K2 = 0.03, computed in float64 (kelvin frames in
  float32 lose the within-window variance to cancellation):
  - `ssim` (ours, "SSIM (ours)" in reports): data range = the training part's min-max range
    (about 22 K on ERA5, 94 K on NCEP), the SSIM map averaged over every unmasked cell, borders included;
  - `ssim_paper` ("SSIM (paper-style)"): as the paper's lineage computes it. The paper gives no
    formula; its PSNR values fit raw kelvin frames, i.e. kelvin frames fed to the SimVP/OpenSTL
    `metric()` (A4Bio/SimVP API/metrics.py, chengtan9907/OpenSTL openstl/core/metrics.py), which calls
    skimage's `structural_similarity(pred, true, multichannel=True)` per sample and frame with
    skimage's defaults of that era: 7 x 7 uniform window and, for float input, the data range taken
    from the dtype, (-1, 1), i.e. 2.0 (so C1 = 4e-4, C2 = 3.6e-3 K^2: nearly a pure correlation of
    the 7 x 7 neighbourhoods), the map's border strip of 3 cells cropped before averaging, and the
    mean over samples and frames. That `metric()` also clips predictions to clip_range = [0, 1]
    before SSIM, which on kelvin frames would leave a constant forecast and an SSIM near 0, not the
    paper's 0.85-0.92: the paper cannot have clipped, and neither do we. Masked cells (none in the
    shipped data sets) take their frame's valid mean and are left out of the average.
  Both are written by `ssim_maps` below (vectorised; test_metrics checks it against skimage).
- Skill against persistence: 1 - MAE_model / MAE_persistence (positive means better).

`per_window` gives every score per test window and lead, `per_lead` their means over windows (the
comparison's block bootstrap resamples the per-window values).
"""
from __future__ import annotations

import numpy as np

PSNR_PEAK = 255.0
SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03
PAPER_SSIM_DATA_RANGE = 2.0  # skimage < 0.19's range for float input: dtype_range[float] = (-1, 1)
SCORES = ("mae", "rmse", "ssim", "ssim_paper", "psnr")


def _valid(mask: np.ndarray | None, shape) -> np.ndarray:
    if mask is None:
        return np.ones(shape[-2:], dtype=bool)
    return ~mask


def masked_mae(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over every sample, lead and unmasked cell (mask True where missing)."""
    return float(np.abs(pred - truth)[..., ~mask].mean())


def ssim_maps(a: np.ndarray, b: np.ndarray, data_range: float, win_size: int = SSIM_WINDOW,
              k1: float = SSIM_K1, k2: float = SSIM_K2) -> np.ndarray:
    """SSIM map of every frame pair of a, b (..., H, W), as skimage's structural_similarity computes it
    (uniform win_size x win_size window, reflected borders, sample covariance), in float64."""
    from scipy.ndimage import uniform_filter

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    size = (1,) * (a.ndim - 2) + (win_size, win_size)
    filt = lambda x: uniform_filter(x, size=size, mode="reflect")
    n = win_size ** 2
    cov_norm = n / (n - 1)
    ux, uy = filt(a), filt(b)
    vx = cov_norm * (filt(a * a) - ux * ux)
    vy = cov_norm * (filt(b * b) - uy * uy)
    vxy = cov_norm * (filt(a * b) - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))


def _fill_masked(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Masked cells take the mean of their frame's valid cells (the training rule), so the window
    statistics around them stay kelvin-like."""
    if valid.all():
        return x
    fill = x[..., valid].mean(axis=-1)
    return np.where(valid, x, fill[..., None, None])


def per_window(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None,
               data_range: float | None = None) -> dict[str, np.ndarray]:
    """pred, truth: (S, beta, H, W) kelvin; mask (H, W) True where missing. Returns (S, beta) arrays:
    `abs` and `sq` (mean absolute and squared error over unmasked cells), `ssim`, `ssim_paper`."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match truth {truth.shape}")
    valid = _valid(mask, pred.shape)
    if not valid.any():
        raise ValueError("every cell is masked: no metric can be computed")
    err = (pred.astype(np.float64) - truth)[..., valid]  # (S, beta, n_valid)
    if data_range is None:
        data_range = float(np.nanmax(truth) - np.nanmin(truth))
    p = _fill_masked(pred.astype(np.float64), valid)
    t = _fill_masked(truth.astype(np.float64), valid)
    ours = ssim_maps(t, p, data_range)[..., valid].mean(axis=-1)
    pad = (SSIM_WINDOW - 1) // 2
    crop = (slice(pad, -pad), slice(pad, -pad)) if min(valid.shape) > 2 * pad else (slice(None), slice(None))
    paper_map = ssim_maps(p, t, PAPER_SSIM_DATA_RANGE)[(..., *crop)]
    paper = paper_map[..., valid[crop]].mean(axis=-1)
    return {"abs": np.abs(err).mean(axis=-1), "sq": (err ** 2).mean(axis=-1), "ssim": ours, "ssim_paper": paper}


def from_windows(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-lead scores (arrays of length beta) from per-window ones (`per_window`); every window has
    the same unmasked cells, so means over windows are means over cells too."""
    mse = w["sq"].mean(axis=0)
    return {"mae": w["abs"].mean(axis=0), "rmse": np.sqrt(mse), "ssim": w["ssim"].mean(axis=0),
            "ssim_paper": w["ssim_paper"].mean(axis=0), "psnr": 10 * np.log10(PSNR_PEAK ** 2 / np.maximum(mse, 1e-12))}


def per_lead(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None,
             data_range: float | None = None) -> dict[str, np.ndarray]:
    """pred, truth: (S, beta, H, W) kelvin; mask (H, W) True where missing. Returns arrays of length beta:
    mae, rmse, ssim (ours), ssim_paper, psnr."""
    return from_windows(per_window(pred, truth, mask, data_range))


def per_cell_mae(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean absolute error of each cell over samples and leads, NaN where masked."""
    m = np.abs(pred - truth).mean(axis=(0, 1))
    if mask is not None:
        m = np.where(mask, np.nan, m)
    return m


def summarise(leads: dict[str, np.ndarray], persistence_mae: np.ndarray | None = None) -> dict:
    out = {k: [float(v) for v in arr] for k, arr in leads.items()}
    out["mean"] = {k: float(np.mean(arr)) for k, arr in leads.items()}
    if persistence_mae is not None:
        skill = 1.0 - np.asarray(leads["mae"]) / np.asarray(persistence_mae)
        out["skill_vs_persistence"] = [float(v) for v in skill]
        out["mean"]["skill_vs_persistence"] = float(1.0 - np.mean(leads["mae"]) / np.mean(persistence_mae))
    return out
