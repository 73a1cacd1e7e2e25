"""DAGG-ConvLSTM: shapes, the peephole LSTM on AGCRN's graph convolution by hand, training, ONNX export."""
import numpy as np
import torch

from .. import system_checks as checks
from ..cells import PeepholeLSTMCell
from ..forecaster import core_of
from .node_adaptive import NodeAdaptiveGraphConv


def test_forecast_shape():
    checks.assert_forecast_shape("daggconvlstm", downsample=False)


def test_gates_are_the_graph_convolution_on_the_one_graph():
    core = core_of(checks.tiny_model("daggconvlstm"))
    cells = list(core.encoder) + list(core.decoder)
    assert all(isinstance(c, PeepholeLSTMCell) and isinstance(c.gates, NodeAdaptiveGraphConv) for c in cells)
    assert {id(c.gates.graph[0]) for c in cells} == {id(core.graph)}


def test_first_step_by_hand():
    """From a zero state the peephole terms vanish: C = s(G_i + b_i) tanh(G_c + b_c), H = s(G_o + W_co C + b_o) tanh(C),
    with G AGCRN's graph convolution of [X, 0] node by node."""
    torch.manual_seed(0)
    model = checks.tiny_model("daggconvlstm", downsample=False)
    core = core_of(model)
    cell = core.encoder[0]
    with torch.no_grad():
        for p in (cell.peephole, cell.bias, cell.gates.bias_pool):
            p.normal_()
        x = torch.randn(2, core.in_channels, *core.grid)
        h, (_, c), _ = cell(x, cell.init_state(x))
    n, nodes = 4, core.grid[0] * core.grid[1]
    xh = np.concatenate([x.flatten(2).numpy(), np.zeros((2, n, nodes))], axis=1)
    g = checks.agcrn_graph_conv(xh, core.graph.embedding.detach().numpy(), cell.gates.weights_pool.detach().numpy(),
                                cell.gates.bias_pool.detach().numpy())
    b = cell.bias.detach().numpy().reshape(4, n, 1)
    w_co = cell.peephole[2].detach().numpy().reshape(n, nodes)
    c_hand = checks.sigmoid(g[:, 0:n] + b[0]) * np.tanh(g[:, 2 * n:3 * n] + b[2])
    h_hand = checks.sigmoid(g[:, 3 * n:] + w_co * c_hand + b[3]) * np.tanh(c_hand)
    np.testing.assert_allclose(c.flatten(2).numpy(), c_hand, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h.flatten(2).numpy(), h_hand, rtol=1e-4, atol=1e-5)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("daggconvlstm")


def test_exports_to_standard_onnx(small_config, tmp_path):
    assert "MatMul" in checks.op_types(checks.exported_model("daggconvlstm", small_config, tmp_path))
