"""LS-Conv: the long- and short-range convolution of LS-NTP (Xu et al., Neural Networks 155, 2022).

On an input X (B, C, H, W):
1. NSA, node-based spatial attention: 1x1 conv -> GroupNorm -> ReLU -> 1x1 conv -> GroupNorm ->
   ReLU -> 1x1 conv -> sigmoid gives a weight per node and channel; X is multiplied by it.
2. LAGC: A = softmax_row(relu(E E^T)) from a node embedding E (N x d) shared by every layer.
3. Graph constraint: L = (I + A) X on X flattened to (B, C, N).
4. LSI: a k x k convolution of L with the LS-Conv kernel, then ReLU. Summing the per-offset graph
   convolutions "in a CNN manner" is exactly this convolution (see test_ls_conv.py). Inside a
   ConvLSTM the ReLU clips every gate's pre-activation at zero (gates >= sigmoid(bias));
   `lsi_relu: false` leaves them signed, as ConvLSTM's own convolutions are.

Ablations (the seed's Table 4 and Q1/Q2) are switches of `LSConvSettings`. The operator's
parameters are named once (`parameter_spec`); `ls_conv` computes it from them. This module knows
nothing of export: export.py makes each LS-Conv call one node `ai.lsntp::LSConv` taking those
parameters as named inputs, with an ONNX function body, and folds (I + A) into one shared constant.
"""
from __future__ import annotations

import contextlib
import dataclasses
import operator
from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NSA_GROUPS = 4
GN_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class LSConvSettings:
    kernel: int = 3  # LSI kernel size k (1, 3, 5, 7)
    nsa: bool = True  # node-based spatial attention
    lagc: bool = True  # long-range adaptive graph (graph constraint with I + A)
    lsi: bool = True  # k x k integration + ReLU; False: per-node linear map of the graph result (GCN form)
    lsi_relu: bool = True  # the reference's ReLU after the LSI; False leaves LSTM gate pre-activations signed
    nsa_hidden: int = 16

    @property
    def relu(self) -> bool:
        return self.lsi and self.lsi_relu

    @property
    def lsi_kernel(self) -> int:
        """Size of the LSI convolution: `kernel`, or 1 without LSI (the per-node linear map)."""
        return self.kernel if self.lsi else 1

    def __post_init__(self):
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"LS-Conv kernel must be odd and at least 1, got {self.kernel}")
        if self.nsa_hidden % NSA_GROUPS:
            raise ValueError(f"nsa_hidden must be a multiple of {NSA_GROUPS}, got {self.nsa_hidden}")


class AdaptiveGraph(nn.Module):
    """LAGC: learnable node embedding E and the adjacency A = softmax_row(relu(E E^T)).

    One instance is shared by every LS-Conv of a network. `distance_km` optionally limits the graph
    to pairs of cells at most that far apart (the seed's Q1): entries beyond it are left out of the
    row softmax, so they are exactly zero in A and each row still sums to one.
    """

    def __init__(self, n_nodes: int, embed_dim: int, distances_km: np.ndarray | None = None,
                 distance_km: float | None = None):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(n_nodes, embed_dim) * (1.0 / embed_dim ** 0.5))
        if distance_km is not None:
            if distances_km is None:
                raise ValueError("a distance threshold needs the grid's cell distances")
            keep = torch.as_tensor(distances_km <= distance_km)
            self.register_buffer("keep", keep, persistent=False)
        else:
            self.keep = None
        # Set only for export: (I + A)^T as one constant, shared by every LS-Conv node.
        # Persistent so the exporter makes it an initializer; None (and so absent) except while exporting.
        self.register_buffer("folded", None)
        self._pass_operator = None  # (I + A)^T of the current forward pass, see one_operator_per_pass

    @property
    def n_nodes(self) -> int:
        return self.embedding.shape[0]

    def adjacency(self) -> torch.Tensor:
        scores = F.relu(self.embedding @ self.embedding.T)
        if self.keep is not None:
            scores = scores.masked_fill(~self.keep, float("-inf"))
        return torch.softmax(scores, dim=1)

    @contextlib.contextmanager
    def one_operator_per_pass(self):
        """Compute (I + A)^T once for a whole forward pass instead of once per LS-Conv call.

        A depends on the weights only, so every call of a pass sees the same matrix; computing it
        once saves the softmax and its backward for all but one of the (layers x steps) calls
        (about a quarter of a training step on ERA5) and gives bit-identical forecasts.
        """
        if self.folded is not None or self._pass_operator is not None:
            yield
            return
        self._pass_operator = self.operator_t()
        try:
            yield
        finally:
            self._pass_operator = None

    def operator_t(self) -> torch.Tensor:
        """(I + A)^T, so that for X flattened to (B, C, N), L = X @ (I + A)^T."""
        if self.folded is not None:
            return self.folded
        if self._pass_operator is not None:
            return self._pass_operator
        a = self.adjacency()
        return (torch.eye(a.shape[0], dtype=a.dtype, device=a.device) + a).T

    def fold(self):
        """Freeze (I + A)^T into a constant for export: inference then pays one N x N product per call."""
        with torch.no_grad():
            self.folded = None
            self.folded = self.operator_t().detach().clone().contiguous()

    def unfold(self):
        self.folded = None


