"""The LS-NTP records as arrays: a Forecast as a numpy grid per lead with its coordinates, the
forecast at a latitude/longitude (bilinear between the four cells around it), and forecasts that
travel as tiles put back together."""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass
class ForecastGrid:
    grid_id: str
    issue_time: dt.datetime
    model: str
    values: np.ndarray          # (beta, height, width) float32, kelvin
    latitudes: np.ndarray       # (height,) degrees north, row order as sent
    longitudes: np.ndarray      # (width,) degrees east
    valid_times: list[dt.datetime]
    step: dt.timedelta


def _utc(t) -> dt.datetime:
    """A timestamp-millis field: python3-avro gives an aware datetime, a plain int in a reader without logical types."""
    if isinstance(t, dt.datetime):
        return t.astimezone(dt.timezone.utc)
    return dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc)


def forecast_grid(rec: dict) -> ForecastGrid:
    beta, h, w = rec["beta"], rec["height"], rec["width"]
    values = np.frombuffer(rec["values"], dtype="<f4").reshape(beta, h, w)
    return ForecastGrid(
        grid_id=rec["grid_id"], issue_time=_utc(rec["issue_time"]),
        model=f"{rec['model_name']} {rec['model_version']}", values=values,
        latitudes=rec["lat0"] + rec["dlat"] * np.arange(h), longitudes=rec["lon0"] + rec["dlon"] * np.arange(w),
        valid_times=[_utc(t) for t in rec["valid_times"]], step=dt.timedelta(milliseconds=rec["step_millis"]))


def at_point(g: ForecastGrid, lat: float, lon: float) -> np.ndarray | None:
    """The forecast of every lead at (lat, lon), bilinear in the grid's cells; None outside the grid."""
    h, w = g.values.shape[1:]
    dlat = g.latitudes[1] - g.latitudes[0] if h > 1 else 1.0
    dlon = g.longitudes[1] - g.longitudes[0] if w > 1 else 1.0
    lon = g.longitudes[0] + (lon - g.longitudes[0]) % 360.0  # the grid's own longitude range
    r = (lat - g.latitudes[0]) / dlat
    c = (lon - g.longitudes[0]) / dlon
    eps = 1e-9
    if not (-eps <= r <= h - 1 + eps and -eps <= c <= w - 1 + eps):
        return None
    r0 = min(max(int(np.floor(r)), 0), max(h - 2, 0))
    c0 = min(max(int(np.floor(c)), 0), max(w - 2, 0))
    r1, c1 = min(r0 + 1, h - 1), min(c0 + 1, w - 1)
    fr, fc = r - r0, c - c0
    v = g.values.astype(np.float64)
    return ((1 - fr) * (1 - fc) * v[:, r0, c0] + (1 - fr) * fc * v[:, r0, c1]
            + fr * (1 - fc) * v[:, r1, c0] + fr * fc * v[:, r1, c1])


# The per-cell fields of a Forecast and their layout (Forecast.avsc, ForecastTile's doc): `planes` planes
# of height x width cells per lead, row-major, `cell_bytes` bytes a cell; lead-major ([lead][plane]...)
# unless `plane_major` ([plane][lead]..., as quantiles are, level-major). A tile holds one lead's rows x
# cols cells of each, planes in the same order. A field a later version adds gets its line here.
CELL_BLOCKS = {
    "values": {"planes": lambda rec: 1, "cell_bytes": lambda rec: 4, "plane_major": False},
    "quantiles": {"planes": lambda rec: len(rec.get("quantile_levels") or []), "cell_bytes": lambda rec: 4,
                  "plane_major": True},
}


class IncompleteTiles(ValueError):
    """Tiles of one forecast that do not make the forecast."""


class ForecastAssembler:
    """Puts a forecast that travels as tiles (one record per lead and band of rows, when the whole
    forecast is larger than a Kafka record may be) back together: a whole forecast is handed back at
    once; a tile is held until every tile of its forecast has come, and then the whole forecast is
    handed back. Tiles of one forecast agree on every field outside the per-cell ones, which tells
    them apart from other forecasts' tiles. At most `max_pending` forecasts are held."""

    def __init__(self, max_pending: int = 64):
        self.max_pending = max_pending
        self.pending: OrderedDict = OrderedDict()
        self.given_up = 0

    @staticmethod
    def _identity(rec: dict, count: int):
        return tuple((k, repr(v)) for k, v in sorted(rec.items()) if k not in CELL_BLOCKS and k != "tile") + (count,)

    def add(self, rec: dict) -> dict | None:
        tile = rec.get("tile")
        if tile is None:
            return rec
        key = self._identity(rec, tile["count"])
        tiles = self.pending.setdefault(key, [])
        tiles.append(rec)
        if len(tiles) < tile["count"]:
            while len(self.pending) > self.max_pending:
                self.pending.popitem(last=False)
                self.given_up += 1
            return None
        del self.pending[key]
        return join(tiles)

    def incomplete(self) -> bool:
        """Whether a forecast is still incomplete (a consumer commits its offsets only when none is)."""
        return bool(self.pending)


def join(tiles: list[dict]) -> dict:
    """One forecast from all its tiles; IncompleteTiles names what is wrong."""
    first = tiles[0]
    beta, h, w = first["beta"], first["height"], first["width"]
    count = first["tile"]["count"]
    if sorted(t["tile"]["index"] for t in tiles) != list(range(count)):
        raise IncompleteTiles(f"tile numbers {sorted(t['tile']['index'] for t in tiles)} are not 0..{count - 1}")
    covered = np.zeros((beta, h, w), dtype=np.uint8)
    out = dict(first)
    out["tile"] = None
    for field, layout in CELL_BLOCKS.items():
        if first.get(field) is None:
            continue
        planes, cb = layout["planes"](first), layout["cell_bytes"](first)
        whole = np.zeros((beta, planes, h, w, cb), dtype=np.uint8)
        for t in tiles:
            p = t["tile"]
            lead, r0, c0, rows, cols = p["lead"], p["row0"], p["col0"], p["rows"], p["cols"]
            part = np.frombuffer(t[field], dtype=np.uint8)
            if part.size != planes * rows * cols * cb or not (1 <= lead <= beta and r0 + rows <= h and c0 + cols <= w):
                raise IncompleteTiles(f"tile {p['index']}: {field} or its place does not fit the {h} x {w} grid")
            whole[lead - 1, :, r0:r0 + rows, c0:c0 + cols, :] = part.reshape(planes, rows, cols, cb)
            if field == "values":
                covered[lead - 1, r0:r0 + rows, c0:c0 + cols] += 1
        # the whole record's order: [lead][plane] as assembled, or [plane][lead] for a plane-major block
        out[field] = (whole.transpose(1, 0, 2, 3, 4) if layout["plane_major"] else whole).tobytes()
    if (covered != 1).any():
        raise IncompleteTiles(f"the tiles cover {int((covered == 0).sum())} cells not at all and "
                              f"{int((covered > 1).sum())} more than once")
    return out
