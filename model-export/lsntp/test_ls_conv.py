"""LS-Conv against the paper's equation, and each ablation switch changing exactly what it names."""
import dataclasses

import numpy as np
import pytest
import torch

from .data import cell_distances_km
from .ls_conv import AdaptiveGraph, LSConv, LSConvSettings


def naive_ls_conv(x, adjacency, theta, bias):
    """The paper's LSI written as its equation: per-offset graph convolutions L Theta_{p,q}, folded back to
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


# --- The sparse graph form (SparseAdaptiveGraph): k nearest nodes by great-circle distance ------------

def _sparse_pair(h, w, k, embed_dim=4, distance_km=None, seed=3):
    """A dense and a sparse graph over the same h x w grid of nodes with the same embedding."""
    from .data import nearest_cells
    from .ls_conv import SparseAdaptiveGraph
    lats, lons = 52.0 - 0.5 * np.arange(h), -2.0 + 0.5 * np.arange(w)
    torch.manual_seed(seed)
    dense = AdaptiveGraph(h * w, embed_dim, cell_distances_km(lats, lons), distance_km)
    index, km = nearest_cells(lats, lons, k)
    torch.manual_seed(seed)
    sparse = SparseAdaptiveGraph(h * w, embed_dim, index, km, distance_km)
    assert torch.equal(dense.embedding, sparse.embedding)  # initialised alike
    return dense, sparse


@pytest.mark.parametrize("distance_km", [None, 80.0])
def test_sparse_graph_with_every_node_as_neighbour_equals_the_dense_one(distance_km):
    dense, sparse = _sparse_pair(3, 4, k=12, distance_km=distance_km)
    dense.double(), sparse.double()
    torch.testing.assert_close(sparse.adjacency(), dense.adjacency())
    settings = LSConvSettings(kernel=3, nsa_hidden=4)
    torch.manual_seed(0)
    d_layer = LSConv(3, 2, settings, dense).double()
    s_layer = LSConv(3, 2, dataclasses.replace(settings, graph="sparse"), sparse).double()
    s_layer.load_state_dict(d_layer.state_dict())
    x = torch.randn(2, 3, 3, 4, dtype=torch.float64)
    yd, ys = d_layer(x), s_layer(x)
    torch.testing.assert_close(ys, yd, rtol=1e-12, atol=1e-12)
    (yd ** 2).sum().backward()
    (ys ** 2).sum().backward()
    torch.testing.assert_close(sparse.embedding.grad, dense.embedding.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(s_layer.conv.weight.grad, d_layer.conv.weight.grad, rtol=1e-10, atol=1e-12)


def test_sparse_graph_with_a_distance_covered_by_k_equals_the_dense_threshold():
    """Q1's threshold d: with k at least the most nodes any node has within d, the sparse form is it."""
    lats, lons = 52.0 - 0.5 * np.arange(5), -2.0 + 0.5 * np.arange(6)
    k = int((cell_distances_km(lats, lons) <= 120.0).sum(axis=1).max())
    dense, sparse = _sparse_pair(5, 6, k=k, distance_km=120.0)
    assert k < 30
    torch.testing.assert_close(sparse.adjacency(), dense.adjacency())


def test_sparse_weights_are_a_row_softmax_over_the_neighbours_only():
    _, sparse = _sparse_pair(4, 5, k=6)
    e = sparse.embedding.detach().numpy()
    idx = sparse.neighbours.numpy()
    assert idx.shape == (20, 6) and (idx[:, 0] == np.arange(20)).all()  # itself first
    s = np.maximum(np.einsum("nd,nkd->nk", e, e[idx]), 0)
    want = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sparse.weights().detach().numpy(), want, rtol=1e-5)
    ops = sparse.operands()
    assert list(ops) == ["G_index", "G_weight"]
    identity = np.zeros((20, 6))
    identity[:, 0] = 1.0  # column 0 is the node itself
    np.testing.assert_allclose(ops["G_weight"].detach().numpy(), want + identity, rtol=1e-5)  # I + A
    a = sparse.adjacency().detach().numpy()
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    assert ((a > 0).sum(axis=1) == 6).all()


def test_sparse_neighbour_sum_gradients():
    from .ls_conv import _NeighbourSum
    torch.manual_seed(0)
    n, k = 7, 3
    index = torch.stack([torch.arange(n)] + [torch.randint(0, n, (n,)) for _ in range(k - 1)], 1)
    x = torch.randn(2, 3, n, dtype=torch.float64, requires_grad=True)
    w = torch.rand(n, k, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: _NeighbourSum.apply(x, index, w), (x, w))
    want = torch.einsum("nk,bcnk->bcn", w, x[:, :, index])
    torch.testing.assert_close(_NeighbourSum.apply(x, index, w), want)


def test_sparse_graph_never_builds_n_by_n():
    """62,500 graph nodes (a 250 x 250 coarse grid): N x N would be 15.6 GB of float32. A training
    step (forward and backward) of an LS-Conv on it holds only N x k tensors."""
    import resource
    from .data import nearest_cells
    from .ls_conv import SparseAdaptiveGraph
    h = w = 250
    lats, lons = 60.0 - 0.5 * np.arange(h), -10.0 + 0.5 * np.arange(w)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    index, km = nearest_cells(lats, lons, 9)
    graph = SparseAdaptiveGraph(h * w, 4, index, km)
    assert tuple(graph.neighbours.shape) == (h * w, 9)
    layer = LSConv(2, 2, LSConvSettings(kernel=3, nsa=False, graph="sparse"), graph)
    with graph.one_operator_per_pass():
        ops = graph.operands()
        assert tuple(ops["G_index"].shape) == tuple(ops["G_weight"].shape) == (h * w, 9)
        y = layer(torch.randn(1, 2, h, w))
    y.square().mean().backward()
    assert graph.embedding.grad is not None and graph.embedding.grad.abs().sum() > 0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 1000, f"peak memory grew by {grown_mb:.0f} MB"


def test_nearest_cells_are_the_nearest_with_ties_to_the_lower_index_either_way():
    from .data import nearest_cells
    lats, lons = 58.0 - 0.5 * np.arange(9), -10.0 + 0.5 * np.arange(13)
    dist = cell_distances_km(lats, lons)
    for k in (1, 5, 9, 40, 117, 500):
        idx, km = nearest_cells(lats, lons, k)
        kk = min(k, dist.shape[0])
        assert idx.shape == km.shape == (dist.shape[0], kk)
        assert (idx[:, 0] == np.arange(dist.shape[0])).all()
        np.testing.assert_allclose(km, np.sort(dist, axis=1)[:, :kk], atol=1e-9)  # the k smallest distances
        np.testing.assert_array_equal(idx, nearest_cells(lats, lons, k, use_scipy=False)[0])  # KD-tree = block search
    # a node's east and west neighbours are equally far: the lower index wins a tie at the k-th place
    idx, _ = nearest_cells(np.array([50.0]), np.arange(5.0), 2)
    assert idx[2].tolist() == [2, 1]
