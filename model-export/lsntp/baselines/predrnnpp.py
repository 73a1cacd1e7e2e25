"""PredRNN++ (Wang et al., "PredRNN++: Towards A Resolution of the Deep-in-Time Dilemma in
Spatiotemporal Predictive Learning", ICML 2018), reference code github.com/chengtan9907/OpenSTL
(predrnnpp_modules.py): the Causal LSTM, whose spatio-temporal memory M is updated from the new
temporal memory C in cascade, and the Gradient Highway Unit between the first and second layers.

Causal LSTM (M zigzags through the layers as PredRNN's does):
    (g, i, f) = (tanh, s, s)(W1 * [X, H, C])                 C' = f o C + i o g
    (g', i', f') = (tanh, s, s)(W2 * [X, C', M])              M' = f' o tanh(W3 * M) + i' o g'
    o = tanh(W4 * [X, H, C', M'])                             H' = o o tanh(W5 [C', M'])   (W5 1x1)
GHU:  P = tanh(W_px * X + W_pz * Z)   S = s(W_sx * X + W_sz * Z)   Z' = S o P + (1 - S) o Z

Fitted into our encoder-decoder: each stack (encoder, decoder) is the paper's stack, the GHU
inside the bottom layer's cell (its output Z' is what the second layer reads). The forget gates
get PredRNN's +1 bias, and the input convolutions carry the biases (the reference uses none).
"""
from __future__ import annotations

import torch
from torch import nn

from ..cells import LayerSpec, zero_state


class CausalLSTMCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        p = kernel // 2
        self.hidden = hidden
        self.conv_x = nn.Conv2d(in_channels, 7 * hidden, kernel, padding=p)
        self.conv_h = nn.Conv2d(hidden, 4 * hidden, kernel, padding=p, bias=False)
        self.conv_c = nn.Conv2d(hidden, 3 * hidden, kernel, padding=p, bias=False)
        self.conv_m = nn.Conv2d(hidden, 3 * hidden, kernel, padding=p, bias=False)
        self.conv_c2m = nn.Conv2d(hidden, 4 * hidden, kernel, padding=p, bias=False)
        self.conv_om = nn.Conv2d(hidden, hidden, kernel, padding=p, bias=False)
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def init_state(self, x):
        return zero_state(x, self.hidden, 2)

    def forward(self, x, state, memory=None):
        h_prev, c_prev = state
        if memory is None:
            memory = torch.zeros_like(c_prev)
        ix, fx, gx, ixm, fxm, gxm, ox = torch.chunk(self.conv_x(x), 7, dim=1)
        ih, fh, gh, oh = torch.chunk(self.conv_h(h_prev), 4, dim=1)
        ic, fc, gc = torch.chunk(self.conv_c(c_prev), 3, dim=1)
        im, fm, mm = torch.chunk(self.conv_m(memory), 3, dim=1)
        c = torch.sigmoid(fx + fh + fc + 1.0) * c_prev + torch.sigmoid(ix + ih + ic) * torch.tanh(gx + gh + gc)
        icm, gcm, fcm, oc = torch.chunk(self.conv_c2m(c), 4, dim=1)
        m = (torch.sigmoid(fxm + fm + fcm + 1.0) * torch.tanh(mm)
             + torch.sigmoid(ixm + im + icm) * torch.tanh(gxm + gcm))
        o = torch.tanh(ox + oh + oc + self.conv_om(m))
        h = o * torch.tanh(self.conv_last(torch.cat([c, m], dim=1)))
        return h, (h, c), m


class GradientHighwayUnit(nn.Module):
    def __init__(self, hidden: int, kernel: int):
        super().__init__()
        self.hidden = hidden
        self.conv_x = nn.Conv2d(hidden, 2 * hidden, kernel, padding=kernel // 2)
        self.conv_z = nn.Conv2d(hidden, 2 * hidden, kernel, padding=kernel // 2, bias=False)

    def forward(self, x, z):
        p, s = torch.chunk(self.conv_x(x) + self.conv_z(z), 2, dim=1)
        s = torch.sigmoid(s)
        return s * torch.tanh(p) + (1 - s) * z


class HighwayCausalLSTMCell(nn.Module):
    """The bottom layer: a Causal LSTM followed by the GHU, whose state Z it keeps."""

    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        self.lstm = CausalLSTMCell(in_channels, hidden, kernel)
        self.highway = GradientHighwayUnit(hidden, kernel)

    def init_state(self, x):
        return self.lstm.init_state(x), zero_state(x, self.lstm.hidden, 1)

    def forward(self, x, state, memory=None):
        lstm_state, z = state
        h, lstm_state, memory = self.lstm(x, lstm_state, memory)
        z = self.highway(h, z)
        return z, (lstm_state, z), memory


def make_cell(spec: LayerSpec) -> nn.Module:
    cell = HighwayCausalLSTMCell if spec.layer == 0 else CausalLSTMCell
    return cell(spec.in_channels, spec.hidden, spec.kernel)
