"""Turn a GRIB or NetCDF temperature series into an Avro object container file of TemperatureFrame
records, following schemas/src/main/avro/TemperatureFrame.avsc (the only definition of the record).

Files are taken as they come and the streaming job judges each frame:
- values travel as packed little-endian float32; a cell missing in a frame (NaN, or the file's
  _FillValue/missing_value) is NaN in that frame's values and 1 in that frame's `missing_mask`
  (frames without missing cells carry no mask); the job fills it (`missing_fill: frame-mean`);
- gaps in time stay gaps: the absent frames are not invented (one warning lists them);
- a frame with every cell missing is skipped (one warning lists them): the job would reject it;
- times come from a coordinate with CF units, or from `--time-var NAME --time-units "hours since
  1900-01-01 00:00"` when the file has none;
- a frame whose Kafka record would be larger than `--tile-bytes` (default: the job's
  `records.max-record-bytes`, 1 MiB, Kafka's default record limit) is written as tiles: records of
  whole rows (TemperatureFrame.tile), each within the limit with its key and Kafka's overhead,
  which the job puts back together (deploy/OPERATIONS.md, Tiles).

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
JOB_DEFAULTS = os.path.join(PROJECT_ROOT, "flink-job", "src", "main", "resources", "lsntp-default.yaml")
# What Kafka adds to a record's key and value (record batch header 61 bytes, the record's own fields
# at most 21, with room to spare): ai.lsntp.schemas.Tiling.KAFKA_RECORD_OVERHEAD.
KAFKA_RECORD_OVERHEAD = 128
SINGLE_OBJECT_HEADER = 10  # C3 01 and the 8-byte fingerprint in front of every record on Kafka


def default_tile_bytes() -> int:
    """records.max-record-bytes of the job's defaults (lsntp-default.yaml), the one place it is set."""
    section = None
    with open(JOB_DEFAULTS) as f:
        for line in f:
            if line and not line[0].isspace() and line.rstrip().endswith(":"):
                section = line.strip()[:-1]
            elif section == "records" and line.strip().startswith("max-record-bytes:"):
                return int(line.split(":", 1)[1].split("#")[0])
    raise DataError(f"{JOB_DEFAULTS}: no records.max-record-bytes")


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
            "tile": None,
        }


def _encoded_size(schema, rec: dict) -> int:
    import io
    avro = _avro()
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
    return buf.tell()


def rectangles(h: int, w: int, cells_per_tile: int) -> list[tuple[int, int, int, int]]:
    """(row0, col0, rows, cols) covering an h x w grid once: balanced bands of whole rows, or pieces of
    rows when one row is more than a tile holds (the rule of ai.lsntp.schemas.Tiling.rectangles)."""
    if cells_per_tile >= w:
        rows_per = min(h, cells_per_tile // w)
        n = -(-h // rows_per)
        out, row = [], 0
        for i in range(n):
            rows = h // n + (1 if i < h % n else 0)
            out.append((row, 0, rows, w))
            row += rows
        return out
    n = -(-w // cells_per_tile)
    out = []
    for row in range(h):
        col = 0
        for i in range(n):
            cols = w // n + (1 if i < w % n else 0)
            out.append((row, col, 1, cols))
            col += cols
    return out


def tiles(rec: dict, schema, tile_bytes: int) -> list[dict]:
    """The frame as one record when it fits `tile_bytes` on Kafka (single-object value, key and Kafka's
    overhead), else as tiles that do, each holding whole rows of values and, where it has missing
    cells, of the mask."""
    key = len(rec["grid_id"].encode("utf-8"))
    blocks = len(rec["values"]) + (len(rec["missing_mask"]) if rec["missing_mask"] is not None else 0)
    header = dict(rec, values=b"", missing_mask=None)
    if KAFKA_RECORD_OVERHEAD + key + SINGLE_OBJECT_HEADER + _encoded_size(schema, header) + 10 + blocks <= tile_bytes:
        return [rec]
    big = 2 ** 31 - 1
    fixed = _encoded_size(schema, dict(header, tile={k: big for k in ("index", "count", "row0", "col0", "rows", "cols")}))
    per_cell = 4 + (1 if rec["missing_mask"] is not None else 0)
    budget = tile_bytes - KAFKA_RECORD_OVERHEAD - key - SINGLE_OBJECT_HEADER - fixed - 10
    if budget < per_cell:
        raise DataError(f"--tile-bytes {tile_bytes} leaves no room for one cell beside the frame's other fields")
    h, w = rec["height"], rec["width"]
    values = np.frombuffer(rec["values"], "<f4").reshape(h, w)
    mask = None if rec["missing_mask"] is None else np.frombuffer(rec["missing_mask"], np.uint8).reshape(h, w)
    rects = rectangles(h, w, budget // per_cell)
    out = []
    for i, (r0, c0, rows, cols) in enumerate(rects):
        m = None if mask is None else mask[r0:r0 + rows, c0:c0 + cols]
        out.append(dict(rec, values=values[r0:r0 + rows, c0:c0 + cols].tobytes(),
                        missing_mask=m.tobytes() if m is not None and m.any() else None,
                        tile={"index": i, "count": len(rects), "row0": r0, "col0": c0, "rows": rows, "cols": cols}))
    return out


def warn(message: str) -> None:
    print(f"lsntp ingest: warning: {message}", file=sys.stderr, flush=True)


def ingest(path: str, out: str, grid_id: str, variable: str | None = None, start: str | None = None, end: str | None = None,
           time_var: str | None = None, time_units: str | None = None, tile_bytes: int | None = None) -> int:
    """Write the file's frames within [start, end] to `out` (as tiles where a frame's record would be
    larger than `tile_bytes`); returns how many frames were written."""
    if time_units is not None and time_var is None:
        raise DataError("--time-units needs --time-var (the variable whose values count in those units)")
    _avro()  # before the file is read: a missing package is named first
    tile_bytes = default_tile_bytes() if tile_bytes is None else tile_bytes
    if tile_bytes < 1024:
        raise DataError(f"--tile-bytes must be at least 1024, got {tile_bytes}")
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
    n = tiled = records = 0
    schema = frame_schema()
    with open(out, "wb") as f:
        writer = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec="deflate")
        for rec in frames(series, grid_id):
            parts = tiles(rec, schema, tile_bytes)
            for part in parts:
                writer.append(part)
            n += 1
            records += len(parts)
            tiled += len(parts) > 1
        writer.close()
    partial = int(missing.any(axis=(1, 2)).sum())
    notes = []
    if partial:
        notes.append(f"{partial} with missing cells ({100.0 * missing.mean():.1f}% of values), masked per frame")
    if gaps:
        notes.append(f"{sum(g.missing for g in gaps)} absent in {len(gaps)} gap(s)")
    if empty.any():
        notes.append(f"{int(empty.sum())} all-missing skipped")
    if tiled:
        notes.append(f"{tiled} as tiles of at most {tile_bytes} bytes, {records} records in all")
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
