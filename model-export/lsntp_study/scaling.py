"""Models for the scaling benchmark of the long-range graph (dense and sparse), and the plot of its results.

`scaling-models` builds, for each grid size and graph form, an LS-NTP with the architecture of
configs/era5-lsntp.yaml (hidden sizes, kernel, embedding, alpha, beta, stride-2 downsampling: the
config itself, with only `model.graph`/`model.graph_k` set) on a synthetic regular lat/lon grid of
that size (0.25 degree spacing from 60N 10W, rows running south, as ERA5's), with RANDOM weights
(`--seed`): the models are for measuring cost (file size, session memory, latency) only and
forecast nothing; their metadata says so (`model_name` lsntp-scaling, `training_period` and
`validation_metrics` name no training). Each is exported as `export.py` exports a trained model
(the same metadata keys, `missing_fill` included, grid geometry of the synthetic grid, parity files
of a synthetic window), to DIR/<form>-<H>x<W>/model.onnx. A dense model whose (I + A) constant would
exceed the limit (default 2 GB, also about protobuf's limit on a whole ONNX file) is skipped and
the reason recorded. DIR/scaling-models.json lists every model.

`scaling-plot` draws the Java benchmark's CSV (form,height,width,cells,graph_nodes,k,file_bytes,
session_mb,latency_b1_ms,latency_b16_ms; empty cells where a dense model was skipped) as cost against
cells, log-log, one line per form.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time

from lsntp.paths import PROJECT_ROOT  # numpy and torch only inside the functions: the CLI imports this module's defaults

ERA5_CONFIG = os.path.join(PROJECT_ROOT, "model-export", "configs", "era5-lsntp.yaml")
DEFAULT_SIZES = "33x49,66x98,100x150,150x280,250x500"
DEFAULT_FORMS = "dense,sparse"
DEFAULT_K = 9
DEFAULT_DENSE_LIMIT_GB = 2.0
LAT0, LON0, STEP_DEG = 60.0, -10.0, 0.25  # the synthetic grid: rows run south, columns east
STEP_HOURS = 1.0  # ERA5's hourly step (the config's data)
NORM_LO, NORM_HI, STEP_CHANGE_K = 250.0, 300.0, 0.5  # a plausible kelvin range; nothing was fitted
MODEL_NAME = "lsntp-scaling"
CSV_COLUMNS = ("form", "height", "width", "cells", "graph_nodes", "k", "file_bytes", "session_mb",
               "latency_b1_ms", "latency_b16_ms")


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        item = item.strip().lower()
        if not item:
            continue
        h, x, w = item.partition("x")
        if not x or not h.isdigit() or not w.isdigit() or int(h) < 1 or int(w) < 1:
            raise ValueError(f"--sizes takes HxW,HxW,... with positive whole numbers, got '{item}'")
        sizes.append((int(h), int(w)))
    if not sizes:
        raise ValueError("--sizes names no grid")
    return sizes


def parse_forms(text: str) -> list[str]:
    from lsntp.ls_conv import GRAPH_FORMS
    forms = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in forms if f not in GRAPH_FORMS]
    if bad or not forms:
        raise ValueError(f"--forms takes a comma-separated list of {', '.join(GRAPH_FORMS)}, got '{text}'")
    return forms


def synthetic_grid(h: int, w: int):
    import numpy as np
    return LAT0 - STEP_DEG * np.arange(h), LON0 + STEP_DEG * np.arange(w)


def synthetic_window(alpha: int, lats, lons, seed: int):
    """A smooth, plausible kelvin window (1, alpha, H, W): colder north, a travelling wave, a little noise."""
    import numpy as np
    rng = np.random.default_rng(seed)
    la, lo = np.meshgrid(lats, lons, indexing="ij")
    frames = [283.0 - 0.6 * (la - 50.0) + 3.0 * np.sin(np.radians(8.0 * lo + 15.0 * t)) * np.cos(np.radians(6.0 * la))
              + 0.2 * rng.standard_normal(la.shape) for t in range(alpha)]
    return np.stack(frames)[None].astype(np.float32)


def dense_constant_bytes(graph_nodes: int) -> int:
    return graph_nodes * graph_nodes * 4  # (I + A)^T, float32


def _log(msg: str) -> None:
    print(f"scaling-models: {msg}", file=sys.stderr, flush=True)


def scaling_config(form: str, k: int):
    """configs/era5-lsntp.yaml with only the graph form (and k) set."""
    from lsntp import config
    return config.load(ERA5_CONFIG, {"name": f"scaling-{form}", "model.graph": form,
                                     "model.graph_k": k if form == "sparse" else None})


def build(cfg, h: int, w: int, seed: int):
    """(model, lats, lons): the config's architecture on the synthetic h x w grid, random weights from `seed`."""
    import torch
    from lsntp.data import MinMax
    from lsntp.forecaster import build_forecaster
    lats, lons = synthetic_grid(h, w)
    torch.manual_seed(seed)
    model = build_forecaster(cfg.model, h, w, cfg.data.beta, MinMax(NORM_LO, NORM_HI), lats, lons, STEP_CHANGE_K)
    return model.eval(), lats, lons


