"""Turn a GRIB or NetCDF temperature series into an Avro object container file of TemperatureFrame
records, following schemas/src/main/avro/TemperatureFrame.avsc (the only definition of the record).

Values travel as packed little-endian float32; missing cells become the frame's missing_mask
(and NaN in values); the grid geometry comes from the file.
"""
from __future__ import annotations

import datetime as dt
import os

import avro.datafile
import avro.io
import avro.schema
import numpy as np
from tqdm import tqdm

from .config import PROJECT_ROOT
from .data import DataError, Series, load_series

SCHEMA_DIR = os.path.join(PROJECT_ROOT, "schemas", "src", "main", "avro")


def frame_schema():
    with open(os.path.join(SCHEMA_DIR, "TemperatureFrame.avsc")) as f:
        return avro.schema.parse(f.read())


def frames(series: Series, grid_id: str):
    """TemperatureFrame dicts, one per time step."""
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


def ingest(path: str, out: str, grid_id: str, variable: str | None = None, start: str | None = None, end: str | None = None) -> int:
    series = load_series(path, variable)
    lo = np.searchsorted(series.times, np.datetime64(start, "ns")) if start else 0
    hi = np.searchsorted(series.times, np.datetime64(end, "ns"), side="right") if end else len(series.times)
    if hi <= lo:
        raise DataError(f"no frames of {path} fall between {start} and {end}")
    series = series.slice(lo, hi)
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    n = 0
    with open(out, "wb") as f:
        writer = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), frame_schema(), codec="deflate")
        for rec in tqdm(frames(series, grid_id), total=len(series.times), desc=f"ingest {os.path.basename(path)}", mininterval=1.0):
            writer.append(rec)
            n += 1
        writer.close()
    print(f"wrote {n} TemperatureFrame records ({grid_id}, {series.grid['height']}x{series.grid['width']}, "
          f"{np.datetime_as_string(series.times[0], unit='h')} .. {np.datetime_as_string(series.times[-1], unit='h')}) to {out}")
    return n


def read(path: str):
    """Read back an Avro frames file as dicts (tests, tools)."""
    with open(path, "rb") as f:
        return list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))
