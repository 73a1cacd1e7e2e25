"""The scaling benchmark's model builder (tiny grids) and its plot."""
import json
import os

import numpy as np
import onnx
import pytest

from lsntp import config
from lsntp.test_export import assert_forecast_dims, run_graph

from . import scaling
from .__main__ import main

# every key export.py writes for a trained model; a scaling model must carry them all
EXPORT_KEYS = ("model_name", "model_version", "model_label", "grid_id", "architecture", "alpha", "beta", "step_hours",
               "grid_height", "grid_width", "grid_lat0", "grid_lon0", "grid_dlat", "grid_dlon", "units", "input", "output",
               "normalisation", "missing_fill", "training_period", "validation_metrics", "weights_sha256", "source_data",
               "source_variable", "graph_form", "graph_k", "graph_nodes", "producer", "command")


def test_scaling_models_on_tiny_grids(tmp_path, capsys):
    out = tmp_path / "scaling"
    assert main(["scaling-models", "--out", str(out), "--sizes", "5x7", "--forms", "sparse,dense", "--k", "4", "--seed", "3"]) == 0
    assert "sparse 5x7: 12 graph nodes, k 4" in capsys.readouterr().err
    listing = json.loads((out / "scaling-models.json").read_text())
    models = {(m["form"], m["height"], m["width"]): m for m in listing["models"]}
    assert set(models) == {("sparse", 5, 7), ("dense", 5, 7)}
    # 7x9 -> 4x5 = 20 graph nodes, a 1,600-byte dense constant: over a 1,000-byte limit it is skipped, not built
    skipped = tmp_path / "skipped"
    assert main(["scaling-models", "--out", str(skipped), "--sizes", "7x9", "--forms", "dense", "--dense-limit-gb", "1e-6"]) == 0
    assert "dense 7x9: skipped: (I + A) would be" in capsys.readouterr().err
    (entry,) = json.loads((skipped / "scaling-models.json").read_text())["models"]
    assert entry["graph_nodes"] == 20 and "over the 1e-06 GB limit" in entry["skipped"] and not (skipped / "dense-7x9").exists()
    era5 = config.load(scaling.ERA5_CONFIG)
    for key, m in models.items():
        if "skipped" in m:
            continue
        form, h, w = key
        path = out / m["path"]
        assert path == out / f"{form}-{h}x{w}" / "model.onnx" and m["file_bytes"] == os.path.getsize(path)
        assert m["cells"] == h * w and m["graph_nodes"] == ((h + 1) // 2) * ((w + 1) // 2) and m["parameters"] > 0
        assert m["k"] == (4 if form == "sparse" else m["graph_nodes"]) and m["export_seconds"] >= 0
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
        meta = {p.key: p.value for p in proto.metadata_props}
        assert set(EXPORT_KEYS) <= set(meta) and all(meta[k] for k in EXPORT_KEYS if k != "command")
        assert meta["model_name"] == "lsntp-scaling" and "cost measurement only" in meta["training_period"]
        assert (meta["grid_height"], meta["grid_width"]) == (str(h), str(w))
        assert (float(meta["grid_lat0"]), float(meta["grid_lon0"]), float(meta["grid_dlat"]), float(meta["grid_dlon"])) == (60.0, -10.0, -0.25, 0.25)
        assert (meta["missing_fill"], meta["units"], meta["alpha"], meta["beta"]) == ("frame-mean", "K", str(era5.data.alpha), str(era5.data.beta))
        assert (meta["graph_form"], meta["graph_k"], meta["graph_nodes"]) == (form, str(m["k"]), str(m["graph_nodes"]))
        arch = json.loads(meta["architecture"])
        for field in ("hidden", "kernel", "downsample", "embed_dim", "down_channels", "layers", "nsa_hidden"):
            assert arch[field] == getattr(era5.model, field), field  # the ERA5 configuration's architecture
        assert arch["graph"] == form
        assert_forecast_dims(proto, era5.data.beta, h, w)
        parity = json.loads((path.parent / "parity.json").read_text())
        assert parity["input_shape"] == [1, era5.data.alpha, h, w] and parity["expected_shape"] == [1, era5.data.beta, h, w]
        if form == "sparse":  # the whole model in the numpy interpreter reproduces PyTorch's forecast
            x = np.fromfile(path.parent / "parity-input.f32", "<f4").reshape(parity["input_shape"])
            want = np.fromfile(path.parent / "parity-expected.f32", "<f4").reshape(parity["expected_shape"])
            assert 150.0 < want.min() and want.max() < 350.0  # the Java check's kelvin range
            np.testing.assert_allclose(run_graph(proto, x), want, atol=1e-3)


def test_scaling_models_refuses_bad_sizes(tmp_path, capsys):
    assert main(["scaling-models", "--out", str(tmp_path), "--sizes", "33by49"]) == 2
    assert "--sizes takes HxW" in capsys.readouterr().err
    assert main(["scaling-models", "--out", str(tmp_path), "--forms", "dense,csr"]) == 2
    assert "--forms" in capsys.readouterr().err


def test_scaling_plot_writes_a_png(tmp_path):
    csv_path = tmp_path / "results.csv"
    csv_path.write_text("form,height,width,cells,graph_nodes,k,file_bytes,session_mb,latency_b1_ms,latency_b16_ms\n"
                        "dense,33,49,1617,425,425,1242767,40.5,12.0,95.0\n"
                        "sparse,33,49,1617,425,9,567367,30.1,10.5,80.0\n"
                        "dense,250,500,125000,31250,31250,,,,\n")  # a skipped dense model: empty cells
    png = tmp_path / "plots" / "scaling.png"
    assert main(["scaling-plot", str(csv_path), "--out", str(png)]) == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    rows = scaling.read_results(str(csv_path))
    assert rows[2]["latency_b1_ms"] is None and rows[1]["k"] == 9.0


def test_scaling_plot_names_a_missing_column(tmp_path, capsys):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("form,height,width\ndense,1,2\n")
    assert main(["scaling-plot", str(csv_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "missing column(s) cells" in capsys.readouterr().err


@pytest.mark.parametrize("text,want", [("33x49", [(33, 49)]), ("33x49, 150X280", [(33, 49), (150, 280)])])
def test_parse_sizes(text, want):
    assert scaling.parse_sizes(text) == want


def test_a_skipped_model_keeps_its_row_with_empty_measurements(tmp_path):
    # no model to time: measure must not start a JVM, and the row still says what was skipped
    listing = {"models": [{"form": "dense", "height": 250, "width": 500, "cells": 125000, "graph_nodes": 31500,
                           "k": 31500, "skipped": "over the limit"}]}
    (tmp_path / "scaling-models.json").write_text(json.dumps(listing))
    rows = scaling.measure(str(tmp_path), str(tmp_path / "out" / "scaling.csv"), threads=2, java_cmd=["false"])
    assert rows[0]["latency_b1_ms"] == "" and rows[0]["cells"] == 125000
    assert scaling.read_results(str(tmp_path / "out" / "scaling.csv"))[0]["latency_b1_ms"] is None
    assert "| dense | 250 x 500 | 125,000 | 31,500 | 31,500 | skipped |" in scaling.markdown_table(rows)


def test_fewer_timed_runs_for_big_grids():
    assert scaling.repeats_for(1_617) == 30 and scaling.repeats_for(42_000) == 10 and scaling.repeats_for(250_000) == 5


def test_synthetic_frames_ingest_on_the_scaling_grid(tmp_path):
    import xarray as xr
    path = scaling.write_synthetic_frames(str(tmp_path / "f.nc"), 6, 8, 5)
    with xr.open_dataset(path) as ds:
        assert ds["t2m"].shape == (5, 6, 8) and ds["latitude"].values[0] == 60.0 and ds["longitude"].values[1] == -9.75
        assert 250 < float(ds["t2m"].mean()) < 310 and (np.diff(ds["time"].values) == np.timedelta64(1, "h")).all()


def test_a_sparse_model_whose_neighbour_sum_runs_in_blocks_exports(tmp_path):
    # 66 x 98 cells, k = 115: the neighbour sum of training runs in several blocks; torch 1.13's
    # exporter failed on that (IndexError in its peephole pass) until export traced one block
    entry = scaling.export_one("sparse", 66, 98, 115, 0, str(tmp_path), "test", 2e9)
    assert "skipped" not in entry and entry["k"] == 115 and entry["graph_nodes"] == 33 * 49
    onnx.checker.check_model(onnx.load(str(tmp_path / entry["path"])))


def test_a_grid_timed_at_batch_1_only_says_batch_16_was_not_run():
    row = {"form": "sparse", "height": 1000, "width": 1000, "cells": 1_000_000, "graph_nodes": 250_000, "k": 9,
           "file_bytes": 4.4e7, "session_mb": 1400.0, "latency_b1_ms": 3500.0, "latency_b16_ms": ""}
    assert scaling.markdown_table([row]).splitlines()[-1] == (
        "| sparse | 1000 x 1000 | 1,000,000 | 250,000 | 9 | 44.0 MB | 1400 MB | 3500 ms | not run |")