def export_one(form: str, h: int, w: int, k: int, seed: int, out_dir: str, command: str, dense_limit_bytes: float) -> dict:
    """Build and export one model (or skip a dense one over the limit); its entry of scaling-models.json."""
    import torch
    from lsntp import export
    from lsntp.data import MinMax
    from lsntp.forecaster import coarse_shape, core_of
    cfg = scaling_config(form, k)
    gh, gw = coarse_shape(h, w, cfg.model.downsample)
    entry = {"form": form, "height": h, "width": w, "cells": h * w, "graph_nodes": gh * gw}
    if form == "dense" and dense_constant_bytes(gh * gw) > dense_limit_bytes:
        reason = (f"(I + A) would be a {dense_constant_bytes(gh * gw) / 1e9:.2f} GB constant ({gh * gw} x {gh * gw} float32), "
                  f"over the {dense_limit_bytes / 1e9:g} GB limit")
        _log(f"{form} {h}x{w}: skipped: {reason}")
        return {**entry, "k": gh * gw, "skipped": reason}
    t0 = time.perf_counter()
    model, lats, lons = build(cfg, h, w, seed)
    graph = core_of(model).graph
    t1 = time.perf_counter()
    path = os.path.join(out_dir, f"{form}-{h}x{w}", "model.onnx")
    a, b = cfg.data.alpha, cfg.data.beta
    x = torch.from_numpy(synthetic_window(a, lats, lons, seed))
    note = f"random weights (seed {seed}): for cost measurement only, not a forecaster"
    with torch.no_grad(), export.folded_graphs(model):
        expected = model(x).numpy()  # the parity files' forecast
        t2 = time.perf_counter()
        proto = export.to_onnx(model, x, expected.shape)
        grid = {"height": h, "width": w, "lat0": float(lats[0]), "lon0": float(lons[0]), "dlat": -STEP_DEG, "dlon": STEP_DEG}
        meta = export.describe(
            model, cfg.model, grid_id=f"scaling-{h}x{w}-0p25", alpha=a, beta=b, step_hours=STEP_HOURS, grid=grid,
            norm=MinMax(NORM_LO, NORM_HI), training_period=f"none: {note}",
            validation_metrics={"split": "none", "note": note}, source_data="synthetic regular grid (lsntp scaling-models)",
            source_variable="t2m", version="0.0.0-scaling", command=command, model_name=MODEL_NAME)
    size = export.write(proto, meta, f"{MODEL_NAME}: LS-NTP ({form} graph) with ERA5's architecture on a synthetic "
                                     f"{h}x{w} grid, {note}", path, x.numpy(), expected,
                        {"note": f"synthetic window; expected is PyTorch's output for it ({note})"})
    t3 = time.perf_counter()
    entry.update({"k": graph.k, "file_bytes": size, "parameters": sum(p.numel() for p in model.parameters()),
                  "export_seconds": round(t3 - t2, 2), "build_seconds": round(t1 - t0, 2),
                  "pytorch_b1_seconds": round(t2 - t1, 3), "path": os.path.relpath(path, out_dir)})
    _log(f"{form} {h}x{w}: {gh * gw} graph nodes, k {graph.k}: {size / 1e6:.1f} MB, exported in {t3 - t2:.1f} s "
         f"(PyTorch forward at batch 1: {t2 - t1:.2f} s) -> {path}")
    return entry


