"""Export a trained forecaster to one self-describing ONNX file (DESIGN section 3).

- input `frames` float32 (batch, alpha, H, W) K -> output `forecast` float32 (batch, beta, H, W) K,
  normalisation and its inverse inside the graph, dynamic batch;
- each LS-Conv call is one node `ai.lsntp::LSConv` whose body ships in the model as an ONNX
  function, so stock ONNX Runtime runs it with no native library; its inputs after X are the
  parameters named and ordered by ls_conv.parameter_spec (the node's inputs, the traced stand-in
  LSConvFunction that `traced_ls_conv` installs on the layers while exporting, and the function's
  declared inputs all come from it); the comparison's other systems export in standard operators
  only (no function, no `ai.lsntp` domain);
- (I + A)^T is folded into one initializer shared by every LS-Conv node (and by every graph
  convolution of AGCRN and DAGG-ConvLSTM);
- metadata properties describe the model, its grid and its provenance; the streaming job checks
  them against the frames it serves.
Beside the model: parity-input.f32 / parity-expected.f32 / parity.json, a real test window and
PyTorch's forecast for it, which the Java build's parity test compares with ONNX Runtime.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from .checkpoint import load as load_checkpoint
from .data import MISSING_FILL
from .forecaster import predict
from .ls_conv import GN_EPS, NSA_GROUPS, AdaptiveGraph, LSConv, LSConvSettings, ls_conv, parameter_names

OPSET = 17
DOMAIN = "ai.lsntp"
FUNCTION_NAME = "LSConv"


class LSConvFunction(torch.autograd.Function):
    """Stands in for `ls_conv` while exporting, so that tracing records one `ai.lsntp::LSConv` node.

    Called as apply(X, *parameters, settings) with the parameters in `parameter_spec` order; it
    takes them back by name, so the node's inputs, this unpacking and the ONNX function's declared
    inputs (ls_conv_function) all come from the one spec.
    """

    @staticmethod
    def forward(ctx, x, *args):
        *tensors, settings = args
        return ls_conv(x, _by_name(settings, tensors), settings)

    @staticmethod
    def symbolic(g, x, *args):
        *tensors, settings = args
        out = g.op(f"{DOMAIN}::{FUNCTION_NAME}", x, *tensors)
        weight = _by_name(settings, tensors)["W"]
        try:  # give the output a shape so later ops export with static sizes
            sizes = list(x.type().sizes())
            sizes[1] = weight.type().sizes()[0]
            out.setType(x.type().with_sizes(sizes))
        except Exception:  # shape unknown during tracing: ONNX infers it from the function later
            pass
        return out


def _by_name(settings: LSConvSettings, tensors) -> dict:
    names = parameter_names(settings)
    if len(tensors) != len(names):
        raise ValueError(f"LS-Conv with {settings} takes {len(names)} parameters ({', '.join(names)}), got {len(tensors)}")
    return dict(zip(names, tensors))


def _traced(x, params: dict, settings: LSConvSettings):
    return LSConvFunction.apply(x, *params.values(), settings)


@contextlib.contextmanager
def traced_ls_conv(model: torch.nn.Module):
    """For the duration of an export, every LS-Conv layer of `model` runs as one traced node."""
    layers = [m for m in model.modules() if isinstance(m, LSConv)]
    for layer in layers:
        layer.implementation = _traced
    try:
        yield bool(layers)
    finally:
        for layer in layers:
            del layer.implementation  # back to the class's ls_conv


@contextlib.contextmanager
def folded_graphs(model: torch.nn.Module):
    """(I + A)^T of every adaptive graph of `model` frozen into its constant (see AdaptiveGraph.fold)
    for the duration; graphs already folded stay so."""
    graphs = [m for m in model.modules() if isinstance(m, AdaptiveGraph) and m.folded is None]
    for graph in graphs:
        graph.fold()
    try:
        yield
    finally:
        for graph in graphs:
            graph.unfold()


def ls_conv_function(settings: LSConvSettings) -> onnx.FunctionProto:
    """The body of `ai.lsntp::LSConv` for one model's settings, in standard ONNX operators.

    Inputs: X, then the parameters of `ls_conv.parameter_spec(settings)` under their names, in its
    order: [G = (I+A)^T if LAGC], [NSA: nsa_w1 nsa_b1 gn1_s gn1_b nsa_w2 nsa_b2 gn2_s gn2_b nsa_w3 nsa_b3], W, B.
    """
    nodes, inputs = [], ["X"] + parameter_names(settings)
    const = lambda name, arr, dtype=TensorProto.INT64: nodes.append(helper.make_node(
        "Constant", [], [name], value=helper.make_tensor(name + "_value", dtype, [len(arr)], arr)))
    x = "X"
    if settings.nsa:
        const("gn_shape", [0, NSA_GROUPS, -1])
        const("gn_ones", [1.0] * NSA_GROUPS, TensorProto.FLOAT)
        const("gn_zeros", [0.0] * NSA_GROUPS, TensorProto.FLOAT)
        const("chw_axes", [1, 2])

        def group_norm(inp, scale, bias, tag):
            # GroupNormalization is opset 18; opset 17 spells it as PyTorch's exporter does.
            nodes.extend([
                helper.make_node("Shape", [inp], [f"{tag}_shape"]),
                helper.make_node("Reshape", [inp, "gn_shape"], [f"{tag}_grouped"]),
                helper.make_node("InstanceNormalization", [f"{tag}_grouped", "gn_ones", "gn_zeros"], [f"{tag}_normed"], epsilon=GN_EPS),
                helper.make_node("Reshape", [f"{tag}_normed", f"{tag}_shape"], [f"{tag}_back"]),
                helper.make_node("Unsqueeze", [scale, "chw_axes"], [f"{tag}_scale3"]),
                helper.make_node("Unsqueeze", [bias, "chw_axes"], [f"{tag}_bias3"]),
                helper.make_node("Mul", [f"{tag}_back", f"{tag}_scale3"], [f"{tag}_scaled"]),
                helper.make_node("Add", [f"{tag}_scaled", f"{tag}_bias3"], [f"{tag}_out"]),
            ])
            return f"{tag}_out"

        nodes.append(helper.make_node("Conv", ["X", "nsa_w1", "nsa_b1"], ["nsa_a1"]))
        h = group_norm("nsa_a1", "gn1_s", "gn1_b", "gn1")
        nodes.append(helper.make_node("Relu", [h], ["nsa_r1"]))
        nodes.append(helper.make_node("Conv", ["nsa_r1", "nsa_w2", "nsa_b2"], ["nsa_a2"]))
        h = group_norm("nsa_a2", "gn2_s", "gn2_b", "gn2")
        nodes.append(helper.make_node("Relu", [h], ["nsa_r2"]))
        nodes.append(helper.make_node("Conv", ["nsa_r2", "nsa_w3", "nsa_b3"], ["nsa_a3"]))
        nodes.append(helper.make_node("Sigmoid", ["nsa_a3"], ["nsa_weight"]))
        nodes.append(helper.make_node("Mul", ["X", "nsa_weight"], ["X_attended"]))
        x = "X_attended"
    if settings.lagc:
        const("flat_shape", [0, 0, -1])
        nodes.extend([
            helper.make_node("Shape", [x], ["x_shape"]),
            helper.make_node("Reshape", [x, "flat_shape"], ["x_nodes"]),  # (B, C, N)
            helper.make_node("MatMul", ["x_nodes", "G"], ["l_nodes"]),  # L = (I + A) X
            helper.make_node("Reshape", ["l_nodes", "x_shape"], ["L"]),
        ])
        x = "L"
    k = settings.lsi_kernel
    conv_out = "Y_lin" if settings.relu else "Y"
    nodes.append(helper.make_node("Conv", [x, "W", "B"], [conv_out], kernel_shape=[k, k], pads=[k // 2] * 4))
    if settings.relu:
        nodes.append(helper.make_node("Relu", ["Y_lin"], ["Y"]))
    unused = set(inputs) - {i for n in nodes for i in n.input}
    if unused:  # the body and parameter_spec disagree
        raise ValueError(f"LS-Conv function body for {settings} does not use its input(s) {sorted(unused)}")
    return helper.make_function(DOMAIN, FUNCTION_NAME, inputs, ["Y"], nodes,
                                [helper.make_opsetid("", OPSET)], [],
                                doc_string="LS-Conv: NSA, graph constraint (I + A) X, LSI k x k convolution (Xu et al. 2022)")


def weights_sha256(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if name.endswith("graph.folded"):  # derived from the embedding, present only while exporting
            continue
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _validation_metrics(model, prepared) -> dict:
    xs, ys = prepared.val.arrays()
    pred = predict(model, torch.from_numpy(xs))
    valid = ~prepared.series.mask
    err = (pred - ys)[..., valid]
    return {"split": "validation", "windows": int(len(xs)),
            "mae_per_lead": [round(float(v), 4) for v in np.abs(err).mean(axis=(0, 2))],
            "rmse_per_lead": [round(float(v), 4) for v in np.sqrt((err ** 2).mean(axis=(0, 2)))],
            "mae": round(float(np.abs(err).mean()), 4), "rmse": round(float(np.sqrt((err ** 2).mean())), 4)}


def metadata(model, cfg, prepared, ck, version: str, command: str | None) -> dict[str, str]:
    s = prepared.series
    g = s.grid
    arch = dict(vars(cfg.model)) if not hasattr(cfg.model, "__dataclass_fields__") else {
        f: getattr(cfg.model, f) for f in cfg.model.__dataclass_fields__}
    return {
        "model_name": "LS-NTP" if cfg.model.kind == "lsntp" else cfg.model.label,
        "model_version": version,
        "model_label": cfg.model.label,
        "grid_id": cfg.data.grid_id,
        "architecture": json.dumps(arch),
        "alpha": str(cfg.data.alpha),
        "beta": str(cfg.data.beta),
        "step_hours": f"{s.step_hours:g}",
        "grid_height": str(g["height"]), "grid_width": str(g["width"]),
        "grid_lat0": repr(g["lat0"]), "grid_lon0": repr(g["lon0"]),
        "grid_dlat": repr(g["dlat"]), "grid_dlon": repr(g["dlon"]),
        "units": "K",
        "input": "frames: float32 (batch, alpha, H, W), kelvin, oldest first, rows and columns in the source's order",
        "output": "forecast: float32 (batch, beta, H, W), kelvin, lead 1 first",
        "normalisation": json.dumps({"kind": "min-max", "lo": prepared.norm.lo, "hi": prepared.norm.hi}),
        "missing_fill": MISSING_FILL,  # how missing cells were filled in training (data.fill_missing); the job does the same
        "training_period": ck.get("training_period") or prepared.training_period(),
        "validation_metrics": json.dumps(_validation_metrics(model, prepared)),
        "weights_sha256": weights_sha256(model),
        "source_data": os.path.basename(cfg.data.path),
        "source_variable": s.variable,
        "producer": f"lsntp model-export, torch {torch.__version__}, onnx {onnx.__version__}",
        "command": command or "",
    }


def to_onnx(model: torch.nn.Module, example: torch.Tensor) -> onnx.ModelProto:
    """Trace `model` on one example batch into ONNX (opset 17, input `frames`, output `forecast`,
    dynamic batch): each LS-Conv call one `ai.lsntp::LSConv` node whose ONNX function ships in the
    model, the adaptive graph's (I + A)^T folded into one initializer that every node shares."""
    settings = {m.settings for m in model.modules() if isinstance(m, LSConv)}
    if len(settings) > 1:
        raise ValueError(f"one ONNX function per model: its LS-Conv layers differ in settings {settings}")
    buf = io.BytesIO()
    with torch.no_grad(), folded_graphs(model), traced_ls_conv(model) as has_ls_conv:
        torch.onnx.export(model, (example,), buf, input_names=["frames"], output_names=["forecast"],
                          dynamic_axes={"frames": {0: "batch"}, "forecast": {0: "batch"}},
                          opset_version=OPSET, custom_opsets={DOMAIN: 1} if has_ls_conv else None,
                          do_constant_folding=True)
    proto = onnx.load_model_from_string(buf.getvalue())
    if settings:
        proto.functions.append(ls_conv_function(settings.pop()))
    return proto


