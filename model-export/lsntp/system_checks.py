"""What the test of every comparison system (baselines/test_<system>.py) checks, in one place:

- the whole forecaster (Normalised(PersistenceResidual(EncoderDecoder))) maps frames to finite
  forecasts of the right shape;
- Adam steps on one repeated batch give finite gradients, change every weight of the bottom
  encoder cell and lower the loss;
- a briefly trained tiny model goes through export.export to ONNX that passes onnx.checker, in
  standard operators only (no `ai.lsntp` node, function or opset), named by its label;
and the numpy forms the hand checks use: a 1x1 convolution, and AGCRN's graph convolution that
both graph systems are checked against.

ONNX parity in numbers is checked where the product runs the models, in ONNX Runtime Java (Debian
packages no ONNX Runtime for Python): flink-job's ModelParityTest runs a tiny trained model of every
kind (`python3 -m lsntp parity-fixtures`, built from these same systems) against PyTorch's forecast
within 1e-4 K, and every zoo model against its parity files.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import onnx
import torch

from . import export, train
from .data import MinMax
from .forecaster import ModelConfig, Normalised, build_forecaster
from .kinds import KINDS

HEIGHT, WIDTH = 9, 11
LATS = np.linspace(55.0, 53.0, HEIGHT)
LONS = np.linspace(-3.0, 0.0, WIDTH)
TINY = {"hidden": 4, "embed_dim": 4, "down_channels": 4, "nsa_hidden": 4}


def tiny_model(kind: str, beta: int = 3, **model) -> Normalised:
    cfg = ModelConfig(kind=kind, **{**TINY, **model})
    return build_forecaster(cfg, HEIGHT, WIDTH, beta=beta, norm=MinMax(260.0, 290.0), lats=LATS, lons=LONS,
                            step_change_k=0.5)


def assert_forecast_shape(kind: str, **model):
    torch.manual_seed(0)
    out = tiny_model(kind, beta=5, **model)(270.0 + torch.randn(3, 4, HEIGHT, WIDTH))
    assert out.shape == (3, 5, HEIGHT, WIDTH)
    assert torch.isfinite(out).all()


def assert_training_lowers_loss(kind: str, steps: int = 4, **model):
    torch.manual_seed(0)
    model_ = tiny_model(kind, **model)
    x = 270.0 + 3.0 * torch.randn(4, 4, HEIGHT, WIDTH)
    y = x[:, -1:] + torch.randn(4, 3, HEIGHT, WIDTH)
    opt = torch.optim.Adam(model_.parameters(), lr=3e-3)
    before = {n: p.detach().clone() for n, p in model_.named_parameters()}
    losses = []
    for _ in range(steps):
        loss = torch.mean((model_.normalise(model_(x)) - model_.normalise(y)) ** 2)
        opt.zero_grad()
        loss.backward()
        for name, p in model_.named_parameters():
            assert p.grad is None or torch.isfinite(p.grad).all(), name
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    # every weight of the bottom encoder cell takes part: it reads the frames and feeds the layer above
    # (the decoder's bottom cell reads zeros, and what shapes only the top encoder cell's output is never read)
    idle = [n for n, p in model_.named_parameters() if ".encoder.0." in n and (p.grad is None or torch.equal(p, before[n]))]
    assert not idle


def exported_model(kind: str, run_config, tmp_path) -> onnx.ModelProto:
    """A tiny `kind` trained one step on run_config's data and exported by export.export; checked as stated above."""
    cfg = dataclasses.replace(run_config, model=dataclasses.replace(run_config.model, kind=kind))
    run = os.path.join(str(tmp_path), "run")
    train.train(cfg, run, max_steps=1, quiet=True)
    proto = onnx.load(export.export(os.path.join(run, "best.pt"), os.path.join(str(tmp_path), "onnx", "model.onnx")))
    onnx.checker.check_model(proto)
    assert {n.domain for n in proto.graph.node} == {""}
    assert not proto.functions and [o.domain for o in proto.opset_import] == [""]
    assert next(o.version for o in proto.opset_import) == export.OPSET
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["model_name"] == meta["model_label"] == KINDS[kind].label
    return proto


def op_types(proto: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in proto.graph.node}


def conv1x1(conv, x: np.ndarray) -> np.ndarray:
    """A 1x1 nn.Conv2d applied in numpy: the hand form of the cells' convolutions when kernel = 1."""
    out = np.einsum("oi,bihw->bohw", conv.weight.detach().numpy()[:, :, 0, 0], x)
    return out if conv.bias is None else out + conv.bias.detach().numpy()[:, None, None]


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def agcrn_graph_conv(x: np.ndarray, e: np.ndarray, weights_pool: np.ndarray, bias_pool: np.ndarray) -> np.ndarray:
    """AGCRN's AVWGCN node by node, as its paper writes it: x (B, C, N) -> (B, out, N)."""
    scores = np.maximum(e @ e.T, 0.0)
    a = np.exp(scores - scores.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    out = np.zeros((x.shape[0], weights_pool.shape[2], x.shape[2]))
    for n in range(x.shape[2]):
        w = np.tensordot(e[n], weights_pool, axes=1)  # (K C, out)
        b = e[n] @ bias_pool
        for i in range(x.shape[0]):
            features = np.concatenate([x[i, :, n], x[i] @ a[n]])  # T_0 X, T_1 X = (A X)_n
            out[i, :, n] = features @ w + b
    return out
