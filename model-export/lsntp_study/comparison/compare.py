"""The comparison: every system of the training queue, on both data sets, measured one way.

    ./lsntp compare model-export/queues/comparison.yaml --runs-dir RUNS --out models/comparison

For each data set (a config's `data.grid_id`), every finished run's best checkpoint predicts the
held-out test part once (scores.py, cached); the runs are grouped into the tables' rows
(systems.py), each row summarised over its seeds (rows.py) and compared with LS-NTP on the same
windows by a block bootstrap over calendar days (bootstrap.py); the headline's decisions
(rules.py) are said in words (prose.py). Rows of the queue that have not finished are listed with
the reason (waiting, training, failed).

Writes OUT/comparison.json, OUT/README.md (report.py), OUT/plots/mae_bars.png and
OUT/plots/lead_mae.png (plots.py).
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from lsntp.config import ConfigError
from lsntp.paths import project_relative

from .. import bootstrap
from . import plots, prose, report as report_md, rows as rows_mod, rules
from .scores import METRICS_VERSION, WINDOW_SCORES, DataSet, parameters, run_state, scores_of_run
from .systems import REFERENCE_ROWS, System, full_resolution_of, full_resolution_peers, references, systems


def compare(queue_file: str, runs_dir: str, out: str, n_resamples: int = bootstrap.DEFAULT_RESAMPLES,
            seed: int = bootstrap.DEFAULT_SEED, log=print) -> dict:
    """Compares every finished run of the queue and writes OUT/comparison.json, OUT/README.md (keeping
    the part of an earlier README written by hand) and OUT/plots/; returns the report."""
    from lsntp.train import set_threads

    readme = os.path.join(out, "README.md")
    hand = ""
    if os.path.exists(readme):  # read first: a README whose hand-written part cannot be kept stops the work before it starts
        with open(readme) as f:
            hand = report_md.hand_written(f.read())
    set_threads()
    all_systems = systems(queue_file)
    refs = references(all_systems)
    cache_dir = os.path.join(out, "cache")
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    grids = list(dict.fromkeys(s.grid_id for s in all_systems))
    report = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "queue": project_relative(queue_file),
              "runs_dir": project_relative(runs_dir),
              "bootstrap": {"blocks": "UTC calendar date of each test window's issue time (its newest input frame)",
                            "resamples": n_resamples, "seed": seed, "level": bootstrap.DEFAULT_LEVEL,
                            "statistic": "mean over windows of (row MAE - LS-NTP MAE), each averaged over its seeds"},
              "metrics_version": METRICS_VERSION, "datasets": {}, "missing": []}
    for grid in grids:
        members = [s for s in all_systems if s.grid_id == grid]
        ref = refs.get(grid)
        if ref is None:
            report["missing"] += [{"run": r.name, "system": s.name, "grid_id": grid, "state": "skipped",
                                   "why": "no LS-NTP system in the queue for this data set"} for s in members for r in s.runs]
            continue
        report["datasets"][grid] = _dataset(grid, ref, members, runs_dir, cache_dir, n_resamples, seed, report["missing"], log)
    with open(os.path.join(out, "comparison.json"), "w") as f:
        json.dump(report, f, indent=1)
    plots.write(report, os.path.join(out, "plots"))
    with open(readme, "w") as f:
        f.write(report_md.markdown(report, hand))
    log(f"compare: wrote {readme}, comparison.json and plots/")
    return report


def _dataset(grid: str, ref: System, members: list[System], runs_dir: str, cache_dir: str, n_resamples: int, seed: int,
             missing: list, log) -> dict:
    """One data set's part of the report: its rows, their differences to LS-NTP and the headline;
    every queued run without a row is appended to missing with why."""
    from lsntp.evaluate import climatology_note, persistence, seasonal_climatology

    ds = DataSet(ref.cfg)
    rows, window_mae = [], {}
    ref_params = parameters(ref.cfg, ds)
    for s in members:
        scores, facts = [], []
        for r in s.runs:
            run_dir = os.path.join(runs_dir, r.name)
            state, why = run_state(run_dir)
            if state == "finished":
                try:
                    res = scores_of_run(run_dir, ds, cache_dir, log)
                except (ConfigError, RuntimeError, KeyError, ValueError) as e:
                    state, why = "unusable", f"its checkpoint could not be scored: {e}"
                else:
                    scores.append({k: res[k] for k in WINDOW_SCORES})
                    facts.append(res["facts"])
            if state != "finished":
                missing.append({"run": r.name, "system": s.name, "grid_id": grid, "row": s.row,
                                "table": s.table, "state": state, "why": why})
        params = facts[0]["parameters"] if facts else parameters(s.cfg, ds)
        base = {"system": s.name, "table": s.table, "row": s.row, "kind": s.cfg.model.kind, "label": s.cfg.model.label,
                "folder": s.folder, "reference": s.reference, "parameters": params,
                "parameters_vs_lsntp": round(params / ref_params, 3),
                "within_20pct_of_lsntp": bool(abs(params / ref_params - 1) <= rules.SIZE_TOLERANCE),
                "queued_seeds": len(s.runs)}
        if not scores:
            rows.append({**base, "seeds": 0, "why_missing": "; ".join(sorted({m["why"].split(" (")[0] for m in missing if m["system"] == s.name}))})
            continue
        row, wm = rows_mod.row(s.name, s.table, s.row, s.cfg.model.kind, scores, facts)
        rows.append({**base, **row})
        window_mae[s.name] = wm
    # references: persistence and seasonal climatology of the training part
    a, b = ds.prepared.split.train
    series = ds.prepared.series
    clim, clim_info = seasonal_climatology(series.values[a:b], series.times[a:b], ds.target_times)
    for name, pred in zip(REFERENCE_ROWS, (persistence(ds.xs, ds.cfg.data.beta), clim)):
        row, wm = rows_mod.row(name, "3", name, "reference", [ds.scores(pred)], [{"run": None}])
        row["runs"] = []
        rows.append({**row, "system": name, "reference": False, "parameters": 0, "label": name, "folder": None})
        window_mae[name] = wm
    # differences against LS-NTP, and the headline
    if ref.name in window_mae:
        for row in rows:
            if row["system"] in window_mae and row["system"] != ref.name:
                row["vs_lsntp"] = bootstrap.mean_difference(window_mae[row["system"]], window_mae[ref.name], ds.blocks,
                                                            n_resamples, seed)
    headline = rules.headline(grid, ref, rows, window_mae, ds.blocks, n_resamples, seed,
                              full_resolution=full_resolution_of(ref, members),
                              full_resolution_peers=full_resolution_peers(ref, members))
    headline["statement"] = prose.statement(headline, rows)
    return {"data": _data_facts(ds, clim_info), "reference": ref.name, "rows": rows, "headline": headline,
            "climatology_note": climatology_note(clim_info)}


def _data_facts(ds: DataSet, clim_info: dict) -> dict:
    s, p = ds.prepared.series, ds.prepared
    fmt = lambda t: np.datetime_as_string(t, unit="h") + "Z"
    (a, b), (t0, t1) = p.split.train, p.split.test
    return {**ds.signature, "grid": s.grid, "step_hours": s.step_hours, "train": f"{fmt(s.times[a])}/{fmt(s.times[b - 1])}",
            "test": f"{fmt(s.times[t0])}/{fmt(s.times[t1 - 1])}", "test_windows": int(len(ds.xs)),
            "test_days": int(len(np.unique(ds.blocks))), "masked_cells": int(ds.mask.sum()),
            "ssim_data_range_k": float(ds.data_range), "climatology": clim_info}
