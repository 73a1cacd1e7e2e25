"""Evaluation on the held-out test part: every model against persistence and a seasonal climatology.

Climatology (`seasonal_climatology`): for each target time, the mean of the training frames with
the same hour of day (UTC) whose day of year lies within CLIMATOLOGY_WINDOW_DAYS (15) days of the
target's, wrapping the year end (on a 365-day calendar; 29 February counts as 28 February). Only
where the training part has no such frame does it fall back to every training frame of that hour,
and the report says so (`climatology` in metrics.json, a line in evaluation.md). The earlier
hour-of-day mean over the whole training part (`hour_of_day_climatology`) mixed seasons: NCEP trains
on January-October 2013 and is tested on January-February 2014.

Intervals (`evaluate_intervals`): the first checkpoint's prediction intervals replayed over the test
part as the streaming job makes them (lsntp/calibration.py), from the export-time calibration the
model in the output folder carries (fitted anew from the checkpoint's validation part where there is
none), beside two baselines run the same way: persistence with its validation error quantiles per
lead, and the point forecast with a fixed per-lead width from the validation part; and the
export-time calibration never updated. Coverage, width, interval score and CRPS per lead, for the
windows issued from one day after the first (the calibration's first day left out) and for all;
a reliability diagram (observed against nominal coverage per level and lead).

Writes metrics.json, evaluation.md (tables), intervals.json, intervals.md and plots/ into the output folder.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch

from . import calibration, metrics, plots
from .data import cell_distances_km, coarse_grid
from .checkpoint import load as load_checkpoint, trained_on
from .forecaster import core_of, predict
from .paths import project_relative

REFERENCES = ("Persistence", "Climatology")
CLIMATOLOGY_WINDOW_DAYS = 15
_MONTH_START = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])  # day of a 365-day year each month starts at


def persistence(xs: np.ndarray, beta: int) -> np.ndarray:
    """The newest input frame, held for every lead."""
    return np.repeat(xs[:, -1:], beta, axis=1)


def hour_of_day_climatology(values: np.ndarray, times: np.ndarray) -> dict[int, np.ndarray]:
    """Mean field of the training part for each hour of day (UTC)."""
    hours = (times.astype("datetime64[h]").astype(np.int64) % 24).astype(int)
    return {int(h): np.nanmean(values[hours == h], axis=0) for h in np.unique(hours)}


def climatology_forecast(clim: dict[int, np.ndarray], target_times: np.ndarray) -> np.ndarray:
    hours = (target_times.astype("datetime64[h]").astype(np.int64) % 24).astype(int)
    missing = sorted(set(hours.ravel()) - set(clim))
    if missing:
        raise ValueError(f"the training part has no frames at hour(s) {missing} UTC for climatology")
    return np.stack([np.stack([clim[int(h)] for h in row]) for row in hours])


def day_of_year(times: np.ndarray) -> np.ndarray:
    """0-based day of year on a 365-day calendar (29 February counts as 28 February), UTC."""
    t = np.asarray(times).astype("datetime64[m]")
    months = t.astype("datetime64[M]")
    month = months.astype(np.int64) % 12
    day = (t.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)
    day = np.where((month == 1) & (day == 28), 27, day)
    return _MONTH_START[month] + day


def hours_of_day(times: np.ndarray) -> np.ndarray:
    return (np.asarray(times).astype("datetime64[h]").astype(np.int64) % 24).astype(int)


def seasonal_climatology(values: np.ndarray, times: np.ndarray, target_times: np.ndarray,
                         window_days: int = CLIMATOLOGY_WINDOW_DAYS) -> tuple[np.ndarray, dict]:
    """The climatology forecast for target_times (S, beta) from training frames values (T, H, W) at times (T,):
    per target, the mean of the frames of the same hour of day whose day of year is within
    +-window_days of the target's (year wrapped), or of every frame of that hour where there is none.
    Returns (forecast (S, beta, H, W), what was done: rule, counts, fallback target times)."""
    hours, doys = hours_of_day(times), day_of_year(times)
    flat = np.asarray(target_times).ravel()
    missing = sorted(set(hours_of_day(flat)) - set(hours))
    if missing:
        raise ValueError(f"the training part has no frames at hour(s) {missing} UTC for climatology")
    means, fallback, frames_used = {}, [], []
    out = np.empty((flat.size,) + values.shape[1:], dtype=np.float64)
    for i, (h, d, t) in enumerate(zip(hours_of_day(flat), day_of_year(flat), flat)):
        key = (int(h), int(d))
        if key not in means:
            gap = np.abs(doys - d)
            near = (hours == h) & (np.minimum(gap, 365 - gap) <= window_days)
            if not near.any():
                near = hours == h
                fallback.append(np.datetime_as_string(np.datetime64(t, "m")) + "Z")
            frames_used.append(int(near.sum()))
            means[key] = np.nanmean(values[near], axis=0)
        out[i] = means[key]
    info = {"rule": f"mean of the training frames with the target's hour of day (UTC) and day of year within "
                    f"+-{window_days} days (year wrapped); all training frames of that hour where none",
            "window_days": window_days, "target_times": int(len(means)),
            "frames_per_target": {"min": min(frames_used), "max": max(frames_used)},
            "fallback_target_times": len(fallback), "fallback_examples": fallback[:5]}
    return out.reshape(np.shape(target_times) + values.shape[1:]).astype(values.dtype), info


def climatology_note(info: dict) -> str:
    """One line for a report: the rule, and whether (and where) it fell back to the whole training part."""
    s = (f"Climatology: mean of the training frames with the target's hour of day and day of year within "
         f"+-{info['window_days']} days ({info['frames_per_target']['min']}-{info['frames_per_target']['max']} frames per target).")
    if info["fallback_target_times"]:
        s += (f" For {info['fallback_target_times']} of {info['target_times']} target times (e.g. "
              f"{', '.join(info['fallback_examples'])}) the training part has no frame within the window: "
              "those fall back to every training frame of that hour.")
    else:
        s += " Every target time had such frames (no fall-back)."
    return s


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def evaluate(checkpoints: list[str], out: str, data_path: str | None = None, adjacency_cell=None,
             title: str | None = None, distance_runs: list[str] | None = None) -> dict:
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    loaded = [load_checkpoint(c, data_path) for c in checkpoints]
    _, cfg0, prep0, _ = loaded[0]
    series = prep0.series
    for _, cfg, prep, _ in loaded[1:]:
        if (cfg.data.alpha, cfg.data.beta, cfg.data.test_start, cfg.data.grid_id) != (cfg0.data.alpha, cfg0.data.beta, cfg0.data.test_start, cfg0.data.grid_id):
            raise ValueError(f"{cfg.name} was trained on another data set or split than {cfg0.name}; compare like with like")
    beta, mask = cfg0.data.beta, series.mask
    xs, ys = prep0.test.arrays()
    target_times = np.stack([prep0.test.target_times(i) for i in range(len(prep0.test))])
    data_range = prep0.norm.hi - prep0.norm.lo
    preds, info = {}, {}
    for (model, cfg, prep, ck), path in zip(loaded, checkpoints):
        label = cfg.model.label if cfg.model.label not in preds else f"{cfg.model.label} ({cfg.name})"
        preds[label] = predict(model, torch.from_numpy(xs))
        info[label] = {"checkpoint": project_relative(path), "parameters": _n_params(model), "kind": cfg.model.kind,
                       "epochs": len(ck["history"]["epochs"]), "train_minutes": round(ck["history"].get("train_seconds", 0) / 60, 1),
                       "validation_mae": round(float(ck["best"]), 4), "trained_on": trained_on(ck["history"])}
    preds["Persistence"] = persistence(xs, beta)
    a, b = prep0.split.train
    preds["Climatology"], clim_info = seasonal_climatology(series.values[a:b], series.times[a:b], target_times)
    leads = {k: metrics.per_lead(p, ys, mask, data_range) for k, p in preds.items()}
    pers_mae = leads["Persistence"]["mae"]
    results = {k: metrics.summarise(v, pers_mae) for k, v in leads.items()}
    step = series.step_hours
    fmt = lambda t: np.datetime_as_string(t, unit="h") + "Z"
    t0, t1 = prep0.split.test
    report = {
        "data": {"file": os.path.basename(cfg0.data.path), "grid_id": cfg0.data.grid_id, "grid": series.grid,
                 "step_hours": step, "alpha": cfg0.data.alpha, "beta": beta,
                 "train": f"{fmt(series.times[a])}/{fmt(series.times[b - 1])}",
                 "test": f"{fmt(series.times[t0])}/{fmt(series.times[t1 - 1])}", "test_windows": int(len(xs)),
                 "masked_cells": int(mask.sum())},
        "models": info, "results": results, "climatology": clim_info,
    }
    title = title or f"{cfg0.data.grid_id}: held-out test {report['data']['test']}"
    plots.lead_curves({k: v for k, v in results.items()}, step, os.path.join(out, "plots", "lead_metrics.png"), title)
    primary = cfg0.model.label
    plots.error_map(series.lats, series.lons, metrics.per_cell_mae(preds[primary], ys, mask),
                    os.path.join(out, "plots", "mae_map.png"), f"{primary}: per-cell MAE over all leads, test part")
    plots.error_map(series.lats, series.lons, metrics.per_cell_mae(preds["Persistence"], ys, mask),
                    os.path.join(out, "plots", "mae_map_persistence.png"), "Persistence: per-cell MAE over all leads, test part")
    core = core_of(loaded[0][0])
    if core.graph is not None:
        report["adjacency"] = _adjacency_plot(core, series, adjacency_cell, os.path.join(out, "plots", "adjacency_column.png"))
    if core.graph is not None:
        report["distance_threshold"] = _distance_plot(distance_runs, loaded[0], results[primary], xs, ys, mask, data_path,
                                                      os.path.join(out, "plots", "mae_vs_distance.png"))
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(report, f, indent=1)
    report["title"] = title
    with open(os.path.join(out, "evaluation.md"), "w") as f:
        f.write(markdown(report, title))
    print(markdown(report, title))
    evaluate_intervals(loaded[0], checkpoints[0], out)
    return report


BURN_IN_HOURS = 24


def _predict_numpy(model, xs):
    return predict(model, torch.from_numpy(np.ascontiguousarray(xs)))


def evaluate_intervals(primary, checkpoint: str, out: str) -> dict:
    """The intervals of `primary` (model, cfg, prepared, checkpoint dict) on the test part: intervals.json,
    intervals.md and plots/reliability.png in `out` (see the module's docstring)."""
    from .export import weights_sha256
    model, cfg, prep, _ = primary
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    sha = weights_sha256(model)
    onnx_path = os.path.join(out, "model.onnx")
    cal = calibration.from_model(onnx_path) if os.path.exists(onnx_path) else None
    source = f"{project_relative(onnx_path)} (the export-time calibration it carries)"
    if cal is None or cal.weights_sha256 != sha:
        cal = calibration.calibrate(model, prep, _predict_numpy, sha)
        source = f"fitted now from {project_relative(checkpoint)}'s validation part"
    mask, beta, step = prep.series.mask, cfg.data.beta, prep.series.step_hours
    xs, ys = prep.test.arrays()
    preds = _predict_numpy(model, xs)
    issues = np.array([prep.test.times[s + cfg.data.alpha - 1] for s in prep.test.starts])
    burn_in = BURN_IN_HOURS
    after = issues >= issues[0] + np.timedelta64(burn_in, "h")
    if not after.any():  # a test part shorter than the burn-in (tiny test data): every window
        burn_in, after = 0, np.ones(len(issues), dtype=bool)
    levels = list(calibration.DEFAULT_LEVELS)
    L = len(levels)
    ref = cal.references
    lad = [round(l, 6) for l in ref["levels"]]
    half = np.array([[row[lad.index(round(l, 6))] for l in levels] for row in ref["static_halfwidth"]])
    taus = [round(t, 6) for t in ref["persistence_taus"]]
    want = [round(t, 6) for t in calibration.quantile_levels(levels)]
    perr = np.array([[row[taus.index(t)] for t in want[:L] + [0.5] + want[L:]] for row in ref["persistence_error_quantiles"]])
    pers = calibration.persistence_quantiles(xs[:, -1], beta, perr)  # (N, 2L + 1, beta, H, W), the median in the middle
    fixed = calibration.Calibration(**{**cal.__dict__, "eta": 0.0, "scale_rate": 0.0})
    runs = {
        "conformal": (calibration.replay(cal, preds, ys, mask, levels), preds),
        "export-time, never updated": (calibration.replay(fixed, preds, ys, mask, levels), preds),
        "static per-lead width": (calibration.static_quantiles(preds, half), preds),
        "persistence + validation error quantiles": (np.concatenate([pers[:, :L], pers[:, L + 1:]], axis=1), pers[:, L]),
    }
    scored = {}
    for name, (q, med) in runs.items():
        scored[name] = {"after_first_day": calibration.interval_scores(q[after], ys[after], mask, levels, median=med[after]),
                        "all": calibration.interval_scores(q, ys, mask, levels, median=med)}
    ladder = list(cal.levels)
    rq = calibration.replay(cal, preds, ys, mask, ladder)
    rel = calibration.interval_scores(rq[after], ys[after], mask, ladder, median=preds[after])
    fmt = lambda t: np.datetime_as_string(t, unit="h") + "Z"
    t0, t1 = prep.split.test
    report = {
        "grid_id": cfg.data.grid_id, "model": cfg.model.label, "method": calibration.METHOD, "levels": levels,
        "calibration": {"source": source, "eta": cal.eta, "scale_rate": cal.scale_rate,
                        "pooling": cal.selection.get("chosen", {}).get("pooling"), "fitted_on": cal.fitted_on},
        "test": f"{fmt(prep.series.times[t0])}/{fmt(prep.series.times[t1 - 1])}",
        "burn_in_hours": burn_in, "windows": int(len(xs)), "windows_after_first_day": int(after.sum()),
        "first_scored_issue": fmt(issues[after][0]),
        "step_hours": step, "results": scored,
        "reliability": {"levels": ladder, "coverage": rel["coverage"]},
    }
    with open(os.path.join(out, "intervals.json"), "w") as f:
        json.dump(report, f, indent=1)
    plots.reliability(ladder, rel["coverage"], step, os.path.join(out, "plots", "reliability.png"),
                      f"{cfg.data.grid_id}: {cfg.model.label} intervals on the test part {report['test']},\n"
                      f"windows issued from {report['first_scored_issue']} (squares: the job's levels)", marked=levels)
    text = intervals_markdown(report)
    with open(os.path.join(out, "intervals.md"), "w") as f:
        f.write(text)
    print(text)
    return report


def intervals_markdown(r: dict) -> str:
    step, levels = r["step_hours"], r["levels"]
    beta = len(r["results"]["conformal"]["all"]["coverage"])
    lead = lambda i: f"+{(i + 1) * step:g} h"
    pct = lambda l: f"{l * 100:g}%"
    c = r["calibration"]
    a = r["results"]["conformal"]["after_first_day"]
    lines = [f"## Prediction intervals: held-out test {r['test']}", "",
             f"Method: {r['method']} (flink-job/README.md, \"Intervals\"), as the streaming job runs it: the test part "
             f"replayed window by window from the export-time calibration ({c['source']}; fitted on the "
             f"{c['fitted_on'].get('split')} part {c['fitted_on'].get('period')}, eta {c['eta']}, scale rate "
             f"{c['scale_rate']}, scale per {c['pooling']}, all chosen on the validation part). Scored: the "
             f"{r['windows_after_first_day']} of {r['windows']} windows issued from {r['first_scored_issue']} (the "
             f"first {r['burn_in_hours']} h of issue times left out); masked cells left out.", "",
             "Coverage of the central intervals (nominal " + " and ".join(pct(l) for l in levels) + "):", "",
             "| | " + " | ".join(lead(i) for i in range(beta)) + " |", "|---|" + "---:|" * beta]
    for j, l in enumerate(levels):
        for name in r["results"]:
            cov = r["results"][name]["after_first_day"]["coverage"]
            lines.append(f"| {pct(l)}: {name} | " + " | ".join(f"{cov[i][j] * 100:.1f}%" for i in range(beta)) + " |")
    lines += ["", "Mean width (K) of the intervals, conformal:", "", "| level | " + " | ".join(lead(i) for i in range(beta)) + " |",
              "|---|" + "---:|" * beta]
    for j, l in enumerate(levels):
        lines.append(f"| {pct(l)} | " + " | ".join(f"{a['width'][i][j]:.3f}" for i in range(beta)) + " |")
    lines += ["", "CRPS (K; approximated from the quantiles and the point forecast as median: twice the mean pinball "
              "loss over their levels) and interval score (K, mean over the levels), lower is better:", "",
              "| | " + " | ".join(lead(i) for i in range(beta)) + " | mean |", "|---|" + "---:|" * (beta + 1)]
    for key, label in (("crps", "CRPS"), ("interval_score", "interval score")):
        for name in r["results"]:
            s = r["results"][name]["after_first_day"][key]
            vals = [v if key == "crps" else float(np.mean(v)) for v in s]
            lines.append(f"| {label}: {name} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |")
    lines += ["", "Plot: `plots/reliability.png` (observed against nominal coverage at the calibration's levels "
              + ", ".join(f"{l:g}" for l in r["reliability"]["levels"]) + ", per lead, windows as above).", ""]
    return "\n".join(lines)


def _adjacency_plot(core, series, cell, path) -> dict:
    with torch.no_grad():
        adj = core.graph.adjacency().numpy()
    clat, clon = coarse_grid(series.lats, series.lons, 2) if core.cfg.downsample else (series.lats, series.lons)
    gh, gw = core.grid
    if cell is None:  # default: the grid's centre cell
        cell = (float(clat[gh // 2]), float(clon[gw // 2]))
    r = int(np.abs(clat - cell[0]).argmin())
    c = int(np.abs(clon - cell[1]).argmin())
    j = r * gw + c
    column = adj[:, j].reshape(gh, gw)
    plots.adjacency_map(clat, clon, column, (clat[r], clon[c]), path,
                        f"Learned adjacency column of cell ({clat[r]:.2f}N, {clon[c]:.2f}E), {gh}x{gw} graph nodes")
    dist = cell_distances_km(clat, clon)[j]
    top = np.argsort(adj[:, j])[::-1][:10]
    return {"cell": [float(clat[r]), float(clon[c])], "graph_nodes": int(gh * gw),
            "top10_rows": [{"lat": float(clat[i // gw]), "lon": float(clon[i % gw]), "weight": float(adj[i, j]), "km": float(dist[i])} for i in top]}


INFERENCE_THRESHOLDS_KM = (0, 50, 100, 200, 300, 500, 800)


def _distance_plot(runs, primary_loaded, primary_result, xs, ys, mask, data_path, path) -> dict:
    """The paper's Q1 two ways: models trained with a threshold d (their own runs), and the unrestricted
    model with its learned adjacency cut at d only at inference (no retraining: what the learned
    long-range entries contribute)."""
    model0, cfg0, prep0, _ = primary_loaded
    s = prep0.series
    clat, clon = coarse_grid(s.lats, s.lons, 2) if cfg0.model.downsample else (s.lats, s.lons)
    dist = cell_distances_km(clat, clon)
    diameter = float(dist.max())
    test_mae = lambda m: float(np.abs(predict(m, torch.from_numpy(xs)) - ys)[..., ~mask].mean())
    trained = [(diameter, primary_result["mean"]["mae"], "no threshold")]
    for run in runs or []:
        model, cfg, _, _ = load_checkpoint(run, data_path)
        if cfg.model.distance_km is not None:
            trained.append((float(cfg.model.distance_km), test_mae(model), f"d={cfg.model.distance_km:g} km"))
    graph = core_of(model0).graph
    at_inference = []
    for d in INFERENCE_THRESHOLDS_KM:  # the sparse form cuts its neighbour list, the dense one its N x N adjacency
        graph.keep = graph.neighbour_km <= d if graph.form == "sparse" else torch.as_tensor(dist <= d)
        at_inference.append((float(d), test_mae(model0), f"{d} km"))
    graph.keep = None
    at_inference.append((diameter, primary_result["mean"]["mae"], "no threshold"))
    plots.mae_vs_distance({"trained with threshold d": trained, "threshold applied at inference only": at_inference}, path,
                          f"MAE against the LAGC distance threshold d (region diameter {diameter:.0f} km)")
    pack = lambda pts: [{"d_km": d, "mae": m, "label": l} for d, m, l in sorted(pts)]
    return {"diameter_km": diameter, "trained": pack(trained), "at_inference": pack(at_inference)}


def markdown(report: dict, title: str) -> str:
    d = report["data"]
    res = report["results"]
    lines = [f"## {title}", "",
             f"Data: `{d['file']}` ({d['grid']['height']}x{d['grid']['width']} grid, every {d['step_hours']:g} h), "
             f"{d['alpha']} frames in, {d['beta']} out. Train {d['train']}, held-out test {d['test']} "
             f"({d['test_windows']} windows); masked cells left out: {d['masked_cells']}.", "",
             "| model | parameters | MAE (K) | RMSE (K) | SSIM (ours) | SSIM (paper-style) | PSNR (dB) | skill vs persistence (MAE) | beats persistence at every lead |",
             "|---|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    order = sorted(res, key=lambda k: res[k]["mean"]["mae"])
    for k in order:
        m = res[k]["mean"]
        params = f"{report['models'][k]['parameters']:,}" if k in report["models"] else "-"
        every = "-" if k == "Persistence" else ("yes" if all(s > 0 for s in res[k]["skill_vs_persistence"]) else "no")
        paper = f"{m['ssim_paper']:.3f}" if "ssim_paper" in m else "-"  # metrics.json written before it had none
        lines.append(f"| {k} | {params} | {m['mae']:.3f} | {m['rmse']:.3f} | {m['ssim']:.3f} | {paper} | {m['psnr']:.2f} | "
                     f"{m['skill_vs_persistence']:+.3f} | {every} |")
    beta = d["beta"]
    lines += ["", "SSIM (ours): 7x7 window, data range = the training range, every cell; SSIM (paper-style): as the "
              "seed's SimVP/OpenSTL lineage computes it on kelvin frames (skimage defaults of its time: data range 2.0, "
              "border strip cropped); see lsntp/metrics.py."]
    if "climatology" in report:
        lines += ["", climatology_note(report["climatology"])]
    lines += ["", "MAE (K) per lead:", "",
              "| model | " + " | ".join(f"+{(i + 1) * d['step_hours']:g} h" for i in range(beta)) + " |",
              "|---|" + "---:|" * beta]
    for k in order:
        lines.append(f"| {k} | " + " | ".join(f"{v:.3f}" for v in res[k]["mae"]) + " |")
    if report["models"]:
        lines += ["", "Training (the checkpoint evaluated is the one with the best validation MAE):", "",
                  "| model | epoch of the best checkpoint | training minutes up to it | best validation MAE (K) | trained on |",
                  "|---|---:|---:|---:|---|"]
        for k, v in report["models"].items():
            lines.append(f"| {k} | {v['epochs']} | {v['train_minutes']} | {v['validation_mae']} | {v.get('trained_on', '-')} |")
    if "distance_threshold" in report:
        dt = report["distance_threshold"]
        lines += ["", f"MAE (K) against the LAGC distance threshold d (region diameter {dt['diameter_km']:.0f} km): "
                  "models trained with d, and the unrestricted model with its adjacency cut at d at inference only:", "",
                  "| d (km) | trained with d | cut at inference |", "|---:|---:|---:|"]
        rows = {}
        for p in dt["trained"]:
            rows.setdefault(round(p["d_km"]), [None, None])[0] = p["mae"]
        for p in dt["at_inference"]:
            rows.setdefault(round(p["d_km"]), [None, None])[1] = p["mae"]
        f = lambda v: "-" if v is None else f"{v:.3f}"
        lines += [f"| {d} | {f(t)} | {f(i)} |" for d, (t, i) in sorted(rows.items())]
    lines += ["", "Plots: `plots/lead_metrics.png` (per-lead MAE, RMSE, SSIM, PSNR), `plots/mae_map.png` and "
              "`plots/mae_map_persistence.png` (per-cell MAE), `plots/adjacency_column.png` (learned adjacency column)"
              + (", `plots/mae_vs_distance.png`" if "distance_threshold" in report else "") + ".", ""]
    return "\n".join(lines)
