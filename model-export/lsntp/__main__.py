"""Command line of model-export: train, evaluate, export, ingest, benchmark, parity fixtures.

    /usr/bin/python3 -m lsntp train configs/era5-lsntp.yaml
    /usr/bin/python3 -m lsntp evaluate --out ../models/era5-uk runs/era5-lsntp/best.pt runs/era5-convlstm/best.pt ...
    /usr/bin/python3 -m lsntp export runs/era5-lsntp/best.pt --out ../models/era5-uk/model.onnx
    /usr/bin/python3 -m lsntp ingest data/raw/era5-...grib --out ../data/frames/era5.avro --grid-id era5-uk-0p25
    /usr/bin/python3 -m lsntp ingest sample.nc --out frames.avro --grid-id g --time-var timestep --time-units "hours since 1900-01-01 00:00"
    /usr/bin/python3 -m lsntp parity-fixtures --out DIR [--kinds lsntp,agcrn]
    /usr/bin/python3 -m lsntp compare queues/comparison.yaml --runs-dir RUNS --out ../models/comparison
    /usr/bin/python3 -m lsntp zoo queues/comparison.yaml --runs-dir RUNS --out ../models/zoo
    /usr/bin/python3 -m lsntp scaling-models --out DIR [--sizes 33x49,150x280] [--forms dense,sparse] [--k 9] [--seed 0]
    /usr/bin/python3 -m lsntp scaling-plot RESULTS.csv --out scaling.png
"""
from __future__ import annotations

import argparse
import os
import sys

from .errors import READER_PACKAGES, DataError  # no numpy, torch or xarray yet: ingest must not load torch
from .paths import PROJECT_ROOT

INSTALL_HINT = {"ingest": READER_PACKAGES}  # what a command lacking a package should install


def _path(p):
    """Paths on the command line are the user's: relative to where ./lsntp was started (LSNTP_CWD)."""
    if p is None or os.path.isabs(p):
        return p
    return os.path.join(os.environ.get("LSNTP_CWD", os.getcwd()), p)


def _parse_set(items):
    from .config import ConfigError
    out = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"--set takes section.field=value (or name=value), got '{item}'")
        import yaml
        out[key] = yaml.safe_load(value)
    return out


def cmd_train(args):
    from . import config, train
    cfg = config.load(_path(args.config), _parse_set(args.set))
    run_dir = _path(args.run_dir) if args.run_dir else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runs", cfg.name)
    hist = train.train(cfg, run_dir, resume=args.resume, data_path=_path(args.data), max_steps=args.max_steps,
                       device=args.device)
    print(f"{cfg.name}: best validation MAE {hist['best_val_mae']:.4f} K after {hist.get('train_seconds', 0) / 60:.1f} min; "
          f"checkpoints in {run_dir}")


def cmd_queue(args):
    from . import queue
    runs = queue.read(_path(args.queue))
    runs_dir = _path(args.runs_dir) if args.runs_dir else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runs")
    if args.status:
        print(queue.status(runs, runs_dir))
        return
    n = queue.work(_path(args.queue), runs_dir, device=args.device, retry_failed=args.retry_failed)
    print(f"queue: trained {n} run(s) this time; status:")
    print(queue.status(runs, runs_dir))


def cmd_evaluate(args):
    from . import evaluate
    evaluate.evaluate([_path(c) for c in args.checkpoints], _path(args.out), data_path=_path(args.data),
                      adjacency_cell=args.adjacency_cell, title=args.title, distance_runs=[_path(c) for c in args.distance_runs])


def cmd_export(args):
    from . import export
    export.export(_path(args.checkpoint), _path(args.out), data_path=_path(args.data), version=args.version,
                  command="./lsntp export " + " ".join(sys.argv[2:]))


def cmd_parity_fixtures(args):
    from . import parity_fixtures
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    models = parity_fixtures.write(_path(args.out), kinds, command="python3 -m lsntp parity-fixtures " + " ".join(sys.argv[2:]))
    print(f"wrote {len(models)} parity fixture(s) under {_path(args.out)}")


def cmd_ingest(args):
    from . import ingest
    ingest.ingest(_path(args.input), _path(args.out), grid_id=args.grid_id, variable=args.variable, start=args.start,
                  end=args.end, time_var=args.time_var, time_units=args.time_units)


def cmd_benchmark(args):
    from . import benchmark
    benchmark.run(_path(args.model_dir), _path(args.checkpoint), data_path=_path(args.data), repeats=args.repeats)


