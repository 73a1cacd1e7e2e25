"""DAGG-ConvLSTM, the paper's own ablation (Table 4 of LS-NTP, Xu et al., Neural Networks 155, 2022):
our peephole ConvLSTM (cells.PeepholeLSTMCell, the cell of LS-NTP and of the ConvLSTM baseline)
whose gate operator is AGCRN's adaptive graph convolution (Bai et al., NeurIPS 2020;
node_adaptive.py) instead of LS-Conv or a convolution:
DAGG, A = softmax(relu(E E^T)), with node-adaptive parameters W_n = E_n W_pool.

The graph is LS-NTP's: one AdaptiveGraph over the coarse grid's nodes (`model.embed_dim`), shared
by every layer. So against LS-NTP it swaps LS-Conv (NSA, (I + A) X, k x k LSI) for AGCRN's
per-node linear map of [X, A X], and against AGCRN the GRU for the peephole LSTM.
"""
from __future__ import annotations

from ..cells import LayerSpec, PeepholeLSTMCell
from .node_adaptive import NodeAdaptiveGraphConv


def make_cell(spec: LayerSpec) -> PeepholeLSTMCell:
    gates = NodeAdaptiveGraphConv(spec.in_channels + spec.hidden, 4 * spec.hidden, spec.graph)
    return PeepholeLSTMCell(gates, spec.hidden, spec.grid)
