"""The comparison of issue 10: every system of the training queue, on both data sets, honestly.

    ./lsntp compare model-export/queues/comparison.yaml --runs-dir RUNS --out models/comparison

For each data set (a config's `data.grid_id`), every finished run's best checkpoint (the best
validation MAE of its run) predicts the held-out test part once; its scores per test window and
lead are cached in OUT/cache/ under the checkpoint's SHA-256, so a rerun only predicts new runs.
Rows, in the seed's tables:
- Table 3: LS-NTP and every other system at a matched size (parameters within 20% of LS-NTP's,
  configs checked by test_sizes.py), plus Persistence and Climatology (evaluate.py's);
- Table 4: the seed's ablations (w/o NSA, w/o LAGC, both, w/o LSI, DAGG-ConvLSTM);
- Table 5 / Q1: the LSI kernel k and the LAGC distance threshold d;
- Table 6: our own variants, not in the seed's tables (the LSI's ReLU switched, the sparse graph,
  full resolution), and other systems at full resolution, which the full-resolution LS-NTP is
  compared with (full_resolution_peers).
Each row: MAE, RMSE, SSIM (ours and paper-style, metrics.py), PSNR as mean +- sd over its seeds
(sd from 2 seeds on), seeds, epochs, training minutes and where, parameters; and its MAE minus
LS-NTP's on the same data set (seeds averaged per window) with a block-bootstrap 95% interval over
calendar days (bootstrap.py). A headline per data set: LS-NTP's MAE as a fraction of persistence's
against the issue's aim, and whether LS-NTP is ahead of ConvLSTM by more than the interval.
Rows of the queue that have not finished are listed with the reason (waiting, training, failed).

Writes OUT/comparison.json, OUT/README.md, OUT/plots/mae_bars.png, OUT/plots/lead_mae.png.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time

import numpy as np

from lsntp import metrics
from lsntp.config import ConfigError
from lsntp.config import load as load_config

from . import bootstrap, queue

METRICS_VERSION = 2  # part of every cache key: bump when a score's definition changes
SCORES = ("mae", "rmse", "ssim", "ssim_paper", "psnr")
SCORE_NAMES = {"mae": "MAE (K)", "rmse": "RMSE (K)", "ssim": "SSIM (ours)", "ssim_paper": "SSIM (paper-style)", "psnr": "PSNR (dB)"}
# The issue's aims for LS-NTP's test MAE as a fraction of persistence's, per data set (grid_id prefix)
AIMS = {"era5": 0.62, "ncep": 0.70}
SIZE_TOLERANCE = 0.2
REFERENCE_ROWS = ("Persistence", "Climatology")
# The seed's Table 3: LS-NTP's parameters on its ERA5 and NCEP set-ups (ours are matched to a far
# smaller LS-NTP; model-export/README.md, "Size: matched, not the paper's").
PAPER_LSNTP_PARAMETERS = {"era5-uk-0p25": 5.99e6, "ncep-na-2p5": 19.48e6}


@dataclasses.dataclass
class System:
    """One row of the comparison: a queue entry (a config with its overrides), all its seeds."""
    name: str  # the queue's run name without -sN, e.g. era5-lsntp, era5-lsntp-no-nsa
    runs: list  # queue.QueuedRun, one per seed
    cfg: object  # the RunConfig of its first run (the queue's config with its overrides)
    table: str = "3"
    row: str = ""  # the row's name in the tables
    folder: str = ""  # lowercase folder name without the data set prefix (the zoo's)
    reference: bool = False  # the data set's LS-NTP: what every row is compared with

    @property
    def grid_id(self) -> str:
        return self.cfg.data.grid_id


def _base_name(r: queue.QueuedRun) -> str:
    seed = r.overrides.get("train.seed")
    suffix = f"-s{seed}"
    return r.name[: -len(suffix)] if seed is not None and r.name.endswith(suffix) else r.name


# The rows of an LS-NTP whose LSI differs from its data set's reference only in its activation: the
# choice between the two forms, settled per data set on validation (zoo.is_ablation leaves them out).
LSI_LINEAR_ROW = "LSI without ReLU (linear)"
LSI_RELU_ROW = "LSI with ReLU (the seed's)"
FULL_RESOLUTION = "full resolution (no downsampling)"


def _resolution(model) -> str:
    return FULL_RESOLUTION if not model.downsample else "downsampled by 2"


def _variant(ref_model, model) -> tuple[str, str]:
    """(table, row name) of an LS-NTP variant, named by what differs from the data set's LS-NTP.
    Table 4 when one of the seed's ablations is in it (NSA, LAGC, LSI removed), else Table 6 when one
    of our own settings differs (the LSI's ReLU, the sparse graph, resolution, sizes), else Table 5
    (the seed's kernel and distance sweeps)."""
    if model.kind != "lsntp":
        return "4", model.label
    parts, ablation, ours = [], False, False
    if not model.nsa and not model.lagc and (ref_model.nsa or ref_model.lagc):
        parts.append("w/o NSA & LAGC")
    elif model.nsa != ref_model.nsa:
        parts.append("w/o NSA" if not model.nsa else "with NSA")
    elif model.lagc != ref_model.lagc:
        parts.append("w/o LAGC" if not model.lagc else "with LAGC")
    if model.lsi != ref_model.lsi:
        parts.append("w/o LSI" if not model.lsi else "with LSI")
    ablation = bool(parts)
    if model.lsi and model.lsi_relu != ref_model.lsi_relu:
        parts.append(LSI_LINEAR_ROW if not model.lsi_relu else LSI_RELU_ROW)
        ours = True
    if model.kernel != ref_model.kernel:
        parts.append(f"k = {model.kernel}")
    if model.distance_km != ref_model.distance_km:
        parts.append("no threshold" if model.distance_km is None else f"d = {model.distance_km:g} km")
    for field in ("hidden", "embed_dim", "graph", "graph_k", "downsample", "layers", "nsa_hidden", "residual"):
        if getattr(model, field) != getattr(ref_model, field):
            if field == "downsample":
                parts.append(_resolution(model))
            else:
                parts.append(f"{field} = {getattr(model, field)}")
            ours = True
    table = "4" if ablation else "6" if ours else "5"
    return table, ", ".join(parts) or "LS-NTP (same settings)"


def systems(queue_file: str) -> list[System]:
    """The queue's runs grouped into systems (seeds together), each with its table, row name and folder."""
    groups: dict[str, System] = {}
    for r in queue.read(queue_file):
        name = _base_name(r)
        if name in groups:
            groups[name].runs.append(r)
            continue
        path = r.config if os.path.isabs(r.config) else os.path.join(queue.MODEL_EXPORT, r.config)
        cfg = load_config(path, {"name": r.name, **r.overrides})
        groups[name] = System(name, [r], cfg)
    out = list(groups.values())
    refs = {}
    for s in out:  # the data set's LS-NTP: kind lsntp, no model setting changed by the queue, most seeds
        model_overrides = [k for k in s.runs[0].overrides if k.startswith("model.")]
        if s.cfg.model.kind == "lsntp" and not model_overrides:
            if s.grid_id not in refs or len(s.runs) > len(refs[s.grid_id].runs):
                refs[s.grid_id] = s
    for s in out:
        ref = refs.get(s.grid_id)
        prefix = (ref.name.split("-")[0] + "-") if ref else ""
        s.folder = (s.name[len(prefix):] if prefix and s.name.startswith(prefix) else s.name).lower()
        if s is ref:
            s.reference, s.table, s.row = True, "3", "LS-NTP"
        elif s.cfg.model.kind == "lsntp":
            s.table, s.row = _variant(ref.cfg.model, s.cfg.model) if ref else ("4", s.cfg.model.label)
        elif ref is not None and s.cfg.model.downsample != ref.cfg.model.downsample:
            # another system at the other resolution: a measurement for the resolution rule, not Table 3's row
            s.table, s.row = "6", f"{s.cfg.model.label} at {_resolution(s.cfg.model)}"
        elif s.cfg.model.kind == "daggconvlstm":
            s.table, s.row = "4", s.cfg.model.label
        else:
            s.table, s.row = "3", s.cfg.model.label
    return out


def references(systems_: list[System]) -> dict[str, System]:
    return {s.grid_id: s for s in systems_ if s.reference}


# ---------------------------------------------------------------------------------------------
# runs: state, checkpoint, cached scores


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_state(run_dir: str) -> tuple[str, str]:
    """(state, why) of a queue run: finished, or the reason it has no row yet."""
    st = queue.state(run_dir)
    if st == "finished":
        if not os.path.exists(os.path.join(run_dir, "best.pt")):
            return "missing", "finished, but its best.pt is missing"
        return "finished", ""
    if st == "failed":
        with open(os.path.join(run_dir, "failed.txt")) as f:
            return "failed", "failed: " + f.read().strip() + f" ({os.path.join(run_dir, 'failed.txt')})"
    if st in ("training", "stopped"):
        with open(os.path.join(run_dir, "progress.json")) as f:
            p = json.load(f)
        at = f"epoch {p.get('epoch', '?')}/{p.get('epochs', '?')}"
        if st == "training":
            return "training", f"training now, {at} (not finished yet)"
        return "stopped", f"stopped at {at} before it finished (resumable: the queue continues it)"
    return "waiting", "not trained yet (waiting in the queue)"


def _run_history(run_dir: str, ck_history: dict) -> dict:
    """The whole run's history (history.json, every epoch) where there is one, else the checkpoint's."""
    p = os.path.join(run_dir, "history.json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return ck_history


def _history_facts(hist: dict, fallback_seconds: float = 0.0) -> dict:
    """What a run's history says of its training: epochs run, the best one, minutes, where, why it ended."""
    from lsntp.checkpoint import trained_on

    epochs = [e["val_mae"] for e in hist.get("epochs", [])]
    return {"epochs": len(epochs), "best_epoch": int(np.argmin(epochs)) + 1 if epochs else None,
            "train_minutes": round(hist.get("train_seconds", fallback_seconds) / 60, 1),
            "trained_on": trained_on(hist), "finished": hist.get("finished")}


def _data_signature(cfg) -> dict:
    d = cfg.data
    return {"file": os.path.basename(d.path), "grid_id": d.grid_id, "val_start": d.val_start,
            "test_start": d.test_start, "alpha": d.alpha, "beta": d.beta}


class DataSet:
    """A data set's test part, prepared once: truth, windows, issue days, references."""

    def __init__(self, cfg):
        from lsntp.data import prepare

        self.cfg = cfg
        self.prepared = prepare(cfg.data)
        p = self.prepared
        self.xs, self.ys = p.test.arrays()
        self.mask = p.series.mask
        self.data_range = p.norm.hi - p.norm.lo
        self.target_times = np.stack([p.test.target_times(i) for i in range(len(p.test))])
        self.issue_times = np.array([p.test.times[int(s) + cfg.data.alpha - 1] for s in p.test.starts])
        self.blocks = bootstrap.issue_days(self.issue_times)
        self.signature = _data_signature(cfg)

    def scores(self, pred: np.ndarray) -> dict[str, np.ndarray]:
        return metrics.per_window(pred, self.ys, self.mask, self.data_range)


def _scores_of_run(run_dir: str, ds: DataSet, cache_dir: str, log) -> dict:
    """The run's per-window scores and facts, from the cache when its checkpoint has not changed."""
    import torch

    from lsntp.checkpoint import build_model, read, run_config
    from lsntp.forecaster import predict

    best = os.path.join(run_dir, "best.pt")
    sha = _sha256(best)
    key = json.dumps({"sha256": sha, "metrics": METRICS_VERSION, "data": ds.signature, "windows": int(len(ds.xs)),
                      "data_bytes": os.path.getsize(ds.cfg.data.resolved_path)}, sort_keys=True)
    name = os.path.basename(os.path.normpath(run_dir))
    cache = os.path.join(cache_dir, f"{name}.npz")
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                facts = json.loads(str(z["facts"]))
                if os.path.exists(os.path.join(run_dir, "history.json")):  # training may have gone on without a new best
                    facts.update(_history_facts(_run_history(run_dir, {}), facts.get("train_minutes", 0) * 60))
                return {"facts": facts, **{k: z[k] for k in ("abs", "sq", "ssim", "ssim_paper")}}
    t0 = time.time()
    ck = read(best)
    cfg = run_config(ck)
    if _data_signature(cfg) != ds.signature:
        raise ConfigError(f"{name} was trained on {_data_signature(cfg)}, not the data set's {ds.signature}")
    norm = ck.get("norm")
    if norm and (abs(norm["lo"] - ds.prepared.norm.lo) > 1e-4 or abs(norm["hi"] - ds.prepared.norm.hi) > 1e-4):
        raise ConfigError(f"{name}: its normalisation {norm} is not the data set's {ds.prepared.norm}")
    model = build_model(cfg, ds.prepared)
    model.load_state_dict(ck["model"])
    model.eval()
    pred = predict(model, torch.from_numpy(ds.xs))
    w = ds.scores(pred)
    hist = _run_history(run_dir, ck.get("history", {}))
    facts = {"run": name, "checkpoint": os.path.abspath(best), "sha256": sha, "config": cfg.name,
             "label": cfg.model.label, "kind": cfg.model.kind, "seed": cfg.train.seed,
             "parameters": int(sum(p.numel() for p in model.parameters())), "validation_mae": float(ck["best"]),
             **_history_facts(hist, ck.get("history", {}).get("train_seconds", 0.0))}
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, key=np.array(key), facts=np.array(json.dumps(facts)), **{k: w[k] for k in ("abs", "sq", "ssim", "ssim_paper")})
    os.replace(tmp, cache)
    log(f"compare: {name}: predicted {len(ds.xs)} test windows in {time.time() - t0:.0f} s")
    return {"facts": facts, **w}


# ---------------------------------------------------------------------------------------------
# rows


def _mean_scores(w: dict) -> tuple[dict, dict]:
    """(mean over leads, per lead) of each score from per-window scores."""
    lead = metrics.from_windows(w)
    return {k: float(np.mean(lead[k])) for k in SCORES}, {k: [float(v) for v in lead[k]] for k in SCORES}


def _seed_stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) >= 2 else None, "per_seed": [float(x) for x in v]}