def cmd_scaling_models(args):
    from . import scaling
    from .train import set_threads
    sizes, forms = scaling.parse_sizes(args.sizes), scaling.parse_forms(args.forms)
    set_threads()  # every core, or LSNTP_THREADS
    out = _path(args.out)
    entries = scaling.scaling_models(out, sizes, forms, k=args.k, seed=args.seed, dense_limit_gb=args.dense_limit_gb,
                                     command="python3 -m lsntp scaling-models " + " ".join(sys.argv[2:]))
    made = sum(1 for e in entries if "skipped" not in e)
    print(f"wrote {made} scaling model(s), skipped {len(entries) - made}; list in {os.path.join(out, 'scaling-models.json')}")


def cmd_scaling_plot(args):
    from . import scaling
    print(f"wrote {scaling.scaling_plot(_path(args.results), _path(args.out))}")


def cmd_scaling_bench(args):
    from . import scaling
    from .train import set_threads
    threads = set_threads()
    models = _path(args.models)
    if not args.reuse_models:
        sizes, forms = scaling.parse_sizes(args.sizes), scaling.parse_forms(args.forms)
        scaling.scaling_models(models, sizes, forms, k=args.k, seed=args.seed, dense_limit_gb=args.dense_limit_gb,
                               command="python3 -m lsntp scaling-bench " + " ".join(sys.argv[2:]))
    out = _path(args.out)
    csv_path = os.path.join(out, "scaling.csv")
    rows = scaling.measure(models, csv_path, threads)
    table = scaling.markdown_table(rows)
    with open(os.path.join(out, "scaling.md"), "w") as f:
        f.write(f"ONNX Runtime Java (OnnxLatencyBench), {threads} intra-op threads, median of the timed runs after 3 "
                f"warm-up runs; session memory: peak resident memory of the benchmark JVM minus its resident memory "
                f"before the session. Models: random-weight LS-NTP, ERA5 architecture (lsntp scaling-models).\n\n" + table)
    print(table)
    print(f"wrote {csv_path}, {scaling.scaling_plot(csv_path, os.path.join(out, 'scaling.png'))}, {os.path.join(out, 'scaling.md')}")


def cmd_scaling_frames(args):
    from . import scaling
    (h, w), = scaling.parse_sizes(args.size)
    print(f"wrote {scaling.write_synthetic_frames(_path(args.out), h, w, args.hours, args.seed)} "
          f"({args.hours} hourly frames, {h} x {w}; ingest with --grid-id scaling-{h}x{w}-0p25)")


def cmd_card(args):
    from . import model_card
    print(f"wrote {model_card.write(_path(args.model_dir))}")


def _runs_dir(arg):
    return _path(arg) if arg else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runs")


README_HELP = ("also rewrite the results block of this README from the comparison (repeatable: README.md, "
               "models/README.md); the block lies between comparison.README_BEGIN and README_END")


def cmd_compare(args):
    from . import comparison
    comparison.compare(_path(args.queue), _runs_dir(args.runs_dir), _path(args.out), n_resamples=args.resamples,
                       seed=args.seed, readmes=tuple(_path(r) for r in args.readme or ()))


