"""TrajGRU (Shi et al., "Deep Learning for Precipitation Nowcasting: A Benchmark and A New Model",
NeurIPS 2017), reference code github.com/Hzzone/Precipitation-Nowcasting: a ConvGRU whose
state-to-state connections follow L learned flow fields instead of a fixed kernel.

    U, V = gamma(X, H)                   flows: conv5x5(X) + conv5x5(H) -> LeakyReLU -> conv5x5 -> 2L
    W_l(H) = warp(H, U_l, V_l)           H read bilinearly at p + (U_l, V_l)(p)
    Z = s(W_xz * X + sum_l W_hz^l W_l(H))      R = s(W_xr * X + sum_l W_hr^l W_l(H))
    H' = LeakyReLU(W_xh * X + R o sum_l W_hh^l W_l(H))       H = (1 - Z) o H' + Z o H
The sums over links are one 1x1 convolution of the L warped copies. Warping is
sampling.PointSampler (grid_sample, ONNX GridSample).

Fitted into our encoder-decoder: one TrajGRU cell per layer on the coarse grid, `model.kernel`
for the input-to-state convolution, L = 5 links in every layer (the reference code's default;
the paper used 13 and 9 on 480 x 480 radar images, where motion spans far more cells than our
17 x 25 grid). The decoder's input is zero, so there the flows depend on H alone, as in the
paper's forecaster.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..cells import LayerSpec, zero_state
from .sampling import PointSampler

LINKS = 5  # L
FLOW_CHANNELS = 32  # the flow generator's hidden channels (reference code)
FLOW_KERNEL = 5
LEAKY_SLOPE = 0.2


class TrajGRUCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        self.hidden = hidden
        p, pf = kernel // 2, FLOW_KERNEL // 2
        self.input_to_state = nn.Conv2d(in_channels, 3 * hidden, kernel, padding=p)  # W_xz, W_xr, W_xh
        self.input_to_flow = nn.Conv2d(in_channels, FLOW_CHANNELS, FLOW_KERNEL, padding=pf)
        self.state_to_flow = nn.Conv2d(hidden, FLOW_CHANNELS, FLOW_KERNEL, padding=pf)
        self.flows = nn.Conv2d(FLOW_CHANNELS, 2 * LINKS, FLOW_KERNEL, padding=pf)
        self.sampler = PointSampler(hidden, grid, torch.zeros(LINKS, 2))  # link l reads p + flow_l(p)
        # input channel c * L + l is link l of hidden channel c (the sampler's layout)
        self.state_to_state = nn.Conv2d(hidden * LINKS, 3 * hidden, 1)  # W_hz^l, W_hr^l, W_hh^l

    def init_state(self, x):
        return zero_state(x, self.hidden, 1)

    def warp(self, h, x):
        """H read along each of the L flows: (B, C * L, H, W)."""
        flows = self.flows(F.leaky_relu(self.input_to_flow(x) + self.state_to_flow(h), LEAKY_SLOPE))
        warped = self.sampler(h, flows)  # (B, C, L, H, W)
        return warped.flatten(1, 2)

    def forward(self, x, state, memory=None):
        n = self.hidden
        xs = self.input_to_state(x)
        hs = self.state_to_state(self.warp(state, x))
        z = torch.sigmoid(xs[:, :n] + hs[:, :n])
        r = torch.sigmoid(xs[:, n:2 * n] + hs[:, n:2 * n])
        candidate = F.leaky_relu(xs[:, 2 * n:] + r * hs[:, 2 * n:], LEAKY_SLOPE)
        h = (1 - z) * candidate + z * state
        return h, h, memory


def make_cell(spec: LayerSpec) -> TrajGRUCell:
    return TrajGRUCell(spec.in_channels, spec.hidden, spec.kernel, spec.grid)