def _row(name: str, table: str, label: str, kind: str, window_scores: list[dict], facts: list[dict]) -> tuple[dict, np.ndarray]:
    """A row from its seeds' per-window scores: per seed means, mean +- sd over seeds, per lead means
    over seeds, and the per-window MAE averaged over seeds (what the bootstrap pairs)."""
    per_seed = [_mean_scores(w) for w in window_scores]
    leads = {k: [float(np.mean([ps[1][k][i] for ps in per_seed])) for i in range(len(per_seed[0][1][k]))] for k in SCORES}
    row = {"system": name, "table": table, "row": label, "kind": kind, "seeds": len(window_scores),
           "metrics": {k: _seed_stats([ps[0][k] for ps in per_seed]) for k in SCORES}, "per_lead": leads,
           "runs": [{**f, "test": ps[0], "test_per_lead": ps[1]} for f, ps in zip(facts, per_seed)]}
    return row, np.mean([w["abs"].mean(axis=1) for w in window_scores], axis=0)


def _parameters(system: System, ds: DataSet) -> int:
    from lsntp.checkpoint import build_model

    return int(sum(p.numel() for p in build_model(system.cfg, ds.prepared).parameters()))


def compare(queue_file: str, runs_dir: str, out: str, n_resamples: int = bootstrap.DEFAULT_RESAMPLES,
            seed: int = bootstrap.DEFAULT_SEED, readmes: tuple[str, ...] = (), log=print) -> dict:
    """readmes: READMEs whose results block is rewritten from the report (update_readme); their
    markers are checked before the comparison's work, so a README without them fails fast."""
    for readme in readmes:
        check_readme(readme)
    report = _compare(queue_file, runs_dir, out, n_resamples, seed, log)
    for readme in readmes:
        update_readme(readme, report, out)
    return report


