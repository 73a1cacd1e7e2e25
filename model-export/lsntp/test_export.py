"""Train a few steps, then export: the ONNX file must carry LSConv nodes, their function, one shared
adjacency constant (dense) or neighbour list (sparse) and the metadata the streaming job checks.
(ONNX Runtime's numbers are checked against PyTorch by the Java build's ModelParityTest: Debian has
no Python onnxruntime; here a small numpy interpreter runs the LSConv function bodies and whole models.)"""
import json
import os

import numpy as np
import onnx
import pytest

from . import export, train
from .export import DOMAIN


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
    assert_forecast_dims(proto, 2, 9, 12)
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


def assert_forecast_dims(proto, beta, h, w):
    """The output's value info: batch symbolic (named as the input's), every other dim concrete."""
    (out,) = proto.graph.output
    dims = out.type.tensor_type.shape.dim
    batch = proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert out.name == "forecast" and len(dims) == 4
    assert dims[0].dim_param == batch == export.BATCH_DIM and not dims[0].HasField("dim_value")
    assert [d.dim_value for d in dims[1:]] == [beta, h, w] and not any(d.HasField("dim_param") for d in dims[1:])


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
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["model_name"] == "ConvGRU" and (meta["graph_form"], meta["graph_k"]) == ("none", "0")
    assert_forecast_dims(proto, 2, 9, 12)


def test_sparse_graph_export_round_trip_and_parity(small_config, tmp_path):
    """A sparse-graph LS-NTP trained one step and exported: the LSConv nodes take G_index (int64 N x k)
    and G_weight (N x k), one initializer each, nothing N x N; the metadata says the form; and the
    whole model, run by the numpy interpreter, reproduces PyTorch's forecast of the parity window."""
    import dataclasses
    cfg = dataclasses.replace(small_config, model=dataclasses.replace(small_config.model, graph="sparse", graph_k=6))
    train.train(cfg, str(tmp_path / "s"), max_steps=1, quiet=True)
    out = export.export(str(tmp_path / "s" / "best.pt"), str(tmp_path / "s" / "model.onnx"))
    proto = onnx.load(out)
    onnx.checker.check_model(proto)
    fn = [f for f in proto.functions if f.domain == DOMAIN]
    assert len(fn) == 1 and list(fn[0].input[:3]) == ["X", "G_index", "G_weight"]
    assert {"Gather", "Mul", "ReduceSum"} <= {n.op_type for n in fn[0].node} and "MatMul" not in {n.op_type for n in fn[0].node}
    ls_nodes = [n for n in proto.graph.node if n.op_type == "LSConv" and n.domain == DOMAIN]
    assert len(ls_nodes) == 2 * (3 + 2) and len({tuple(n.input[1:3]) for n in ls_nodes}) == 1  # shared, once
    init = {i.name: i for i in proto.graph.initializer}
    index, weight = (init[name] for name in ls_nodes[0].input[1:3])
    n_nodes = 5 * 6
    assert (index.data_type, list(index.dims)) == (onnx.TensorProto.INT64, [n_nodes, 6])
    assert (weight.data_type, list(weight.dims)) == (onnx.TensorProto.FLOAT, [n_nodes, 6])
    assert not any(list(i.dims) == [n_nodes, n_nodes] for i in proto.graph.initializer)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert (meta["graph_form"], meta["graph_k"], meta["graph_nodes"]) == ("sparse", "6", str(n_nodes))
    arch = json.loads(meta["architecture"])
    assert (arch["graph"], arch["graph_k"]) == ("sparse", 6) and "sparse graph" in meta["model_label"]
    assert meta["missing_fill"] == "frame-mean" and len(meta["weights_sha256"]) == 64
    assert_forecast_dims(proto, 2, 9, 12)
    folder = os.path.dirname(out)
    x = np.fromfile(os.path.join(folder, "parity-input.f32"), "<f4").reshape(1, 3, 9, 12)
    expected = np.fromfile(os.path.join(folder, "parity-expected.f32"), "<f4").reshape(1, 2, 9, 12)
    np.testing.assert_allclose(run_graph(proto, x), expected, atol=1e-3)  # the Java parity test's tolerance, in K


def test_dense_export_runs_in_the_numpy_interpreter_as_in_pytorch(checkpoint, tmp_path):
    out = export.export(checkpoint, str(tmp_path / "d" / "model.onnx"))
    proto = onnx.load(out)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert (meta["graph_form"], meta["graph_k"], meta["graph_nodes"]) == ("dense", "30", "30")
    x = np.fromfile(os.path.join(tmp_path, "d", "parity-input.f32"), "<f4").reshape(1, 3, 9, 12)
    expected = np.fromfile(os.path.join(tmp_path, "d", "parity-expected.f32"), "<f4").reshape(1, 2, 9, 12)
    np.testing.assert_allclose(run_graph(proto, x), expected, atol=1e-3)


