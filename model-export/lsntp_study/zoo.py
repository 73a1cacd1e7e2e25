"""The zoo: every system of the comparison exported, one model per system and data set.

    ./lsntp zoo model-export/queues/comparison.yaml --runs-dir RUNS --out models/zoo

For each system with a finished run (a row of the comparison: a config or an ablation of the
queue), the seed with the best VALIDATION MAE (its checkpoint's `best`; never the test part) is
exported by export.export to OUT/<grid_id>/<system>/model.onnx with its parity files, beside it
metrics.json (its test scores from the comparison, which is brought up to date first: cached, so
cheap when no run changed), evaluation.md, commands.sh and the model card (model_card.write).
System folders are the queue's names without the data set prefix: `lsntp`, `convlstm`,
`saconvlstm`, `lsntp-no-nsa`, ... OUT/README.md lists every model with its size, parameters,
seed, validation and test MAE. A system whose chosen checkpoint has not changed since the last
export is not exported again. By default the systems of Tables 3 and 4 (DAGG-ConvLSTM) and our
variants of Table 6 ship (DEFAULT_TABLES, without LS-NTP's ablations, is_ablation); a folder of a row outside
them, left by an earlier zoo, is removed.

The streaming job serves `*.onnx` directly in its models directory and `*/model.onnx` one level
below (ModelCatalog.modelFiles walks two levels); the zoo's models lie three levels below OUT, so
a zoo inside the served folder (models/zoo) is not picked up as served models.
"""
from __future__ import annotations

import glob
import json
import os
import shutil

from lsntp.paths import from_project, project_relative

from . import bootstrap
from .comparison import systems as comparison_systems
from .comparison.compare import compare
from .comparison.systems import LSI_LINEAR_ROW, LSI_RELU_ROW, REFERENCE_ROWS, TABLE_IDS

VERSION = "1.0.0"
# The zoo holds every system's best run: Tables 3 (every system), 4 (DAGG-ConvLSTM, a system) and 6
# (our variants, among them the sparse graph models, which serve continent-sized grids) go in by
# default. LS-NTP's ablations (Table 4's rows of kind lsntp: w/o NSA, w/o LAGC, both, w/o LSI; ~8.5 MB
# on the two grids; and Table 6's other LSI form, ~3 MB) and Table 5's kernel and distance sweeps
# (9.5 MB on ERA5) are measurements, not systems a user would serve: they stay in the comparison and
# export with --ablations and --tables 3,4,5,6. Leaving them out keeps the zoo within its ~40 MB budget.
DEFAULT_TABLES = ("3", "4", "6")
# "Small models": a system whose folder would be larger than this (estimate_bytes) stays out of the zoo
# with the command that exports it. Every matched system is 1-2 MB; NCEP at full resolution, with its
# folded 1,325 x 1,325 graph, is about 9 MB.
MAX_FOLDER_MB = 5.0


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _remove_unlisted(out: str, keep: set[str], log) -> None:
    """Remove OUT/<grid>/<system> folders an earlier zoo wrote (they hold its metrics.json) that are not
    in this zoo; folders the zoo did not write are left alone."""
    for meta in sorted(glob.glob(os.path.join(glob.escape(out), "*", "*", "metrics.json"))):
        folder = os.path.dirname(meta)
        rel = os.path.relpath(folder, out)
        if rel not in keep:
            log(f"zoo: removing {rel} (its row is not among those this zoo ships)")
            shutil.rmtree(folder)


def estimate_bytes(parameters: int, graph_nodes: int, alpha: int, beta: int, cells: int) -> int:
    """A system folder's size before it is exported: float32 weights, the folded (I + A)^T of a graph
    system (graph_nodes^2 floats), ~150 kB of graph structure, parity files and text (within ~5% of
    the exported ERA5 and NCEP LS-NTP and ConvLSTM)."""
    return 4 * parameters + 4 * graph_nodes ** 2 + 150_000 + 4 * (alpha + beta) * cells + 10_000