def cmd_zoo(args):
    from . import zoo
    zoo.build(_path(args.queue), _runs_dir(args.runs_dir), _path(args.out), comparison_dir=_path(args.comparison),
              n_resamples=args.resamples, seed=args.seed,
              tables=tuple(t.strip() for t in args.tables.split(",") if t.strip()) if args.tables else zoo.DEFAULT_TABLES,
              max_folder_mb=args.max_folder_mb if args.max_folder_mb is not None else zoo.MAX_FOLDER_MB, ablations=args.ablations,
              readmes=tuple(_path(r) for r in args.readme or ()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lsntp", description="LS-NTP model tools: train, evaluate, export, ingest, benchmark, parity fixtures, scaling models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one model from a YAML config")
    t.add_argument("config")
    t.add_argument("--data", help="GRIB/NetCDF file instead of the config's data.path")
    t.add_argument("--run-dir", help="where checkpoints go (default runs/<name>)")
    t.add_argument("--resume", action="store_true", help="continue from run-dir/last.pt")
    t.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="override a config setting")
    t.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (smoke runs)")
    t.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N] where torch sees a GPU")
    t.set_defaults(func=cmd_train)

    q = sub.add_parser("queue", help="train the runs of a queue file one after another (resumable; several workers may share it)")
    q.add_argument("queue", help="queue file (YAML, see lsntp/queue.py)")
    q.add_argument("--runs-dir", help="where run folders go (default model-export/runs)")
    q.add_argument("--status", action="store_true", help="print where every run stands and exit")
    q.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")
    q.add_argument("--retry-failed", action="store_true", help="train runs that failed before again")
    q.set_defaults(func=cmd_queue)

    e = sub.add_parser("evaluate", help="score checkpoints on the held-out test part, against persistence and climatology")
    e.add_argument("checkpoints", nargs="+")
    e.add_argument("--out", required=True, help="folder for evaluation.md, metrics.json and plots/")
    e.add_argument("--data")
    e.add_argument("--adjacency-cell", type=float, nargs=2, metavar=("LAT", "LON"), help="cell whose learned adjacency column is mapped")
    e.add_argument("--distance-runs", nargs="*", default=[], help="checkpoints trained with distance thresholds (MAE against d plot)")
    e.add_argument("--title", default=None)
    e.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="export a trained checkpoint (any model kind) to a self-describing ONNX model")
    x.add_argument("checkpoint")
    x.add_argument("--out", required=True, help="ONNX file to write; parity files go beside it")
    x.add_argument("--data")
    x.add_argument("--version", default="1.0.0")
    x.set_defaults(func=cmd_export)

    f = sub.add_parser("parity-fixtures", help="a tiny trained model of every kind, exported with parity files for the Java build")
    f.add_argument("--out", required=True, help="folder; each kind goes to OUT/<kind>/model.onnx with its parity files")
    f.add_argument("--kinds", help="comma-separated model kinds (default: all)")
    f.set_defaults(func=cmd_parity_fixtures)

    i = sub.add_parser("ingest", help="convert a GRIB/NetCDF temperature file into Avro TemperatureFrame records",
                       description="Frames as the file has them: per-frame missing masks, gaps left as gaps, frames "
                                   "with every cell missing skipped (each reported once, as a warning on stderr).")
    i.add_argument("input")
    i.add_argument("--out", required=True)
    i.add_argument("--grid-id", required=True)
    i.add_argument("--variable", help="the temperature variable (default: found by name or standard_name)")
    i.add_argument("--start", help="first valid time to keep (ISO)")
    i.add_argument("--end", help="last valid time to keep (ISO)")
    i.add_argument("--time-var", help="variable holding the valid times, when no coordinate has CF time units")
    i.add_argument("--time-units", help="CF units of --time-var's values, when the file has none, e.g. 'hours since 1900-01-01 00:00'")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("benchmark", help="latency of a shipped model: PyTorch eager vs ONNX Runtime Java")
    b.add_argument("model_dir", help="folder of the shipped model (model.onnx)")
    b.add_argument("checkpoint", help="the checkpoint it was exported from")
    b.add_argument("--data")
    b.add_argument("--repeats", type=int, default=30)
    b.set_defaults(func=cmd_benchmark)

    from .scaling import DEFAULT_DENSE_LIMIT_GB, DEFAULT_FORMS, DEFAULT_K, DEFAULT_SIZES  # numpy only, no torch
    sm = sub.add_parser("scaling-models", help="random-weight LS-NTP models (ERA5 architecture) on synthetic grids of growing "
                                               "size, dense and sparse graph, for the scaling benchmark (cost only)")
    sm.add_argument("--out", required=True, help="folder: OUT/<form>-<H>x<W>/model.onnx and OUT/scaling-models.json")
    sm.add_argument("--sizes", default=DEFAULT_SIZES, help=f"grid sizes HxW, comma-separated (default {DEFAULT_SIZES})")
    sm.add_argument("--forms", default=DEFAULT_FORMS, help=f"graph forms, comma-separated (default {DEFAULT_FORMS})")
    sm.add_argument("--k", type=int, default=DEFAULT_K, help=f"neighbours per node of the sparse graph (default {DEFAULT_K})")
    sm.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    sm.add_argument("--dense-limit-gb", type=float, default=DEFAULT_DENSE_LIMIT_GB,
                    help=f"skip a dense model whose (I + A) constant exceeds this many GB (default {DEFAULT_DENSE_LIMIT_GB:g})")
    sm.set_defaults(func=cmd_scaling_models)

    sp = sub.add_parser("scaling-plot", help="plot the scaling benchmark's CSV: latency and size against grid cells, log-log")
    sp.add_argument("results", help="CSV: form,height,width,cells,graph_nodes,k,file_bytes,session_mb,latency_b1_ms,latency_b16_ms")
    sp.add_argument("--out", required=True, help="PNG to write")
    sp.set_defaults(func=cmd_scaling_plot)

    sb = sub.add_parser("scaling-bench", help="the scaling benchmark: build the scaling models, time each in ONNX Runtime "
                                              "Java (batch 1 and 16, session memory), write OUT/scaling.csv, .md and .png")
    sb.add_argument("--out", default=os.path.join(PROJECT_ROOT, "docs", "scaling"), help="results folder (default docs/scaling)")
    sb.add_argument("--models", default=os.path.join(PROJECT_ROOT, "model-export", "runs", "scaling-models"), help="folder for the models (default model-export/runs/scaling-models)")
    sb.add_argument("--reuse-models", action="store_true", help="time the models already in --models instead of building them")
    sb.add_argument("--sizes", default=DEFAULT_SIZES, help=f"grid sizes HxW, comma-separated (default {DEFAULT_SIZES})")
    sb.add_argument("--forms", default=DEFAULT_FORMS, help=f"graph forms, comma-separated (default {DEFAULT_FORMS})")
    sb.add_argument("--k", type=int, default=DEFAULT_K, help=f"neighbours per node of the sparse graph (default {DEFAULT_K})")
    sb.add_argument("--seed", type=int, default=0)
    sb.add_argument("--dense-limit-gb", type=float, default=DEFAULT_DENSE_LIMIT_GB)
    sb.set_defaults(func=cmd_scaling_bench)

    sf = sub.add_parser("scaling-frames", help="hourly synthetic frames (NetCDF) on a scaling model's grid, to drive it through the stream")
    sf.add_argument("--size", required=True, help="HxW, e.g. 150x280")
    sf.add_argument("--hours", type=int, default=48)
    sf.add_argument("--seed", type=int, default=0)
    sf.add_argument("--out", required=True, help="NetCDF file to write")
    sf.set_defaults(func=cmd_scaling_frames)

    c = sub.add_parser("card", help="write a shipped model's README.md from its metadata, evaluation, benchmark and commands.sh")
    c.add_argument("model_dir")
    c.set_defaults(func=cmd_card)

    from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED  # numpy only
    cp = sub.add_parser("compare", help="every finished run of a training queue on the held-out test part: the seed's "
                                        "Tables 3, 4 and 5 with seeds, bootstrap intervals against LS-NTP and the missing rows")
    cp.add_argument("queue", help="queue file (YAML, see lsntp/queue.py)")
    cp.add_argument("--runs-dir", help="where the queue's run folders are (default model-export/runs)")
    cp.add_argument("--out", required=True, help="folder for comparison.json, README.md, plots/ and cache/")
    cp.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    cp.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")
    cp.add_argument("--readme", action="append", help=README_HELP)
    cp.set_defaults(func=cmd_compare)

    zo = sub.add_parser("zoo", help="export every system of a queue (its seed with the best validation MAE) with its test "
                                    "metrics from the comparison: OUT/<grid>/<system>/model.onnx")
    zo.add_argument("queue", help="queue file (YAML, see lsntp/queue.py)")
    zo.add_argument("--runs-dir", help="where the queue's run folders are (default model-export/runs)")
    zo.add_argument("--out", required=True, help="the zoo's folder")
    zo.add_argument("--comparison", help="the comparison's folder, brought up to date first (default: OUT/../comparison)")
    zo.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    zo.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")
    zo.add_argument("--tables", help="the comparison tables whose systems go in, comma-separated (default: zoo.DEFAULT_TABLES, "
                                     "3,4,6; 3,4,5,6 adds the kernel and distance sweeps)")
    zo.add_argument("--max-folder-mb", type=float, help="leave out a system whose folder would be larger (default: zoo.MAX_FOLDER_MB, 5)")
    zo.add_argument("--ablations", action="store_true", help="also export LS-NTP's ablations (Table 4's w/o NSA, w/o LAGC, "
                                                             "both, w/o LSI) and the LSI form its data set did not choose "
                                                             "(Table 6); DAGG-ConvLSTM, a system, ships without it")
    zo.add_argument("--readme", action="append", help=README_HELP)
    zo.set_defaults(func=cmd_zoo)

    args = p.parse_args(argv)
    try:
        args.func(args)
    except ImportError as e:  # a package the command needs is not installed: say what to install, no traceback
        hint = INSTALL_HINT.get(args.command, "model-export/install-deps.sh installs what is missing")
        print(f"lsntp {args.command}: error: the Python package '{e.name or e}' is not installed ({e}); {hint}", file=sys.stderr)
        return 2
    except (DataError, FileNotFoundError, ValueError) as e:  # ConfigError and MissingPackage are ValueErrors too
        print(f"lsntp {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
