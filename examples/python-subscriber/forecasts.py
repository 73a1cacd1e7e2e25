"""The LS-NTP records as arrays: a Forecast as a numpy grid per lead with its coordinates, and the
forecast at a latitude/longitude (bilinear between the four cells around it)."""
from __future__ import annotations

import datetime as dt
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