# The operator's parameters, one definition: (name, path of the tensor in an LS-Conv layer), in
# order. The exported `ai.lsntp::LSConv` node takes them as its inputs after X under these names
# (export.py builds the node, its traced stand-in and its ONNX function body from this list).
NSA_PARAMETERS = (
    ("nsa_w1", "conv1.weight"), ("nsa_b1", "conv1.bias"), ("gn1_s", "norm1.weight"), ("gn1_b", "norm1.bias"),
    ("nsa_w2", "conv2.weight"), ("nsa_b2", "conv2.bias"), ("gn2_s", "norm2.weight"), ("gn2_b", "norm2.bias"),
    ("nsa_w3", "conv3.weight"), ("nsa_b3", "conv3.bias"),
)


def parameter_spec(settings: LSConvSettings) -> list[tuple[str, Callable[["LSConv"], torch.Tensor]]]:
    """The parameters of an LS-Conv with these settings: an ordered list of (name, getter of the
    tensor from an `LSConv` layer). G = (I + A)^T when LAGC is on, NSA's ten when NSA is on, then
    the LSI convolution's W and B. The one statement of which parameters there are and their order."""
    spec: list[tuple[str, Callable[[LSConv], torch.Tensor]]] = []
    if settings.lagc:
        spec.append(("G", lambda layer: layer.graph[0].operator_t()))
    if settings.nsa:
        spec.extend((name, operator.attrgetter("nsa." + path)) for name, path in NSA_PARAMETERS)
    spec.extend([("W", operator.attrgetter("conv.weight")), ("B", operator.attrgetter("conv.bias"))])
    return spec


def parameter_names(settings: LSConvSettings) -> list[str]:
    return [name for name, _ in parameter_spec(settings)]


def node_attention(x: torch.Tensor, p: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """NSA on X with the named parameters of NSA_PARAMETERS."""
    w = F.relu(F.group_norm(F.conv2d(x, p["nsa_w1"], p["nsa_b1"]), NSA_GROUPS, p["gn1_s"], p["gn1_b"], GN_EPS))
    w = F.relu(F.group_norm(F.conv2d(w, p["nsa_w2"], p["nsa_b2"]), NSA_GROUPS, p["gn2_s"], p["gn2_b"], GN_EPS))
    return x * torch.sigmoid(F.conv2d(w, p["nsa_w3"], p["nsa_b3"]))


def graph_constraint(x: torch.Tensor, operator_t: torch.Tensor) -> torch.Tensor:
    """L = (I + A) X with X flattened to (B, C, N) and folded back to (B, C, H, W)."""
    b, c, h, w = x.shape
    return (x.reshape(b, c, h * w) @ operator_t).reshape(b, c, h, w)


def ls_conv(x: torch.Tensor, p: Mapping[str, torch.Tensor], settings: LSConvSettings) -> torch.Tensor:
    """LS-Conv of X with the named parameters of `parameter_spec(settings)`: the operator's one
    PyTorch definition (training and evaluation run it; export traces it as one node)."""
    if settings.nsa:
        x = node_attention(x, p)
    if settings.lagc:
        x = graph_constraint(x, p["G"])
    y = F.conv2d(x, p["W"], p["B"], padding=settings.lsi_kernel // 2)  # a Python int, also when traced
    return F.relu(y) if settings.relu else y


class NodeSpatialAttention(nn.Module):
    """NSA: three 1x1 convolutions with GroupNorm and ReLU between them, ending in a sigmoid."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, hidden, 1)
        self.norm1 = nn.GroupNorm(NSA_GROUPS, hidden, eps=GN_EPS)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.norm2 = nn.GroupNorm(NSA_GROUPS, hidden, eps=GN_EPS)
        self.conv3 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        return node_attention(x, {name: operator.attrgetter(path)(self) for name, path in NSA_PARAMETERS})


class LSConv(nn.Module):
    """One LS-Conv operator: in_channels -> out_channels on the grid of `graph`.

    The parameters live in the submodules (state_dict keys `nsa.conv1.weight`, ..., `conv.weight`);
    forward hands them by name (`parameter_spec`) to `implementation`, which is `ls_conv` unless an
    exporter replaces it on the instance for the duration of an export (export.traced_ls_conv).
    """

    implementation = staticmethod(ls_conv)

    def __init__(self, in_channels: int, out_channels: int, settings: LSConvSettings, graph: AdaptiveGraph | None):
        super().__init__()
        if settings.lagc and graph is None:
            raise ValueError("LS-Conv with LAGC needs the shared AdaptiveGraph")
        self.settings = settings
        self.graph = [graph]  # a list, so the shared graph is not registered once per layer
        self.nsa = NodeSpatialAttention(in_channels, settings.nsa_hidden) if settings.nsa else None
        k = settings.lsi_kernel
        self.conv = nn.Conv2d(in_channels, out_channels, k, padding=k // 2)
        self.spec = parameter_spec(settings)

    def named_operands(self) -> dict[str, torch.Tensor]:
        """The operator's parameters by name, in `parameter_spec` order."""
        return {name: get(self) for name, get in self.spec}

    def forward(self, x):
        return self.implementation(x, self.named_operands(), self.settings)