def scaling_models(out_dir: str, sizes: list[tuple[int, int]], forms: list[str], k: int = DEFAULT_K, seed: int = 0,
                   dense_limit_gb: float = DEFAULT_DENSE_LIMIT_GB, command: str = "") -> list[dict]:
    if k < 1:
        raise ValueError(f"--k must be at least 1, got {k}")
    os.makedirs(out_dir, exist_ok=True)
    listing = os.path.join(out_dir, "scaling-models.json")
    # a later run into the same folder adds its sizes to the listing (same k and seed) and replaces
    # the entries of the sizes and forms it builds again
    built = {(form, h, w) for h, w in sizes for form in forms}
    kept = []
    if os.path.exists(listing):
        with open(listing) as f:
            old = json.load(f)
        if old.get("k") == k and old.get("seed") == seed:
            kept = [e for e in old["models"] if (e["form"], e["height"], e["width"]) not in built]
    entries = []
    for h, w in sizes:
        for form in forms:
            try:
                entries.append(export_one(form, h, w, k, seed, out_dir, command, dense_limit_gb * 1e9))
            except Exception as e:  # one size that cannot be exported must not cost the others
                _log(f"{form} {h}x{w}: export failed: {type(e).__name__}: {e}")
                entries.append({"form": form, "height": h, "width": w, "cells": h * w, "graph_nodes": None, "k": k,
                                "skipped": f"export failed: {type(e).__name__}: {e}"})
            with open(listing, "w") as f:  # after each, so a stopped run keeps its list
                json.dump({"note": "random-weight LS-NTP models for cost measurement only (lsntp scaling-models); "
                                   "architecture of configs/era5-lsntp.yaml", "seed": seed, "k": k,
                           "dense_limit_bytes": dense_limit_gb * 1e9,
                           "models": sorted(kept + entries, key=lambda e: (e["cells"], e["form"]))}, f, indent=1)
    return entries


