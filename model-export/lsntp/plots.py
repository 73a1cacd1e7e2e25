"""Plots of an evaluation: per-lead skill curves, error maps, the learned adjacency on a map, MAE against d."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _coastlines(ax):
    """GSHHS coastlines from Debian's cartopy data (no download: the machine may be offline)."""
    try:
        import cartopy
        import cartopy.feature as cfeature
        if os.path.isdir("/usr/share/cartopy"):
            cartopy.config["pre_existing_data_dir"] = "/usr/share/cartopy"
        ax.add_feature(cfeature.GSHHSFeature(scale="low", levels=[1]), edgecolor="black", linewidth=0.6, facecolor="none")
    except Exception:  # a map without coastlines beats no map
        pass


def _map(fig, pos, lats, lons, field, title, cmap="viridis", label="", marker=None):
    try:
        import cartopy.crs as ccrs
        ax = fig.add_subplot(pos, projection=ccrs.PlateCarree())
        kw = {"transform": ccrs.PlateCarree()}
        ax.set_extent([lons.min(), lons.max(), lats.min(), lats.max()], crs=ccrs.PlateCarree())
        _coastlines(ax)
        gl = ax.gridlines(draw_labels=True, linewidth=0.3)
        gl.top_labels = gl.right_labels = False
    except Exception:
        ax, kw = fig.add_subplot(pos), {}
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    mesh = ax.pcolormesh(lons, lats, field, shading="nearest", cmap=cmap, **kw)
    if marker is not None:
        ax.plot(marker[1], marker[0], marker="*", color="red", markersize=14, markeredgecolor="white", **kw)
    fig.colorbar(mesh, ax=ax, shrink=0.8, label=label)
    ax.set_title(title, fontsize=10)
    return ax


def lead_curves(results: dict, step_hours: float, path: str, title: str):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, (key, name) in zip(axes, [("mae", "MAE (K)"), ("rmse", "RMSE (K)"), ("ssim", "SSIM"), ("psnr", "PSNR (dB)")]):
        for label, r in results.items():
            leads = np.arange(1, len(r[key]) + 1) * step_hours
            style = "-o" if label.startswith("LS-NTP") else ("--" if label in ("Persistence", "Climatology") else "-")
            ax.plot(leads, r[key], style, label=label, markersize=4)
        ax.set_xlabel("lead time (h)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def error_map(lats, lons, mae_cells, path: str, title: str):
    fig = plt.figure(figsize=(8, 6))
    _map(fig, 111, lats, lons, mae_cells, title, cmap="magma_r", label="MAE (K)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def adjacency_map(lats, lons, column, cell, path: str, title: str):
    fig = plt.figure(figsize=(8, 6))
    _map(fig, 111, lats, lons, column, title, cmap="viridis", label="A[i, j] (weight of the chosen cell j in row i)", marker=cell)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mae_vs_distance(series: dict, path: str, title: str):
    """series: name -> list of (d_km, mae, label); the unrestricted model sits at the region's diameter."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in series.items():
        pts = sorted(points)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", label=name)
    ax.set_xlabel("distance threshold d (km)")
    ax.set_ylabel("test MAE (K), mean over leads")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