def export(checkpoint: str, out: str, data_path: str | None = None, version: str = "1.0.0", command: str | None = None) -> str:
    model, cfg, prepared, ck = load_checkpoint(checkpoint, data_path)
    a, b = cfg.data.alpha, cfg.data.beta
    h, w = prepared.series.lats.size, prepared.series.lons.size
    x_real = torch.from_numpy(prepared.test[0][0][None].copy())  # a real held-out window
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with torch.no_grad(), folded_graphs(model):  # PyTorch's numbers with the very constant the ONNX graph holds
        expected = model(x_real).numpy()
        proto = to_onnx(model, x_real)
        meta = metadata(model, cfg, prepared, ck, version, command)
    for k, v in meta.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    proto.doc_string = f"{cfg.model.label} forecaster for grid {cfg.data.grid_id}: {a} frames in, {b} out, kelvin"
    onnx.checker.check_model(proto)
    onnx.save(proto, out)
    folder = os.path.dirname(os.path.abspath(out))
    x_real.numpy().astype("<f4").tofile(os.path.join(folder, "parity-input.f32"))
    expected.astype("<f4").tofile(os.path.join(folder, "parity-expected.f32"))
    times = prepared.test.times[:a]
    with open(os.path.join(folder, "parity.json"), "w") as f:
        json.dump({"input_shape": [1, a, h, w], "expected_shape": [1, b, h, w], "dtype": "float32 little-endian",
                   "input_valid_times": [np.datetime_as_string(t, unit="m") + "Z" for t in times],
                   "note": "first held-out test window; expected is PyTorch's output for it"}, f, indent=1)
    n_ls = sum(1 for n in proto.graph.node if n.op_type == FUNCTION_NAME and n.domain == DOMAIN)
    size = os.path.getsize(out)
    print(f"exported {out}: {size / 1e6:.2f} MB, {len(proto.graph.node)} nodes of which {n_ls} {DOMAIN}::{FUNCTION_NAME}, "
          f"{len(proto.graph.initializer)} initializers")
    return out
