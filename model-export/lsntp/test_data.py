"""Reading the shared files, windows, time splits, normalisation, and clear errors on bad input."""
import numpy as np
import pytest
import xarray as xr

from .data import DataError, MinMax, WindowDataset, load_series, split_by_time, window_starts


def test_reads_real_era5_in_file_order(era5_small_nc):
    s = load_series(era5_small_nc)
    assert s.values.shape == (60, 9, 12)
    assert s.lats[0] > s.lats[-1]  # ERA5 stores rows north to south: kept as stored
    assert 250.0 < np.nanmean(s.values) < 300.0
    assert s.step_hours == 1.0
    assert not s.mask.any()


def test_no_window_straddles_a_split(era5_small_nc):
    s = load_series(era5_small_nc)
    split = split_by_time(s.times, "2019-03-02T00:00", "2019-03-02T12:00")
    alpha, beta = 3, 2
    seen = []
    for part in (split.train, split.val, split.test):
        ds = WindowDataset(s, part, alpha, beta, fill=280.0)
        for i in range(len(ds)):
            first = part[0] + int(ds.starts[i])
            last = first + alpha + beta - 1
            assert part[0] <= first and last < part[1], (part, first, last)
            seen.append(first)
    assert len(seen) == sum(max(0, (p[1] - p[0]) - alpha - beta + 1) for p in (split.train, split.val, split.test))
    assert split.train[1] == split.val[0] and split.val[1] == split.test[0]


def test_window_contents_follow_time_order():
    vals = np.arange(10, dtype=np.float32)
    starts = window_starts(10, 3, 2)
    assert list(starts) == list(range(6))
    with pytest.raises(DataError, match="alpha"):
        window_starts(10, 0, 2)


def test_normalisation_uses_training_values_only():
    norm = MinMax.fit(np.array([260.0, 280.0]))
    assert norm.forward(270.0) == pytest.approx(0.5)
    assert norm.inverse(norm.forward(301.0)) == pytest.approx(301.0)


def _nc(tmp_path, name, values, var="t2m", units="K", times=None):
    t = times if times is not None else np.arange("2020-01-01T00", "2020-01-01T05", dtype="datetime64[h]").astype("datetime64[ns]")
    ds = xr.Dataset({var: (("time", "latitude", "longitude"), values, {"units": units})},
                    coords={"time": t, "latitude": [50.0, 49.0], "longitude": [0.0, 1.0, 2.0]})
    path = tmp_path / name
    ds.to_netcdf(path)
    return str(path)


def test_file_without_temperature_names_the_problem(tmp_path):
    path = _nc(tmp_path, "wind.nc", np.ones((5, 2, 3), np.float32), var="u10", units="m s-1")
    with pytest.raises(DataError, match="no temperature variable.*u10"):
        load_series(path)


def test_all_missing_grid_is_refused(tmp_path):
    path = _nc(tmp_path, "empty.nc", np.full((5, 2, 3), np.nan, np.float32))
    with pytest.raises(DataError, match="every cell"):
        load_series(path)


def test_missing_cells_become_the_mask_and_celsius_becomes_kelvin(tmp_path):
    v = np.full((5, 2, 3), 10.0, np.float32)
    v[2, 1, 1] = np.nan
    s = load_series(_nc(tmp_path, "c.nc", v, units="degC"))
    assert s.mask.sum() == 1 and s.mask[1, 1]
    assert np.nanmax(s.values) == pytest.approx(283.15)


def test_irregular_times_are_refused(tmp_path):
    t = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T03", "2020-01-01T04", "2020-01-01T05"], dtype="datetime64[ns]")
    with pytest.raises(DataError, match="irregular"):
        load_series(_nc(tmp_path, "gap.nc", np.ones((5, 2, 3), np.float32) * 280, times=t))


def test_unreadable_file_is_named(tmp_path):
    p = tmp_path / "junk.nc"
    p.write_bytes(b"not a netcdf file")
    with pytest.raises(DataError, match="junk.nc"):
        load_series(str(p))