def is_ablation(row: dict) -> bool:
    """LS-NTP with a part taken out (Table 4's w/o NSA, w/o LAGC, both, w/o LSI), or with the other
    form of its LSI (Table 6's ReLU or linear LSI, the form its data set did not choose): a
    measurement of LS-NTP, not a system of its own. Likewise another system at the resolution its
    data set's reference does not run at (Table 6's ConvLSTM at full resolution, say): measured for
    the resolution rule (systems.full_resolution_peers), its Table 3 row is the system that ships."""
    if row["kind"] != "lsntp":
        return row["table"] == "6"
    return row["table"] == "4" or row["row"] in (LSI_LINEAR_ROW, LSI_RELU_ROW)


def _graph_nodes(system, grid: dict) -> int:
    from lsntp.forecaster import coarse_shape

    if not system.cfg.model.uses_graph:
        return 0
    gh, gw = coarse_shape(grid["height"], grid["width"], system.cfg.model.downsample)
    return gh * gw


def _evaluation_md(grid: str, row: dict, run: dict) -> str:
    t = run["test"]
    lines = [f"## Test metrics ({grid}, held-out test part)", "",
             f"This model is `{run['run']}` (seed {run['seed']}), the seed of row **{row['row']}** (Table {row['table']}) "
             f"with the lowest validation MAE ({run['validation_mae']:.4f} K) among its {row['seeds']} finished seed(s).", "",
             "| | MAE (K) | RMSE (K) | SSIM (ours) | SSIM (paper-style) | PSNR (dB) |", "|---|---:|---:|---:|---:|---:|",
             f"| this seed | {t['mae']:.3f} | {t['rmse']:.3f} | {t['ssim']:.3f} | {t['ssim_paper']:.3f} | {t['psnr']:.2f} |"]
    m = row["metrics"]
    if row["seeds"] > 1:
        pm = lambda s, d: f"{s['mean']:.{d}f} +- {s['sd']:.{d}f}"
        lines.append(f"| row, {row['seeds']} seeds | {pm(m['mae'], 3)} | {pm(m['rmse'], 3)} | {pm(m['ssim'], 3)} | "
                     f"{pm(m['ssim_paper'], 3)} | {pm(m['psnr'], 2)} |")
    d = row.get("vs_lsntp")
    if d:
        lines += ["", f"Row MAE minus LS-NTP's on the same windows: {d['diff']:+.4f} K, 95% block-bootstrap interval "
                  f"[{d['lo']:+.4f}, {d['hi']:+.4f}] K ({d['blocks']} days, {d['resamples']} resamples, seed {d['seed']})."]
    lines += ["", f"Training: {run['epochs']} epochs (the best at epoch {run['best_epoch']}, early stopping on validation MAE), "
              f"{run['train_minutes']} min, on {run['trained_on']}; {run['finished'] or 'finished'}.",
              "", "MAE per lead (K): " + ", ".join(f"{v:.3f}" for v in run["test_per_lead"]["mae"]), "",
              "Scores as models/comparison/README.md defines them (model-export/lsntp/metrics.py)."]
    return "\n".join(lines)


