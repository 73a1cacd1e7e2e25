"""SA-ConvLSTM: shapes, attention and the self-attention memory by hand, training, ONNX export."""
import numpy as np
import torch

from .. import system_checks as checks
from .saconvlstm import SAConvLSTMCell, SelfAttentionMemory, attend


def test_forecast_shape():
    checks.assert_forecast_shape("saconvlstm", downsample=False)


def test_attention_cell_by_cell():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 20), torch.randn(2, 3, 4, 5), torch.randn(2, 6, 4, 5)
    got = attend(q, k, v).flatten(2).numpy()
    qn, kn, vn = q.numpy(), k.flatten(2).numpy(), v.flatten(2).numpy()
    for b in range(2):
        for n in range(20):
            scores = qn[b, :, n] @ kn[b]  # cell n against every cell
            w = np.exp(scores - scores.max())
            np.testing.assert_allclose(got[b, :, n], vn[b] @ (w / w.sum()), rtol=1e-4, atol=1e-5)


def test_memory_update_by_hand():
    torch.manual_seed(0)
    sam = SelfAttentionMemory(4)
    h, m = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)
    with torch.no_grad():
        got_h, got_m = sam(h, m)
        q = sam.query(h).flatten(2)
        z = sam.fuse(torch.cat([attend(q, sam.key_h(h), sam.value_h(h)), attend(q, sam.key_m(m), sam.value_m(m))], 1))
    gates = checks.conv1x1(sam.gates, torch.cat([z, h], 1).numpy())
    i, g, o = checks.sigmoid(gates[:, :4]), np.tanh(gates[:, 4:8]), checks.sigmoid(gates[:, 8:])
    m_hand = (1 - i) * m.numpy() + i * g
    np.testing.assert_allclose(got_m.numpy(), m_hand, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_h.numpy(), o * m_hand, rtol=1e-4, atol=1e-5)


def test_cell_feeds_the_attended_state_back():
    torch.manual_seed(0)
    cell = SAConvLSTMCell(2, 4, kernel=3, grid=(3, 5))
    x = torch.randn(2, 2, 3, 5)
    with torch.no_grad():
        h1, state, _ = cell(x, cell.init_state(x))
        h2, _, _ = cell(x, state)
        lstm_h, (_, c), _ = cell.lstm(x, (h1, state[1]))  # the ConvLSTM reads H^, not its own H
        expected, _ = cell.sam(lstm_h, state[2])
    assert state[0] is h1
    torch.testing.assert_close(h2, expected)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("saconvlstm")


def test_exports_to_standard_onnx(small_config, tmp_path):
    assert {"MatMul", "Softmax"} <= checks.op_types(checks.exported_model("saconvlstm", small_config, tmp_path))