def test_resume_after_early_stop_trains_no_further(small_config, tmp_path):
    run = str(tmp_path / "run")
    patient = small_config.train.__class__(epochs=3, batch=4, patience=0)  # stops after its first epoch
    cfg = small_config.__class__(**{**small_config.__dict__, "train": patient})
    first = train.train(cfg, run, quiet=True)
    assert len(first["epochs"]) == 1 and "early stop" in first["finished"]
    again = train.train(cfg, run, resume=True, quiet=True)
    assert len(again["epochs"]) == 1


# --- The exported LS-Conv function body, evaluated in numpy, against the PyTorch module -------------
# Debian has no Python onnxruntime, so a small interpreter of the standard operators the body uses
# runs it. Every ablation exports a tiny model; each LSConv node's function body is then fed the
# node's own parameter inputs (initializers of the exported graph, bound by position to the
# function's declared inputs) and a random X, and must equal the PyTorch layer those weights came from.

def _conv(x, w, b=None, kernel_shape=None, pads=(0, 0, 0, 0), strides=(1, 1), dilations=(1, 1), group=1):
    assert tuple(dilations) == (1, 1) and group == 1, "the models use plain convolutions"
    kh, kw = w.shape[2:]
    sh, sw = strides
    assert kernel_shape is None or tuple(kernel_shape) == (kh, kw)
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for p in range(kh):
        for q in range(kw):  # cross-correlation, as ONNX Conv
            y += np.einsum("bchw,fc->bfhw", xp[:, :, p:p + sh * (oh - 1) + 1:sh, q:q + sw * (ow - 1) + 1:sw], w[:, :, p, q])
    return y if b is None else y + b[None, :, None, None]


def _conv_transpose(x, w, b=None, kernel_shape=None, pads=(0, 0, 0, 0), strides=(1, 1), dilations=(1, 1), group=1,
                    output_padding=(0, 0)):
    assert tuple(dilations) == (1, 1) and group == 1 and tuple(output_padding) == (0, 0)
    kh, kw = w.shape[2:]
    sh, sw = strides
    bsz, _, h, wd = x.shape
    full = np.zeros((bsz, w.shape[1], sh * (h - 1) + kh, sw * (wd - 1) + kw))
    for p in range(kh):
        for q in range(kw):  # each input cell spreads its kernel over the output
            full[:, :, p:p + sh * (h - 1) + 1:sh, q:q + sw * (wd - 1) + 1:sw] += np.einsum("bchw,cf->bfhw", x, w[:, :, p, q])
    y = full[:, :, pads[0]:full.shape[2] - pads[2], pads[1]:full.shape[3] - pads[3]]
    return y if b is None else y + b[None, :, None, None]


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for a, s0, e, st in zip(axes, starts, ends, steps):
        index[int(a)] = slice(int(s0), int(e), int(st))
    return x[tuple(index)]


def _reshape(x, shape):
    shape = [x.shape[i] if s == 0 else int(s) for i, s in enumerate(shape)]
    return x.reshape(shape)


def _instance_norm(x, scale, bias, epsilon=1e-5):
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean) / np.sqrt(var + epsilon) * scale.reshape(bshape) + bias.reshape(bshape)


NUMPY_OPS = {
    "Conv": lambda a, x, w, b=None: _conv(x, w, b, **a),
    "Reshape": lambda a, x, s: _reshape(x, s),
    "Shape": lambda a, x: np.array(x.shape, dtype=np.int64),
    "InstanceNormalization": lambda a, x, s, b: _instance_norm(x, s, b, **a),
    "Unsqueeze": lambda a, x, axes: np.expand_dims(x, tuple(int(i) for i in axes)),
    "Mul": lambda a, x, y: x * y,
    "Add": lambda a, x, y: x + y,
    "Relu": lambda a, x: np.maximum(x, 0.0),
    "Sigmoid": lambda a, x: 1.0 / (1.0 + np.exp(-x)),
    "MatMul": lambda a, x, y: x @ y,
    "Gather": lambda a, x, i: np.take(x, i, axis=a.get("axis", 0)),
    "Transpose": lambda a, x: np.transpose(x, a["perm"]),
    "ReduceSum": lambda a, x, axes: x.sum(axis=tuple(int(i) for i in axes), keepdims=bool(a.get("keepdims", 1))),
    "Slice": lambda a, x, *rest: _slice(x, *rest),
    "Constant": lambda a: a["value"],
}
# and those of the exported graph around the LSConv nodes (run_graph)
GRAPH_OPS = {
    **NUMPY_OPS,
    "ConvTranspose": lambda a, x, w, b=None: _conv_transpose(x, w, b, **a),
    "Concat": lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
    "ConstantOfShape": lambda a, shape: np.full([int(v) for v in shape], a["value"].reshape(-1)[0] if "value" in a else 0.0),
    "Identity": lambda a, x: x,
    "Tanh": lambda a, x: np.tanh(x),
    "Sub": lambda a, x, y: x - y,
    "Div": lambda a, x, y: x / y,
}


