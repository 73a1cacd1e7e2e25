"""Command line of the model library: train, evaluate, export, calibrate, ingest, benchmark, model card, parity fixtures.

    /usr/bin/python3 -m lsntp train configs/era5-lsntp.yaml
    /usr/bin/python3 -m lsntp evaluate --out ../models/era5-uk runs/era5-lsntp/best.pt runs/era5-convlstm/best.pt ...
    /usr/bin/python3 -m lsntp export runs/era5-lsntp/best.pt --out ../models/era5-uk/model.onnx
    /usr/bin/python3 -m lsntp ingest data/raw/era5-...grib --out ../data/frames/era5.avro --grid-id era5-uk-0p25
    /usr/bin/python3 -m lsntp ingest sample.nc --out frames.avro --grid-id g --time-var timestep --time-units "hours since 1900-01-01 00:00"
    /usr/bin/python3 -m lsntp parity-fixtures --out DIR [--kinds lsntp,agcrn]

The study's commands (queue, compare, zoo, scaling-*) are `python3 -m lsntp_study`; `./lsntp` runs either.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import cli
from .cli import user_path as _path
from .errors import READER_PACKAGES  # no numpy, torch or xarray yet: ingest must not load torch
from .paths import RUNS_DIR

INSTALL_HINT = {"ingest": READER_PACKAGES}  # what a command lacking a package should install


def cmd_train(args):
    from . import config, train
    cfg = config.load(_path(args.config), cli.parse_set(args.set))
    run_dir = _path(args.run_dir) if args.run_dir else os.path.join(RUNS_DIR, cfg.name)
    hist = train.train(cfg, run_dir, resume=args.resume, data_path=_path(args.data), max_steps=args.max_steps,
                       device=args.device)
    print(f"{cfg.name}: best validation MAE {hist['best_val_mae']:.4f} K after {hist.get('train_seconds', 0) / 60:.1f} min; "
          f"checkpoints in {run_dir}")


def cmd_evaluate(args):
    from . import evaluate
    if args.intervals_only:
        from .checkpoint import load
        path = _path(args.checkpoints[0])
        evaluate.evaluate_intervals(load(path, _path(args.data)), path, _path(args.out))
        return
    evaluate.evaluate([_path(c) for c in args.checkpoints], _path(args.out), data_path=_path(args.data),
                      adjacency_cell=args.adjacency_cell, title=args.title, distance_runs=[_path(c) for c in args.distance_runs])


def cmd_export(args):
    from . import export
    export.export(_path(args.checkpoint), _path(args.out), data_path=_path(args.data), version=args.version,
                  command="./lsntp export " + " ".join(sys.argv[2:]))


def cmd_calibrate(args):
    from . import calibration, export
    path = _path(args.model)
    if os.path.isdir(path):
        path = os.path.join(path, "model.onnx")
    cal = export.add_calibration(path, _path(args.checkpoint), data_path=_path(args.data))
    print(calibration.selection_table(cal.selection))
    print(f"wrote the calibration into {path}: fitted on the {cal.fitted_on['split']} part {cal.fitted_on['period']} "
          f"({cal.fitted_on['windows']} windows), eta {cal.eta}, scale rate {cal.scale_rate}")


def cmd_parity_fixtures(args):
    from . import parity_fixtures
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    models = parity_fixtures.write(_path(args.out), kinds, command="python3 -m lsntp parity-fixtures " + " ".join(sys.argv[2:]))
    print(f"wrote {len(models)} parity fixture(s) under {_path(args.out)}")


def cmd_ingest(args):
    from . import ingest
    ingest.ingest(_path(args.input), _path(args.out), grid_id=args.grid_id, variable=args.variable, start=args.start,
                  end=args.end, time_var=args.time_var, time_units=args.time_units, tile_bytes=args.tile_bytes)


def cmd_benchmark(args):
    from . import benchmark
    benchmark.run(_path(args.model_dir), _path(args.checkpoint), data_path=_path(args.data), repeats=args.repeats)


def cmd_card(args):
    from . import model_card
    print(f"wrote {model_card.write(_path(args.model_dir))}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="lsntp", description="LS-NTP model library: train, evaluate, export, calibrate, ingest, benchmark, model card, parity fixtures.")
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

    e = sub.add_parser("evaluate", help="score checkpoints on the held-out test part, against persistence and climatology")
    e.add_argument("checkpoints", nargs="+")
    e.add_argument("--out", required=True, help="folder for evaluation.md, metrics.json and plots/")
    e.add_argument("--data")
    e.add_argument("--adjacency-cell", type=float, nargs=2, metavar=("LAT", "LON"), help="cell whose learned adjacency column is mapped")
    e.add_argument("--distance-runs", nargs="*", default=[], help="checkpoints trained with distance thresholds (MAE against d plot)")
    e.add_argument("--title", default=None)
    e.add_argument("--intervals-only", action="store_true",
                   help="only the first checkpoint's prediction intervals: intervals.json, intervals.md, plots/reliability.png")
    e.set_defaults(func=cmd_evaluate)

    x = sub.add_parser("export", help="export a trained checkpoint (any model kind) to a self-describing ONNX model")
    x.add_argument("checkpoint")
    x.add_argument("--out", required=True, help="ONNX file to write; parity files go beside it")
    x.add_argument("--data")
    x.add_argument("--version", default="1.0.0")
    x.set_defaults(func=cmd_export)

    k = sub.add_parser("calibrate", help="write the export-time interval calibration into an exported model (graph and weights unchanged)",
                       description="Fits the calibration of the model's prediction intervals on the validation part of its "
                                   "checkpoint's data (never the test part) and writes it into the model's metadata.")
    k.add_argument("model", help="model.onnx, or its folder")
    k.add_argument("checkpoint", help="the checkpoint it was exported from (its weights must match)")
    k.add_argument("--data")
    k.set_defaults(func=cmd_calibrate)

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
    i.add_argument("--tile-bytes", type=int, help="a frame whose Kafka record would be larger is written as tiles of at most this many "
                                                  "bytes (default: the job's records.max-record-bytes, 1048576)")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("benchmark", help="latency of a shipped model: PyTorch eager vs ONNX Runtime Java")
    b.add_argument("model_dir", help="folder of the shipped model (model.onnx)")
    b.add_argument("checkpoint", help="the checkpoint it was exported from")
    b.add_argument("--data")
    b.add_argument("--repeats", type=int, default=30)
    b.set_defaults(func=cmd_benchmark)

    c = sub.add_parser("card", help="write a shipped model's README.md from its metadata, evaluation, benchmark and commands.sh")
    c.add_argument("model_dir")
    c.set_defaults(func=cmd_card)

    return cli.run(p, argv, INSTALL_HINT)

if __name__ == "__main__":
    sys.exit(main())
