"""Turn a GRIB or NetCDF temperature series into an Avro object container file of TemperatureFrame
records, following schemas/src/main/avro/TemperatureFrame.avsc (the only definition of the record).

Files are taken as they come and the streaming job judges each frame:
- values travel as packed little-endian float32; a cell missing in a frame (NaN, or the file's
  _FillValue/missing_value) is NaN in that frame's values and 1 in that frame's `missing_mask`
  (frames without missing cells carry no mask); the job fills it (`missing_fill: frame-mean`);
- gaps in time stay gaps: the absent frames are not invented (one warning lists them);
- a frame with every cell missing is skipped (one warning lists them): the job would reject it;
- times come from a coordinate with CF units, or from `--time-var NAME --time-units "hours since
  1900-01-01 00:00"` when the file has none.

Needs numpy, xarray (with netCDF4 / cfgrib) and avro only, never PyTorch: `python3 -m lsntp ingest`
runs on a machine that only feeds Kafka.
"""
from __future__ import annotations

import datetime as dt
import os
import sys

import numpy as np

from .data import Series, describe, iso_minutes, read_series, time_gaps
from .errors import READER_PACKAGES, DataError, MissingPackage
from .paths import PROJECT_ROOT
SCHEMA_DIR = os.path.join(PROJECT_ROOT, "schemas", "src", "main", "avro")


def _avro():
    try:
        import avro.datafile
        import avro.io
        import avro.schema
    except ImportError as e:
        raise MissingPackage(f"writing Avro frames needs the avro package ({e}): {READER_PACKAGES}") from e
    return avro


def frame_schema():
    avro = _avro()
    with open(os.path.join(SCHEMA_DIR, "TemperatureFrame.avsc")) as f:
        return avro.schema.parse(f.read())


def frames(series: Series, grid_id: str):
    """TemperatureFrame dicts, one per time step, each with its own missing mask."""
    g = series.grid
    for t, values in zip(series.times, series.values):
        missing = np.isnan(values)
        when = dt.datetime.fromtimestamp(t.astype("datetime64[ms]").astype(np.int64) / 1000.0, tz=dt.timezone.utc)
        yield {
            "grid_id": grid_id, "valid_time": when, "source": series.source,
            "height": g["height"], "width": g["width"],
            "lat0": g["lat0"], "lon0": g["lon0"], "dlat": g["dlat"], "dlon": g["dlon"],
            "units": "K",
            "values": values.astype("<f4").tobytes(),
            "missing_mask": missing.astype(np.uint8).tobytes() if missing.any() else None,
            "fill_value": None,
        }


def warn(message: str) -> None:
    print(f"lsntp ingest: warning: {message}", file=sys.stderr, flush=True)


def ingest(path: str, out: str, grid_id: str, variable: str | None = None, start: str | None = None, end: str | None = None,
           time_var: str | None = None, time_units: str | None = None) -> int:
    """Write the file's frames within [start, end] to `out`; returns how many were written."""
    if time_units is not None and time_var is None:
        raise DataError("--time-units needs --time-var (the variable whose values count in those units)")
    _avro()  # before the file is read: a missing package is named first
    series = read_series(path, variable, time_var=time_var, time_units=time_units)
    lo = np.searchsorted(series.times, np.datetime64(start, "ns")) if start else 0
    hi = np.searchsorted(series.times, np.datetime64(end, "ns"), side="right") if end else len(series.times)
    if hi <= lo:
        raise DataError(f"no frames of {path} fall between {start or 'the start'} and {end or 'the end'} "
                        f"(the file holds {iso_minutes(series.times[0])} .. {iso_minutes(series.times[-1])})")
    series = series.slice(lo, hi)
    step, gaps = time_gaps(series.times, path)
    if gaps:
        warn(f"{path}: {len(gaps)} gap(s) in the {step_text(step)} steps, {sum(g.missing for g in gaps)} frame(s) absent "
             f"(last frame before .. first after): {describe(gaps)}; gaps stay gaps, no frame is made up")
    empty = series.all_missing_frames()
    if empty.any():
        warn(f"{path}: skipped {int(empty.sum())} frame(s) with every cell missing: "
             f"{describe([iso_minutes(t) for t in series.times[empty]])}")
        series = series.select(~empty)
        if series.times.size == 0:
            raise DataError(f"{path}: every frame of '{series.variable}' between {start or 'the start'} and "
                            f"{end or 'the end'} has every cell missing: nothing to ingest")
    missing = np.isnan(series.values)
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    avro = _avro()
    n = 0
    with open(out, "wb") as f:
        writer = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), frame_schema(), codec="deflate")
        for rec in frames(series, grid_id):
            writer.append(rec)
            n += 1
        writer.close()
    partial = int(missing.any(axis=(1, 2)).sum())
    notes = []
    if partial:
        notes.append(f"{partial} with missing cells ({100.0 * missing.mean():.1f}% of values), masked per frame")
    if gaps:
        notes.append(f"{sum(g.missing for g in gaps)} absent in {len(gaps)} gap(s)")
    if empty.any():
        notes.append(f"{int(empty.sum())} all-missing skipped")
    print(f"wrote {n} TemperatureFrame records ({grid_id}, {series.grid['height']}x{series.grid['width']}, "
          f"{np.datetime_as_string(series.times[0], unit='h')} .. {np.datetime_as_string(series.times[-1], unit='h')}"
          f"{'; ' + '; '.join(notes) if notes else ''}) to {out}")
    return n


def step_text(step) -> str:
    if step is None:
        return "(single)"
    return f"{step.astype('timedelta64[s]').astype(np.int64) / 3600.0:g} h"


def read(path: str):
    """Read back an Avro frames file as dicts (tests, tools)."""
    avro = _avro()
    with open(path, "rb") as f:
        return list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
