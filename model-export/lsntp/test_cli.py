"""The command line: bad input gets a clear error naming the problem and a non-zero exit."""
import subprocess
import sys

import pytest

from .__main__ import main
from .config import ConfigError, load


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lsntp", *args], capture_output=True, text=True,
                          cwd=__file__.rsplit("/lsntp/", 1)[0])


def test_mismatched_config_is_named(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ndata: {path: a.nc, grid_id: g, val_start: '2020-01-01', test_start: '2020-01-02'}\nmodel: {kind: lsntp, hiden: 4}\n")
    with pytest.raises(ConfigError, match="model.hiden"):
        load(str(p))
    r = run_cli("train", str(p))
    assert r.returncode == 2 and "model.hiden" in r.stderr and "Traceback" not in r.stderr


def test_alpha_below_one_is_refused(tmp_path, capsys):
    p = tmp_path / "a.yaml"
    p.write_text("name: x\ndata: {path: a.nc, grid_id: g, val_start: '2020-01-01', test_start: '2020-01-02', alpha: 0}\n")
    assert main(["train", str(p)]) == 2
    assert "data.alpha must be at least 1" in capsys.readouterr().err


def test_missing_data_file_is_named(tmp_path, capsys):
    p = tmp_path / "m.yaml"
    p.write_text("name: x\ndata: {path: /nonexistent/t2m.grib, grid_id: g, val_start: '2020-01-01', test_start: '2020-01-02'}\n")
    assert main(["train", str(p)]) == 2
    assert "/nonexistent/t2m.grib: no such file" in capsys.readouterr().err


def test_ingest_round_trip(era5_small_nc, tmp_path):
    import numpy as np
    from .data import load_series
    from .ingest import ingest, read
    out = tmp_path / "frames.avro"
    assert ingest(era5_small_nc, str(out), grid_id="g1") == 60
    recs = read(str(out))
    s = load_series(era5_small_nc)
    r = recs[5]
    assert (r["grid_id"], r["height"], r["width"], r["units"]) == ("g1", 9, 12, "K")
    np.testing.assert_array_equal(np.frombuffer(r["values"], "<f4").reshape(9, 12), s.values[5])
    assert r["lat0"] == s.lats[0] and r["dlat"] == pytest.approx(s.lats[1] - s.lats[0])
    assert np.datetime64(r["valid_time"].replace(tzinfo=None), "ns") == s.times[5]