def read_results(path: str) -> list[dict]:
    """The Java benchmark's CSV: one row per model, numbers where measured, None where a cell is empty."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such results file")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
        rows = []
        for row in reader:
            r = {"form": row["form"].strip()}
            for c in CSV_COLUMNS[1:]:
                v = (row.get(c) or "").strip()
                try:
                    r[c] = float(v) if v else None
                except ValueError as e:
                    raise ValueError(f"{path}: column {c} has '{v}', not a number") from e
            rows.append(r)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def scaling_plot(results_csv: str, out_png: str) -> str:
    from lsntp import plots
    rows = read_results(results_csv)
    panels = [("latency_b1_ms", "latency, batch 1 (ms)"), ("latency_b16_ms", "latency, batch 16 (ms)"),
              ("file_bytes", "model file (MB)"), ("session_mb", "session memory (MB)")]
    def label(r):  # one line per dense and per sparse k (results of several k may share a CSV)
        return r["form"] if r["form"] != "sparse" or not r.get("k") else f"sparse, k = {int(r['k'])}"

    series = {}
    for key, _ in panels:
        scale = 1e-6 if key == "file_bytes" else 1.0
        for name in dict.fromkeys(label(r) for r in rows):
            pts = sorted((r["cells"], r[key] * scale, r.get("k")) for r in rows
                         if label(r) == name and r["cells"] and r[key] is not None and r[key] > 0)
            series.setdefault(key, {})[name] = pts
    ks = sorted({int(r["k"]) for r in rows if r["form"] == "sparse" and r["k"]})
    title = "LS-NTP cost against grid cells" + (f" (sparse k = {', '.join(map(str, ks))})" if ks else "")
    unmeasured = [f"{r['form']} {r['height']:.0f}x{r['width']:.0f}" for r in rows
                  if r["latency_b1_ms"] is None and r["height"] and r["width"]]
    if unmeasured:
        title += "\nnot measured (skipped): " + ", ".join(unmeasured)
    plots.scaling_curves(panels, series, out_png, title)
    return out_png


def repeats_for(cells: int) -> int:
    """Timed runs per batch size: fewer for the big grids, whose single forecast takes seconds."""
    return 30 if cells <= 20_000 else 10 if cells <= 100_000 else 5


def measure(models_dir: str, out_csv: str, threads: int, batches=(1, 16), java_cmd=None) -> list[dict]:
    """Times every model of scaling-models.json in ONNX Runtime Java (OnnxLatencyBench, one fresh JVM
    per model so each measures its own session memory) and writes the CSV (CSV_COLUMNS, then the
    JVM's resident memory columns and the repeats); skipped models keep empty cells. session_mb is
    the resident memory the session adds on load plus what its runs add (VmHWM peak minus the
    resident memory before the session): what a TaskManager pays outside its heap for the model."""
    import subprocess
    from lsntp.benchmark import java_classpath
    listing_path = os.path.join(models_dir, "scaling-models.json")
    if not os.path.exists(listing_path):
        raise FileNotFoundError(f"{listing_path}: no such listing (run scaling-models first)")
    with open(listing_path) as f:
        entries = json.load(f)["models"]
    java = java_cmd or ["java", "-cp", java_classpath(), "ai.lsntp.bench.OnnxLatencyBench"]
    columns = list(CSV_COLUMNS) + ["rss_before_mb", "rss_loaded_mb", "peak_rss_mb", "repeats", "threads"]
    rows = []
    os.makedirs(os.path.dirname(os.path.abspath(out_csv)), exist_ok=True)
    for e in entries:
        row = {c: "" for c in columns}
        row.update({c: e[c] for c in ("form", "height", "width", "cells", "graph_nodes", "k")})
        if "skipped" not in e:
            path = os.path.join(models_dir, e["path"])
            reps = repeats_for(e["cells"])
            print(f"scaling: {e['form']} {e['height']}x{e['width']} ({e['cells']} cells): ONNX Runtime Java, "
                  f"{reps} runs at batch {', '.join(map(str, batches))}", file=sys.stderr, flush=True)
            res = subprocess.run(java + [path, "-", "0", str(reps), str(threads)] + [str(b) for b in batches],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"OnnxLatencyBench failed on {path}: {res.stderr[-2000:]}")
            out = json.loads(res.stdout.strip().splitlines()[-1])
            mem = out["memory"]
            row.update({"file_bytes": e["file_bytes"], "session_mb": round(mem["peak_rss_mb"] - mem["rss_before_mb"], 1),
                        "latency_b1_ms": out["model"]["1"]["median_ms"] if 1 in batches else "",
                        "latency_b16_ms": out["model"]["16"]["median_ms"] if 16 in batches else "",
                        "rss_before_mb": mem["rss_before_mb"], "rss_loaded_mb": mem["rss_loaded_mb"],
                        "peak_rss_mb": mem["peak_rss_mb"], "repeats": reps, "threads": threads})
            timed = ", ".join(f"{out['model'][str(b)]['median_ms']:.1f} ms at batch {b}" for b in batches)
            print(f"scaling: {e['form']} {e['height']}x{e['width']}: {timed}, session {row['session_mb']} MB",
                  file=sys.stderr, flush=True)
        rows.append(row)
        with open(out_csv, "w", newline="") as f:  # after each model, so a stopped run keeps what it measured
            w = csv.DictWriter(f, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)
    return rows


def markdown_table(rows: list[dict]) -> str:
    """The CSV as a markdown table (docs/scaling): one line per grid and form."""
    out = ["| form | grid | cells | graph nodes | k | model file | session memory | batch 1 | batch 16 |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["latency_b1_ms"] in ("", None):
            out.append(f"| {r['form']} | {int(r['height'])} x {int(r['width'])} | {int(r['cells']):,} | "
                       f"{int(r['graph_nodes'] or 0):,} | {int(r['k']):,} | skipped | | | |")
            continue
        b16 = "not run" if r["latency_b16_ms"] in ("", None) else f"{float(r['latency_b16_ms']):.0f} ms"
        out.append(f"| {r['form']} | {int(r['height'])} x {int(r['width'])} | {int(r['cells']):,} | {int(r['graph_nodes']):,} | "
                   f"{int(r['k']):,} | {float(r['file_bytes']) / 1e6:.1f} MB | {float(r['session_mb']):.0f} MB | "
                   f"{float(r['latency_b1_ms']):.0f} ms | {b16} |")
    return "\n".join(out) + "\n"


def write_synthetic_frames(path: str, h: int, w: int, hours: int, seed: int = 0) -> str:
    """A NetCDF file of `hours` hourly t2m frames on the synthetic h x w grid (CF time units, kelvin),
    for driving a scaling model's grid through the stream (`./lsntp ingest` it with the model's grid
    id, scaling-<H>x<W>-0p25). The field is synthetic_window's: smooth, plausible, not weather."""
    import numpy as np
    import xarray as xr
    lats, lons = synthetic_grid(h, w)
    t2m = synthetic_window(hours, lats, lons, seed)[0]
    times = np.datetime64("2019-03-01T00:00", "ns") + np.arange(hours) * np.timedelta64(1, "h")
    ds = xr.Dataset({"t2m": (("time", "latitude", "longitude"), t2m, {"units": "K"})},
                    coords={"time": times, "latitude": lats, "longitude": lons})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ds.to_netcdf(path)
    return path
