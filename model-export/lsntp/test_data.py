"""Reading the shared files, windows, time splits, normalisation, and clear errors on bad input."""
import numpy as np
import pytest
import xarray as xr

from .data import (MISSING_FILL, DataError, MinMax, WindowDataset, fill_missing, load_series, prepare, read_series,
                   split_by_time, time_gaps, window_starts)


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
        ds = WindowDataset(s, part, alpha, beta)
        for i in range(len(ds)):
            first = part[0] + int(ds.starts[i])
            last = first + alpha + beta - 1
            assert part[0] <= first and last < part[1], (part, first, last)
            seen.append(first)
    assert len(seen) == sum(max(0, (p[1] - p[0]) - alpha - beta + 1) for p in (split.train, split.val, split.test))
    assert split.train[1] == split.val[0] and split.val[1] == split.test[0]


def _counting_series(n=10):
    """Frame t holds the value t everywhere, so a window's contents name its frames."""
    from .data import Series
    times = np.arange("2020-01-01T00", f"2020-01-01T{n:02d}", dtype="datetime64[h]").astype("datetime64[ns]")
    values = np.repeat(np.arange(n, dtype=np.float32), 6).reshape(n, 2, 3)
    return Series(values, times, np.array([50.0, 49.0]), np.array([0.0, 1.0, 2.0]), np.zeros((2, 3), bool), "t2m", "test")


def test_window_contents_follow_time_order():
    s = _counting_series(10)
    ds = WindowDataset(s, (2, 10), alpha=3, beta=2)  # frames 2..9
    assert list(ds.starts) == [0, 1, 2, 3]
    for i in range(len(ds)):
        x, y = ds[i]
        first = 2 + i
        assert [float(f[0, 0]) for f in x] == [first, first + 1, first + 2]  # oldest first
        assert [float(f[0, 0]) for f in y] == [first + 3, first + 4]  # then the beta frames right after
        np.testing.assert_array_equal(ds.target_times(i), s.times[first + 3:first + 5])
    xs, ys = ds.arrays()
    assert xs.shape == (4, 3, 2, 3) and ys.shape == (4, 2, 2, 3)
    assert list(window_starts(10, 3, 2)) == list(range(6))
    with pytest.raises(DataError, match="alpha"):
        window_starts(10, 0, 2)


def test_normalisation_uses_training_values_only(small_config):
    prepared = prepare(small_config.data)
    v = prepared.series.values
    a, b = prepared.split.train
    assert (prepared.norm.lo, prepared.norm.hi) == (float(v[a:b].min()), float(v[a:b].max()))
    assert v[b:].min() < prepared.norm.lo or v[b:].max() > prepared.norm.hi  # the rest of the series would have moved it
    assert prepared.step_change_k == pytest.approx(float(np.std(np.diff(v[a:b], axis=0))), rel=1e-6)
    norm = MinMax(260.0, 280.0)
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


def test_training_refuses_a_series_with_gaps_and_names_them(tmp_path):
    t = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T03", "2020-01-01T04", "2020-01-01T05"], dtype="datetime64[ns]")
    path = _nc(tmp_path, "gap.nc", np.ones((5, 2, 3), np.float32) * 280, times=t)
    with pytest.raises(DataError, match=r"1 gap\(s\) in the 1 h steps .*2020-01-01T01:00Z \.\. 2020-01-01T03:00Z \(1 missing\).*gap-free"):
        load_series(path)
    assert read_series(path).times.size == 5  # the ingest reads it as it is


def test_irregular_times_are_refused(tmp_path):
    t = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T02", "2020-01-01T03", "2020-01-01T04"], dtype="datetime64[ns]")
    t[2] += np.timedelta64(30, "m")
    with pytest.raises(DataError, match="irregular time steps: the series steps every 1 h but also by 0.5 h, 1.5 h"):
        read_series(_nc(tmp_path, "odd.nc", np.ones((5, 2, 3), np.float32) * 280, times=t))


def test_times_must_increase():
    t = np.array(["2020-01-01T00", "2020-01-01T02", "2020-01-01T01"], dtype="datetime64[ns]")
    with pytest.raises(DataError, match="not strictly increasing: 2020-01-01T02:00Z is followed by 2020-01-01T01:00Z"):
        time_gaps(t)


def test_training_refuses_a_frame_with_every_cell_missing(tmp_path):
    v = np.full((5, 2, 3), 280.0, np.float32)
    v[3] = np.nan
    with pytest.raises(DataError, match=r"1 frame\(s\) of 't2m' have every cell missing \(2020-01-01T03:00Z\)"):
        load_series(_nc(tmp_path, "hole.nc", v))


def test_missing_cells_are_filled_with_their_frames_mean():
    assert MISSING_FILL == "frame-mean"
    v = np.array([[[270.0, np.nan, 272.0]], [[280.0, 281.0, np.nan]]], np.float32)  # two frames of 1 x 3
    filled = fill_missing(v)
    np.testing.assert_array_equal(filled, [[[270.0, 271.0, 272.0]], [[280.0, 281.0, 280.5]]])  # each frame its own mean
    assert np.isnan(v).sum() == 2  # the input is left alone
    with pytest.raises(DataError, match="every cell missing"):
        fill_missing(np.full((1, 2, 2), np.nan, np.float32))
    s = _counting_series(6)
    s.values[4, 1, 2] = np.nan
    s.values[4, 0, 0] = 10.0  # frame 4 now holds 10, 4, 4, 4, 4 and a hole: the hole gets 26 / 5
    x, y = WindowDataset(s, (0, 6), alpha=3, beta=2)[1]
    assert y[0, 1, 2] == pytest.approx(26.0 / 5) and y[1, 1, 2] == 5.0  # y[0] is frame 4
    assert x[0, 1, 2] == 1.0  # frames without holes are untouched


def test_unreadable_file_is_named(tmp_path):
    p = tmp_path / "junk.nc"
    p.write_bytes(b"not a netcdf file")
    with pytest.raises(DataError, match="junk.nc"):
        load_series(str(p))
