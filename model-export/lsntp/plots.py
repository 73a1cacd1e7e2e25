"""Plots of an evaluation: per-lead skill curves, error maps, the learned adjacency on a map, MAE against d."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


GSHHS_COARSE = "/usr/share/cartopy/data/shapefiles/gshhs/c/GSHHS_c_L1.shp"  # shipped by Debian's python3-cartopy


def _coastlines(ax, lats, lons):
    """GSHHS coarse coastlines drawn as plain lines (no download: the machine may be offline;
    cartopy's own feature rendering of this file garbles polygons with Debian's shapely)."""
    try:
        import shapefile  # pyshp, a cartopy dependency
        reader = shapefile.Reader(GSHHS_COARSE)
    except Exception:  # a map without coastlines beats no map
        return
    shift = 360.0 if lons.max() > 180.0 else 0.0  # grids in 0..360 degrees east
    lo0, lo1, la0, la1 = lons.min() - 5, lons.max() + 5, lats.min() - 5, lats.max() + 5
    for shp in reader.shapes():
        pts = np.asarray(shp.points)
        if pts.size == 0:
            continue
        for s, e in zip(list(shp.parts), list(shp.parts[1:]) + [len(pts)]):
            seg = pts[s:e].copy()
            if shift and seg[:, 0].max() < 0:
                seg[:, 0] += shift
            if ((seg[:, 0] > lo0) & (seg[:, 0] < lo1) & (seg[:, 1] > la0) & (seg[:, 1] < la1)).any():
                ax.plot(seg[:, 0], seg[:, 1], color="black", linewidth=0.6)


def _map(fig, pos, lats, lons, field, title, cmap="viridis", label="", marker=None):
    ax = fig.add_subplot(pos)
    mesh = ax.pcolormesh(lons, lats, field, shading="nearest", cmap=cmap)
    _coastlines(ax, lats, lons)
    if marker is not None:
        ax.plot(marker[1], marker[0], marker="*", color="red", markersize=14, markeredgecolor="white")
    dlon, dlat = abs(lons[1] - lons[0]) / 2, abs(lats[1] - lats[0]) / 2
    ax.set_xlim(lons.min() - dlon, lons.max() + dlon)
    ax.set_ylim(lats.min() - dlat, lats.max() + dlat)
    ax.set_aspect(1.0 / np.cos(np.radians(np.mean(lats))))  # equal distances at the region's mid-latitude
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
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


def scaling_curves(panels, series, path, title):
    """Cost against grid cells, log-log: one panel per measure ((key, label) in `panels`), one line per
    form in each (series[key][form] = [(cells, value, k), ...]; a form with no point is left out)."""
    n = len(panels)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax, (key, label) in zip(axes.ravel(), panels):
        drawn = False
        for form, pts in series.get(key, {}).items():
            if not pts:
                continue
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            ax.plot(xs, ys, marker="o", label=form)
            drawn = True
        ax.set_xscale("log")
        if drawn:
            ax.set_yscale("log")
            ax.legend()
        else:
            ax.text(0.5, 0.5, "no measurements", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("grid cells (H x W)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability(levels, coverage_by_lead, step_hours: float, path: str, title: str, marked=()):
    """Observed against nominal coverage of central intervals: one line per lead (coverage_by_lead[lead][j]
    at levels[j]), the diagonal for perfect calibration; `marked` levels (the job's) drawn as squares."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    lv = np.asarray(levels, dtype=float)
    ax.plot([lv.min() - 0.02, 1], [lv.min() - 0.02, 1], color="grey", linewidth=1, label="perfect calibration")
    for lead, cov in enumerate(coverage_by_lead):
        line, = ax.plot(lv, cov, "-o", markersize=4, label=f"+{(lead + 1) * step_hours:g} h")
        for j, l in enumerate(lv):
            if any(abs(l - m) < 1e-9 for m in marked):
                ax.plot([l], [cov[j]], "s", color=line.get_color(), markersize=7, fillstyle="none")
    ax.set_xlabel("nominal coverage of the central interval")
    ax.set_ylabel("observed coverage")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