def _compare(queue_file: str, runs_dir: str, out: str, n_resamples: int, seed: int, log) -> dict:
    from lsntp.evaluate import climatology_note, persistence, seasonal_climatology
    from lsntp.train import set_threads

    set_threads()
    all_systems = systems(queue_file)
    refs = references(all_systems)
    cache_dir = os.path.join(out, "cache")
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    grids = list(dict.fromkeys(s.grid_id for s in all_systems))
    report = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "queue": os.path.abspath(queue_file),
              "runs_dir": os.path.abspath(runs_dir),
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
        ds = DataSet(ref.cfg)
        rows, window_mae, states = [], {}, []
        ref_params = _parameters(ref, ds)
        for s in members:
            scores, facts = [], []
            for r in s.runs:
                run_dir = os.path.join(runs_dir, r.name)
                state, why = run_state(run_dir)
                if state == "finished":
                    try:
                        res = _scores_of_run(run_dir, ds, cache_dir, log)
                    except (ConfigError, RuntimeError, KeyError, ValueError) as e:
                        state, why = "unusable", f"its checkpoint could not be scored: {e}"
                    else:
                        scores.append({k: res[k] for k in ("abs", "sq", "ssim", "ssim_paper")})
                        facts.append(res["facts"])
                if state != "finished":
                    report["missing"].append({"run": r.name, "system": s.name, "grid_id": grid, "row": s.row,
                                              "table": s.table, "state": state, "why": why})
            params = facts[0]["parameters"] if facts else _parameters(s, ds)
            base = {"system": s.name, "table": s.table, "row": s.row, "kind": s.cfg.model.kind, "label": s.cfg.model.label,
                    "folder": s.folder, "reference": s.reference, "parameters": params,
                    "parameters_vs_lsntp": round(params / ref_params, 3),
                    "within_20pct_of_lsntp": bool(abs(params / ref_params - 1) <= SIZE_TOLERANCE),
                    "queued_seeds": len(s.runs)}
            if not scores:
                rows.append({**base, "seeds": 0, "why_missing": "; ".join(sorted({m["why"].split(" (")[0] for m in report["missing"] if m["system"] == s.name}))})
                continue
            row, wm = _row(s.name, s.table, s.row, s.cfg.model.kind, scores, facts)
            rows.append({**base, **row})
            window_mae[s.name] = wm
        # references: persistence and seasonal climatology of the training part
        a, b = ds.prepared.split.train
        series = ds.prepared.series
        clim, clim_info = seasonal_climatology(series.values[a:b], series.times[a:b], ds.target_times)
        for name, pred in (("Persistence", persistence(ds.xs, ds.cfg.data.beta)), ("Climatology", clim)):
            w = ds.scores(pred)
            row, wm = _row(name, "3", name, "reference", [w], [{"run": None}])
            row["runs"] = []
            rows.append({**row, "system": name, "reference": False, "parameters": 0, "label": name, "folder": None})
            window_mae[name] = wm
        # differences against LS-NTP, and the headline
        if ref.name in window_mae:
            base_w = window_mae[ref.name]
            for row in rows:
                if row["system"] in window_mae and row["system"] != ref.name:
                    row["vs_lsntp"] = bootstrap.mean_difference(window_mae[row["system"]], base_w, ds.blocks, n_resamples, seed)
        report["datasets"][grid] = {
            "data": _data_facts(ds, clim_info), "reference": ref.name, "rows": rows,
            "headline": _headline(grid, ref, rows, window_mae, ds, n_resamples, seed,
                                  full_resolution=full_resolution_of(ref, members),
                                  full_resolution_peers=full_resolution_peers(ref, members)),
            "climatology_note": climatology_note(clim_info)}
        del ds
    with open(os.path.join(out, "comparison.json"), "w") as f:
        json.dump(report, f, indent=1)
    _plots(report, os.path.join(out, "plots"))
    text = markdown(report)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(text)
    log(f"compare: wrote {os.path.join(out, 'README.md')}, comparison.json and plots/")
    return report


