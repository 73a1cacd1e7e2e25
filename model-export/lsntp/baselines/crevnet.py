"""CrevNet (Yu et al., "Efficient and Information-Preserving Future Frame Prediction and Beyond",
ICLR 2020), reference code github.com/chengtan9907/OpenSTL (v0.2, crevnet_modules.py
zig_rev_predictor): a conditionally reversible network. Its predictor, the reversible predictive
module, splits the features in two halves and updates one from a ConvRNN of the other:

    (X1, X2) = X       H = ConvRNN(X1)       g = s(W_1x1 H)       X2' = (1 - g) o X2 + g o H
    output (X2', X1)   (halves swapped, so the next layer updates the other half)

Given the output and the RNN's state, X1 and then X2 = (X2' - g o H) / (1 - g) are recovered:
the layer loses no information.

Fitted into our encoder-decoder, where it departs from the paper:
- our encoder (the stride-2 convolution) and decoder replace CrevNet's invertible i-RevNet
  autoencoder, so the whole network is no longer reversible, only each predictive layer;
- `model.hidden` channels split into two halves of hidden / 2 (it must be even); where a layer's
  input has another width (the bottom layer reads the encoder's channels), a 1x1 convolution
  lifts it to `hidden` first, standing in for the invertible encoder's channel count;
- the ConvRNN is PredRNN's ST-LSTM (cells.SpatioTemporalLSTMCell, hidden / 2 channels), the unit
  the paper names, with its memory M zigzagging through the layers as in the paper; the
  reference code's variant also feeds C to the gates and works on 3-frame 3D convolutions;
  ours reads one frame per step with 2D convolutions, as every system of the comparison does.
"""
from __future__ import annotations

import torch
from torch import nn

from ..cells import LayerSpec, SpatioTemporalLSTMCell


class ReversiblePredictiveCell(nn.Module):
    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        if hidden % 2:
            raise ValueError(f"CrevNet splits its features in two halves: model.hidden must be even, got {hidden}")
        half = hidden // 2
        self.half = half
        self.lift = nn.Conv2d(in_channels, hidden, 1) if in_channels != hidden else None
        self.rnn = SpatioTemporalLSTMCell(half, half, kernel)
        self.attention = nn.Conv2d(half, half, 1)

    def init_state(self, x):
        return self.rnn.init_state(x)

    def forward(self, x, state, memory=None):
        if self.lift is not None:
            x = self.lift(x)
        x1, x2 = x[:, :self.half], x[:, self.half:]
        h, state, memory = self.rnn(x1, state, memory)
        g = torch.sigmoid(self.attention(h))
        x2 = (1 - g) * x2 + g * h
        return torch.cat([x2, x1], dim=1), state, memory


def make_cell(spec: LayerSpec) -> ReversiblePredictiveCell:
    return ReversiblePredictiveCell(spec.in_channels, spec.hidden, spec.kernel)
