"""Bilinear sampling of a feature map at displaced positions: the warping of TrajGRU and the
deformable convolution of D-ConvLSTM.

It is torch.nn.functional.grid_sample, which exports as the standard ONNX GridSample (opset 16),
with zero padding, so a position off the grid reads zeros as a convolution's padding does, and
align_corners=True, so integer positions read grid cells exactly. Every size is fixed when the
sampler is built, so the exported graph holds no shape arithmetic but the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pixel_positions(height: int, width: int) -> torch.Tensor:
    """(H, W, 2): every cell's own position, (column, row) in pixels."""
    rows, cols = torch.meshgrid(torch.arange(height, dtype=torch.float32),
                                torch.arange(width, dtype=torch.float32), indexing="ij")
    return torch.stack([cols, rows], dim=-1)


class PointSampler(nn.Module):
    """Reads P points per cell of a (B, channels, H, W) map: point j of cell p at
    p + offsets[j] + displacement_j(p), (column, row) in pixels; returns (B, channels, P, H, W)."""

    def __init__(self, channels: int, grid: tuple[int, int], offsets: torch.Tensor):
        super().__init__()
        height, width = grid
        self.shape = (channels, offsets.shape[0], height, width)
        # grid_sample's coordinates run from -1 (first cell) to 1 (last cell)
        to_unit = torch.tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])
        origins = pixel_positions(height, width) + offsets[:, None, None, :]  # (P, H, W, 2)
        self.register_buffer("origins", origins * to_unit - 1.0, persistent=False)
        self.register_buffer("to_unit", to_unit, persistent=False)

    def forward(self, x, displacement):
        """displacement (B, 2 P, H, W): channels 2 j and 2 j + 1 move point j by columns and rows."""
        channels, points, height, width = self.shape
        moves = displacement.reshape(-1, points, 2, height, width).permute(0, 1, 3, 4, 2)
        grid = (self.origins + moves * self.to_unit).reshape(-1, points * height, width, 2)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        return out.reshape(-1, channels, points, height, width)
