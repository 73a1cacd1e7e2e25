"""Ingest takes files as they come: an NCL-style NetCDF file (time on an integer `timestep` axis
without units, fill values, a dropped step, an all-missing step) becomes per-frame masked frames,
gaps stay gaps and every problem is reported once; PyTorch is never loaded."""
import os
import subprocess
import sys

import numpy as np
import pytest

from .fixtures import NCL_TIME_UNITS
from .ingest import read

MODEL_EXPORT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = "apt-get install python3-xarray python3-netcdf4 python3-cfgrib python3-avro"


def lsntp(*args, block=()):
    """`python3 -m lsntp ARGS` as the replay runs it, with the Python modules in `block` made unimportable."""
    code = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in block) + \
        "from lsntp.__main__ import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=MODEL_EXPORT)


def _grid(rec):
    return np.frombuffer(rec["values"], "<f4").reshape(rec["height"], rec["width"])


def test_ncl_like_file_ingests_with_time_flags(ncl_like_nc, era5_small_nc, tmp_path):
    import xarray as xr
    path, want = ncl_like_nc
    out = tmp_path / "frames.avro"
    r = lsntp("ingest", path, "--out", str(out), "--grid-id", "ncl-grid", "--time-var", "timestep", "--time-units", NCL_TIME_UNITS,
              block=("torch",))  # must not need PyTorch
    assert r.returncode == 0, r.stderr
    recs = read(str(out))
    times = np.array([np.datetime64(rec["valid_time"].replace(tzinfo=None), "ns") for rec in recs])
    np.testing.assert_array_equal(times, want["times"])  # every frame of the file but the all-missing one
    assert want["dropped"] not in times and want["empty"] not in times  # the gap stays a gap; the empty step is skipped
    with xr.open_dataset(era5_small_nc) as src:
        truth = {t: v for t, v in zip(src["time"].values.astype("datetime64[ns]"), src["t2m"].values)}
    in_file = np.insert(want["times"], want["empty_in_file"], want["empty"])  # the file's times, the empty step included
    holes = {}  # valid time -> cells missing in that frame
    for f, row, col in want["holes"]:
        holes.setdefault(in_file[f], set()).add((row, col))
    assert len(holes) == 3
    for rec, t in zip(recs, times):
        values = _grid(rec)
        if t in holes:  # the cells missing in this frame, and only those, are masked and NaN
            mask = np.frombuffer(rec["missing_mask"], np.uint8).reshape(values.shape)
            assert {tuple(ij) for ij in np.argwhere(mask == 1)} == holes[t]
            assert {tuple(ij) for ij in np.argwhere(np.isnan(values))} == holes[t]
        else:
            assert rec["missing_mask"] is None and not np.isnan(values).any()
        ok = ~np.isnan(values)
        np.testing.assert_array_equal(values[ok], truth[t][ok])
        assert (rec["grid_id"], rec["units"], rec["fill_value"]) == ("ncl-grid", "K", None)
    gap = "lsntp ingest: warning: " + path + ": 1 gap(s) in the 1 h steps, 1 frame(s) absent (last frame before .. first after): " \
          "2019-03-01T19:00Z .. 2019-03-01T21:00Z (1 missing); gaps stay gaps, no frame is made up"
    skip = "lsntp ingest: warning: " + path + ": skipped 1 frame(s) with every cell missing: 2019-03-02T09:00Z"
    assert r.stderr.count("gap(s)") == 1 and gap in r.stderr.splitlines()
    assert r.stderr.count("every cell missing") == 1 and skip in r.stderr.splitlines()
    assert r.stderr.count("warning") == 2
    assert r.stdout.strip().splitlines()[-1] == (
        f"wrote 58 TemperatureFrame records (ncl-grid, 9x12, 2019-03-01T00 .. 2019-03-03T11; 3 with missing cells "
        f"(0.1% of values), masked per frame; 1 absent in 1 gap(s); 1 all-missing skipped) to {out}")


def test_time_axis_without_units_is_named_with_the_flags_that_fix_it(ncl_like_nc, tmp_path):
    path, _ = ncl_like_nc
    r = lsntp("ingest", path, "--out", str(tmp_path / "f.avro"), "--grid-id", "g")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert (f"lsntp ingest: error: {path}: variable 'tas' has no time axis with CF units: it runs along dimension 'timestep' "
            "and its coordinate 'timestep' (int32 values 1044552 .. 1044611) has no 'units' attribute; name the variable "
            "holding its times and their units: --time-var timestep --time-units 'hours since 1900-01-01 00:00'") in r.stderr
    assert not (tmp_path / "f.avro").exists()


@pytest.mark.parametrize("flags, message", [
    (["--time-var", "timestep"], "time variable 'timestep' (int32 values 1044552 .. 1044611) has no 'units' attribute"),
    (["--time-var", "when", "--time-units", NCL_TIME_UNITS], "--time-var when: no such variable; the file has ['lat', 'lon', 'tas', 'timestep']"),
    (["--time-var", "lat", "--time-units", NCL_TIME_UNITS], "--time-var lat has dimensions ('lat',); it must run along one dimension of 'tas' other than latitude/longitude (timestep)"),
    (["--time-var", "timestep", "--time-units", "hours"], "time variable 'timestep': 'hours' are not CF time units"),
    (["--time-units", NCL_TIME_UNITS], "--time-units needs --time-var"),
])
def test_bad_time_flags_say_what_is_wrong(ncl_like_nc, tmp_path, flags, message):
    path, _ = ncl_like_nc
    r = lsntp("ingest", path, "--out", str(tmp_path / "f.avro"), "--grid-id", "g", *flags)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_start_and_end_select_frames(ncl_like_nc, tmp_path):
    from .ingest import ingest
    path, _ = ncl_like_nc
    out = str(tmp_path / "f.avro")
    assert ingest(path, out, "g", start="2019-03-02T00:00", end="2019-03-02T05:00", time_var="timestep", time_units=NCL_TIME_UNITS) == 6
    assert [r["valid_time"].hour for r in read(out)] == [0, 1, 2, 3, 4, 5]


