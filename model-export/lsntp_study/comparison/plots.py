"""The comparison's plots of a report.

- mae_bars.png: test MAE of every row per data set; each bar's error bar is LS-NTP's MAE plus the
  95% interval of the row's difference from it (a bar whose error bar crosses the dashed LS-NTP
  line cannot be told apart from it);
- lead_mae.png: MAE per lead of LS-NTP, ConvLSTM, the best other system (rules.best_other, by
  validation), persistence and climatology, per data set.
"""
from __future__ import annotations

import os

import numpy as np

from .rules import best_other, find
from .systems import REFERENCE_ROWS


def write(report: dict, folder: str) -> None:
    """plots/mae_bars.png and plots/lead_mae.png of a report (see the module's docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = [g for g, d in report["datasets"].items() if any(r.get("seeds") for r in d["rows"])]
    if not grids:
        return
    fig, axes = plt.subplots(1, len(grids), figsize=(7.5 * len(grids), 1.5 + 0.32 * max(
        sum(1 for r in report["datasets"][g]["rows"] if r.get("seeds")) for g in grids)), squeeze=False)
    for ax, grid in zip(axes[0], grids):
        rows = [r for r in report["datasets"][grid]["rows"] if r.get("seeds")]
        rows.sort(key=lambda r: r["metrics"]["mae"]["mean"], reverse=True)
        ref = next((r for r in rows if r.get("reference")), None)
        y = np.arange(len(rows))
        mae = [r["metrics"]["mae"]["mean"] for r in rows]
        colours = ["tab:red" if r.get("reference") else ("tab:grey" if r["system"] in REFERENCE_ROWS else
                   {"3": "tab:blue", "4": "tab:orange", "5": "tab:green", "6": "tab:purple"}[r["table"]]) for r in rows]
        ax.barh(y, mae, color=colours, alpha=0.8)
        if ref is not None:
            base = ref["metrics"]["mae"]["mean"]
            for i, r in enumerate(rows):
                d = r.get("vs_lsntp")
                if d:
                    ax.plot([base + d["lo"], base + d["hi"]], [i, i], color="black", linewidth=1.5)
            ax.axvline(base, color="tab:red", linestyle="--", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{r['row']} ({r['seeds']} seed{'s' if r['seeds'] > 1 else ''})" if r["system"] not in REFERENCE_ROWS
                            else r["row"] for r in rows], fontsize=8)
        lo = min(mae) * 0.9
        ax.set_xlim(lo, max(mae) * 1.03)
        ax.set_xlabel("test MAE (K), mean over leads and seeds")
        ax.set_title(f"{grid}: MAE; black = LS-NTP + 95% interval of the difference", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "mae_bars.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(grids), figsize=(7 * len(grids), 4.5), squeeze=False)
    for ax, grid in zip(axes[0], grids):
        d = report["datasets"][grid]
        rows = d["rows"]
        picks = [next((r for r in rows if r.get("reference") and r.get("seeds")), None), find(rows, kind="convlstm"),
                 best_other(rows), find(rows, system="Persistence"), find(rows, system="Climatology")]
        step = d["data"]["step_hours"]
        for r, style in zip(picks, ("-o", "-s", "-^", "--", ":")):
            if r is None:
                continue
            leads = np.arange(1, len(r["per_lead"]["mae"]) + 1) * step
            ax.plot(leads, r["per_lead"]["mae"], style, label=f"{r['row']}" + (" (best other, by validation)" if r is picks[2] else ""), markersize=4)
        ax.set_xlabel("lead time (h)")
        ax.set_ylabel("test MAE (K)")
        ax.set_title(f"{grid}: MAE per lead", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "lead_mae.png"), dpi=110)
    plt.close(fig)

