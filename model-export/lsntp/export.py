"""Export a trained forecaster to one self-describing ONNX file: the contract the streaming job reads
(model-export/README.md, "Export", says it for users; this is the one place that writes it).

- input `frames` float32 (batch, alpha, H, W) K -> output `forecast` float32 (batch, beta, H, W) K,
  normalisation and its inverse inside the graph, dynamic batch;
- each LS-Conv call is one node `ai.lsntp::LSConv` whose body ships in the model as an ONNX
  function, so stock ONNX Runtime runs it with no native library; its inputs after X are the
  parameters named and ordered by ls_conv.parameter_spec (the node's inputs, the traced stand-in
  LSConvFunction that `traced_ls_conv` installs on the layers while exporting, and the function's
  declared inputs all come from it); the comparison's other systems export in standard operators
  only (no function, no `ai.lsntp` domain);
- (I + A)^T is folded into one initializer shared by every LS-Conv node (and by every graph
  convolution of AGCRN and DAGG-ConvLSTM); in the sparse graph form (ls_conv.SparseAdaptiveGraph)
  into two, the neighbour indices G_index (int64, N x k) and the weights of I + A on them
  G_weight (N x k), which the function body reads with Gather, Mul and ReduceSum (and Transposes);
- the output `forecast` has concrete dims (beta, H, W) after its symbolic batch dim `batch`;
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
import re
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from . import calibration
from .checkpoint import load as load_checkpoint
from .data import MISSING_FILL
from .forecaster import predict
from .ls_conv import FOLDED_BUFFERS, GN_EPS, NSA_GROUPS, AdaptiveGraph, LSConv, LSConvSettings, ls_conv, parameter_names

OPSET = 17
DOMAIN = "ai.lsntp"
FUNCTION_NAME = "LSConv"
BATCH_DIM = "batch"  # the symbolic batch dim of `frames` and `forecast`


class LSConvFunction(torch.autograd.Function):
    """Stands in for `ls_conv` while exporting, so that tracing records one `ai.lsntp::LSConv` node.

    Called as apply(X, *parameters, settings) with the parameters in `parameter_spec` order; it
    takes them back by name, so the node's inputs, this unpacking and the ONNX function's declared
    inputs (ls_conv_function) all come from the one spec.
    """

    @staticmethod
    def forward(ctx, x, *args):
        *tensors, settings = args
        with warnings.catch_warnings():  # the tracer sees the sizes ls_conv computes with; symbolic() replaces it all
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
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
    """The operands of every adaptive graph of `model` ((I + A)^T, or the sparse form's indices and
    weights) frozen into constants (see AdaptiveGraph.fold) for the duration; graphs already folded stay so."""
    graphs = [m for m in model.modules() if isinstance(m, AdaptiveGraph) and not m.is_folded]
    for graph in graphs:
        graph.fold()
    try:
        yield
    finally:
        for graph in graphs:
            graph.unfold()


# The sparse form gathers all k neighbours at once up to SINGLE_GATHER_MAX, else in blocks of at
# most NEIGHBOUR_BLOCK. Measured in ONNX Runtime Java (2 threads, 150 x 280, docs/scaling): k = 9 in
# one gather 144 ms at batch 1, 1.36 GB; in blocks of 5 + 4 169 ms, 1.05 GB; k = 115 in one gather
# 578 ms, 14.6 GB; in blocks of 8 550 ms, 2.0 GB. Small k keeps the single gather's speed.
SINGLE_GATHER_MAX = 16
NEIGHBOUR_BLOCK = 8


def neighbour_blocks(k: int) -> list[tuple[int, int]]:
    """The column ranges [start, end) of G_index the sparse body gathers one after another: one range
    for k <= SINGLE_GATHER_MAX, else ceil(k / NEIGHBOUR_BLOCK) ranges of near-equal size."""
    if k <= SINGLE_GATHER_MAX:
        return [(0, k)]
    n = -(-k // NEIGHBOUR_BLOCK)
    size = -(-k // n)
    return [(a, min(a + size, k)) for a in range(0, k, size)]


def ls_conv_function(settings: LSConvSettings, graph_k: int | None = None) -> onnx.FunctionProto:
    """The body of `ai.lsntp::LSConv` for one model's settings, in standard ONNX operators.

    Inputs: X, then the parameters of `ls_conv.parameter_spec(settings)` under their names, in its
    order: [LAGC: G = (I+A)^T (dense form), or G_index G_weight (sparse form)],
    [NSA: nsa_w1 nsa_b1 gn1_s gn1_b nsa_w2 nsa_b2 gn2_s gn2_b nsa_w3 nsa_b3], W, B.
    The sparse form's graph constraint, node-major so that each gathered neighbour is one contiguous
    block (ONNX Runtime gathers those about twice as fast as along the last axis): X (B, C, N)
    -> Transpose (N, B, C) -> Gather(axis 0, G_index) (N, k, B, C) -> Mul G_weight as (N, k, 1, 1)
    -> ReduceSum over the neighbours (N, B, C) -> Transpose (B, C, N). With `graph_k` over
    SINGLE_GATHER_MAX the neighbours go in blocks of at most NEIGHBOUR_BLOCK (Slice the columns of G_index
    and G_weight, gather, weigh and sum each, Add the blocks): the gathered tensor is (N, block, B, C),
    not (N, k, B, C), which at k = 115 and batch 16 was 2.5 GB per call on a 150 x 280 grid.
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
        ])
        if settings.graph == "sparse":
            # nodes first, so that each gathered neighbour is one contiguous block of B x C values
            const("neighbour_axis", [1])
            const("weight_axes", [2, 3])
            nodes.append(helper.make_node("Transpose", ["x_nodes"], ["x_by_node"], perm=[2, 0, 1]))  # (N, B, C)
            blocks = neighbour_blocks(graph_k) if graph_k else [(0, None)]
            if len(blocks) > 1:
                const("column_axis", [1])
            total = None  # the sum of the blocks so far
            for b, (start, end) in enumerate(blocks):
                index, weight, tag = "G_index", "G_weight", "" if len(blocks) == 1 else f"_{b}"
                if len(blocks) > 1:  # columns start..end of the neighbour lists
                    const(f"block{tag}_start", [start])
                    const(f"block{tag}_end", [end])
                    index, weight = f"G_index{tag}", f"G_weight{tag}"
                    nodes.extend([
                        helper.make_node("Slice", ["G_index", f"block{tag}_start", f"block{tag}_end", "column_axis"], [index]),
                        helper.make_node("Slice", ["G_weight", f"block{tag}_start", f"block{tag}_end", "column_axis"], [weight]),
                    ])
                nodes.extend([
                    helper.make_node("Gather", ["x_by_node", index], [f"x_neighbours{tag}"], axis=0),  # (N, k, B, C)
                    helper.make_node("Unsqueeze", [weight, "weight_axes"], [f"w_neighbours{tag}"]),  # (N, k, 1, 1)
                    helper.make_node("Mul", [f"x_neighbours{tag}", f"w_neighbours{tag}"], [f"x_weighted{tag}"]),  # weights of I + A
                    helper.make_node("ReduceSum", [f"x_weighted{tag}", "neighbour_axis"], [f"l_by_node{tag}"], keepdims=0),
                ])
                if total is None:
                    total = f"l_by_node{tag}"
                else:  # the blocks' sums add up, one block's gather alive at a time
                    added = "l_by_node" if b == len(blocks) - 1 else f"l_sum_{b}"
                    nodes.append(helper.make_node("Add", [total, f"l_by_node{tag}"], [added]))
                    total = added
            nodes.append(helper.make_node("Transpose", ["l_by_node"], ["l_nodes"], perm=[1, 2, 0]))  # L = (I + A) X, (B, C, N)
        else:
            nodes.append(helper.make_node("MatMul", ["x_nodes", "G"], ["l_nodes"]))  # L = (I + A) X
        nodes.append(helper.make_node("Reshape", ["l_nodes", "x_shape"], ["L"]))
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


