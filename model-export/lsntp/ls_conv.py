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

Ablations (the seed's Table 4 and Q1/Q2) are switches of `LSConvSettings`. When the model is
exported, each LS-Conv call becomes one node `ai.lsntp::LSConv` whose body is an ONNX function
(see export.py), and (I + A) is folded into one constant shared by every node.
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DOMAIN = "ai.lsntp"
NSA_GROUPS = 4
GN_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class LSConvSettings:
    kernel: int = 3  # LSI kernel size k (1, 3, 5, 7)
    nsa: bool = True  # node-based spatial attention
    lagc: bool = True  # long-range adaptive graph (graph constraint with I + A)
    lsi: bool = True  # k x k integration + ReLU; False: per-node linear map of the graph result (GCN form)
    lsi_relu: bool = True  # the reference's ReLU after the LSI; False leaves LSTM gate pre-activations signed

    @property
    def relu(self) -> bool:
        return self.lsi and self.lsi_relu
    nsa_hidden: int = 16

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
        w = F.relu(self.norm1(self.conv1(x)))
        w = F.relu(self.norm2(self.conv2(w)))
        return x * torch.sigmoid(self.conv3(w))

    def params(self):
        return [self.conv1.weight, self.conv1.bias, self.norm1.weight, self.norm1.bias,
                self.conv2.weight, self.conv2.bias, self.norm2.weight, self.norm2.bias,
                self.conv3.weight, self.conv3.bias]


def graph_constraint(x: torch.Tensor, operator_t: torch.Tensor) -> torch.Tensor:
    """L = (I + A) X with X flattened to (B, C, N) and folded back to (B, C, H, W)."""
    b, c, h, w = x.shape
    return (x.reshape(b, c, h * w) @ operator_t).reshape(b, c, h, w)


class LSConv(nn.Module):
    """One LS-Conv operator: in_channels -> out_channels on the grid of `graph`."""

    def __init__(self, in_channels: int, out_channels: int, settings: LSConvSettings, graph: AdaptiveGraph | None):
        super().__init__()
        if settings.lagc and graph is None:
            raise ValueError("LS-Conv with LAGC needs the shared AdaptiveGraph")
        self.settings = settings
        self.graph = [graph]  # a list, so the shared graph is not registered once per layer
        self.nsa = NodeSpatialAttention(in_channels, settings.nsa_hidden) if settings.nsa else None
        k = settings.kernel if settings.lsi else 1
        self.conv = nn.Conv2d(in_channels, out_channels, k, padding=k // 2)

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return LSConvFunction.apply(x, *self.onnx_inputs(), self.settings)
        if self.nsa is not None:
            x = self.nsa(x)
        if self.settings.lagc:
            x = graph_constraint(x, self.graph[0].operator_t())
        y = self.conv(x)
        return F.relu(y) if self.settings.relu else y

    def onnx_inputs(self):
        """Inputs of the exported node, in the order the ONNX function (export.ls_conv_function) declares."""
        inputs = []
        if self.settings.lagc:
            inputs.append(self.graph[0].operator_t())
        if self.nsa is not None:
            inputs.extend(self.nsa.params())
        inputs.extend([self.conv.weight, self.conv.bias])
        return inputs


class LSConvFunction(torch.autograd.Function):
    """Export-only wrapper: traced as one `ai.lsntp::LSConv` node (its body is attached by export.py)."""

    @staticmethod
    def forward(ctx, x, *args):
        *tensors, settings = args
        it = iter(tensors)
        if settings.lagc:
            op_t = next(it)
        if settings.nsa:
            p = [next(it) for _ in range(10)]
            w = F.relu(F.group_norm(F.conv2d(x, p[0], p[1]), NSA_GROUPS, p[2], p[3], GN_EPS))
            w = F.relu(F.group_norm(F.conv2d(w, p[4], p[5]), NSA_GROUPS, p[6], p[7], GN_EPS))
            x = x * torch.sigmoid(F.conv2d(w, p[8], p[9]))
        if settings.lagc:
            x = graph_constraint(x, op_t)
        weight, bias = next(it), next(it)
        k = settings.kernel if settings.lsi else 1  # a Python int: traced shapes would become tensors
        y = F.conv2d(x, weight, bias, padding=k // 2)
        return F.relu(y) if settings.relu else y

    @staticmethod
    def symbolic(g, x, *args):
        *tensors, settings = args
        out = g.op(f"{DOMAIN}::LSConv", x, *tensors)
        weight = tensors[-2]
        try:  # give the output a shape so later ops export with static sizes
            sizes = list(x.type().sizes())
            sizes[1] = weight.type().sizes()[0]
            out.setType(x.type().with_sizes(sizes))
        except Exception:  # shape unknown during tracing: ONNX infers it from the function later
            pass
        return out
