"""The benchmark's FLOP count: convolutions, transposed convolutions and the graph products."""
import torch
from torch import nn

from .benchmark import count_flops
from .ls_conv import AdaptiveGraph, LSConv, LSConvSettings


def test_counts_convolution_and_graph_products():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    assert count_flops(conv, torch.zeros(2, 3, 5, 6)) == 2 * (2 * 4 * 5 * 6) * 3 * 9
    up = nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1)
    assert count_flops(up, torch.zeros(1, 3, 5, 6)) == 2 * (3 * 5 * 6) * 4 * 16
    layer = LSConv(3, 4, LSConvSettings(kernel=3, nsa=False), AdaptiveGraph(30, 4))
    graph = 2 * 2 * 3 * 30 * 30  # (B, C, N) @ (N, N)
    assert count_flops(layer, torch.zeros(2, 3, 5, 6)) == graph + 2 * (2 * 4 * 30) * 3 * 9

    with_nsa = LSConv(3, 4, LSConvSettings(kernel=3, nsa_hidden=8), AdaptiveGraph(30, 4))
    nsa = 2 * (2 * 30) * (3 * 8 + 8 * 8 + 8 * 3)  # three 1x1 convolutions 3 -> 8 -> 8 -> 3
    assert count_flops(with_nsa, torch.zeros(2, 3, 5, 6)) == nsa + graph + 2 * (2 * 4 * 30) * 3 * 9


def test_counts_the_sparse_graph_product_over_k_neighbours():
    import numpy as np
    from .data import nearest_cells
    from .ls_conv import SparseAdaptiveGraph
    index, km = nearest_cells(np.array([50.0, 50.5, 51.0, 51.5, 52.0]), np.arange(6.0) * 0.5, 7)
    layer = LSConv(3, 4, LSConvSettings(kernel=3, nsa=False, graph="sparse"), SparseAdaptiveGraph(30, 4, index, km))
    assert count_flops(layer, torch.zeros(2, 3, 5, 6)) == 2 * 2 * 3 * 30 * 7 + 2 * (2 * 4 * 30) * 3 * 9
