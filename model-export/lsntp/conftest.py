"""Shared fixtures: small real data cut from the shared ERA5 file (or the shipped demo frames)."""
import os

import numpy as np
import pytest
import torch

from .config import PROJECT_ROOT

SHARED_ERA5 = os.path.join(PROJECT_ROOT, "..", "shared", "data", "era5-t2m-uk-2019-03-01_24-hourly.grib")
SHIPPED_FRAMES = os.path.join(PROJECT_ROOT, "data", "frames", "era5-uk-2019-03.avro")

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def era5_small_nc(tmp_path_factory):
    """A real 60-hour, 9 x 12 cut of ERA5 2 m temperature written as CF NetCDF."""
    import xarray as xr
    path = tmp_path_factory.mktemp("data") / "era5-small.nc"
    if os.path.exists(SHARED_ERA5):
        ds = xr.open_dataset(SHARED_ERA5, engine="cfgrib", backend_kwargs={"indexpath": ""})
        da = ds["t2m"].isel(time=slice(0, 60), latitude=slice(10, 19), longitude=slice(20, 32))
        out = xr.Dataset({"t2m": (("time", "latitude", "longitude"), da.values.astype(np.float32), {"units": "K"})},
                         coords={"time": da["valid_time"].values, "latitude": da["latitude"].values, "longitude": da["longitude"].values})
    else:  # a user's clone has no ../shared: the shipped demo frames are the same real data
        from .ingest import read
        recs = read(SHIPPED_FRAMES)[:60]
        r0 = recs[0]
        vals = np.stack([np.frombuffer(r["values"], "<f4").reshape(r0["height"], r0["width"]) for r in recs])[:, 10:19, 20:32]
        lats = r0["lat0"] + r0["dlat"] * np.arange(r0["height"])
        lons = r0["lon0"] + r0["dlon"] * np.arange(r0["width"])
        times = np.array([np.datetime64(r["valid_time"].replace(tzinfo=None), "ns") for r in recs])
        out = xr.Dataset({"t2m": (("time", "latitude", "longitude"), vals, {"units": "K"})},
                         coords={"time": times, "latitude": lats[10:19], "longitude": lons[20:32]})
    out.to_netcdf(path)
    return str(path)


@pytest.fixture
def small_config(era5_small_nc):
    from .config import parse
    return parse({"name": "tiny", "data": {"path": era5_small_nc, "grid_id": "test-grid", "val_start": "2019-03-02T00:00",
                                           "test_start": "2019-03-02T12:00", "alpha": 3, "beta": 2},
                  "model": {"kind": "lsntp", "hidden": 4, "embed_dim": 8, "down_channels": 4, "nsa_hidden": 4},
                  "train": {"epochs": 1, "batch": 4}})
