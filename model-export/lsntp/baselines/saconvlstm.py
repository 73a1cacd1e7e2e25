"""SA-ConvLSTM (Lin et al., "Self-Attention ConvLSTM for Spatiotemporal Prediction", AAAI 2020),
reference code github.com/tsugumi-sys/SA-ConvLSTM-Pytorch: a ConvLSTM whose hidden state passes
through a self-attention memory (SAM) module with its own memory M, so each cell attends to every
other cell of the grid, now and in M.

    Q, K_h, V_h = W_q H, W_k H, W_v H         K_m, V_m = W_km M, W_vm M          (1x1 convolutions)
    Z_h = V_h softmax(Q^T K_h)^T              Z_m = V_m softmax(Q^T K_m)^T       (over the N grid cells)
    Z = W_z [Z_h, Z_m]
    i', g', o' = s, tanh, s (W_m [Z, H])      M' = (1 - i') o M + i' o g'       H^ = o' o M'
H^ is the cell's output and the hidden state its ConvLSTM reads at the next step. The attention
is MatMul and Softmax in ONNX.

Fitted into our encoder-decoder: the ConvLSTM is ours (cells.PeepholeLSTMCell with a convolution,
the ConvLSTM baseline's cell), so the two differ by SAM alone; attention runs over the coarse
grid's cells; Q and K have a quarter of the hidden channels (at least one), our choice where the
paper leaves it open; the softmax is unscaled, as in the paper.
"""
from __future__ import annotations

import torch
from torch import nn

from ..cells import LayerSpec, PeepholeLSTMCell, zero_state


def attend(query, key, value):
    """query (B, A, N), key (B, A, H, W), value (B, C, H, W): each cell's softmax-weighted mean of value."""
    weights = torch.softmax(query.transpose(1, 2) @ key.flatten(2), dim=-1)  # (B, N, N): row n attends over cells
    return (value.flatten(2) @ weights.transpose(1, 2)).reshape_as(value)


class SelfAttentionMemory(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        attention = max(1, channels // 4)
        # a key bias adds the same score to every cell a query sees, which the softmax cancels: keys have none
        self.query = nn.Conv2d(channels, attention, 1)
        self.key_h = nn.Conv2d(channels, attention, 1, bias=False)
        self.value_h = nn.Conv2d(channels, channels, 1)
        self.key_m = nn.Conv2d(channels, attention, 1, bias=False)
        self.value_m = nn.Conv2d(channels, channels, 1)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)  # W_z
        self.gates = nn.Conv2d(2 * channels, 3 * channels, 1)  # W_m: i', g', o'

    def forward(self, h, m):
        q = self.query(h).flatten(2)
        z = self.fuse(torch.cat([attend(q, self.key_h(h), self.value_h(h)),
                                 attend(q, self.key_m(m), self.value_m(m))], dim=1))
        i, g, o = torch.chunk(self.gates(torch.cat([z, h], dim=1)), 3, dim=1)
        i = torch.sigmoid(i)
        m = (1 - i) * m + i * torch.tanh(g)
        return torch.sigmoid(o) * m, m


class SAConvLSTMCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        self.hidden = hidden
        self.lstm = PeepholeLSTMCell(nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2), hidden, grid)
        self.sam = SelfAttentionMemory(hidden)

    def init_state(self, x):
        return zero_state(x, self.hidden, 3)  # H^, C, M

    def forward(self, x, state, memory=None):
        h_prev, c_prev, m_prev = state
        h, (_, c), _ = self.lstm(x, (h_prev, c_prev))
        h, m = self.sam(h, m_prev)
        return h, (h, c, m), memory


def make_cell(spec: LayerSpec) -> SAConvLSTMCell:
    return SAConvLSTMCell(spec.in_channels, spec.hidden, spec.kernel, spec.grid)