def _data_facts(ds: DataSet, clim_info: dict) -> dict:
    s, p = ds.prepared.series, ds.prepared
    fmt = lambda t: np.datetime_as_string(t, unit="h") + "Z"
    (a, b), (t0, t1) = p.split.train, p.split.test
    return {**ds.signature, "grid": s.grid, "step_hours": s.step_hours, "train": f"{fmt(s.times[a])}/{fmt(s.times[b - 1])}",
            "test": f"{fmt(s.times[t0])}/{fmt(s.times[t1 - 1])}", "test_windows": int(len(ds.xs)),
            "test_days": int(len(np.unique(ds.blocks))), "masked_cells": int(ds.mask.sum()),
            "ssim_data_range_k": float(ds.data_range), "climatology": clim_info}


def _find(rows, kind=None, system=None):
    for r in rows:
        if (system and r["system"] == system) or (kind and r["kind"] == kind and r["table"] == "3" and r.get("seeds")):
            return r
    return None


def full_resolution_of(ref: System, members: list[System]) -> System | None:
    """The queued LS-NTP that differs from the data set's reference only in running at full resolution
    (no downsampling), as the seed's reference configuration does; None where there is none."""
    if not ref.cfg.model.downsample:
        return None
    target = dataclasses.replace(ref.cfg.model, downsample=False)
    return next((s for s in members if s.cfg.model == target and s.cfg.data == ref.cfg.data), None)


def full_resolution_peers(ref: System, members: list[System]) -> list[System]:
    """The other systems (not LS-NTP) queued at full resolution on the reference's data, where the
    reference runs downsampled: what the full-resolution LS-NTP is compared with, like with like."""
    if not ref.cfg.model.downsample:
        return []
    return [s for s in members if s.cfg.model.kind != "lsntp" and not s.cfg.model.downsample and s.cfg.data == ref.cfg.data]


