"""D-ConvLSTM: a ConvLSTM whose gate convolution is a deformable convolution (Dai et al.,
"Deformable Convolutional Networks", ICCV 2017), the operator the paper's D-ConvLSTM names; the
seed cites no source for the cell, so this is the plainest one: our peephole ConvLSTM
(cells.PeepholeLSTMCell, the cell of the ConvLSTM baseline and of LS-NTP) with its k x k gate
convolution over [X, H] made deformable.

    offsets = conv_kxk([X, H])  (2 k^2 channels, zero at the start: a plain ConvLSTM then)
    G(p) = sum_t W_t [X, H](p + p_t + offset_t(p)) + b     bilinear reads, zero off the grid
so every gate's receptive field can bend with the flow, as TrajGRU's links do for its state.

The k^2 reads are one sampling.PointSampler call (grid_sample, ONNX GridSample) and the weighted sum a
1x1 convolution of them, never torchvision's deform_conv2d, which no standard ONNX operator runs.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ..cells import LayerSpec, PeepholeLSTMCell
from .sampling import PointSampler, pixel_positions


class DeformableConv2d(nn.Module):
    """k x k deformable convolution (DCNv1), same padding; with zero offsets it is nn.Conv2d."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, grid: tuple[int, int]):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel)  # W and b (nn.Conv2d's init), applied to the reads
        self.offsets = nn.Conv2d(in_channels, 2 * kernel * kernel, kernel, padding=kernel // 2)
        nn.init.zeros_(self.offsets.weight)
        nn.init.zeros_(self.offsets.bias)
        # tap t = i * k + j reads (column j - k // 2, row i - k // 2) from the cell: the layout of weight[:, :, i, j]
        taps = pixel_positions(kernel, kernel).reshape(kernel * kernel, 2) - kernel // 2
        self.sampler = PointSampler(in_channels, grid, taps)

    def forward(self, x):
        reads = self.sampler(x, self.offsets(x)).flatten(1, 2)  # (B, C k^2, H, W), channel-major
        weight = self.conv.weight.reshape(self.conv.out_channels, -1, 1, 1)  # (out, C k^2, 1, 1), the same layout
        return F.conv2d(reads, weight, self.conv.bias)


def make_cell(spec: LayerSpec) -> PeepholeLSTMCell:
    gates = DeformableConv2d(spec.in_channels + spec.hidden, 4 * spec.hidden, spec.kernel, spec.grid)
    return PeepholeLSTMCell(gates, spec.hidden, spec.grid)
