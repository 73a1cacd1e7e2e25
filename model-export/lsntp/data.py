"""Regional temperature series: reading GRIB/NetCDF, windows, time splits and normalisation.

A `Series` is what every other module sees: values (T, H, W) in kelvin, the valid times, the
grid's latitudes and longitudes in the order the source file stores them, and a missing mask.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

# Names a 2 m / near-surface temperature variable goes by (GRIB shortName, CF-ish names).
TEMPERATURE_NAMES = ("t2m", "2t", "air", "tas", "t2", "temperature", "temp", "t")
TEMPERATURE_STANDARD_NAMES = ("air_temperature",)


class DataError(ValueError):
    """Input data that cannot be used; the message names the problem."""


@dataclasses.dataclass
class Series:
    values: np.ndarray  # (T, H, W) float32 kelvin, NaN where missing
    times: np.ndarray  # (T,) datetime64[ns] UTC
    lats: np.ndarray  # (H,) degrees north, source order
    lons: np.ndarray  # (W,) degrees east, source order
    mask: np.ndarray  # (H, W) bool, True where a cell is missing in any frame
    variable: str
    source: str

    @property
    def step_hours(self) -> float:
        return float(np.median(np.diff(self.times).astype("timedelta64[s]").astype(np.int64)) / 3600.0)

    @property
    def grid(self) -> dict:
        """Grid geometry as the model's metadata and the Avro frames carry it."""
        return {
            "height": int(self.lats.size),
            "width": int(self.lons.size),
            "lat0": float(self.lats[0]),
            "lon0": float(self.lons[0]),
            "dlat": float(self.lats[1] - self.lats[0]) if self.lats.size > 1 else 0.0,
            "dlon": float(self.lons[1] - self.lons[0]) if self.lons.size > 1 else 0.0,
        }

    def slice(self, start: int, stop: int) -> "Series":
        return dataclasses.replace(self, values=self.values[start:stop], times=self.times[start:stop])


def _pick_temperature(ds, variable: str | None):
    if variable:
        if variable not in ds.data_vars:
            raise DataError(f"variable '{variable}' not in file; it has {sorted(ds.data_vars)}")
        return ds[variable]
    for name in TEMPERATURE_NAMES:
        if name in ds.data_vars:
            return ds[name]
    for name, var in ds.data_vars.items():
        if var.attrs.get("standard_name") in TEMPERATURE_STANDARD_NAMES or var.attrs.get("GRIB_shortName") == "2t":
            return var
    raise DataError(
        f"no temperature variable found (looked for {', '.join(TEMPERATURE_NAMES)} or standard_name "
        f"air_temperature); the file has {sorted(ds.data_vars) or 'no data variables'}")


def _coord(da, names: Sequence[str]):
    for n in names:
        if n in da.coords:
            return n
    return None


def open_dataset(path: str):
    import xarray as xr
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    lower = path.lower()
    try:
        if lower.endswith((".grib", ".grb", ".grib2", ".grb2")):
            return xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""})
        return xr.open_dataset(path)
    except DataError:
        raise
    except Exception as e:  # the readers raise many kinds; the user needs the file and the cause
        raise DataError(f"{path}: cannot read as GRIB or NetCDF ({type(e).__name__}: {e})") from e


def load_series(path: str, variable: str | None = None) -> Series:
    """Load a regional temperature series into (time, lat, lon) kelvin, keeping the file's row order."""
    ds = open_dataset(path)
    da = _pick_temperature(ds, variable)
    tname = _coord(da, ("valid_time", "time"))
    latn = _coord(da, ("latitude", "lat"))
    lonn = _coord(da, ("longitude", "lon"))
    if latn is None or lonn is None:
        raise DataError(f"{path}: variable '{da.name}' has no latitude/longitude coordinates; dims {da.dims}")
    if tname is None or da[tname].size < 2:
        raise DataError(f"{path}: variable '{da.name}' has no time axis with at least two times")
    time_dim = da[tname].dims[0]
    da = da.squeeze(drop=False)
    extra = [d for d in da.dims if d not in (time_dim, da[latn].dims[0], da[lonn].dims[0])]
    if extra:
        raise DataError(f"{path}: variable '{da.name}' has extra dimensions {extra}; select one level first")
    da = da.transpose(time_dim, da[latn].dims[0], da[lonn].dims[0])
    values = da.values.astype(np.float32)  # CF scale_factor/_FillValue already applied -> NaN
    units = str(da.attrs.get("units", "K")).strip()
    if units in ("degC", "C", "celsius", "deg_C"):
        values = values + np.float32(273.15)
    elif units not in ("K", "kelvin", "degK", "deg_K"):
        raise DataError(f"{path}: variable '{da.name}' has units '{units}', expected kelvin or degC")
    times = np.asarray(da[tname].values).astype("datetime64[ns]")
    if np.any(np.diff(times) <= np.timedelta64(0)):
        raise DataError(f"{path}: times are not strictly increasing")
    steps = np.unique(np.diff(times))
    if steps.size != 1:
        raise DataError(f"{path}: irregular time steps {[str(s.astype('timedelta64[h]')) for s in steps[:5]]}")
    lats = np.asarray(da[latn].values, dtype=np.float64)
    lons = np.asarray(da[lonn].values, dtype=np.float64)
    if lats.ndim != 1 or lons.ndim != 1:
        raise DataError(f"{path}: only regular latitude-longitude grids are supported")
    mask = np.isnan(values).any(axis=0)
    if mask.all():
        raise DataError(f"{path}: every cell of '{da.name}' is missing")
    source = str(ds.attrs.get("GRIB_centreDescription") or ds.attrs.get("title") or os.path.basename(path))
    return Series(values=values, times=times, lats=lats, lons=lons, mask=mask, variable=str(da.name), source=source)


