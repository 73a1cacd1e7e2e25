"""Command line of the study: the training queue, the comparison, the zoo and the scaling benchmark.

    /usr/bin/python3 -m lsntp_study queue queues/comparison.yaml [--status]
    /usr/bin/python3 -m lsntp_study compare queues/comparison.yaml --runs-dir RUNS --out ../models/comparison
    /usr/bin/python3 -m lsntp_study zoo queues/comparison.yaml --runs-dir RUNS --out ../models/zoo
    /usr/bin/python3 -m lsntp_study scaling-models --out DIR [--sizes 33x49,150x280] [--forms dense,sparse] [--k 9] [--seed 0]
    /usr/bin/python3 -m lsntp_study scaling-bench [--out ../docs/scaling]
    /usr/bin/python3 -m lsntp_study scaling-plot RESULTS.csv --out scaling.png

The model library's commands (train, evaluate, export, ...) are `python3 -m lsntp`; `./lsntp` runs either.
"""
from __future__ import annotations

import argparse
import os
import sys

from lsntp import cli
from lsntp.cli import user_path as _path
from lsntp.paths import PROJECT_ROOT, RUNS_DIR


def _runs_dir(arg):
    return _path(arg) if arg else RUNS_DIR


def cmd_queue(args):
    from . import queue
    runs = queue.read(_path(args.queue))
    runs_dir = _runs_dir(args.runs_dir)
    if args.status:
        print(queue.status(runs, runs_dir))
        return
    n = queue.work(_path(args.queue), runs_dir, device=args.device, retry_failed=args.retry_failed)
    print(f"queue: trained {n} run(s) this time; status:")
    print(queue.status(runs, runs_dir))


def cmd_compare(args):
    from .comparison.compare import compare
    compare(_path(args.queue), _runs_dir(args.runs_dir), _path(args.out), n_resamples=args.resamples,
            seed=args.seed)


def cmd_zoo(args):
    from . import zoo
    zoo.build(_path(args.queue), _runs_dir(args.runs_dir), _path(args.out), comparison_dir=_path(args.comparison),
              n_resamples=args.resamples, seed=args.seed,
              tables=tuple(t.strip() for t in args.tables.split(",") if t.strip()) if args.tables else zoo.DEFAULT_TABLES,
              max_folder_mb=args.max_folder_mb if args.max_folder_mb is not None else zoo.MAX_FOLDER_MB, ablations=args.ablations)


def cmd_scaling_models(args):
    from lsntp.train import set_threads

    from . import scaling
    sizes, forms = scaling.parse_sizes(args.sizes), scaling.parse_forms(args.forms)
    set_threads()  # every core, or LSNTP_THREADS
    out = _path(args.out)
    entries = scaling.scaling_models(out, sizes, forms, k=args.k, seed=args.seed, dense_limit_gb=args.dense_limit_gb,
                                     command="python3 -m lsntp_study scaling-models " + " ".join(sys.argv[2:]))
    made = sum(1 for e in entries if "skipped" not in e)
    print(f"wrote {made} scaling model(s), skipped {len(entries) - made}; list in {os.path.join(out, 'scaling-models.json')}")


def cmd_scaling_plot(args):
    from . import scaling
    print(f"wrote {scaling.scaling_plot(_path(args.results), _path(args.out))}")


def cmd_scaling_bench(args):
    from lsntp.train import set_threads

    from . import scaling
    threads = set_threads()
    models = _path(args.models)
    if not args.reuse_models:
        sizes, forms = scaling.parse_sizes(args.sizes), scaling.parse_forms(args.forms)
        scaling.scaling_models(models, sizes, forms, k=args.k, seed=args.seed, dense_limit_gb=args.dense_limit_gb,
                               command="python3 -m lsntp_study scaling-bench " + " ".join(sys.argv[2:]))
    out = _path(args.out)
    csv_path = os.path.join(out, "scaling.csv")
    batches = tuple(int(b) for b in args.batches.split(","))
    if not set(batches) <= {1, 16}:
        raise SystemExit(f"scaling-bench: --batches takes 1, 16 or both, got {args.batches}")
    rows = scaling.measure(models, csv_path, threads, batches=batches)
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


