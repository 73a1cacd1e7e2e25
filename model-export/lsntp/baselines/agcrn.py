"""AGCRN (Bai et al., "Adaptive Graph Convolutional Recurrent Network for Traffic Forecasting",
NeurIPS 2020), reference code github.com/LeiBAI/AGCRN: a GRU whose gates are node-adaptive graph
convolutions (node_adaptive.py) over a data-adaptive graph.

    z, r = sigmoid(AVWGCN([X, H]))      H~ = tanh(AVWGCN([X, z o H]))      H = r o H + (1 - r) o H~
(the reference's naming: z resets the state, r keeps it.)

Fitted into our encoder-decoder: the graph's nodes are the cells of the coarse grid after our
stride-2 encoder convolution, exactly as LS-NTP's graph is, and the node embedding E is the
network's one AdaptiveGraph (`model.embed_dim`), shared by every layer as AGCRN shares its own.
AGCRN reads the window with an encoder of such cells and emits every lead at once from the last
hidden state with one convolution; here a decoder of the same cells continues from the encoder's
states and emits one lead per step, as every system of the comparison does.
"""
from __future__ import annotations

import torch
from torch import nn

from ..cells import LayerSpec, zero_state
from .node_adaptive import NodeAdaptiveGraphConv


class AGCRNCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, graph):
        super().__init__()
        self.hidden = hidden
        self.gate = NodeAdaptiveGraphConv(in_channels + hidden, 2 * hidden, graph)
        self.update = NodeAdaptiveGraphConv(in_channels + hidden, hidden, graph)

    def init_state(self, x):
        return zero_state(x, self.hidden, 1)

    def forward(self, x, state, memory=None):
        zr = torch.sigmoid(self.gate(torch.cat([x, state], dim=1)))
        z, r = zr[:, :self.hidden], zr[:, self.hidden:]
        candidate = torch.tanh(self.update(torch.cat([x, z * state], dim=1)))
        h = r * state + (1 - r) * candidate
        return h, h, memory


def make_cell(spec: LayerSpec) -> AGCRNCell:
    return AGCRNCell(spec.in_channels, spec.hidden, spec.graph)