@dataclasses.dataclass(frozen=True)
class Split:
    """Frame index ranges [start, stop) of the train, validation and test parts."""
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]


def split_by_time(times: np.ndarray, val_start: str, test_start: str) -> Split:
    """Split frames at two timestamps. Windows are cut inside each part, so none straddles a boundary."""
    t = times.astype("datetime64[ns]")
    v = np.searchsorted(t, np.datetime64(val_start, "ns"))
    s = np.searchsorted(t, np.datetime64(test_start, "ns"))
    if not 0 < v < s < t.size:
        raise DataError(f"split {val_start} / {test_start} does not fall inside the series {t[0]} .. {t[-1]}")
    return Split(train=(0, int(v)), val=(int(v), int(s)), test=(int(s), int(t.size)))


def window_starts(n_frames: int, alpha: int, beta: int, stride: int = 1) -> np.ndarray:
    """Start indices of every (alpha in, beta out) window that fits entirely in n_frames."""
    if alpha < 1 or beta < 1:
        raise DataError(f"alpha and beta must be at least 1 (got alpha={alpha}, beta={beta})")
    last = n_frames - alpha - beta
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, last + 1, stride, dtype=np.int64)


class WindowDataset:
    """Windows of one contiguous part of a series: x (alpha, H, W), y (beta, H, W), kelvin, NaN filled.

    Missing cells are filled with the training mean so the network sees finite numbers; the
    metrics leave them out through the mask.
    """

    def __init__(self, series: Series, part: tuple[int, int], alpha: int, beta: int, fill: float, stride: int = 1):
        self.fill = fill
        self.values = np.nan_to_num(series.values[part[0]:part[1]], nan=fill).astype(np.float32)
        self.times = series.times[part[0]:part[1]]
        self.alpha, self.beta = alpha, beta
        self.starts = window_starts(len(self.values), alpha, beta, stride)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int):
        s = int(self.starts[i])
        return self.values[s:s + self.alpha], self.values[s + self.alpha:s + self.alpha + self.beta]

    def target_times(self, i: int) -> np.ndarray:
        s = int(self.starts[i])
        return self.times[s + self.alpha:s + self.alpha + self.beta]

    def arrays(self):
        xs = np.stack([self[i][0] for i in range(len(self))]) if len(self) else np.zeros((0,))
        ys = np.stack([self[i][1] for i in range(len(self))]) if len(self) else np.zeros((0,))
        return xs, ys


@dataclasses.dataclass(frozen=True)
class MinMax:
    """Min-max normalisation to [0, 1], fitted on the training part only."""
    lo: float
    hi: float

    @classmethod
    def fit(cls, values: np.ndarray) -> "MinMax":
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        if not np.isfinite(lo) or hi <= lo:
            raise DataError("cannot fit normalisation: training part has no spread or no valid values")
        return cls(lo, hi)

    def forward(self, x):
        return (x - self.lo) / (self.hi - self.lo)

    def inverse(self, x):
        return x * (self.hi - self.lo) + self.lo


@dataclasses.dataclass
class Prepared:
    """A run's data: the series, its split into windows, and what the model is built from."""
    series: Series
    norm: MinMax
    step_change_k: float  # std of the one-step change on the training part, kelvin
    train: WindowDataset
    val: WindowDataset
    test: WindowDataset
    split: Split

    @property
    def fill(self) -> float:
        return self.train.fill

    def training_period(self) -> str:
        t = self.series.times
        a, b = self.split.train
        return f"{iso_minutes(t[a])}/{iso_minutes(t[b - 1])}"


def iso_minutes(t) -> str:
    return np.datetime_as_string(t, unit="m") + "Z"


def prepare(data_cfg, data_path: str | None = None) -> Prepared:
    """Load the configured series (config.DataConfig), split it by time and cut the windows.

    Normalisation, the fill value of missing cells and the typical one-step change are fitted
    on the training part only.
    """
    series = load_series(data_path or data_cfg.resolved_path, data_cfg.variable)
    split = split_by_time(series.times, data_cfg.val_start, data_cfg.test_start)
    train_vals = series.values[split.train[0]:split.train[1]]
    norm = MinMax.fit(train_vals)
    fill = float(np.nanmean(train_vals))
    a, b = data_cfg.alpha, data_cfg.beta
    step_change = float(np.nanstd(np.diff(train_vals, axis=0)))
    parts = [WindowDataset(series, p, a, b, fill) for p in (split.train, split.val, split.test)]
    for name, ds in zip(("training", "validation", "test"), parts):
        if len(ds) == 0:
            raise DataError(f"the {name} part is shorter than alpha + beta = {a + b} frames; move the split dates")
    return Prepared(series, norm, step_change, *parts, split=split)


def haversine_km(lat1, lon1, lat2, lon2):
    r = 6371.0
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def cell_distances_km(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) between every pair of cell centres of a lat-lon grid, (N, N), row-major."""
    la, lo = np.meshgrid(lats, lons, indexing="ij")
    la, lo = la.ravel(), lo.ravel()
    return haversine_km(la[:, None], lo[:, None], la[None, :], lo[None, :])


def coarse_grid(lats: np.ndarray, lons: np.ndarray, factor: int):
    """Cell centres seen by a stride-`factor` convolution with padding 1 and kernel 3 (every factor-th cell)."""
    return lats[::factor], lons[::factor]
