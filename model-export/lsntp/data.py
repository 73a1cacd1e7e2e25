"""Regional temperature series: reading GRIB/NetCDF, windows, time splits and normalisation.

A `Series` is what every other module sees: values (T, H, W) in kelvin, the valid times, the
grid's latitudes and longitudes in the order the source file stores them, and a missing mask.

One reader (`read_series`) serves both the ingest (lsntp/ingest.py, which turns files into the
job's Avro frames) and training (`load_series`): the ingest takes a file as it comes (gaps, cells
missing in some frames, frames with every cell missing: the job judges each frame), training
needs a gap-free regular series and refuses anything else with a message saying what is wrong.
This module imports numpy only (xarray when a file is read): the ingest must not load PyTorch.

Missing cells, one rule for training and serving (MISSING_FILL, written into every exported
model's metadata as `missing_fill`): a missing cell takes the mean of the valid cells of its own
frame, as the streaming job's FrameValidator fills a frame before inference (`fill_missing`).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

from .errors import READER_PACKAGES, DataError, MissingPackage

# Names a 2 m / near-surface temperature variable goes by (GRIB shortName, CF-ish names), compared
# case-insensitively.
TEMPERATURE_NAMES = ("t2m", "2t", "air", "tas", "t2", "temperature", "temp", "t")
TEMPERATURE_STANDARD_NAMES = ("air_temperature",)
KELVIN_UNITS = ("k", "kelvin", "degk", "deg_k", "degrees_k", "degree_k")
CELSIUS_UNITS = ("degc", "c", "celsius", "deg_c", "degrees_c", "degree_c", "degrees_celsius")
TIME_NAMES = ("valid_time", "time")  # cfgrib's valid time first: its `time` is the forecast reference time
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon")

MISSING_FILL = "frame-mean"


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
        step = regular_step(self.times)
        return float("nan") if step is None else float(step.astype("timedelta64[s]").astype(np.int64) / 3600.0)

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

    def select(self, keep: np.ndarray) -> "Series":
        """The frames where `keep` (T,) is True; the mask follows the frames kept."""
        values = self.values[keep]
        return dataclasses.replace(self, values=values, times=self.times[keep], mask=np.isnan(values).any(axis=0))

    def all_missing_frames(self) -> np.ndarray:
        """(T,) True for the frames in which every cell is missing."""
        return np.isnan(self.values).all(axis=(1, 2))


def fill_missing(values: np.ndarray) -> np.ndarray:
    """The MISSING_FILL rule: each frame's missing (NaN) cells take the mean of that frame's valid
    cells, summed in float64 and rounded to float32 as the job's FrameValidator does. values: (..., H, W).
    A frame with no valid cell cannot be filled (the job rejects it as ALL_MISSING): DataError."""
    values = np.asarray(values, dtype=np.float32)
    missing = np.isnan(values)
    if not missing.any():
        return values.copy()
    valid = (~missing).sum(axis=(-2, -1))
    if (valid == 0).any():
        raise DataError(f"{int((valid == 0).sum())} frame(s) have every cell missing: nothing to fill them from")
    means = np.where(missing, 0.0, values.astype(np.float64)).sum(axis=(-2, -1)) / valid
    return np.where(missing, means.astype(np.float32)[..., None, None], values).astype(np.float32)


def regular_step(times: np.ndarray):
    """The series' time step: the most common difference between consecutive times (the smaller on
    a tie), as timedelta64[ns]; None for fewer than two times."""
    if len(times) < 2:
        return None
    diffs, counts = np.unique(np.diff(np.asarray(times).astype("datetime64[ns]")), return_counts=True)
    return diffs[np.argmax(counts)]


def _hours(td) -> str:
    h = td.astype("timedelta64[s]").astype(np.int64) / 3600.0
    return f"{h:g} h"


def iso_minutes(t) -> str:
    return np.datetime_as_string(t, unit="m") + "Z"


@dataclasses.dataclass(frozen=True)
class Gap:
    """Frames absent from a regular series: `missing` steps between `after` and `before`."""
    after: np.datetime64
    before: np.datetime64
    missing: int

    def __str__(self):
        return f"{iso_minutes(self.after)} .. {iso_minutes(self.before)} ({self.missing} missing)"


def time_gaps(times: np.ndarray, source: str = "") -> tuple[np.timedelta64 | None, list[Gap]]:
    """The regular step of strictly increasing times and the gaps in it. Times that go backwards or
    repeat, or steps that are not whole multiples of the regular step, are a DataError."""
    t = np.asarray(times).astype("datetime64[ns]")
    where = f"{source}: " if source else ""
    diffs = np.diff(t)
    bad = np.flatnonzero(diffs <= np.timedelta64(0))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"{where}times are not strictly increasing: {iso_minutes(t[i])} is followed by {iso_minutes(t[i + 1])}")
    step = regular_step(t)
    if step is None:
        return None, []
    odd = np.flatnonzero(diffs % step != np.timedelta64(0))
    if odd.size:
        found = sorted({_hours(d) for d in diffs[odd]})
        i = int(odd[0])
        raise DataError(f"{where}irregular time steps: the series steps every {_hours(step)} but also by {', '.join(found[:5])} "
                        f"(first {iso_minutes(t[i])} .. {iso_minutes(t[i + 1])}), which is not a whole number of steps")
    gaps = [Gap(t[i], t[i + 1], int(diffs[i] // step) - 1) for i in np.flatnonzero(diffs > step)]
    return step, gaps


def describe(items: Sequence, limit: int = 8) -> str:
    """At most `limit` items, comma-separated, with how many more there are."""
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _pick_temperature(ds, variable: str | None):
    if variable:
        if variable not in ds.data_vars:
            raise DataError(f"variable '{variable}' not in file; it has {sorted(ds.data_vars)}")
        return ds[variable]
    by_lower = {str(n).lower(): n for n in ds.data_vars}
    for name in TEMPERATURE_NAMES:
        if name in by_lower:
            return ds[by_lower[name]]
    for name, var in ds.data_vars.items():
        if var.attrs.get("standard_name") in TEMPERATURE_STANDARD_NAMES or var.attrs.get("GRIB_shortName") == "2t":
            return var
    raise DataError(
        f"no temperature variable found (looked for {', '.join(TEMPERATURE_NAMES)} or standard_name "
        f"air_temperature); the file has {sorted(ds.data_vars) or 'no data variables'}; name one with --variable")


def _coord(da, names: Sequence[str], units: Sequence[str] = ()):
    """The coordinate of `da` with one of `names` (any case), else the first whose units are one of `units`."""
    by_lower = {str(n).lower(): n for n in da.coords}
    for n in names:
        if n in by_lower:
            return by_lower[n]
    for n, c in da.coords.items():
        if c.ndim == 1 and str(c.attrs.get("units", "")).lower() in units:
            return n
    return None


def _import_xarray():
    try:
        import xarray as xr
    except ImportError as e:
        raise MissingPackage(f"reading GRIB/NetCDF needs xarray ({e}): {READER_PACKAGES}") from e
    return xr


def open_dataset(path: str):
    """The file as an xarray Dataset, missing values (_FillValue, missing_value) as NaN and times left
    as stored: `read_series` decodes the one time axis it uses, so that one it cannot decode gets an
    error naming it instead of failing the whole file."""
    xr = _import_xarray()
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    lower = path.lower()
    grib = lower.endswith((".grib", ".grb", ".grib2", ".grb2"))
    try:
        if grib:
            return xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}, decode_times=False)
        return xr.open_dataset(path, decode_times=False)
    except DataError:
        raise
    except Exception as e:  # the readers raise many kinds; the user needs the file and the cause
        engines = _missing_engines(grib)
        if engines:
            raise MissingPackage(f"{path}: cannot read it: {engines} not installed ({type(e).__name__}: {e}); "
                                 f"{READER_PACKAGES}") from e
        raise DataError(f"{path}: cannot read as GRIB or NetCDF ({type(e).__name__}: {e})") from e


def _missing_engines(grib: bool) -> str:
    """The Debian package of the reader a failed open may have lacked, if it is not importable."""
    import importlib
    name = "cfgrib" if grib else "netCDF4"
    try:
        importlib.import_module(name)
        return ""
    except ImportError:
        return f"python3-{name.lower()}"


def decode_times(values, units: str, calendar: str = "standard", name: str = "time") -> np.ndarray:
    """CF-style numeric times ("hours since 1900-01-01 00:00") as datetime64[ns]."""
    xr = _import_xarray()
    if "since" not in str(units):
        raise DataError(f"'{units}' are not CF time units (UNIT since DATE, e.g. 'hours since 1900-01-01 00:00')")
    try:
        decoded = xr.decode_cf(xr.Dataset(coords={"t": ("t", np.asarray(values), {"units": units, "calendar": calendar})}),
                               use_cftime=False)["t"].values
    except Exception as e:
        raise DataError(f"cannot decode '{name}' with units '{units}' and calendar '{calendar}' ({type(e).__name__}: {e})") from e
    if not np.issubdtype(decoded.dtype, np.datetime64):
        raise DataError(f"cannot decode '{name}' with units '{units}' and calendar '{calendar}' into dates")
    return decoded.astype("datetime64[ns]")


TIME_FLAGS_EXAMPLE = "--time-units 'hours since 1900-01-01 00:00'"


def _describe_values(var) -> str:
    v = np.asarray(var.values)
    if v.size == 0:
        return f"{v.dtype}, empty"
    return f"{v.dtype} values {v.flat[0]!r} .. {v.flat[-1]!r}" if v.size > 1 else f"{v.dtype} value {v.flat[0]!r}"


def _time_axis(ds, da, path: str, space_dims: tuple, time_var: str | None, time_units: str | None):
    """(time dimension of `da`, valid times datetime64[ns]): from --time-var/--time-units when given,
    else from a coordinate with CF time units; a DataError naming the variable and what it lacks otherwise."""
    name = da.name
    other_dims = [d for d in da.dims if d not in space_dims]
    if time_var is not None:
        if time_var not in ds.variables:
            raise DataError(f"{path}: --time-var {time_var}: no such variable; the file has {sorted(map(str, ds.variables))}")
        tv = ds[time_var]
        if tv.ndim != 1 or tv.dims[0] not in da.dims or tv.dims[0] in space_dims:
            raise DataError(f"{path}: --time-var {time_var} has dimensions {tv.dims}; it must run along one dimension of "
                            f"'{name}' other than latitude/longitude ({', '.join(other_dims) or 'it has none'})")
        units = time_units or tv.attrs.get("units")
        if units is None:
            raise DataError(f"{path}: time variable '{time_var}' ({_describe_values(tv)}) has no 'units' attribute; "
                            f"give the units its values count in: --time-var {time_var} {TIME_FLAGS_EXAMPLE}")
        if time_units is not None and tv.attrs.get("units") and tv.attrs["units"] != time_units:
            raise DataError(f"{path}: time variable '{time_var}' has units '{tv.attrs['units']}' in the file; "
                            f"--time-units '{time_units}' contradicts them (leave --time-units out to use the file's)")
        try:
            return tv.dims[0], decode_times(tv.values, units, tv.attrs.get("calendar", "standard"), time_var)
        except DataError as e:
            raise DataError(f"{path}: time variable '{time_var}': {e}") from e
    candidates = [n for n in TIME_NAMES if n in da.coords and da[n].ndim == 1 and da[n].dims[0] in other_dims]
    candidates += [n for n, c in da.coords.items() if n not in candidates and c.ndim == 1 and c.dims[0] in other_dims
                   and ("since" in str(c.attrs.get("units", "")) or c.attrs.get("standard_name") == "time"
                        or c.attrs.get("axis") == "T")]
    for n in candidates:
        c = da[n]
        units = c.attrs.get("units")
        if units is not None and "since" in str(units):
            try:
                return c.dims[0], decode_times(c.values, units, c.attrs.get("calendar", "standard"), n)
            except DataError as e:
                raise DataError(f"{path}: time coordinate '{n}' of '{name}': {e}; "
                                f"to give it other units: --time-var {n} {TIME_FLAGS_EXAMPLE}") from e
    if candidates:
        n = candidates[0]
        units = da[n].attrs.get("units")
        lacks = "no 'units' attribute" if units is None else f"units '{units}', which are not CF time units (UNIT since DATE)"
        raise DataError(f"{path}: time coordinate '{n}' of '{name}' ({_describe_values(da[n])}) has {lacks}; "
                        f"give the units its values count in: --time-var {n} {TIME_FLAGS_EXAMPLE}")
    if not other_dims:
        raise DataError(f"{path}: variable '{name}' has no time dimension, only {da.dims}")
    if len(other_dims) > 1:
        raise DataError(f"{path}: variable '{name}' has no time coordinate with CF units and several dimensions besides "
                        f"latitude/longitude ({', '.join(map(str, other_dims))}); name its time axis: --time-var NAME "
                        f"{TIME_FLAGS_EXAMPLE} (and select one level first)")
    d = other_dims[0]
    if d in ds.variables:
        units = ds[d].attrs.get("units")
        lacks = "no 'units' attribute" if units is None else f"units '{units}', which are not CF time units (UNIT since DATE)"
        what = f"its coordinate '{d}' ({_describe_values(ds[d])}) has {lacks}"
    else:
        what = f"no variable holds the times of dimension '{d}'"
    raise DataError(f"{path}: variable '{name}' has no time axis with CF units: it runs along dimension '{d}' and {what}; "
                    f"name the variable holding its times and their units: --time-var {d if d in ds.variables else 'NAME'} "
                    f"{TIME_FLAGS_EXAMPLE}")


def read_series(path: str, variable: str | None = None, time_var: str | None = None,
                time_units: str | None = None) -> Series:
    """A regional temperature series as the file holds it, in kelvin and the file's row order: any
    number of frames, gaps in time and missing cells (NaN) left as they are. Times must increase.

    time_var/time_units: the variable holding the valid times and the CF units they count in
    ("hours since 1900-01-01 00:00"), for files whose time axis has no CF units.
    """
    ds = open_dataset(path)
    da = _pick_temperature(ds, variable)
    latn = _coord(da, LAT_NAMES, ("degrees_north", "degree_north", "degrees_n", "degree_n"))
    lonn = _coord(da, LON_NAMES, ("degrees_east", "degree_east", "degrees_e", "degree_e"))
    if latn is None or lonn is None:
        raise DataError(f"{path}: variable '{da.name}' has no latitude/longitude coordinates; dims {da.dims}")
    if da[latn].ndim != 1 or da[lonn].ndim != 1:
        raise DataError(f"{path}: only regular latitude-longitude grids are supported")
    space = (da[latn].dims[0], da[lonn].dims[0])
    time_dim, times = _time_axis(ds, da, path, space, time_var, time_units)
    extra = [d for d in da.dims if d not in (time_dim, *space)]
    single = [d for d in extra if da.sizes[d] == 1]
    da = da.isel({d: 0 for d in single}, drop=False)
    extra = [d for d in extra if d not in single]
    if extra:
        raise DataError(f"{path}: variable '{da.name}' has extra dimensions {extra}; select one level first")
    da = da.transpose(time_dim, *space)
    values = da.values.astype(np.float32)  # CF scale_factor/_FillValue/missing_value already applied -> NaN
    units = str(da.attrs.get("units", "K")).strip()
    if units.lower() in CELSIUS_UNITS:
        values = values + np.float32(273.15)
    elif units.lower() not in KELVIN_UNITS:
        raise DataError(f"{path}: variable '{da.name}' has units '{units}', expected kelvin or degC")
    if values.shape[0] == 0:
        raise DataError(f"{path}: variable '{da.name}' has no times")
    time_gaps(times, path)  # increasing, and steps a whole number of the regular step
    lats = np.asarray(da[latn].values, dtype=np.float64)
    lons = np.asarray(da[lonn].values, dtype=np.float64)
    mask = np.isnan(values).any(axis=0)
    source = str(ds.attrs.get("GRIB_centreDescription") or ds.attrs.get("title") or os.path.basename(path))
    return Series(values=values, times=times, lats=lats, lons=lons, mask=mask, variable=str(da.name), source=source)


def load_series(path: str, variable: str | None = None) -> Series:
    """A series for training: `read_series`, then at least two times on a regular step without gaps,
    no frame with every cell missing and some cell valid in every frame. Files with gaps are refused
    (windows would span them); `lsntp ingest` takes such files as they are for the streaming job."""
    s = read_series(path, variable)
    if s.times.size < 2:
        raise DataError(f"{path}: variable '{s.variable}' has {s.times.size} time(s); training needs a series")
    step, gaps = time_gaps(s.times, path)
    if gaps:
        raise DataError(f"{path}: {len(gaps)} gap(s) in the {_hours(step)} steps ({sum(g.missing for g in gaps)} frames absent: "
                        f"{describe(gaps, 5)}); training needs a gap-free series: choose a period without gaps or fill them")
    empty = s.all_missing_frames()
    if empty.all():
        raise DataError(f"{path}: every cell of '{s.variable}' is missing in every frame")
    if empty.any():
        raise DataError(f"{path}: {int(empty.sum())} frame(s) of '{s.variable}' have every cell missing "
                        f"({describe([iso_minutes(t) for t in s.times[empty]], 5)}); training cannot fill them")
    if s.mask.all():
        raise DataError(f"{path}: every cell of '{s.variable}' is missing in some frame: no cell can be scored")
    return s


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
    """Windows of one contiguous part of a series: x (alpha, H, W), y (beta, H, W), kelvin, filled.

    Missing cells are filled by the MISSING_FILL rule (`fill_missing`: the mean of the valid cells
    of the same frame, what the streaming job does before inference), so the network sees finite
    numbers; the metrics leave them out through the series' mask. The shipped data sets have no
    missing cell, so this rule changed no trained model (before it, training filled with the
    training part's mean).
    """

    def __init__(self, series: Series, part: tuple[int, int], alpha: int, beta: int, stride: int = 1):
        self.values = fill_missing(series.values[part[0]:part[1]])
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

    def training_period(self) -> str:
        t = self.series.times
        a, b = self.split.train
        return f"{iso_minutes(t[a])}/{iso_minutes(t[b - 1])}"


def prepare(data_cfg, data_path: str | None = None) -> Prepared:
    """Load the configured series (config.DataConfig), split it by time and cut the windows.

    Normalisation and the typical one-step change are fitted on the training part only; missing
    cells are filled frame by frame (MISSING_FILL).
    """
    series = load_series(data_path or data_cfg.resolved_path, data_cfg.variable)
    split = split_by_time(series.times, data_cfg.val_start, data_cfg.test_start)
    train_vals = series.values[split.train[0]:split.train[1]]
    norm = MinMax.fit(train_vals)
    a, b = data_cfg.alpha, data_cfg.beta
    step_change = float(np.nanstd(np.diff(train_vals, axis=0)))
    parts = [WindowDataset(series, p, a, b) for p in (split.train, split.val, split.test)]
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


NEIGHBOUR_KM_DECIMALS = 3  # distances compared to the metre when choosing neighbours, so ties break by index alone


def _unit_vectors(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    la, lo = np.meshgrid(np.radians(lats), np.radians(lons), indexing="ij")
    la, lo = la.ravel(), lo.ravel()
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def _candidates_kdtree(xyz: np.ndarray, m: int) -> np.ndarray:
    """The m nearest cells of every cell by chord length (monotone in great-circle distance)."""
    from scipy.spatial import cKDTree
    _, idx = cKDTree(xyz).query(xyz, k=m)
    return np.asarray(idx, dtype=np.int64).reshape(len(xyz), m)


def _candidates_chunked(la: np.ndarray, lo: np.ndarray, m: int, chunk_cells: int = 4_000_000) -> np.ndarray:
    """The same without scipy: great-circle distances of a block of rows to every cell at a time
    (O(N^2) time, O(chunk_cells) memory)."""
    n = la.size
    rows = max(1, chunk_cells // n)
    out = np.empty((n, m), dtype=np.int64)
    for s in range(0, n, rows):
        d = haversine_km(la[s:s + rows, None], lo[s:s + rows, None], la[None, :], lo[None, :])
        out[s:s + rows] = np.argpartition(d, m - 1, axis=1)[:, :m] if m < n else np.arange(n)[None, :]
    return out


def nearest_cells(lats: np.ndarray, lons: np.ndarray, k: int, use_scipy: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest cells of every cell of a lat-lon grid by great-circle distance, cells numbered
    row-major as in `cell_distances_km`: (index (N, k) int64, km (N, k) float64), each row nearest
    first and the cell itself first of all (distance 0; k is capped at N).

    The set is the same on every machine and with either search: distances are compared rounded to
    the metre and ties go to the lower index (a regular grid is full of equidistant cells), and
    candidates are widened until the k-th distance is strictly inside them. Never O(N^2) memory: a
    KD-tree on unit vectors (scipy), else a search in blocks of rows (`use_scipy=False`, O(N^2) time).
    """
    la, lo = np.meshgrid(np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64), indexing="ij")
    la, lo = la.ravel(), lo.ravel()
    n = la.size
    k = min(int(k), n)
    if k < 1:
        raise ValueError(f"the number of neighbours must be at least 1, got {k}")
    try:
        if not use_scipy:
            raise ImportError
        import scipy.spatial  # noqa: F401
        xyz = _unit_vectors(lats, lons)
        search = lambda m: _candidates_kdtree(xyz, m)
    except ImportError:
        search = lambda m: _candidates_chunked(la, lo, m)
    m = min(n, k + max(8, k // 2))
    rows = np.arange(n)
    while True:
        cand = search(m)  # (N, m), the m nearest in some order (ties at the edge arbitrary)
        km = np.round(haversine_km(la[:, None], lo[:, None], la[cand], lo[cand]), NEIGHBOUR_KM_DECIMALS)
        order = np.lexsort((cand, cand != rows[:, None], km), axis=1)  # by km, then self first, then index
        cand = np.take_along_axis(cand, order, 1)
        km = np.take_along_axis(km, order, 1)
        # complete when every row's k-th distance is strictly nearer than the farthest candidate
        # (so no cell outside the candidates could tie with it), or when the candidates are every cell
        if m == n or np.all(km[:, k - 1] < km[:, m - 1]):
            break
        m = min(n, 2 * m)
    index, dist = np.ascontiguousarray(cand[:, :k]), haversine_km(la[:, None], lo[:, None], la[cand[:, :k]], lo[cand[:, :k]])
    if not np.all(index[:, 0] == rows):  # only two cells at one point (a pole row) could do this; self-first sort prevents it
        raise ValueError("nearest_cells: a cell is not its own first neighbour")
    return index, dist
