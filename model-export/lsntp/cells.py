"""Recurrent cells: the peephole ConvLSTM (with LS-Conv it is the LS-ConvLSTM), ConvGRU and PredRNN's ST-LSTM.

Every cell has the same interface so one encoder-decoder drives them all:
    cell.init_state(x) -> state;  cell(x, state, memory) -> (h, state, memory)
`memory` is PredRNN's spatio-temporal memory M that zigzags through the layer stack; the cells
without one pass it through untouched. A kind's cell is built from a `LayerSpec` by the builder
that kinds.py registers; the comparison systems' cells live in baselines/.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .ls_conv import AdaptiveGraph, LSConv, LSConvSettings


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """What a model kind's cell builder (kinds.py) is told about one layer of a stack."""
    in_channels: int
    hidden: int
    grid: tuple[int, int]  # the (coarse) grid the cell runs on
    kernel: int
    layer: int  # 0 is the bottom layer of its stack (encoder or decoder)
    settings: LSConvSettings | None = None  # LS-Conv's switches (lsntp)
    graph: AdaptiveGraph | None = None  # the network's one adaptive graph, for the kinds that use it


def zero_state(x, hidden: int, parts: int):
    """Zero hidden (and cell) state on the grid of input x: one tensor, or a tuple of `parts`."""
    b, _, h, w = x.shape
    z = x.new_zeros(b, hidden, h, w)
    return z if parts == 1 else (z,) * parts


class PeepholeLSTMCell(nn.Module):
    """ConvLSTM of Shi et al. (2015) with peepholes, whose gate operator is pluggable.

    i = s(W_x*X + W_h*H + W_ci o C_{t-1} + b_i)    f likewise with W_cf
    c~ = tanh(W_x*X + W_h*H + b_c)                   C = f o C_{t-1} + i o c~
    o = s(W_x*X + W_h*H + W_co o C_t + b_o)          H = o o tanh(C)
    `gates` computes all W_x*X + W_h*H at once on concat(X, H): a Conv2d gives ConvLSTM, an LS-Conv
    gives the LS-ConvLSTM of LS-NTP.
    """

    def __init__(self, gates: nn.Module, hidden: int, grid: tuple[int, int]):
        super().__init__()
        self.gates, self.hidden = gates, hidden
        self.peephole = nn.Parameter(torch.zeros(3, hidden, *grid))  # W_ci, W_cf, W_co
        bias = torch.zeros(4, hidden, 1, 1)
        bias[1] = 1.0  # forget gate starts open
        self.bias = nn.Parameter(bias)

    def init_state(self, x):
        return zero_state(x, self.hidden, 2)

    def forward(self, x, state, memory=None):
        h_prev, c_prev = state
        g = self.gates(torch.cat([x, h_prev], dim=1))
        n = self.hidden
        gi, gf, gc, go = g[:, 0:n], g[:, n:2 * n], g[:, 2 * n:3 * n], g[:, 3 * n:4 * n]
        i = torch.sigmoid(gi + self.peephole[0] * c_prev + self.bias[0])
        f = torch.sigmoid(gf + self.peephole[1] * c_prev + self.bias[1])
        c = f * c_prev + i * torch.tanh(gc + self.bias[2])
        o = torch.sigmoid(go + self.peephole[2] * c + self.bias[3])
        h = o * torch.tanh(c)
        return h, (h, c), memory


class ConvGRUCell(nn.Module):
    """ConvGRU (Ballas et al., 2016): z, r from conv([X, H]); candidate from conv([X, r o H])."""

    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        self.hidden = hidden
        self.zr = nn.Conv2d(in_channels + hidden, 2 * hidden, kernel, padding=kernel // 2)
        self.cand = nn.Conv2d(in_channels + hidden, hidden, kernel, padding=kernel // 2)

    def init_state(self, x):
        return zero_state(x, self.hidden, 1)

    def forward(self, x, state, memory=None):
        n = self.hidden
        zr = torch.sigmoid(self.zr(torch.cat([x, state], dim=1)))
        z, r = zr[:, 0:n], zr[:, n:2 * n]
        cand = torch.tanh(self.cand(torch.cat([x, r * state], dim=1)))
        h = (1 - z) * cand + z * state
        return h, h, memory


class SpatioTemporalLSTMCell(nn.Module):
    """PredRNN's ST-LSTM (Wang et al., 2017): a ConvLSTM plus a spatio-temporal memory M."""

    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        p = kernel // 2
        self.hidden = hidden
        self.conv_x = nn.Conv2d(in_channels, 7 * hidden, kernel, padding=p)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, kernel, padding=p, bias=False)
        self.conv_m = nn.Conv2d(hidden, 3 * hidden, kernel, padding=p, bias=False)
        self.conv_o = nn.Conv2d(2 * hidden, hidden, kernel, padding=p, bias=False)
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def init_state(self, x):
        return zero_state(x, self.hidden, 2)

    def forward(self, x, state, memory=None):
        h_prev, c_prev = state
        if memory is None:
            memory = torch.zeros_like(c_prev)
        n = self.hidden
        xs = self.conv_x(x)
        hs = self.conv_h(h_prev)
        ms = self.conv_m(memory)
        ix, fx, gx, ixp, fxp, gxp, ox = (xs[:, k * n:(k + 1) * n] for k in range(7))
        ih, fh, gh, oh = (hs[:, k * n:(k + 1) * n] for k in range(4))
        im, fm, gm = (ms[:, k * n:(k + 1) * n] for k in range(3))
        c = torch.sigmoid(fx + fh + 1.0) * c_prev + torch.sigmoid(ix + ih) * torch.tanh(gx + gh)
        m = torch.sigmoid(fxp + fm + 1.0) * memory + torch.sigmoid(ixp + im) * torch.tanh(gxp + gm)
        mem = torch.cat([c, m], dim=1)
        o = torch.sigmoid(ox + oh + self.conv_o(mem))
        h = o * torch.tanh(self.conv_last(mem))
        return h, (h, c), m


def lsntp_cell(spec: LayerSpec) -> PeepholeLSTMCell:
    return PeepholeLSTMCell(LSConv(spec.in_channels + spec.hidden, 4 * spec.hidden, spec.settings, spec.graph),
                            spec.hidden, spec.grid)


def convlstm_cell(spec: LayerSpec) -> PeepholeLSTMCell:
    conv = nn.Conv2d(spec.in_channels + spec.hidden, 4 * spec.hidden, spec.kernel, padding=spec.kernel // 2)
    return PeepholeLSTMCell(conv, spec.hidden, spec.grid)


def convgru_cell(spec: LayerSpec) -> ConvGRUCell:
    return ConvGRUCell(spec.in_channels, spec.hidden, spec.kernel)


def predrnn_cell(spec: LayerSpec) -> SpatioTemporalLSTMCell:
    return SpatioTemporalLSTMCell(spec.in_channels, spec.hidden, spec.kernel)
