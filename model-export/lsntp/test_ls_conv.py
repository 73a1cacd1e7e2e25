"""LS-Conv against the seed's equation, and each ablation switch changing exactly what it names."""
import numpy as np
import pytest
import torch

from .data import cell_distances_km
from .ls_conv import AdaptiveGraph, LSConv, LSConvSettings


def naive_ls_conv(x, adjacency, theta, bias):
    """The seed's LSI written as its equation: per-offset graph convolutions L Theta_{p,q}, folded back to
    (n, m, f) and summed at the shifted positions ("in a CNN manner"), with zero outside the grid."""
    b, c, n, m = x.shape
    f, _, k, _ = theta.shape
    r = k // 2
    N = n * m
    L = np.einsum("ij,bcj->bic", np.eye(N) + adjacency, x.reshape(b, c, N))  # (B, N, C) = (I + A) X
    out = np.zeros((b, f, n, m))
    for p in range(k):
        for q in range(k):
            g = (L @ theta[:, :, p, q].T).reshape(b, n, m, f)  # graph convolution with kernel entry (p, q)
            for i in range(n):
                for j in range(m):
                    si, sj = i + p - r, j + q - r  # cross-correlation, as PyTorch's convolution
                    if 0 <= si < n and 0 <= sj < m:
                        out[:, :, i, j] += g[:, si, sj, :]
    return np.maximum(out + bias[None, :, None, None], 0.0)


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_ls_conv_equals_the_seed_equation(kernel):
    torch.manual_seed(1)
    n, m, c, f = 4, 5, 3, 2
    graph = AdaptiveGraph(n * m, 6)
    conv = LSConv(c, f, LSConvSettings(kernel=kernel, nsa=False), graph).double()
    graph.double()
    x = torch.randn(2, c, n, m, dtype=torch.float64)
    with torch.no_grad():
        got = conv(x).numpy()
        a = graph.adjacency().numpy()
    want = naive_ls_conv(x.numpy(), a, conv.conv.weight.detach().numpy(), conv.conv.bias.detach().numpy())
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_adjacency_is_row_softmax_of_relu_of_embedding_product():
    g = AdaptiveGraph(7, 3)
    e = g.embedding.detach().numpy()
    s = np.maximum(e @ e.T, 0)
    want = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g.adjacency().detach().numpy(), want, rtol=1e-5)


def test_distance_threshold_zeroes_far_entries_and_keeps_rows_normalised():
    lats, lons = np.array([50.0, 52.0, 54.0]), np.array([0.0, 3.0])
    dist = cell_distances_km(lats, lons)
    g = AdaptiveGraph(6, 4, dist, distance_km=250.0)
    a = g.adjacency().detach().numpy()
    assert np.all(a[dist > 250.0] == 0.0)
    assert np.all(a[dist <= 250.0] > 0.0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    a0 = AdaptiveGraph(6, 4, dist, distance_km=0.0).adjacency().detach().numpy()
    np.testing.assert_allclose(a0, np.eye(6))  # d = 0: no long-range correlation at all


def _layer(**switches):
    torch.manual_seed(0)
    graph = AdaptiveGraph(12, 4)
    return LSConv(3, 4, LSConvSettings(nsa_hidden=4, **switches), graph), graph


def test_without_nsa_removes_only_the_attention():
    full, _ = _layer()
    no_nsa, _ = _layer(nsa=False)
    assert full.nsa is not None and no_nsa.nsa is None
    assert no_nsa.conv.weight.shape == full.conv.weight.shape
    x = torch.randn(1, 3, 3, 4)
    with torch.no_grad():  # with NSA's weights gone, the layer is exactly graph + LSI
        no_nsa.conv.load_state_dict(full.conv.state_dict())
        from .ls_conv import graph_constraint
        want = torch.relu(full.conv(graph_constraint(x, no_nsa.graph[0].operator_t())))
        torch.testing.assert_close(no_nsa(x), want)


def test_without_lagc_ignores_the_graph():
    layer, graph = _layer(lagc=False)
    x = torch.randn(1, 3, 3, 4)
    with torch.no_grad():
        before = layer(x)
        graph.embedding.add_(torch.randn_like(graph.embedding))
        torch.testing.assert_close(layer(x), before)
    full, g2 = _layer()
    with torch.no_grad():
        before = full(x)
        g2.embedding.mul_(3.0)
        assert not torch.allclose(full(x), before)


def test_without_lsi_is_a_per_node_linear_map_without_relu():
    layer, _ = _layer(lsi=False, kernel=3)
    assert layer.conv.kernel_size == (1, 1)
    x = torch.randn(2, 3, 3, 4)
    with torch.no_grad():
        assert (layer(x) < 0).any()  # no ReLU


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_kernel_size_sets_the_lsi_kernel(k):
    layer, _ = _layer(kernel=k)
    assert layer.conv.kernel_size == (k, k)
    assert layer(torch.randn(1, 3, 3, 4)).shape == (1, 4, 3, 4)


def test_even_kernel_is_refused():
    with pytest.raises(ValueError, match="odd"):
        LSConvSettings(kernel=4)


def test_linear_lsi_drops_only_the_relu():
    relu, _ = _layer()
    linear, _ = _layer(lsi_relu=False)
    x = torch.randn(2, 3, 3, 4)
    with torch.no_grad():
        linear.load_state_dict(relu.state_dict())
        y = linear(x)
        assert (y < 0).any()
        torch.testing.assert_close(torch.relu(y), relu(x))


@pytest.mark.parametrize("switches", [{}, {"nsa": False}, {"lagc": False}, {"nsa": False, "lagc": False}, {"lsi": False},
                                      {"lsi_relu": False}, {"kernel": 1}, {"kernel": 5}])
def test_parameter_spec_names_every_parameter_of_the_layer_once(switches):
    """The one list the exported node's inputs come from holds every trained tensor of the layer, and
    G = (I + A)^T exactly when the layer reads the graph."""
    from .ls_conv import ls_conv, parameter_names
    layer, graph = _layer(**switches)
    ops = layer.named_operands()
    assert list(ops) == parameter_names(layer.settings)
    assert ("G" in ops) == layer.settings.lagc and ops["W"] is layer.conv.weight and ops["B"] is layer.conv.bias
    own = {id(p) for p in layer.parameters()}
    named = [id(t) for n, t in ops.items() if n != "G"]
    assert sorted(named) == sorted(own)  # each parameter once, none left out
    x = torch.randn(2, 3, 3, 4)
    with torch.no_grad():
        if "G" in ops:
            torch.testing.assert_close(ops["G"], graph.operator_t())
        torch.testing.assert_close(ls_conv(x, ops, layer.settings), layer(x))