_FOLDED = re.compile(r"(^|\.)graph\.(" + "|".join(sorted(set(FOLDED_BUFFERS.values()))) + ")$")


def weights_sha256(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if _FOLDED.search(name):  # derived from the embedding, present only while exporting
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


def graph_metadata(model: torch.nn.Module) -> dict[str, str]:
    """The long-range graph's form for a reader of the model: `graph_form` dense, sparse or none
    (no adaptive graph), `graph_k` neighbours per node (every node in the dense form, 0 for none),
    `graph_nodes` N."""
    graphs = [m for m in model.modules() if isinstance(m, AdaptiveGraph)]
    if not graphs:
        return {"graph_form": "none", "graph_k": "0", "graph_nodes": "0"}
    g = graphs[0]
    return {"graph_form": g.form, "graph_k": str(g.k), "graph_nodes": str(g.n_nodes)}


def describe(model, model_cfg, *, grid_id: str, alpha: int, beta: int, step_hours: float, grid: dict, norm,
             training_period: str, validation_metrics: dict, source_data: str, source_variable: str,
             version: str, command: str | None, model_name: str | None = None) -> dict[str, str]:
    """Every metadata property of an exported model, from what is known of it (the one list of keys:
    `metadata` fills it from a checkpoint and its data, scaling.py from a synthetic grid)."""
    arch = dict(vars(model_cfg)) if not hasattr(model_cfg, "__dataclass_fields__") else {
        f: getattr(model_cfg, f) for f in model_cfg.__dataclass_fields__}
    return {
        "model_name": model_name or ("LS-NTP" if model_cfg.kind == "lsntp" else model_cfg.label),
        "model_version": version,
        "model_label": model_cfg.label,
        "grid_id": grid_id,
        "architecture": json.dumps(arch),
        "alpha": str(alpha),
        "beta": str(beta),
        "step_hours": f"{step_hours:g}",
        "grid_height": str(grid["height"]), "grid_width": str(grid["width"]),
        "grid_lat0": repr(grid["lat0"]), "grid_lon0": repr(grid["lon0"]),
        "grid_dlat": repr(grid["dlat"]), "grid_dlon": repr(grid["dlon"]),
        "units": "K",
        "input": "frames: float32 (batch, alpha, H, W), kelvin, oldest first, rows and columns in the source's order",
        "output": "forecast: float32 (batch, beta, H, W), kelvin, lead 1 first",
        "normalisation": json.dumps({"kind": "min-max", "lo": norm.lo, "hi": norm.hi}),
        "missing_fill": MISSING_FILL,  # how missing cells were filled in training (data.fill_missing); the job does the same
        "training_period": training_period,
        "validation_metrics": json.dumps(validation_metrics),
        "weights_sha256": weights_sha256(model),
        "source_data": source_data,
        "source_variable": source_variable,
        **graph_metadata(model),
        "producer": f"lsntp model-export, torch {torch.__version__}, onnx {onnx.__version__}",
        "command": command or "",
    }


def metadata(model, cfg, prepared, ck, version: str, command: str | None) -> dict[str, str]:
    s = prepared.series
    return describe(model, cfg.model, grid_id=cfg.data.grid_id, alpha=cfg.data.alpha, beta=cfg.data.beta,
                    step_hours=s.step_hours, grid=s.grid, norm=prepared.norm,
                    training_period=ck.get("training_period") or prepared.training_period(),
                    validation_metrics=_validation_metrics(model, prepared), source_data=os.path.basename(cfg.data.path),
                    source_variable=s.variable, version=version, command=command)


def _set_output_shape(proto: onnx.ModelProto, shape) -> None:
    """`forecast`'s dims: the symbolic batch dim of `frames`, then concrete (beta, H, W), so a reader
    (the Java job's signature check) can compare them with the metadata."""
    (out,) = [o for o in proto.graph.output if o.name == "forecast"]
    dims = out.type.tensor_type.shape.dim
    while len(dims) < len(shape):
        dims.add()
    for i, d in enumerate(dims):
        d.Clear()
        if i == 0:
            d.dim_param = BATCH_DIM
        else:
            d.dim_value = int(shape[i])


def to_onnx(model: torch.nn.Module, example: torch.Tensor, output_shape=None) -> onnx.ModelProto:
    """Trace `model` on one example batch into ONNX (opset 17, input `frames`, output `forecast`,
    dynamic batch `batch`, the output's other dims concrete): each LS-Conv call one `ai.lsntp::LSConv`
    node whose ONNX function ships in the model, the adaptive graph's operands ((I + A)^T, or the
    sparse form's G_index and G_weight) folded into initializers that every node shares.
    output_shape: the model's output shape for `example`, when the caller has it (else one more forward)."""
    settings = {m.settings for m in model.modules() if isinstance(m, LSConv)}
    if len(settings) > 1:
        raise ValueError(f"one ONNX function per model: its LS-Conv layers differ in settings {settings}")
    buf = io.BytesIO()
    with torch.no_grad(), folded_graphs(model), traced_ls_conv(model) as has_ls_conv:
        out_shape = tuple(output_shape) if output_shape is not None else tuple(model(example).shape)
        torch.onnx.export(model, (example,), buf, input_names=["frames"], output_names=["forecast"],
                          dynamic_axes={"frames": {0: BATCH_DIM}, "forecast": {0: BATCH_DIM}},
                          opset_version=OPSET, custom_opsets={DOMAIN: 1} if has_ls_conv else None,
                          do_constant_folding=True)
    proto = onnx.load_model_from_string(buf.getvalue())
    _set_output_shape(proto, out_shape)
    if settings:
        graph = graph_metadata(model)
        proto.functions.append(ls_conv_function(settings.pop(), int(graph["graph_k"]) if graph["graph_form"] == "sparse" else None))
    return proto


def write(proto: onnx.ModelProto, meta: dict[str, str], doc: str, out: str, x: np.ndarray, expected: np.ndarray,
          parity_extra: dict) -> int:
    """Metadata into the model, the checker, then `out` and its parity files beside it (the window x and
    PyTorch's forecast of it, float32 little-endian; parity.json their shapes and `parity_extra`).
    Returns the model file's size in bytes."""
    for k, v in meta.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    proto.doc_string = doc
    onnx.checker.check_model(proto)
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    onnx.save(proto, out)
    x.astype("<f4").tofile(os.path.join(folder, "parity-input.f32"))
    expected.astype("<f4").tofile(os.path.join(folder, "parity-expected.f32"))
    with open(os.path.join(folder, "parity.json"), "w") as f:
        json.dump({"input_shape": list(x.shape), "expected_shape": list(expected.shape), "dtype": "float32 little-endian",
                   **parity_extra}, f, indent=1)
    return os.path.getsize(out)


def _predict_numpy(model, xs: np.ndarray) -> np.ndarray:
    return predict(model, torch.from_numpy(np.ascontiguousarray(xs)))


def export(checkpoint: str, out: str, data_path: str | None = None, version: str = "1.0.0", command: str | None = None) -> str:
    model, cfg, prepared, ck = load_checkpoint(checkpoint, data_path)
    a, b = cfg.data.alpha, cfg.data.beta
    x_real = torch.from_numpy(prepared.test[0][0][None].copy())  # a real held-out window
    with torch.no_grad(), folded_graphs(model):  # PyTorch's numbers with the very constant the ONNX graph holds
        expected = model(x_real).numpy()
        proto = to_onnx(model, x_real, expected.shape)
        meta = metadata(model, cfg, prepared, ck, version, command)
    cal = calibration.calibrate(model, prepared, _predict_numpy, meta["weights_sha256"])
    meta[calibration.METADATA_KEY] = cal.to_json()
    times = prepared.test.times[:a]
    size = write(proto, meta, f"{cfg.model.label} forecaster for grid {cfg.data.grid_id}: {a} frames in, {b} out, kelvin",
                 out, x_real.numpy(), expected,
                 {"input_valid_times": [np.datetime_as_string(t, unit="m") + "Z" for t in times],
                  "note": "first held-out test window; expected is PyTorch's output for it"})
    n_ls = sum(1 for n in proto.graph.node if n.op_type == FUNCTION_NAME and n.domain == DOMAIN)
    print(f"exported {out}: {size / 1e6:.2f} MB, {len(proto.graph.node)} nodes of which {n_ls} {DOMAIN}::{FUNCTION_NAME}, "
          f"{len(proto.graph.initializer)} initializers, graph {meta['graph_form']}; calibration: eta {cal.eta}, "
          f"scale rate {cal.scale_rate}, fitted on {cal.fitted_on.get('period')}")
    return out


def add_calibration(model_path: str, checkpoint: str, data_path: str | None = None) -> calibration.Calibration:
    """Writes the export-time calibration of `checkpoint` into the metadata of the model it was
    exported to (replacing one it had), nothing else: the graph, its weights and so its forecasts stay
    as they are. Refuses a checkpoint whose weights are not the model's (weights_sha256)."""
    model, cfg, prepared, _ = load_checkpoint(checkpoint, data_path)
    proto = onnx.load(model_path, load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    sha = weights_sha256(model)
    if meta.get("weights_sha256") != sha:
        raise ValueError(f"{checkpoint} holds weights {sha[:12]}..., {model_path} was exported from "
                         f"{meta.get('weights_sha256', 'unknown')[:12]}...: calibrate a model from its own checkpoint")
    cal = calibration.calibrate(model, prepared, _predict_numpy, sha)
    kept = [p for p in proto.metadata_props if p.key != calibration.METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    proto.metadata_props.append(onnx.StringStringEntryProto(key=calibration.METADATA_KEY, value=cal.to_json()))
    onnx.checker.check_model(proto)
    tmp = model_path + ".tmp"
    onnx.save(proto, tmp)
    os.replace(tmp, model_path)  # one rename: a watching job never reads half a model
    return cal