def build(queue_file: str, runs_dir: str, out: str, comparison_dir: str | None = None,
          n_resamples: int = bootstrap.DEFAULT_RESAMPLES, seed: int = bootstrap.DEFAULT_SEED,
          tables: tuple[str, ...] = DEFAULT_TABLES, max_folder_mb: float = MAX_FOLDER_MB, ablations: bool = False,
          log=print) -> dict:
    """tables: the comparison tables whose systems go into the zoo. A system folder left by an earlier
    zoo whose row is not among them (or no longer in the queue) is removed; one of a row in them that
    has no finished run now (its training extended, say) is kept and listed as such. So OUT holds
    what zoo.json lists and nothing else. ablations: also LS-NTP's ablations (is_ablation)."""
    from lsntp import export, model_card

    known = list(TABLE_IDS)
    if not tables or any(t not in known for t in tables):
        raise ValueError(f"zoo: tables {','.join(tables) or '(none)'} asked for; the comparison's tables are {','.join(known)}")

    comparison_dir = comparison_dir or os.path.join(os.path.dirname(os.path.abspath(out)), "comparison")
    report = compare(queue_file, runs_dir, comparison_dir, n_resamples=n_resamples, seed=seed, log=log)
    by_name = {s.name: s for s in comparison_systems.systems(queue_file)}
    entries, skipped, projected = [], [], 0
    for grid, d in report["datasets"].items():
        data = d["data"]
        for row in d["rows"]:
            if row["system"] in REFERENCE_ROWS or row["table"] not in tables:
                continue
            if is_ablation(row) and not ablations:
                continue
            folder = os.path.join(out, grid, row["folder"])
            size = estimate_bytes(row["parameters"], _graph_nodes(by_name[row["system"]], data["grid"]), data["alpha"],
                                  data["beta"], data["grid"]["height"] * data["grid"]["width"])
            too_big = size > max_folder_mb * 1e6
            if not row.get("seeds"):
                kept = os.path.exists(os.path.join(folder, "metrics.json"))
                skipped.append({"grid_id": grid, "system": row["system"], "why": row.get("why_missing", "no finished run"),
                                "folder": os.path.relpath(folder, out), "earlier_export_kept": kept})
                if too_big:  # it will not ship when finished either
                    skipped[-1]["why"] += f"; about {size / 1e6:.1f} MB when finished, too big for the zoo (`--max-folder-mb`)"
                else:
                    projected += size
                continue
            run = min(row["runs"], key=lambda r: r["validation_mae"])  # validation, never test
            model = os.path.join(folder, "model.onnx")
            meta_path = os.path.join(folder, "metrics.json")
            command = f"./lsntp export {run['checkpoint']} --out {project_relative(model)} --version {VERSION}"
            if too_big:
                skipped.append({"grid_id": grid, "system": row["system"], "folder": os.path.relpath(folder, out),
                                "earlier_export_kept": False, "too_big": True,
                                "why": f"too big for the zoo of small models: about {size / 1e6:.1f} MB, above {max_folder_mb:g} MB "
                                       f"a system (`--max-folder-mb`); export it with `{command}`"})
                continue
            previous, earlier_doc = None, {}
            if os.path.exists(meta_path) and os.path.exists(model):
                with open(meta_path) as f:
                    earlier_doc = json.load(f)
                previous = earlier_doc.get("checkpoint_sha256")
            if previous != run["sha256"]:
                if os.path.isdir(folder):
                    shutil.rmtree(folder)  # only this system's folder, written by an earlier zoo
                log(f"zoo: exporting {row['system']} ({run['run']}) to {model}")
                export.export(from_project(run["checkpoint"]), model, version=VERSION, command=command)
            metrics_doc = {"grid_id": grid, "system": row["system"], "row": row["row"], "table": row["table"], "kind": row["kind"],
                           "label": row["label"], "run": run["run"], "seed": run["seed"], "checkpoint": run["checkpoint"],
                           "checkpoint_sha256": run["sha256"], "parameters": run["parameters"],
                           "selected_by": "lowest validation MAE among the row's seeds (" +
                                          ", ".join(f"{r['run']}: {r['validation_mae']:.4f}" for r in row["runs"]) + ")",
                           "validation_mae": run["validation_mae"], "epochs": run["epochs"], "best_epoch": run["best_epoch"],
                           "train_minutes": run["train_minutes"], "trained_on": run["trained_on"],
                           "test": run["test"], "test_per_lead": run["test_per_lead"],
                           "row_over_seeds": row["metrics"], "row_seeds": row["seeds"], "vs_lsntp": row.get("vs_lsntp"),
                           "comparison": project_relative(os.path.join(comparison_dir, "comparison.json")), "comparison_generated": report["generated"]}
            if previous == run["sha256"] and {**earlier_doc, "comparison_generated": None} == {**metrics_doc, "comparison_generated": None}:
                # same model, same numbers: the earlier comparison's stamp still holds, and the folder stays
                # byte for byte as it was (no churn in every system's files when one run finishes)
                metrics_doc["comparison_generated"] = earlier_doc.get("comparison_generated")
            with open(meta_path, "w") as f:
                json.dump(metrics_doc, f, indent=1)
            with open(os.path.join(folder, "evaluation.md"), "w") as f:
                f.write(_evaluation_md(grid, row, run) + "\n")
            with open(os.path.join(folder, "commands.sh"), "w") as f:
                q, runs = project_relative(queue_file), project_relative(runs_dir)
                f.write("# from the project root: train the queue, compare, export this system's best-validation seed\n"
                        f"./lsntp queue {q} --runs-dir {runs}\n"
                        f"./lsntp compare {q} --runs-dir {runs} --out {project_relative(comparison_dir)}\n"
                        f"{command}\n")
            model_card.write(folder)
            entries.append({"grid_id": grid, "system": row["system"], "folder": os.path.relpath(folder, out), "row": row["row"],
                            "table": row["table"], "label": row["label"], "run": run["run"], "seed": run["seed"],
                            "parameters": run["parameters"], "validation_mae": run["validation_mae"], "test_mae": run["test"]["mae"],
                            "model_bytes": os.path.getsize(model), "folder_bytes": _size(folder)})
    _remove_unlisted(out, {e["folder"] for e in entries} | {s["folder"] for s in skipped if not s.get("too_big")}, log)
    total = _size(out) if os.path.isdir(out) else 0
    projected += sum(e["folder_bytes"] for e in entries)
    doc = {"generated": report["generated"], "tables": list(tables), "ablations": ablations, "models": entries, "not_yet": skipped, "total_bytes": total,
           "projected_bytes_when_all_finished": projected}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "zoo.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(markdown(doc, comparison_dir))
    doc["total_bytes"] = _size(out)
    too_big = sum(1 for x in skipped if x.get("too_big"))
    log(f"zoo: {len(entries)} model(s) in {out}, {doc['total_bytes'] / 1e6:.1f} MB in all; {len(skipped) - too_big} system(s) "
        f"not trained yet, {too_big} too big")
    return doc