def _attributes(node) -> dict:
    from onnx import numpy_helper
    attrs = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        attrs[a.name] = numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else v
    return attrs


def _float64(v):
    v = np.asarray(v)
    return v if np.issubdtype(v.dtype, np.integer) or v.dtype == bool else v.astype(np.float64)


def run_graph(proto, frames: np.ndarray) -> np.ndarray:
    """Evaluate a whole exported model in float64 numpy (stands in for ONNX Runtime, which Debian
    lacks): its standard operators by GRAPH_OPS, each ai.lsntp::LSConv node by its function body."""
    from onnx import numpy_helper
    env = {i.name: _float64(numpy_helper.to_array(i)) for i in proto.graph.initializer}
    env["frames"] = _float64(frames)
    functions = {(f.domain, f.name): f for f in proto.functions}
    for node in proto.graph.node:
        args = [env[i] if i else None for i in node.input]
        if node.domain == DOMAIN:
            fn = functions[(node.domain, node.op_type)]
            outs = [run_function(fn, dict(zip(fn.input, args)))[o] for o in fn.output]
        else:
            assert node.domain in ("", "ai.onnx") and node.op_type in GRAPH_OPS, f"no numpy rule for {node.op_type}"
            outs = [GRAPH_OPS[node.op_type](_attributes(node), *args)]
        for name, value in zip(node.output, outs):
            env[name] = _float64(value)
    (out,) = proto.graph.output
    return env[out.name]


def run_function(fn, inputs: dict) -> dict:
    """Evaluate an ONNX FunctionProto in float64 numpy; returns every value by name."""
    env = {k: np.asarray(v) if np.issubdtype(np.asarray(v).dtype, np.integer) else np.asarray(v, dtype=np.float64)
           for k, v in inputs.items()}  # indices stay integers
    assert set(env) == set(fn.input), (sorted(env), list(fn.input))
    for node in fn.node:
        assert node.domain in ("", "ai.onnx") and node.op_type in NUMPY_OPS, f"no numpy rule for {node.domain}::{node.op_type}"
        attrs = _attributes(node)
        (out,) = node.output
        env[out] = NUMPY_OPS[node.op_type](attrs, *(env[i] for i in node.input))
    return env


