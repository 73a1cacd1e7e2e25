"""Train a few steps, then export: the ONNX file must carry LSConv nodes, their function, one shared
adjacency constant and the metadata the streaming job checks. (ONNX Runtime's numbers are checked
against PyTorch by the Java build's ModelParityTest: Debian has no Python onnxruntime.)"""
import json
import os

import numpy as np
import onnx
import pytest

from . import export, train
from .ls_conv import DOMAIN


@pytest.fixture
def checkpoint(small_config, tmp_path):
    train.train(small_config, str(tmp_path / "run"), max_steps=2, quiet=True)
    return str(tmp_path / "run" / "best.pt")


def test_export_round_trip(checkpoint, tmp_path, small_config):
    out = str(tmp_path / "m" / "model.onnx")
    export.export(checkpoint, out, version="9.9.9")
    proto = onnx.load(out)
    onnx.checker.check_model(proto)
    ls_nodes = [n for n in proto.graph.node if n.op_type == "LSConv" and n.domain == DOMAIN]
    assert len(ls_nodes) == 2 * (3 + 2)  # two LS-Conv layers per side, alpha + beta steps
    assert [f.name for f in proto.functions if f.domain == DOMAIN] == ["LSConv"]
    assert any(o.domain == DOMAIN for o in proto.opset_import)
    # (I + A)^T: one N x N initializer, the first input after X of every LSConv node
    graph_inputs = {n.input[1] for n in ls_nodes}
    assert len(graph_inputs) == 1
    init = {i.name: i for i in proto.graph.initializer}
    n_nodes = 5 * 6
    assert list(init[graph_inputs.pop()].dims) == [n_nodes, n_nodes]
    assert sum(1 for i in proto.graph.initializer if list(i.dims) == [n_nodes, n_nodes]) == 1
    assert [i.name for i in proto.graph.input] == ["frames"] and [o.name for o in proto.graph.output] == ["forecast"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 9, 12]
    meta = {p.key: p.value for p in proto.metadata_props}
    for key in ("model_name", "model_version", "alpha", "beta", "step_hours", "grid_height", "grid_width", "grid_lat0",
                "grid_lon0", "grid_dlat", "grid_dlon", "units", "training_period", "validation_metrics", "weights_sha256",
                "architecture", "grid_id"):
        assert meta.get(key), key
    assert (meta["alpha"], meta["beta"], meta["grid_height"], meta["grid_width"], meta["units"]) == ("3", "2", "9", "12", "K")
    assert meta["model_version"] == "9.9.9" and meta["grid_id"] == "test-grid"
    assert float(meta["grid_dlat"]) == -0.25 and json.loads(meta["architecture"])["kind"] == "lsntp"
    assert len(meta["weights_sha256"]) == 64
    folder = os.path.dirname(out)
    inp = np.fromfile(os.path.join(folder, "parity-input.f32"), "<f4")
    expected = np.fromfile(os.path.join(folder, "parity-expected.f32"), "<f4")
    assert inp.size == 3 * 9 * 12 and expected.size == 2 * 9 * 12
    assert 250 < inp.mean() < 300 and 250 < expected.mean() < 300


def test_file_does_not_grow_with_lsconv_calls(small_config, tmp_path):
    sizes = []
    for alpha in (3, 6):
        cfg = small_config.__class__(**{**small_config.__dict__, "data": small_config.data.__class__(**{**small_config.data.__dict__, "alpha": alpha})})
        train.train(cfg, str(tmp_path / f"r{alpha}"), max_steps=1, quiet=True)
        proto = onnx.load(export.export(str(tmp_path / f"r{alpha}" / "best.pt"), str(tmp_path / f"e{alpha}" / "model.onnx")))
        big_constants = [n for n in proto.graph.node if n.op_type == "Constant" and any(len(a.t.raw_data) > 512 for a in n.attribute)]
        assert not big_constants  # weights live in initializers, once
        sizes.append(sum(len(i.raw_data) for i in proto.graph.initializer))
    assert sizes[1] == sizes[0]  # twice the LS-Conv calls, the same weights and the same one adjacency


def test_resume_continues_from_last_checkpoint(small_config, tmp_path):
    run = str(tmp_path / "run")
    cfg2 = small_config.__class__(**{**small_config.__dict__, "train": small_config.train.__class__(epochs=2, batch=4)})
    train.train(small_config, run, quiet=True)
    hist = train.train(cfg2, run, resume=True, quiet=True)
    assert [e["epoch"] for e in hist["epochs"]] == [1, 2]


def test_baselines_export_in_standard_operators(small_config, tmp_path):
    cfg = small_config.__class__(**{**small_config.__dict__, "model": small_config.model.__class__(kind="convgru", hidden=4, down_channels=4)})
    train.train(cfg, str(tmp_path / "g"), max_steps=1, quiet=True)
    proto = onnx.load(export.export(str(tmp_path / "g" / "best.pt"), str(tmp_path / "g" / "model.onnx")))
    onnx.checker.check_model(proto)
    assert {n.domain for n in proto.graph.node} == {""} and not proto.functions
    assert [o.domain for o in proto.opset_import] == [""]  # no ai.lsntp import without an LSConv node
    assert {p.key: p.value for p in proto.metadata_props}["model_name"] == "ConvGRU"


def test_resume_after_early_stop_trains_no_further(small_config, tmp_path):
    run = str(tmp_path / "run")
    patient = small_config.train.__class__(epochs=3, batch=4, patience=0)  # stops after its first epoch
    cfg = small_config.__class__(**{**small_config.__dict__, "train": patient})
    first = train.train(cfg, run, quiet=True)
    assert len(first["epochs"]) == 1 and "early stop" in first["finished"]
    again = train.train(cfg, run, resume=True, quiet=True)
    assert len(again["epochs"]) == 1
