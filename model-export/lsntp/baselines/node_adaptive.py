"""AGCRN's graph convolution (AVWGCN; Bai et al., "Adaptive Graph Convolutional Recurrent Network
for Traffic Forecasting", NeurIPS 2020) on the coarse grid's nodes: the gate operator of AGCRN and
of DAGG-ConvLSTM.

    A = softmax_row(relu(E E^T))                     DAGG: data-adaptive graph generation
    Z_n = sum_k (T_k X)_n W_n,k + b_n,   W_n = E_n W_pool,  b_n = E_n b_pool   (node-adaptive parameters)
with Chebyshev order 2 (T_0 = I, T_1 = A), AGCRN's setting. E and A come from the network's one
AdaptiveGraph (ls_conv.py), shared by every layer as AGCRN shares its node embedding, so A X is
read from the pass's (I + A) X, computed once per forward pass and folded into one constant on
export. Each node's map W_n is E_n W_pool; it is formed on every call, as in AGCRN.
"""
from __future__ import annotations

import torch
from torch import nn

from ..ls_conv import AdaptiveGraph

CHEB_ORDER = 2  # T_0 = I, T_1 = A


class NodeAdaptiveGraphConv(nn.Module):
    """in_channels -> out_channels on (B, C, H, W) whose H x W cells are the graph's nodes."""

    def __init__(self, in_channels: int, out_channels: int, graph: AdaptiveGraph):
        super().__init__()
        if graph is None:
            raise ValueError("AGCRN's graph convolution needs the network's AdaptiveGraph")
        self.graph = [graph]  # a list, so the shared graph is not registered once per layer
        embed_dim = graph.embedding.shape[1]
        fan_in = CHEB_ORDER * in_channels
        # E_n has unit norm on average (AdaptiveGraph's init), so every node's map starts at a Linear layer's scale
        bound = fan_in ** -0.5
        self.weights_pool = nn.Parameter(torch.empty(embed_dim, fan_in, out_channels).uniform_(-bound, bound))
        self.bias_pool = nn.Parameter(torch.zeros(embed_dim, out_channels))

    def forward(self, x):
        graph = self.graph[0]
        nodes = x.flatten(2)  # (B, C, N)
        neighbours = nodes @ graph.operator_t() - nodes  # A X
        features = torch.cat([nodes, neighbours], dim=1)  # (B, K C, N): T_0 X then T_1 X
        e = graph.embedding
        weights = (e @ self.weights_pool.flatten(1)).reshape(e.shape[0], *self.weights_pool.shape[1:])  # (N, K C, out)
        bias = e @ self.bias_pool  # (N, out)
        out = features.permute(2, 0, 1) @ weights + bias.unsqueeze(1)  # (N, B, out)
        return out.permute(1, 2, 0).reshape(x.shape[0], -1, x.shape[2], x.shape[3])