ABLATIONS = {
    "full": {}, "no-nsa": {"nsa": False}, "no-lagc": {"lagc": False}, "no-nsa-no-lagc": {"nsa": False, "lagc": False},
    "no-lsi": {"lsi": False}, "linear-lsi": {"lsi_relu": False}, "k1": {"kernel": 1}, "k5": {"kernel": 5},
    "d60km": {"distance_km": 60.0}, "d0": {"distance_km": 0.0},
    "sparse": {"graph": "sparse", "graph_k": 5}, "sparse-d60km": {"graph": "sparse", "graph_k": 7, "distance_km": 60.0},
    "sparse-no-nsa": {"graph": "sparse", "graph_k": 3, "nsa": False}, "sparse-d0": {"graph": "sparse", "graph_k": 4, "distance_km": 0.0},
    "sparse-blocked": {"graph": "sparse", "graph_k": 11},  # with SINGLE_GATHER_MAX 8 (below): two blocks, 6 + 5
}


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_exported_ls_conv_function_computes_what_the_module_does(name, monkeypatch):
    import torch
    from onnx import numpy_helper
    from .data import MinMax
    from .forecaster import ModelConfig, build_forecaster, core_of
    from .ls_conv import LSConv, parameter_names

    torch.manual_seed(7)
    monkeypatch.setattr(export, "SINGLE_GATHER_MAX", 8)  # the 12-node test grid cannot hold k > 16
    cfg = ModelConfig(hidden=4, embed_dim=6, down_channels=4, nsa_hidden=4, **ABLATIONS[name])
    h, w = 6, 8
    lats, lons = 55.0 - 0.25 * np.arange(h), -3.0 + 0.25 * np.arange(w)
    model = build_forecaster(cfg, h, w, 1, MinMax(270.0, 290.0), lats, lons, 0.5).eval()
    with torch.no_grad():  # away from their initial values, so every parameter matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    proto = export.to_onnx(model, 270.0 + 20.0 * torch.rand(1, 2, h, w))
    onnx.checker.check_model(proto)
    (fn,) = [f for f in proto.functions if (f.domain, f.name) == (DOMAIN, export.FUNCTION_NAME)]
    assert list(fn.input) == ["X"] + parameter_names(cfg.ls_settings)
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    ls_nodes = [n for n in proto.graph.node if (n.domain, n.op_type) == (DOMAIN, export.FUNCTION_NAME)]
    assert len(ls_nodes) == 2 * (2 + 1)
    layers = [m for m in model.modules() if isinstance(m, LSConv)]
    assert all(m.implementation.__name__ == "ls_conv" for m in layers)  # the export put the module back
    assert core_of(model).graph is None or not core_of(model).graph.is_folded
    checked = set()
    for node in ls_nodes:
        params = {name: init[i] for name, i in zip(fn.input[1:], node.input[1:])}
        # the layer whose weights these are (the node of each layer repeats once per time step)
        (layer,) = [m for m in layers if np.array_equal(m.conv.weight.detach().numpy(), params["W"])]
        if id(layer) in checked:
            continue
        checked.add(id(layer))
        x = torch.randn(2, layer.conv.in_channels, *core_of(model).grid)
        with torch.no_grad():
            want = layer(x).numpy()
            for pname, tensor in layer.named_operands().items():  # the node's inputs are the layer's parameters
                np.testing.assert_array_equal(params[pname], tensor.numpy(), err_msg=pname)
        got = run_function(fn, {"X": x.numpy(), **params})["Y"]
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
        if name == "d0":
            np.testing.assert_allclose(params["G"], 2.0 * np.eye(params["G"].shape[0]))  # (I + A)^T with A = I
        if name == "sparse-d0":  # only the node itself within 0 km: weight 1 + 1 on itself, 0 elsewhere
            want_w = np.zeros(params["G_weight"].shape)
            want_w[:, 0] = 2.0  # column 0 is the node itself
            np.testing.assert_allclose(params["G_weight"], want_w)
        if "G_index" in params:  # N x k, never N x N
            n_nodes, k = np.prod(core_of(model).grid), ABLATIONS[name]["graph_k"]
            assert params["G_index"].dtype == np.int64 and params["G_index"].shape == params["G_weight"].shape == (n_nodes, k)
            # no Gather takes more than NEIGHBOUR_BLOCK neighbours at once
            gathers = [n for n in fn.node if n.op_type == "Gather"]
            assert len(gathers) == len(export.neighbour_blocks(k)) == (2 if k == 11 else 1)
            values = run_function(fn, {"X": x.numpy(), **params})
            assert all(values[g.output[0]].shape[1] <= export.NEIGHBOUR_BLOCK for g in gathers)
    assert len(checked) == 4  # two encoder and two decoder layers


@pytest.mark.parametrize("graph", ["dense", "sparse"])
def test_whole_exported_model_computes_what_pytorch_does(graph):
    """Every node of the exported graph, LSConv bodies included, run by the numpy interpreter, against
    PyTorch, on a model whose weights are moved off their initial values so that the long-range graph
    visibly matters (a wrong graph operand moves the forecast by far more than the tolerance)."""
    import torch
    from onnx import numpy_helper
    from .data import MinMax
    from .forecaster import ModelConfig, build_forecaster
    torch.manual_seed(0)
    extra = {"graph": "sparse", "graph_k": 6} if graph == "sparse" else {}
    h, w = 9, 12
    lats, lons = 55.0 - 0.25 * np.arange(h), -3.0 + 0.25 * np.arange(w)
    model = build_forecaster(ModelConfig(hidden=4, embed_dim=6, down_channels=4, nsa_hidden=4, **extra), h, w, 2,
                             MinMax(270.0, 290.0), lats, lons, 0.5).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
        x = 270.0 + 20.0 * torch.rand(2, 3, h, w)
        want = model(x).numpy()
    proto = export.to_onnx(model, x[:1])
    onnx.checker.check_model(proto)
    assert_forecast_dims(proto, 2, h, w)
    tolerance = 2e-4  # K: float32 PyTorch against float64 numpy
    np.testing.assert_allclose(run_graph(proto, x.numpy()), want, atol=tolerance)  # batch 2 through the dynamic batch
    operand = "folded_weight" if graph == "sparse" else "folded"
    (init,) = [i for i in proto.graph.initializer if i.name.endswith("graph." + operand)]
    a = numpy_helper.to_array(init)
    init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a[:, ::-1]), init.name))  # a wrong graph
    assert np.abs(run_graph(proto, x.numpy()) - want).max() > 10 * tolerance
