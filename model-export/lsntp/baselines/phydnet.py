"""PhyDNet (Le Guen & Thome, "Disentangling Physical Dynamics from Unknown Factors for
Unsupervised Video Prediction", CVPR 2020), reference code github.com/chengtan9907/OpenSTL
(phydnet_modules.py): a physical branch, PhyCell, beside a ConvLSTM branch for what physics
leaves unexplained, their outputs added.

PhyCell, a latent PDE step and a Kalman-style correction by the observation E(X):
    H~ = H + Phi(H)        Phi = conv7x7 (49 filters) -> GroupNorm(7) -> conv1x1: sum_ij c_ij d^(i+j) H / dx^i dy^j
    K = s(W_k * [E(X), H])                      H' = H~ + K o (E(X) - H~)

Fitted into our encoder-decoder, where it departs from the paper:
- our encoder (the stride-2 convolution) replaces PhyDNet's shared image encoder, and our
  transposed convolution and 1x1 head its decoder; the branches are added as latent states
  instead of as decoded images;
- every layer is one PhyDNet pair: a PhyCell on E_p(X) (PhyDNet's physics-specific encoder, here
  one k x k convolution with LeakyReLU 0.2) beside our peephole ConvLSTM (cells.PeepholeLSTMCell
  with a convolution, the ConvLSTM baseline's cell) on X; the paper runs one PhyCell beside a
  3-layer ConvLSTM on a shared encoding;
- PhyDNet's moment loss, which keeps the 49 7 x 7 filters close to the finite-difference
  operators d^(i+j)/dx^i dy^j (i, j < 7), is not added: every system of the comparison trains on
  the same MSE. Instead the filters start exactly at those operators (`moment_kernels`), so Phi
  starts as a learned combination of spatial derivatives and training may move it;
- in the decoder the input is zero, so the correction pulls towards E(0) unless K learns to
  close; PhyDNet feeds its own previous forecast back instead.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..cells import LayerSpec, PeepholeLSTMCell, zero_state

PHYSICS_KERNEL = 7
PHYSICS_FILTERS = PHYSICS_KERNEL * PHYSICS_KERNEL  # one per derivative order (i, j), i, j < 7
PHYSICS_GROUPS = 7
LEAKY_SLOPE = 0.2


def moment_matrix(size: int) -> np.ndarray:
    """M[i, u] = (u - centre)^i / i!: a k x k filter w has moments M w M^T (PhyDNet's K2M)."""
    offsets = np.arange(size) - (size - 1) // 2
    return np.stack([offsets.astype(np.float64) ** i / math.factorial(i) for i in range(size)])


def moment_kernels(size: int) -> np.ndarray:
    """(size^2, size, size): filter i * size + j has moment 1 at (i, j) and 0 elsewhere, i.e. it is
    the finite-difference d^(i+j)/(d row^i d col^j) on the size x size stencil."""
    inverse = np.linalg.inv(moment_matrix(size))
    return np.einsum("ui,vj->ijuv", inverse, inverse).reshape(size * size, size, size)


class PhyCell(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.derivatives = nn.Conv2d(channels, PHYSICS_FILTERS, PHYSICS_KERNEL, padding=PHYSICS_KERNEL // 2)
        self.norm = nn.GroupNorm(PHYSICS_GROUPS, PHYSICS_FILTERS)
        self.combine = nn.Conv2d(PHYSICS_FILTERS, channels, 1)
        self.gain = nn.Conv2d(2 * channels, channels, 3, padding=1)  # K
        with torch.no_grad():  # every input channel gets the same derivative filters (PhyDNet constrains each)
            kernels = torch.from_numpy(moment_kernels(PHYSICS_KERNEL)).float()
            self.derivatives.weight.copy_(kernels[:, None].expand_as(self.derivatives.weight))
            self.derivatives.bias.zero_()

    def forward(self, observed, h):
        predicted = h + self.combine(self.norm(self.derivatives(h)))
        gain = torch.sigmoid(self.gain(torch.cat([observed, h], dim=1)))
        return predicted + gain * (observed - predicted)


class PhyDNetCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        self.hidden = hidden
        self.encode_physics = nn.Conv2d(in_channels, hidden, kernel, padding=kernel // 2)  # E_p
        self.physics = PhyCell(hidden)
        self.residual = PeepholeLSTMCell(
            nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2), hidden, grid)

    def init_state(self, x):
        return zero_state(x, self.hidden, 1), self.residual.init_state(x)

    def forward(self, x, state, memory=None):
        h_physics, lstm_state = state
        observed = F.leaky_relu(self.encode_physics(x), LEAKY_SLOPE)
        h_physics = self.physics(observed, h_physics)
        h_residual, lstm_state, _ = self.residual(x, lstm_state)
        return h_physics + h_residual, (h_physics, lstm_state), memory


def make_cell(spec: LayerSpec) -> PhyDNetCell:
    return PhyDNetCell(spec.in_channels, spec.hidden, spec.kernel, spec.grid)