def _and(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def _verdict(d: dict) -> str:
    return "above zero" if d["lo"] > 0 else "below zero" if d["hi"] < 0 else "contains zero"


def _resolution_rule(ref: System, full: System, rows: list, window_mae: dict, ds: DataSet, n_resamples: int,
                     seed: int, peers: list[System] = ()) -> tuple[dict, str]:
    """The issue's rule: the reference runs at full resolution if that scores better on validation.
    Compares mean validation MAE (never test); where full resolution wins, gives its test ratio to
    persistence, its difference to ConvLSTM and to each other system trained at full resolution too
    (peers, full_resolution_peers), and what it lacks to become the reference."""
    by_name = {r["system"]: r for r in rows}
    ref_row, full_row = by_name.get(ref.name), by_name.get(full.name)
    if not full_row or not full_row.get("seeds") or not ref_row or not ref_row.get("seeds"):
        return {"full_resolution": full.name, "decided": False}, (
            "The issue's resolution rule (the reference at full resolution if it scores better on validation) is "
            f"undecided: `{full.name}` has no finished run yet.")
    val = lambda r: float(np.mean([x["validation_mae"] for x in r["runs"]]))
    v_full, v_ref = val(full_row), val(ref_row)
    out = {"full_resolution": full.name, "decided": True, "validation_mae_full": v_full, "validation_mae_reference": v_ref,
           "full_better_on_validation": v_full < v_ref, "full_seeds": full_row["seeds"]}
    text = (f"Resolution (the issue's rule: the reference at full resolution if it scores better on validation): LS-NTP at full "
            f"resolution (`{full.name}`, {full_row['seeds']} seed(s), {full_row['parameters']:,} parameters) has a mean "
            f"validation MAE of {v_full:.4f} K against {v_ref:.4f} K downsampled ({ref_row['seeds']} seeds)")
    if v_full >= v_ref:
        return out, text + ": the downsampled reference stays."
    ratio = bootstrap.ratio_of_means(window_mae[full.name], window_mae["Persistence"], ds.blocks, n_resamples, seed)
    out["full_over_persistence"] = ratio
    text += (f", better. On test it is {ratio['ratio']:.3f} x persistence (95% interval {ratio['lo']:.3f}-{ratio['hi']:.3f})")
    conv = _find(rows, kind="convlstm")
    if conv is not None and conv["system"] in window_mae:
        d = bootstrap.mean_difference(window_mae[conv["system"]], window_mae[full.name], ds.blocks, n_resamples, seed)
        out["convlstm_minus_full"] = d
        text += (f"; the downsampled ConvLSTM's MAE minus its MAE is {d['diff']:+.4f} K, 95% interval "
                 f"[{d['lo']:+.4f}, {d['hi']:+.4f}] K ({_verdict(d)})")
    peer_rows = [by_name[p.name] for p in peers if by_name.get(p.name, {}).get("seeds")]
    if peer_rows:
        out["peers_minus_full"], parts, ahead, behind = {}, [], [], []
        for r in peer_rows:
            d = bootstrap.mean_difference(window_mae[r["system"]], window_mae[full.name], ds.blocks, n_resamples, seed)
            size, v = r["parameters"] / full_row["parameters"], val(r)
            out["peers_minus_full"][r["system"]] = {**d, "seeds": r["seeds"], "validation_mae": v, "parameters": r["parameters"],
                                                    "parameters_vs_full": round(size, 3)}
            parts.append(f"{r['label']} ({r['seeds']} seed(s), {r['parameters']:,} parameters, {size:.2f} x its; validation "
                         f"{v:.4f} K) {d['diff']:+.4f} K [{d['lo']:+.4f}, {d['hi']:+.4f}] ({_verdict(d)})")
            (ahead if d["lo"] > 0 else behind if d["hi"] < 0 else []).append(r["label"])
        text += (". The other systems trained at full resolution too, at their configs' sizes (MAE minus the full-resolution "
                 "LS-NTP's, 95% interval): " + "; ".join(parts) + ". At full resolution LS-NTP is "
                 + (f"ahead of {_and(ahead)}" if ahead else "ahead of none of them beyond the interval")
                 + (f" and behind {_and(behind)}" if behind else ""))
    missing = max(0, 3 - full_row["seeds"])
    text += ". It is not the reference of these tables: " + (
        f"the protocol asks 3 seeds of the reference and it has {full_row['seeds']}; " if missing else "") + (
        f"its {full_row['parameters']:,} parameters are {full_row['parameters'] / ref_row['parameters']:.1f} x the "
        "downsampled LS-NTP's, to which every other system's size is matched (the graph's node embedding and the "
        "peephole ConvLSTM's per-cell peephole weights grow with the number of cells it runs on). " + (
            f"Of the other systems only {_and([r['label'] for r in peer_rows])} ran at full resolution (above); the rest "
            "run downsampled as the reference does." if peer_rows else
            "Every other system, ConvLSTM included, runs downsampled as the reference does: whether they gain as much at "
            "full resolution is untested."))
    return out, text


def _headline(grid: str, ref: System, rows: list, window_mae: dict, ds: DataSet, n_resamples: int, seed: int,
              full_resolution: System | None = None, full_resolution_peers: list[System] = ()) -> dict:
    out = {"aim_fraction_of_persistence": next((v for k, v in AIMS.items() if grid.startswith(k)), None)}
    if ref.name not in window_mae:
        out["statement"] = "LS-NTP has no finished run on this data set yet: no headline."
        return out
    ratio = bootstrap.ratio_of_means(window_mae[ref.name], window_mae["Persistence"], ds.blocks, n_resamples, seed)
    aim = out["aim_fraction_of_persistence"]
    out["lsntp_over_persistence"] = ratio
    out["aim_met"] = None if aim is None else bool(ratio["ratio"] <= aim)
    out["aim_met_with_interval"] = None if aim is None else bool(ratio["hi"] <= aim)
    conv = _find(rows, kind="convlstm")
    lines = []
    if aim is not None:
        lines.append(f"LS-NTP's test MAE is {ratio['ratio']:.3f} x persistence's (95% interval {ratio['lo']:.3f}-{ratio['hi']:.3f}); "
                     f"the aim is <= {aim:.2f} x: " + ("met." if out["aim_met"] else "NOT met.") +
                     ("" if out["aim_met"] == out["aim_met_with_interval"] else " (the interval reaches past the aim)"))
    if conv is not None and "vs_lsntp" in conv:
        d = conv["vs_lsntp"]
        out["convlstm_minus_lsntp"] = d
        ahead = d["lo"] > 0
        out["lsntp_ahead_of_convlstm"] = ahead
        if ahead:
            lines.append(f"LS-NTP is ahead of ConvLSTM: ConvLSTM's MAE minus LS-NTP's is {d['diff']:+.4f} K, 95% interval "
                         f"[{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, above zero.")
        elif d["hi"] < 0:
            lines.append(f"LS-NTP is NOT ahead of ConvLSTM: ConvLSTM is better, by {-d['diff']:.4f} K (ConvLSTM minus LS-NTP "
                         f"{d['diff']:+.4f} K, 95% interval [{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, below zero).")
        else:
            lines.append(f"LS-NTP is NOT ahead of ConvLSTM by more than the interval: ConvLSTM's MAE minus LS-NTP's is "
                         f"{d['diff']:+.4f} K with a 95% interval [{d['lo']:+.4f}, {d['hi']:+.4f}] K over {d['blocks']} days, "
                         "which contains zero: on this test part the two cannot be told apart.")
    else:
        lines.append("ConvLSTM has no finished run on this data set yet: no comparison with it.")
    if full_resolution is not None:
        out["resolution"], text = _resolution_rule(ref, full_resolution, rows, window_mae, ds, n_resamples, seed,
                                                   full_resolution_peers)
        lines.append(text)
    out["statement"] = " ".join(lines)
    return out


# ---------------------------------------------------------------------------------------------
# report


def _pm(stat: dict | None, digits: int) -> str:
    if not stat:
        return "-"
    s = f"{stat['mean']:.{digits}f}"
    return s + (f" +- {stat['sd']:.{digits}f}" if stat.get("sd") is not None else "")


def _diff(row: dict) -> str:
    d = row.get("vs_lsntp")
    if row.get("reference"):
        return "(reference)"
    if not d:
        return "-"
    mark = " *" if d["lo"] > 0 or d["hi"] < 0 else ""
    return f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]{mark}"


