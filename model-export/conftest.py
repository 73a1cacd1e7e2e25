"""Fixtures shared by the library's tests (lsntp/) and the study's (lsntp_study/): a small real data cut."""
import pytest
import torch

from lsntp.fixtures import tiny_config, write_ncl_like, write_small_era5

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def era5_small_nc(tmp_path_factory):
    """A real 60-hour, 9 x 12 cut of ERA5 2 m temperature written as CF NetCDF."""
    return write_small_era5(str(tmp_path_factory.mktemp("data") / "era5-small.nc"))


@pytest.fixture
def small_config(era5_small_nc):
    return tiny_config(era5_small_nc)


@pytest.fixture(scope="session")
def ncl_like_nc(era5_small_nc, tmp_path_factory):
    """That cut as an NCL-style NetCDF file: `timestep` axis without units, fill values, a gap, an all-missing step.
    Returns (path, what an ingest must produce: fixtures.write_ncl_like)."""
    path = str(tmp_path_factory.mktemp("ncl") / "ncl-sample.nc")
    return path, write_ncl_like(era5_small_nc, path)
