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

The graph comes in two forms (`LSConvSettings.graph`, the config's `model.graph`):
- dense (the default, the paper's): A over every pair of the N graph nodes, (I + A)^T one N x N
  matrix; memory and time grow with N^2 (a 150 x 280 grid's 75 x 140 nodes: a 441 MB float32 constant).
- sparse (`SparseAdaptiveGraph`, `model.graph_k: k`): the paper's own Q1 knob, the distance
  threshold d that zeroes A_ij between nodes farther apart than d, turned into a neighbour list.
  Each node keeps a FIXED neighbour set chosen from geometry: its k nearest nodes by great-circle
  distance (itself first, distance 0; `data.nearest_cells`), further limited to `distance_km` when
  that is set. The learned weights are the row softmax of relu(e_i . e_j) over that set only:
  w_ij = exp(relu(e_i . e_j)) / sum_{j' in nbr(i)} exp(relu(e_i . e_j')), and
  L_i = x_i + sum_{j in nbr(i)} w_ij x_j, with the identity folded into the self entry's weight
  (column 0). With k = N it is the dense form exactly (with or without d); with `distance_km` = d
  and k at least the most nodes any node has within d, it is the dense form with threshold d
  exactly; with k alone it is Q1's disc made adaptive to the grid: a fixed count of nearest nodes,
  so every node pays the same and coarse and fine grids keep the same neighbourhood in node units.
  The weights cost O(N k D) (D: embedding size), each call O(B C N k) (in blocks of neighbours, keeping only X for the
  backward), and nothing of size N x N is ever built (the neighbour search is a KD-tree). The
  operator's graph operands are the neighbour indices G_index (int64, N x k) and the folded weights
  G_weight (N x k) instead of G; the exported model grows with N k, not N^2.

Ablations (the paper's Table 4 and Q1/Q2) are switches of `LSConvSettings`. The operator's
parameters are named once (`parameter_spec`); `ls_conv` computes it from them. This module knows
nothing of export: export.py makes each LS-Conv call one node `ai.lsntp::LSConv` taking those
parameters as named inputs, with an ONNX function body, and folds (I + A) into shared constants.
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

GRAPH_FORMS = ("dense", "sparse")
# The graph's operands of LS-Conv by form, in order: the parameter names the exported node takes.
GRAPH_OPERANDS = {"dense": ("G",), "sparse": ("G_index", "G_weight")}
# The buffer each operand is frozen into for export (AdaptiveGraph.fold); the exporter makes it an initializer.
FOLDED_BUFFERS = {"G": "folded", "G_index": "folded_index", "G_weight": "folded_weight"}


@dataclasses.dataclass(frozen=True)
class LSConvSettings:
    kernel: int = 3  # LSI kernel size k (1, 3, 5, 7)
    nsa: bool = True  # node-based spatial attention
    lagc: bool = True  # long-range adaptive graph (graph constraint with I + A)
    lsi: bool = True  # k x k integration + ReLU; False: per-node linear map of the graph result (GCN form)
    lsi_relu: bool = True  # the reference's ReLU after the LSI; False leaves LSTM gate pre-activations signed
    nsa_hidden: int = 16
    graph: str = "dense"  # form of the LAGC graph: dense (N x N) or sparse (k neighbours per node)

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
        if self.graph not in GRAPH_FORMS:
            raise ValueError(f"the graph form must be one of {', '.join(GRAPH_FORMS)}, got '{self.graph}'")


class AdaptiveGraph(nn.Module):
    """LAGC: learnable node embedding E and the adjacency A = softmax_row(relu(E E^T)) (dense form).

    One instance is shared by every LS-Conv of a network. `distance_km` optionally limits the graph
    to pairs of cells at most that far apart (the paper's Q1): entries beyond it are left out of the
    row softmax, so they are exactly zero in A and each row still sums to one.

    What LS-Conv reads of it are its `operands()`, named as in GRAPH_OPERANDS[form]: here
    G = (I + A)^T; SparseAdaptiveGraph gives neighbour indices and folded weights instead.
    """

    form = "dense"

    def __init__(self, n_nodes: int, embed_dim: int, distances_km: np.ndarray | None = None,
                 distance_km: float | None = None):
        super().__init__()
        self._init_embedding(n_nodes, embed_dim)
        if distance_km is not None:
            if distances_km is None:
                raise ValueError("a distance threshold needs the grid's cell distances")
            keep = torch.as_tensor(distances_km <= distance_km)
            self.register_buffer("keep", keep, persistent=False)
        else:
            self.keep = None

    def _init_embedding(self, n_nodes: int, embed_dim: int):
        self.embedding = nn.Parameter(torch.randn(n_nodes, embed_dim) * (1.0 / embed_dim ** 0.5))
        # Set only for export: the operands frozen into constants, shared by every LS-Conv node.
        # Persistent so the exporter makes them initializers; None (and so absent) except while exporting.
        for name in GRAPH_OPERANDS[self.form]:
            self.register_buffer(FOLDED_BUFFERS[name], None)
        self._pass_operands = None  # the operands of the current forward pass, see one_operator_per_pass

    @property
    def n_nodes(self) -> int:
        return self.embedding.shape[0]

    @property
    def k(self) -> int:
        """Neighbours per node: every node in the dense form."""
        return self.n_nodes

    def adjacency(self) -> torch.Tensor:
        scores = F.relu(self.embedding @ self.embedding.T)
        if self.keep is not None:
            scores = scores.masked_fill(~self.keep, float("-inf"))
        return torch.softmax(scores, dim=1)

    def _compute_operands(self) -> dict[str, torch.Tensor]:
        a = self.adjacency()
        return {"G": (torch.eye(a.shape[0], dtype=a.dtype, device=a.device) + a).T}

    def _folded(self) -> dict[str, torch.Tensor] | None:
        tensors = {name: getattr(self, FOLDED_BUFFERS[name]) for name in GRAPH_OPERANDS[self.form]}
        return None if any(t is None for t in tensors.values()) else tensors

    @property
    def is_folded(self) -> bool:
        return self._folded() is not None

    def operands(self) -> dict[str, torch.Tensor]:
        """What LS-Conv reads of the graph, by the names of GRAPH_OPERANDS[form]: the frozen constants
        while exporting, else this forward pass's (one_operator_per_pass), else computed now."""
        folded = self._folded()
        if folded is not None:
            return folded
        if self._pass_operands is not None:
            return self._pass_operands
        return self._compute_operands()

    @contextlib.contextmanager
    def one_operator_per_pass(self):
        """Compute the operands ((I + A)^T, or the sparse weights) once for a whole forward pass
        instead of once per LS-Conv call.

        A depends on the weights only, so every call of a pass sees the same matrix; computing it
        once saves the softmax and its backward for all but one of the (layers x steps) calls
        (about a quarter of a training step on ERA5) and gives bit-identical forecasts.
        """
        if self.is_folded or self._pass_operands is not None:
            yield
            return
        self._pass_operands = self._compute_operands()
        try:
            yield
        finally:
            self._pass_operands = None

    def operator_t(self) -> torch.Tensor:
        """(I + A)^T, so that for X flattened to (B, C, N), L = X @ (I + A)^T (dense form)."""
        return self.operands()["G"]

    def fold(self):
        """Freeze the operands into constants for export: inference then pays no softmax."""
        with torch.no_grad():
            self.unfold()
            for name, t in self._compute_operands().items():
                setattr(self, FOLDED_BUFFERS[name], t.detach().clone().contiguous())

    def unfold(self):
        for name in GRAPH_OPERANDS[self.form]:
            setattr(self, FOLDED_BUFFERS[name], None)


class SparseAdaptiveGraph(AdaptiveGraph):
    """LAGC over a fixed neighbour list (the sparse form; see the module docstring).

    neighbours: (N, k) node indices, each row the node itself first, then its nearest nodes
    (data.nearest_cells); neighbour_km: their great-circle distances. With `distance_km`,
    neighbours farther than it are left out of the row softmax (weight exactly zero), as the dense
    form's threshold does. The embedding is initialised exactly as the dense form's (same seed, same E).
    """

    form = "sparse"

    def __init__(self, n_nodes: int, embed_dim: int, neighbours: np.ndarray, neighbour_km: np.ndarray,
                 distance_km: float | None = None):
        nn.Module.__init__(self)
        self._init_embedding(n_nodes, embed_dim)
        neighbours = torch.as_tensor(np.asarray(neighbours), dtype=torch.int64)
        if neighbours.dim() != 2 or neighbours.shape[0] != n_nodes:
            raise ValueError(f"neighbours must be (n_nodes={n_nodes}, k), got {tuple(neighbours.shape)}")
        if not torch.equal(neighbours[:, 0], torch.arange(n_nodes)):
            raise ValueError("each node must be its own first neighbour (the identity is folded into column 0)")
        # Derived from the grid's geometry, rebuilt with the model: not part of the checkpoint.
        self.register_buffer("neighbours", neighbours, persistent=False)
        km = torch.as_tensor(np.asarray(neighbour_km), dtype=torch.float32)
        self.register_buffer("neighbour_km", km, persistent=False)
        if distance_km is not None:
            self.register_buffer("keep", km <= distance_km, persistent=False)
        else:
            self.keep = None

    @property
    def k(self) -> int:
        return self.neighbours.shape[1]

    def weights(self) -> torch.Tensor:
        """(N, k): row softmax of relu(e_i . e_j) over each node's neighbours (A's non-zero entries)."""
        e = self.embedding
        scores = F.relu(torch.einsum("nd,nkd->nk", e, e[self.neighbours]))
        if self.keep is not None:
            scores = scores.masked_fill(~self.keep, float("-inf"))
        return torch.softmax(scores, dim=1)

    def adjacency(self) -> torch.Tensor:
        """A as a dense N x N matrix: for inspection (evaluation's adjacency map) only."""
        w = self.weights()
        return torch.zeros(self.n_nodes, self.n_nodes, dtype=w.dtype, device=w.device).scatter(1, self.neighbours, w)

    def _compute_operands(self) -> dict[str, torch.Tensor]:
        w = self.weights()
        return {"G_index": self.neighbours, "G_weight": torch.cat([w[:, :1] + 1.0, w[:, 1:]], dim=1)}  # I + A


# The operator's parameters, one definition: (name, path of the tensor in an LS-Conv layer), in
# order. The exported `ai.lsntp::LSConv` node takes them as its inputs after X under these names
# (export.py builds the node, its traced stand-in and its ONNX function body from this list).
NSA_PARAMETERS = (
    ("nsa_w1", "conv1.weight"), ("nsa_b1", "conv1.bias"), ("gn1_s", "norm1.weight"), ("gn1_b", "norm1.bias"),
    ("nsa_w2", "conv2.weight"), ("nsa_b2", "conv2.bias"), ("gn2_s", "norm2.weight"), ("gn2_b", "norm2.bias"),
    ("nsa_w3", "conv3.weight"), ("nsa_b3", "conv3.bias"),
)


def _graph_operand(name: str) -> Callable[["LSConv"], torch.Tensor]:
    return lambda layer: layer.graph[0].operands()[name]


def parameter_spec(settings: LSConvSettings) -> list[tuple[str, Callable[["LSConv"], torch.Tensor]]]:
    """The parameters of an LS-Conv with these settings: an ordered list of (name, getter of the
    tensor from an `LSConv` layer). When LAGC is on, the graph's operands (GRAPH_OPERANDS): G = (I + A)^T
    in the dense form, G_index and G_weight (neighbour indices, int64 N x k, and the weights of I + A
    on them, N x k) in the sparse form; NSA's ten when NSA is on; then the LSI convolution's W and B.
    The one statement of which parameters there are and their order."""
    spec: list[tuple[str, Callable[[LSConv], torch.Tensor]]] = []
    if settings.lagc:
        spec.extend((name, _graph_operand(name)) for name in GRAPH_OPERANDS[settings.graph])
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


SPARSE_CHUNK_ELEMENTS = 1 << 22  # gathered values held at once by the sparse product (16 MB of float32)


class _NeighbourSum(torch.autograd.Function):
    """L[b, c, n] = sum_j weight[n, j] * X[b, c, index[n, j]] on X (B, C, N).

    Node-major inside (X as N rows of B*C values, so each gathered neighbour is one contiguous row),
    in blocks of neighbour columns, keeping only X and the weights for the backward: memory
    O(B C N), never B C N k."""

    @staticmethod
    def _columns(rows, n, k):
        if torch.jit.is_tracing():  # export: one block (torch 1.13's exporter fails on the in-place loop over several)
            return [(0, k)]
        step = max(1, min(k, SPARSE_CHUNK_ELEMENTS // max(1, rows * n)))
        return [(s, min(k, s + step)) for s in range(0, k, step)]

    @staticmethod
    def forward(ctx, x, index, weight):
        b, c, n = x.shape
        xt = x.permute(2, 0, 1).reshape(n, b * c)  # (N, B*C), a copy
        ctx.save_for_backward(xt, index, weight)
        ctx.shape = (b, c, n)
        out = xt.new_zeros(n, b * c)
        for s, e in _NeighbourSum._columns(b * c, n, index.shape[1]):
            out += (xt[index[:, s:e]] * weight[:, s:e, None].to(xt.dtype)).sum(1)
        return out.reshape(n, b, c).permute(1, 2, 0)

    @staticmethod
    def backward(ctx, grad):
        xt, index, weight = ctx.saved_tensors
        b, c, n = ctx.shape
        g = grad.permute(2, 0, 1).reshape(n, b * c)
        gx = torch.zeros_like(xt) if ctx.needs_input_grad[0] else None
        gw = torch.zeros_like(weight) if ctx.needs_input_grad[2] else None
        for s, e in _NeighbourSum._columns(b * c, n, index.shape[1]):
            idx = index[:, s:e]
            if gx is not None:  # dL/dX[index[n, j]] += grad[n] * weight[n, j]
                gx.index_add_(0, idx.reshape(-1), (g[:, None, :] * weight[:, s:e, None].to(g.dtype)).reshape(-1, b * c))
            if gw is not None:
                gw[:, s:e] = (g[:, None, :] * xt[idx]).sum(-1).to(gw.dtype)
        return (None if gx is None else gx.reshape(n, b, c).permute(1, 2, 0)), None, gw


def sparse_graph_constraint(x: torch.Tensor, index: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L = (I + A) X in the sparse form: L_n = sum_j weight[n, j] X_index[n, j], with the identity in
    the self entry's weight; X (B, C, H, W) flattened to (B, C, N) and folded back."""
    b, c, h, w = x.shape
    return _NeighbourSum.apply(x.reshape(b, c, h * w), index, weight).reshape(b, c, h, w)


def ls_conv(x: torch.Tensor, p: Mapping[str, torch.Tensor], settings: LSConvSettings) -> torch.Tensor:
    """LS-Conv of X with the named parameters of `parameter_spec(settings)`: the operator's one
    PyTorch definition (training and evaluation run it; export traces it as one node)."""
    if settings.nsa:
        x = node_attention(x, p)
    if settings.lagc and settings.graph == "sparse":
        x = sparse_graph_constraint(x, p["G_index"], p["G_weight"])
    elif settings.lagc:
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
        if settings.lagc and graph.form != settings.graph:
            raise ValueError(f"LS-Conv set for the {settings.graph} graph form was given a {graph.form} graph")
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