TABLES = (("3", "Table 3: every system at a matched size, and the references"),
          ("4", "Table 4: ablations of LS-NTP (and DAGG-ConvLSTM)"),
          ("5", "Table 5 / Q1: the LSI kernel k and the LAGC distance threshold d"),
          ("6", "Our variants, not in the seed's tables: the LSI's ReLU, the sparse graph, resolution"))


def _table(rows: list, table: str, ref_row: dict | None) -> list[str]:
    sizes = table == "3"
    head = ["row", "kind", "parameters"] + (["within +-20% of LS-NTP"] if sizes else []) + \
        ["seeds", "MAE (K)", "RMSE (K)", "SSIM (ours)", "SSIM (paper-style)", "PSNR (dB)", "MAE minus LS-NTP's (K) [95% interval]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" + ("---|" if sizes else "") + "---:|" * 7]
    members = [r for r in rows if r["table"] == table and not r.get("reference")]
    if table != "3" and ref_row is not None:  # the variant tables: LS-NTP first, for reference
        members = [ref_row] + members
    elif ref_row is not None:
        members = [ref_row] + [r for r in members if r["system"] not in REFERENCE_ROWS] + [r for r in members if r["system"] in REFERENCE_ROWS]
    for r in members:
        m = r.get("metrics")
        name = r["row"] + (" (k = 3, no threshold)" if r.get("reference") and table == "5" else "")
        kind = r["kind"] if r["kind"] != "reference" else "-"
        params = f"{r['parameters']:,}" if r.get("parameters") else "-"
        cells = [name, kind, params]
        if sizes:
            cells.append("-" if r["system"] in REFERENCE_ROWS else ("yes" if r["within_20pct_of_lsntp"] else f"no ({r['parameters_vs_lsntp']:.2f} x)"))
        if not r.get("seeds"):
            cells += [f"0 of {r.get('queued_seeds', '?')}", f"missing: {r.get('why_missing', '')}", "", "", "", "", ""]
        else:
            seeds = "-" if r["system"] in REFERENCE_ROWS else str(r["seeds"])
            cells += [seeds, _pm(m["mae"], 3), _pm(m["rmse"], 3), _pm(m["ssim"], 3), _pm(m["ssim_paper"], 3),
                      _pm(m["psnr"], 2), _diff(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict) -> str:
    b = report["bootstrap"]
    n_rows = sum(1 for d in report["datasets"].values() for r in d["rows"] if r.get("seeds") and r["system"] not in REFERENCE_ROWS)
    lines = ["# The comparison of issue 10: every system on both data sets", "",
             f"Generated {report['generated']} by `./lsntp compare {os.path.relpath(report['queue'], os.path.dirname(queue.MODEL_EXPORT))} "
             f"--runs-dir {report['runs_dir']}` from the runs finished then ({n_rows} system rows with at least one seed; "
             f"{len(report['missing'])} queued runs missing, listed at the end).", "",
             "Conventions (model-export/README.md, Comparison): every number is on the held-out test part; each run is "
             "its best-validation checkpoint; a row's value is the mean +- sd over its seeds (sd from 2 seeds on). "
             "SSIM (ours): 7x7 window, data range = the training range, every cell; SSIM (paper-style): as the seed's "
             "SimVP/OpenSTL lineage computes it on kelvin frames (skimage's old defaults: data range 2.0, border strip "
             "cropped) - nearly a 7x7 correlation, not comparable with ours. PSNR: 10 log10(255^2/MSE) on kelvin errors, as "
             "the seed's tables. 'MAE minus LS-NTP's': the row's MAE minus LS-NTP's on the same windows (seeds averaged per "
             f"window); 95% block-bootstrap interval with calendar days (UTC date of the issue time) as blocks, "
             f"{b['resamples']:,} resamples, seed {b['seed']}; * marks an interval that excludes zero. Parameters are "
             "counted on the data set's grid.", ""]
    for grid, d in report["datasets"].items():
        data = d["data"]
        rows = d["rows"]
        ref_row = next((r for r in rows if r.get("reference")), None)
        lines += [f"## {grid}", "",
                  f"`{data['file']}`, {data['grid']['height']} x {data['grid']['width']} cells every {data['step_hours']:g} h, "
                  f"{data['alpha']} frames in, {data['beta']} out; train {data['train']}, held-out test {data['test']} "
                  f"({data['test_windows']} windows issued on {data['test_days']} days; masked cells {data['masked_cells']}).",
                  "", d["climatology_note"], "", f"**Headline.** {d['headline']['statement']}", ""]
        if data["test_days"] < 10:
            lines += [f"With only {data['test_days']} test days as bootstrap blocks, the intervals are coarse and, if anything, "
                      "too narrow (a percentile interval from n blocks is narrower by about sqrt((n-1)/n)); read them as a "
                      "lower bound of the uncertainty.", ""]
        for table, title in TABLES:
            if not any(r["table"] == table for r in rows if not r.get("reference")) and table != "3":
                continue
            lines += [f"### {title}", ""] + _table(rows, table, ref_row) + [""]
            if table == "3" and ref_row and ref_row.get("parameters"):
                paper = PAPER_LSNTP_PARAMETERS.get(grid)
                t3 = [r for r in rows if r["table"] == "3" and not r.get("reference") and r["system"] not in REFERENCE_ROWS]
                within = sum(1 for r in t3 if r.get("within_20pct_of_lsntp"))
                lines += [f"Size: {within} of the {len(t3)} other systems of Table 3 are within 20% of this LS-NTP's "
                          f"{ref_row['parameters']:,} parameters"
                          + (f"; the seed's LS-NTP on this data set has {paper / 1e6:.2f}M, "
                             f"{paper / ref_row['parameters']:.0f} times as many, and no row here is at that size "
                             "(model-export/README.md, \"Size: matched, not the paper's\")" if paper else "") + ".", ""]
        lines += ["### Training of each row", "",
                  "| row | table | runs (seed: best validation MAE K, epochs run, best epoch, minutes) | where trained |",
                  "|---|---|---|---|"]
        for r in rows:
            if r["system"] in REFERENCE_ROWS or not r.get("seeds"):
                continue
            runs = "; ".join(f"{x['run']} (s{x['seed']}: {x['validation_mae']:.4f}, {x['epochs']}, {x['best_epoch']}, {x['train_minutes']})"
                             for x in r["runs"])
            where = "; ".join(sorted({x["trained_on"] for x in r["runs"]}))
            lines.append(f"| {r['row']} | {r['table']} | {runs} | {where} |")
        lines.append("")
        per_lead = [r for r in rows if r.get("seeds")]
        lines += ["### MAE (K) per lead", "", "| row | " + " | ".join(f"+{(i + 1) * data['step_hours']:g} h" for i in range(data["beta"])) + " |",
                  "|---|" + "---:|" * data["beta"]]
        lines += [f"| {r['row']} | " + " | ".join(f"{v:.3f}" for v in r["per_lead"]["mae"]) + " |" for r in per_lead]
        lines.append("")
    lines += ["## Rows still missing", ""]
    if report["missing"]:
        lines += ["| run | data set | row | why |", "|---|---|---|---|"]
        lines += [f"| {m['run']} | {m['grid_id']} | {m.get('row', '-')} | {m['why']} |" for m in report["missing"]]
    else:
        lines.append("None: every queued run is in the tables.")
    paper = [f"{PAPER_LSNTP_PARAMETERS[g] / 1e6:.2f}M on {g}" for g in report["datasets"] if g in PAPER_LSNTP_PARAMETERS]
    if paper:
        lines += ["", f"Not queued: a row at the paper's size (its LS-NTP has {' and '.join(paper)} parameters). A training "
                  "step of such a model costs far more than this CPU machine can give every row; the measurement and the "
                  "command are in model-export/README.md, \"Size: matched, not the paper's\"."]
    lines += ["", "## Plots", "",
              "- `plots/mae_bars.png`: test MAE of every row per data set; each bar's error bar is LS-NTP's MAE plus the 95% "
              "interval of the row's difference from it (a bar whose error bar crosses the dashed LS-NTP line cannot be told apart from it);",
              "- `plots/lead_mae.png`: MAE per lead of LS-NTP, ConvLSTM, the best other system (by its lowest seed's validation MAE, never test), "
              "persistence and climatology, per data set.", ""]
    return "\n".join(lines)


# The project README's results block lies between these markers; `--readme` rewrites only what is
# between them, so the prose around it stays the author's.
README_BEGIN = "<!-- comparison results: written by ./lsntp compare --readme from models/comparison/comparison.json -->"
README_END = "<!-- end of comparison results -->"


def _machines(report: dict) -> str:
    """The machines the report's runs trained on, with how many runs each ("AMD EPYC, 2 cores, ... (49 runs)")."""
    counts = {}
    for d in report["datasets"].values():
        for r in d["rows"]:
            for x in r.get("runs", []):
                counts[x.get("trained_on", "?")] = counts.get(x.get("trained_on", "?"), 0) + 1
    return "; ".join(f"{m} ({n} run{'s' if n != 1 else ''})" for m, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def results_section(report: dict, report_link: str = "models/comparison/README.md") -> str:
    """The short form of the report for a README: per data set one table of every queued row
    (parameters, seeds, test MAE, its difference to LS-NTP with the interval, training minutes; the
    reason where it has no finished run) and the headline. report_link: the full report, relative to
    that README."""
    lines = [f"From `./lsntp compare` ([{report_link}]({report_link}), generated "
             f"{report['generated']}): each row's best-validation checkpoint per seed, mean +- sd over seeds, and the "
             "95% block-bootstrap interval (one-day blocks) of its MAE minus LS-NTP's on the same windows; * marks an "
             "interval that excludes zero. Table 3's sizes are within +-20% of LS-NTP's parameters; minutes of training "
             f"per run (mean over its seeds), on {_machines(report)}; 'seeds' says how many of the "
             "queued seeds have finished where not all have. Every queued row is listed, one with no finished run with "
             "the reason.", ""]
    for grid, d in report["datasets"].items():
        data = d["data"]
        lines += [f"**{grid}**: `{data['file']}`, test {data['test']}, {data['beta'] * data['step_hours']:g} h ahead", "",
                  "| row | table | parameters | seeds | test MAE (K) | minus LS-NTP's (K) [95%] | training min/run |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        seen = set()
        # Table 3 with its references last, then the ablation and variant tables; a row with no
        # finished run stays in its place, saying why
        for r in sorted(d["rows"], key=lambda r: (r["table"], r["system"] in REFERENCE_ROWS)):
            if r["system"] in seen:
                continue
            seen.add(r["system"])
            params = f"{r['parameters']:,}" if r.get("parameters") else "-"
            queued = r.get("queued_seeds") or r["seeds"]
            seeds = "-" if r["system"] in REFERENCE_ROWS else str(r["seeds"]) if r["seeds"] >= queued else f"{r['seeds']} of {queued}"
            if not r.get("seeds"):
                lines.append(f"| {r['row']} | {r['table']} | {params} | {seeds} | no result: {r.get('why_missing', 'no finished run')} | - | - |")
                continue
            mins = [x["train_minutes"] for x in r.get("runs", []) if x.get("train_minutes") is not None]
            minutes = f"{sum(mins) / len(mins):.0f}" if mins else "-"
            lines.append(f"| {r['row']} | {r['table']} | {params} | {seeds} | {_pm(r['metrics']['mae'], 3)} | "
                         f"{_diff(r)} | {minutes} |")
        lines += ["", d["headline"]["statement"], ""]
    return "\n".join(lines)


def check_readme(path: str) -> str:
    """The README's text, if it has exactly one results block (README_BEGIN, then README_END)."""
    with open(path) as f:
        text = f.read()
    if text.count(README_BEGIN) != 1 or text.count(README_END) != 1 or text.index(README_BEGIN) > text.index(README_END):
        raise ValueError(f"{path} needs exactly one results block, the lines\n  {README_BEGIN}\n  {README_END}\n"
                         "in this order, for --readme to write between them")
    return text


def update_readme(path: str, report: dict, comparison_dir: str) -> None:
    """Rewrites the results block of the README at path (between README_BEGIN and README_END); the
    block links the full report in comparison_dir."""
    text = check_readme(path)
    head, rest = text.split(README_BEGIN)
    _, tail = rest.split(README_END)
    link = os.path.relpath(os.path.join(comparison_dir, "README.md"), os.path.dirname(os.path.abspath(path)))
    with open(path + ".tmp", "w") as f:
        f.write(head + README_BEGIN + "\n" + results_section(report, link) + "\n" + README_END + tail)
    os.replace(path + ".tmp", path)


def best_other(rows: list) -> dict | None:
    """The best Table 3 system other than LS-NTP and ConvLSTM by the validation MAE (never test) of its
    lowest seed, the one every system has: the rule that chose which system gets the protocol's three
    seeds, so it is not undone by the extra seeds (a mean over three against one seed's value)."""
    cands = [r for r in rows if r["table"] == "3" and r.get("seeds") and not r.get("reference")
             and r["kind"] not in ("convlstm", "reference")]
    if not cands:
        return None
    return min(cands, key=lambda r: min(r["runs"], key=lambda x: x["seed"])["validation_mae"])


def _plots(report: dict, folder: str) -> None:
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
        picks = [next((r for r in rows if r.get("reference") and r.get("seeds")), None), _find(rows, kind="convlstm"),
                 best_other(rows), _find(rows, system="Persistence"), _find(rows, system="Climatology")]
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
