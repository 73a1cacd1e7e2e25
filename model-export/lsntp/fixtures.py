"""Small real data and tiny run configurations, for the tests (conftest.py) and the Java build's
parity fixtures (parity_fixtures.py): one definition of both."""
from __future__ import annotations

import os

import numpy as np

from .config import RunConfig, parse
from .paths import RAW_DATA_DIR

ERA5 = os.path.join(RAW_DATA_DIR, "era5-t2m-uk-2019-03-01_24-hourly.grib")  # data/README.md


def write_small_era5(path: str) -> str:
    """A real 60-hour, 9 x 12 cut of ERA5 2 m temperature (data/raw/'s ERA5 file) written as CF NetCDF to path."""
    import xarray as xr
    ds = xr.open_dataset(ERA5, engine="cfgrib", backend_kwargs={"indexpath": ""})
    da = ds["t2m"].isel(time=slice(0, 60), latitude=slice(10, 19), longitude=slice(20, 32))
    out = xr.Dataset({"t2m": (("time", "latitude", "longitude"), da.values.astype(np.float32), {"units": "K"})},
                     coords={"time": da["valid_time"].values, "latitude": da["latitude"].values, "longitude": da["longitude"].values})
    out.to_netcdf(path)
    return str(path)


def tiny_config(data_path: str, kind: str = "lsntp", model: dict | None = None) -> RunConfig:
    """A run of `kind` on the small cut: 3 frames in, 2 out, hidden 4, one epoch of batches of 4
    (`model`: further model keys, e.g. the sparse graph's)."""
    return parse({"name": "tiny", "data": {"path": data_path, "grid_id": "test-grid", "val_start": "2019-03-02T00:00",
                                           "test_start": "2019-03-02T12:00", "alpha": 3, "beta": 2},
                  "model": {"kind": kind, "hidden": 4, "embed_dim": 8, "down_channels": 4, "nsa_hidden": 4,
                            **(model or {})},
                  "train": {"epochs": 1, "batch": 4}})


NCL_TIME_UNITS = "hours since 1900-01-01 00:00"
NCL_FILL = -999.0


def write_ncl_like(src_nc: str, path: str) -> dict:
    """The small real cut (write_small_era5) as a NetCDF file with the defects of a typical NCL sample:
    the time on an integer `timestep` axis without units (hours since 1900-01-01), missing cells
    stored as _FillValue in some frames, a dropped step (a gap) and a step with every cell missing.
    Returns what an ingest of it must produce: the valid times kept, the dropped and the skipped time,
    and the (frame index in the file, row, col) of each missing cell."""
    import xarray as xr
    with xr.open_dataset(src_nc) as src:
        vals = src["t2m"].values.astype(np.float32)  # (60, 9, 12)
        times = src["time"].values.astype("datetime64[ns]")
        lats, lons = src["latitude"].values, src["longitude"].values
    dropped, empty = 20, 33
    dropped_time = times[dropped]
    keep = np.array([i for i in range(len(times)) if i != dropped])
    vals, times = vals[keep].copy(), times[keep]
    empty_in_file = int(np.flatnonzero(keep == empty)[0])
    holes = [(2, 0, 0), (2, 4, 5), (7, 8, 11), (40, 3, 3)]  # frame index in the file, row, col
    for f, r, c in holes:
        vals[f, r, c] = np.nan
    vals[empty_in_file] = np.nan
    hours = ((times - np.datetime64("1900-01-01T00:00", "ns")) // np.timedelta64(1, "h")).astype(np.int32)
    ds = xr.Dataset({"tas": (("timestep", "lat", "lon"), vals, {"units": "K", "long_name": "2 m temperature"})},
                    coords={"timestep": ("timestep", hours), "lat": ("lat", lats, {"units": "degrees_north"}),
                            "lon": ("lon", lons, {"units": "degrees_east"})},
                    attrs={"title": "NCL-style sample"})
    ds.to_netcdf(path, encoding={"tas": {"_FillValue": NCL_FILL}, "timestep": {"dtype": "int32"}})
    return {"times": np.delete(times, empty_in_file), "dropped": dropped_time, "empty": times[empty_in_file],
            "holes": holes, "empty_in_file": empty_in_file}