def _queue_and_bootstrap(parser) -> None:
    """The arguments compare and zoo share: the queue, its runs folder and the bootstrap's settings."""
    from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED  # numpy only

    parser.add_argument("queue", help="queue file (YAML, see lsntp_study/queue.py)")
    parser.add_argument("--runs-dir", help="where the queue's run folders are (default model-export/runs)")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, help=f"bootstrap resamples (default {DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"bootstrap seed (default {DEFAULT_SEED})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lsntp", description="The LS-NTP study: training queue, comparison, zoo, scaling benchmark.")
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("queue", help="train the runs of a queue file one after another (resumable; several workers may share it)")
    q.add_argument("queue", help="queue file (YAML, see lsntp_study/queue.py)")
    q.add_argument("--runs-dir", help="where run folders go (default model-export/runs)")
    q.add_argument("--status", action="store_true", help="print where every run stands and exit")
    q.add_argument("--device", default=None, help="cpu (default) or cuda[:N]")
    q.add_argument("--retry-failed", action="store_true", help="train runs that failed before again")
    q.set_defaults(func=cmd_queue)

    cp = sub.add_parser("compare", help="every finished run of a training queue on the held-out test part: the paper's "
                                        "Tables 3, 4 and 5 with seeds, bootstrap intervals against LS-NTP and the missing rows")
    _queue_and_bootstrap(cp)
    cp.add_argument("--out", required=True, help="folder for comparison.json, README.md, plots/ and cache/")
    cp.set_defaults(func=cmd_compare)

    zo = sub.add_parser("zoo", help="export every system of a queue (its seed with the best validation MAE) with its test "
                                    "metrics from the comparison: OUT/<grid>/<system>/model.onnx")
    _queue_and_bootstrap(zo)
    zo.add_argument("--out", required=True, help="the zoo's folder")
    zo.add_argument("--comparison", help="the comparison's folder, brought up to date first (default: OUT/../comparison)")
    zo.add_argument("--tables", help="the comparison tables whose systems go in, comma-separated (default: zoo.DEFAULT_TABLES, "
                                     "3,4,6; 3,4,5,6 adds the kernel and distance sweeps)")
    zo.add_argument("--max-folder-mb", type=float, help="leave out a system whose folder would be larger (default: zoo.MAX_FOLDER_MB, 5)")
    zo.add_argument("--ablations", action="store_true", help="also export LS-NTP's ablations (Table 4's w/o NSA, w/o LAGC, "
                                                             "both, w/o LSI) and the LSI form its data set did not choose "
                                                             "(Table 6); DAGG-ConvLSTM, a system, ships without it")
    zo.set_defaults(func=cmd_zoo)

    from .scaling import DEFAULT_DENSE_LIMIT_GB, DEFAULT_FORMS, DEFAULT_K, DEFAULT_SIZES  # no numpy or torch yet
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
    sb.add_argument("--models", default=os.path.join(RUNS_DIR, "scaling-models"), help="folder for the models (default model-export/runs/scaling-models)")
    sb.add_argument("--reuse-models", action="store_true", help="time the models already in --models instead of building them")
    sb.add_argument("--sizes", default=DEFAULT_SIZES, help=f"grid sizes HxW, comma-separated (default {DEFAULT_SIZES})")
    sb.add_argument("--forms", default=DEFAULT_FORMS, help=f"graph forms, comma-separated (default {DEFAULT_FORMS})")
    sb.add_argument("--k", type=int, default=DEFAULT_K, help=f"neighbours per node of the sparse graph (default {DEFAULT_K})")
    sb.add_argument("--seed", type=int, default=0)
    sb.add_argument("--dense-limit-gb", type=float, default=DEFAULT_DENSE_LIMIT_GB)
    sb.add_argument("--batches", default="1,16", help="batch sizes timed: 1,16 (default) or one of them; a grid whose "
                                                        "batch 16 would not fit in memory is timed at 1 only")
    sb.set_defaults(func=cmd_scaling_bench)

    sf = sub.add_parser("scaling-frames", help="hourly synthetic frames (NetCDF) on a scaling model's grid, to drive it through the stream")
    sf.add_argument("--size", required=True, help="HxW, e.g. 150x280")
    sf.add_argument("--hours", type=int, default=48)
    sf.add_argument("--seed", type=int, default=0)
    sf.add_argument("--out", required=True, help="NetCDF file to write")
    sf.set_defaults(func=cmd_scaling_frames)

    return cli.run(p, argv)


if __name__ == "__main__":
    sys.exit(main())
