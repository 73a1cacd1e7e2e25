"""AGCRN: shapes, one node embedding for every layer, the graph convolution node by node and the
GRU update by hand, training, ONNX export with one folded adjacency."""
import numpy as np
import torch

from .. import system_checks as checks
from ..forecaster import core_of
from ..ls_conv import AdaptiveGraph
from .agcrn import AGCRNCell
from .node_adaptive import NodeAdaptiveGraphConv


def test_forecast_shape():
    checks.assert_forecast_shape("agcrn", downsample=False)


def test_every_layer_reads_the_one_node_embedding():
    core = core_of(checks.tiny_model("agcrn"))
    convs = [m for m in core.modules() if isinstance(m, NodeAdaptiveGraphConv)]
    assert len(convs) == 2 * 2 * 2  # gate and update, two layers per side
    assert {id(c.graph[0]) for c in convs} == {id(core.graph)}
    assert core.graph.n_nodes == 5 * 6  # the coarse grid's cells
    assert [n for n, _ in core.named_parameters() if "embedding" in n] == ["graph.embedding"]


def test_graph_convolution_node_by_node():
    torch.manual_seed(0)
    graph = AdaptiveGraph(6, 3)
    conv = NodeAdaptiveGraphConv(2, 3, graph)
    with torch.no_grad():
        conv.bias_pool.normal_()
        x = torch.randn(2, 2, 2, 3)  # a 2 x 3 grid: 6 nodes
        got = conv(x).numpy()
    expected = checks.agcrn_graph_conv(x.flatten(2).numpy(), graph.embedding.detach().numpy(),
                                       conv.weights_pool.detach().numpy(), conv.bias_pool.detach().numpy())
    np.testing.assert_allclose(got.reshape(2, 3, 6), expected, rtol=1e-5, atol=1e-5)


def test_gru_update_by_hand():
    torch.manual_seed(0)
    cell = AGCRNCell(1, 2, AdaptiveGraph(6, 3))
    x, h = torch.randn(1, 1, 2, 3), torch.randn(1, 2, 2, 3)
    with torch.no_grad():
        got, _, _ = cell(x, h)
        zr = torch.sigmoid(cell.gate(torch.cat([x, h], 1)))
        candidate = torch.tanh(cell.update(torch.cat([x, zr[:, :2] * h], 1)))
    torch.testing.assert_close(got, zr[:, 2:] * h + (1 - zr[:, 2:]) * candidate)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("agcrn")


def test_exports_to_standard_onnx(small_config, tmp_path):
    proto = checks.exported_model("agcrn", small_config, tmp_path)
    n = 5 * 6
    assert sum(1 for i in proto.graph.initializer if list(i.dims) == [n, n]) == 1  # (I + A)^T, folded once
