"""Forecast scores per lead time, with masked (missing) cells left out of every one.

- MAE and RMSE in kelvin.
- PSNR as the seed's tables compute it: 10 log10(255^2 / MSE) with the error in kelvin (their
  RMSE/PSNR pairs fit a peak of 255 within 0.2 dB: ERA5 1.199 K -> 46.5 dB, NCEP 2.318 K -> 40.7 dB).
- SSIM: Wang et al.'s structural similarity of forecast and truth frames (skimage, 7x7 window,
  data range = the training min-max range), averaged over unmasked cells.
- Skill against persistence: 1 - MAE_model / MAE_persistence (positive means better).
"""
from __future__ import annotations

import numpy as np

PSNR_PEAK = 255.0


def _valid(mask: np.ndarray | None, shape) -> np.ndarray:
    if mask is None:
        return np.ones(shape[-2:], dtype=bool)
    return ~mask


def masked_mae(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error over every sample, lead and unmasked cell (mask True where missing)."""
    return float(np.abs(pred - truth)[..., ~mask].mean())


def per_lead(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None,
             data_range: float | None = None) -> dict[str, np.ndarray]:
    """pred, truth: (S, beta, H, W) kelvin; mask (H, W) True where missing. Returns arrays of length beta."""
    from skimage.metrics import structural_similarity

    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match truth {truth.shape}")
    valid = _valid(mask, pred.shape)
    if not valid.any():
        raise ValueError("every cell is masked: no metric can be computed")
    err = (pred - truth)[..., valid]  # (S, beta, n_valid)
    mae = np.abs(err).mean(axis=(0, 2))
    mse = (err ** 2).mean(axis=(0, 2))
    rmse = np.sqrt(mse)
    psnr = 10 * np.log10(PSNR_PEAK ** 2 / np.maximum(mse, 1e-12))
    if data_range is None:
        data_range = float(np.nanmax(truth) - np.nanmin(truth))
    s, beta = pred.shape[:2]
    ssim = np.zeros(beta)
    for lead in range(beta):
        vals = []
        for i in range(s):
            t = np.where(valid, truth[i, lead], 0.0)
            p = np.where(valid, pred[i, lead], 0.0)
            _, smap = structural_similarity(t, p, data_range=data_range, full=True, win_size=7)
            vals.append(smap[valid].mean())
        ssim[lead] = float(np.mean(vals))
    return {"mae": mae, "rmse": rmse, "ssim": ssim, "psnr": psnr}


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