def markdown(doc: dict, comparison_dir: str) -> str:
    lines = ["# The zoo: every system of the comparison, exported", "",
             "One model per system and data set: the seed with the best validation MAE (never chosen on test). Each folder "
             "holds `model.onnx` (with its parity files, as every shipped model), `metrics.json` (its test scores from the "
             "comparison), `evaluation.md`, `commands.sh` and `README.md` (the model card). These are NOT served models: "
             "the streaming job looks two levels deep only (`*.onnx` and `*/model.onnx` in its models directory); "
             "these lie three levels down.", "",
             f"Scores and conventions: `{os.path.relpath(os.path.join(comparison_dir, 'README.md'), os.path.dirname(os.path.abspath(comparison_dir)))}` "
             f"(comparison of {doc['generated']}).", "",
             "| data set | folder | row (table) | label | run (seed) | parameters | model.onnx (MB) | folder (MB) | validation MAE (K) | test MAE (K) |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for e in doc["models"]:
        lines.append(f"| {e['grid_id']} | `{e['folder']}` | {e['row']} ({e['table']}) | {e['label']} | {e['run']} ({e['seed']}) | "
                     f"{e['parameters']:,} | {e['model_bytes'] / 1e6:.2f} | {e['folder_bytes'] / 1e6:.2f} | "
                     f"{e['validation_mae']:.4f} | {e['test_mae']:.4f} |")
    lines += ["", f"Total: {len(doc['models'])} models, {doc['total_bytes'] / 1e6:.1f} MB (this folder). With every queued "
              f"system of tables {', '.join(doc['tables'])}{'' if doc.get('ablations') or not {'4', '6'} & set(doc['tables']) else ' (without LS-NTP ablations)'} finished: about {doc['projected_bytes_when_all_finished'] / 1e6:.0f} MB "
              "(the missing ones estimated from their parameter counts and graph sizes).", ""]
    if doc["not_yet"]:
        lines += ["Not in the zoo (no finished run yet, or too big):", ""]
        lines += [f"- {s['grid_id']} `{s['system']}`: {s['why']}"
                  + (f" (an earlier export is kept in `{s['folder']}`)" if s.get("earlier_export_kept") else "") for s in doc["not_yet"]]
        lines.append("")
    return "\n".join(lines)
