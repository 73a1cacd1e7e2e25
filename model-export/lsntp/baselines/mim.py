"""MIM (Wang et al., "Memory In Memory: A Predictive Neural Network for Learning Higher-Order
Non-Stationarity from Spatiotemporal Dynamics", CVPR 2019), reference code
github.com/chengtan9907/OpenSTL (mim_modules.py, mim_model.py).

The bottom layer is PredRNN's ST-LSTM (cells.SpatioTemporalLSTMCell); every layer above is a MIM
block, an ST-LSTM whose forget path C_{t-1} -> C_t is replaced by two cascaded recurrent modules:
    MIM-N: N = LSTM_N(H^{l-1}_t - H^{l-1}_{t-1})      the non-stationary part: the change of the layer's input
    MIM-S: T = LSTM_S(N; its input), acting on C_{t-1}  C_t = T + i o g
both LSTMs of the form (MimLSTM)
    i, g, f, o from conv(X) + conv(H) + [W_ci, W_cf] o C      C' = s(f + 1) o C + s(i) o tanh(g)
    H' = s(o + W_co o C') o tanh(C')
and the rest of the block as the ST-LSTM: M' = s(f_x + f_m + 1) o M + s(i_x + i_m) o tanh(g_x + g_m),
H = s(o_x + o_h + o_m) o tanh(W_1x1 [C, M']).

Fitted into our encoder-decoder: each stack (encoder, decoder) is the paper's stack. Each MIM
block keeps its own input of the step before in its state, so MIM-N sees H^{l-1}_t - H^{l-1}_{t-1}
without reaching into the layer below; at the first step the difference is taken as zero (the
reference then skips MIM-N). With more than two layers the paper stacks the MIM-N modules (each
reads the MIM-N output below it); here every block's MIM-N reads the change of its own input
(with our two layers per stack, as configured, the two coincide). The input convolutions carry
the biases (the reference uses none).
"""
from __future__ import annotations

import torch
from torch import nn

from ..cells import LayerSpec, SpatioTemporalLSTMCell, zero_state


class MimLSTM(nn.Module):
    """The LSTM of both MIM-N and MIM-S: conv gates from X and H, elementwise peepholes on C."""

    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        p = kernel // 2
        self.conv_x = nn.Conv2d(in_channels, 4 * hidden, kernel, padding=p)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, kernel, padding=p, bias=False)
        self.peephole = nn.Parameter(torch.zeros(3, hidden, *grid))  # W_ci, W_cf, W_co

    def forward(self, x, h, c):
        i, g, f, o = torch.chunk(self.conv_x(x) + self.conv_h(h), 4, dim=1)
        c = torch.sigmoid(f + self.peephole[1] * c + 1.0) * c + torch.sigmoid(i + self.peephole[0] * c) * torch.tanh(g)
        h = torch.sigmoid(o + self.peephole[2] * c) * torch.tanh(c)
        return h, c


class MIMBlock(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        p = kernel // 2
        self.hidden = hidden
        self.conv_x = nn.Conv2d(in_channels, 4 * hidden, kernel, padding=p)  # i, g, f, o
        self.conv_h = nn.Conv2d(hidden, 3 * hidden, kernel, padding=p, bias=False)  # i, g, o
        self.conv_m = nn.Conv2d(hidden, 4 * hidden, kernel, padding=p, bias=False)  # i, g, f, o
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)
        self.non_stationary = MimLSTM(in_channels, hidden, kernel, grid)  # MIM-N
        self.stationary = MimLSTM(hidden, hidden, kernel, grid)  # MIM-S

    def init_state(self, x):
        """H, C, MIM-N's (H, C), MIM-S's C, and the input of the step before (None: there was none)."""
        h, c, n_h, n_c, s_c = zero_state(x, self.hidden, 5)
        return h, c, (n_h, n_c), s_c, None

    def forward(self, x, state, memory=None):
        h_prev, c_prev, (n_h, n_c), s_c, x_prev = state
        if memory is None:
            memory = torch.zeros_like(c_prev)
        if x_prev is not None:  # the first step has no change to read; MIM-N's output stays zero
            n_h, n_c = self.non_stationary(x - x_prev, n_h, n_c)
        ix, gx, fx, ox = torch.chunk(self.conv_x(x), 4, dim=1)
        ih, gh, oh = torch.chunk(self.conv_h(h_prev), 3, dim=1)
        im, gm, fm, om = torch.chunk(self.conv_m(memory), 4, dim=1)
        m = torch.sigmoid(fx + fm + 1.0) * memory + torch.sigmoid(ix + im) * torch.tanh(gx + gm)
        t, s_c = self.stationary(n_h, c_prev, s_c)  # MIM-S: its input N, its "hidden" the temporal memory C
        c = t + torch.sigmoid(ix + ih) * torch.tanh(gx + gh)
        h = torch.sigmoid(ox + oh + om) * torch.tanh(self.conv_last(torch.cat([c, m], dim=1)))
        return h, (h, c, (n_h, n_c), s_c, x), m


def make_cell(spec: LayerSpec) -> nn.Module:
    if spec.layer == 0:
        return SpatioTemporalLSTMCell(spec.in_channels, spec.hidden, spec.kernel)
    return MIMBlock(spec.in_channels, spec.hidden, spec.kernel, spec.grid)