def test_ingest_does_not_import_torch():
    code = ("import sys, lsntp.ingest, lsntp.__main__, lsntp.data\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=MODEL_EXPORT)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("packages", [("avro",), ("xarray",), ("netCDF4", "h5netcdf", "scipy")])  # the last: no NetCDF reader
def test_without_its_packages_ingest_says_what_to_install(era5_small_nc, tmp_path, packages):
    r = lsntp("ingest", era5_small_nc, "--out", str(tmp_path / "f.avro"), "--grid-id", "g", block=packages)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("lsntp ingest: error: ") and INSTALL in r.stderr


def _grid_nc(path, h, w, hours):
    """A CF NetCDF of `hours` hourly t2m frames on an h x w 0.25 degree grid, with missing cells in two frames."""
    import xarray as xr
    rng = np.random.default_rng(0)
    t2m = (275 + 10 * rng.random((hours, h, w))).astype(np.float32)
    t2m[1, 5, 7] = np.nan
    t2m[2, h - 2:, :3] = np.nan
    times = np.datetime64("2019-03-01T00:00", "ns") + np.arange(hours) * np.timedelta64(1, "h")
    xr.Dataset({"t2m": (("time", "latitude", "longitude"), t2m, {"units": "K"})},
               coords={"time": times, "latitude": 60 - 0.25 * np.arange(h), "longitude": -10 + 0.25 * np.arange(w)}).to_netcdf(path)
    return path


def test_a_frame_over_the_record_limit_is_written_as_tiles_that_make_the_same_frame(tmp_path):
    """Tiles of whole rows, each within --tile-bytes as a Kafka record (single-object value, key and Kafka's
    overhead), together exactly the frame ingest writes whole: values, and the mask where a tile has missing
    cells (the job reads a tile without a mask as one without missing cells)."""
    import io
    import avro.io
    from .ingest import KAFKA_RECORD_OVERHEAD, SINGLE_OBJECT_HEADER, frame_schema, ingest
    path = _grid_nc(str(tmp_path / "grid.nc"), 40, 60, 4)
    whole, tiled = str(tmp_path / "whole.avro"), str(tmp_path / "tiled.avro")
    assert ingest(path, whole, "ncl-grid") == 4
    assert ingest(path, tiled, "ncl-grid", tile_bytes=2048) == 4
    frames, records = read(whole), read(tiled)
    assert all(f["tile"] is None for f in frames)
    assert len(records) >= 4 * len(frames)  # 12 KB frames under 2 KB records
    assert sum(f["missing_mask"] is not None for f in frames) == 2
    assert 0 < sum(r["missing_mask"] is not None for r in records) < len(records)
    schema = frame_schema()
    by_time = {}
    for rec in records:
        buf = io.BytesIO()
        avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
        assert KAFKA_RECORD_OVERHEAD + len(b"ncl-grid") + SINGLE_OBJECT_HEADER + buf.tell() <= 2048
        by_time.setdefault(rec["valid_time"], []).append(rec)
    for f in frames:
        parts = by_time[f["valid_time"]]
        assert [p["tile"]["index"] for p in parts] == list(range(parts[0]["tile"]["count"]))
        assert sum(p["tile"]["rows"] for p in parts) == f["height"] and {p["tile"]["cols"] for p in parts} == {f["width"]}
        values = np.concatenate([np.frombuffer(p["values"], "<f4").reshape(p["tile"]["rows"], -1) for p in parts])
        np.testing.assert_array_equal(values, _grid(f))  # NaN where missing, in the same cells
        mask = np.concatenate([np.zeros((p["tile"]["rows"], f["width"]), np.uint8) if p["missing_mask"] is None
                               else np.frombuffer(p["missing_mask"], np.uint8).reshape(p["tile"]["rows"], -1) for p in parts])
        want = np.zeros_like(mask) if f["missing_mask"] is None else np.frombuffer(f["missing_mask"], np.uint8).reshape(mask.shape)
        np.testing.assert_array_equal(mask, want)
        assert all({k: v for k, v in p.items() if k not in ("values", "missing_mask", "tile")}
                   == {k: v for k, v in f.items() if k not in ("values", "missing_mask", "tile")} for p in parts)


def test_the_default_tile_size_is_the_jobs_record_limit():
    from .ingest import default_tile_bytes
    assert default_tile_bytes() == 1048576


def test_a_tile_limit_too_small_is_refused(ncl_like_nc, tmp_path):
    path, _ = ncl_like_nc
    r = lsntp("ingest", path, "--out", str(tmp_path / "f.avro"), "--grid-id", "g", "--time-var", "timestep",
              "--time-units", NCL_TIME_UNITS, "--tile-bytes", "100")
    assert r.returncode == 2 and "--tile-bytes must be at least 1024, got 100" in r.stderr, r.stderr
