"""MIM: shapes, ST-LSTM at the bottom and MIM blocks above, MIM-N reading the change of the
block's input, the MIM LSTM and the block by hand (1x1 kernels), training, ONNX export."""
import numpy as np
import torch

from .. import system_checks as checks
from ..cells import SpatioTemporalLSTMCell
from ..forecaster import core_of
from .mim import MIMBlock, MimLSTM


def test_forecast_shape():
    checks.assert_forecast_shape("mim", layers=3)


def test_bottom_layer_is_an_st_lstm_and_the_rest_mim_blocks():
    core = core_of(checks.tiny_model("mim", layers=3))
    for stack in (core.encoder, core.decoder):
        assert [type(c) for c in stack] == [SpatioTemporalLSTMCell, MIMBlock, MIMBlock]


def _random(*shape):
    return torch.randn(*shape).numpy()


def _mim_lstm(module, x, h, c):
    """MimLSTM by hand (1x1 kernels)."""
    s = checks.sigmoid
    w = module.peephole.detach().numpy()
    i, g, f, o = np.split(checks.conv1x1(module.conv_x, x) + checks.conv1x1(module.conv_h, h), 4, axis=1)
    c = s(f + w[1] * c + 1) * c + s(i + w[0] * c) * np.tanh(g)
    return s(o + w[2] * c) * np.tanh(c), c


def test_mim_lstm_by_hand():
    torch.manual_seed(0)
    lstm = MimLSTM(2, 3, kernel=1, grid=(4, 5))
    with torch.no_grad():
        lstm.peephole.normal_()
        x, h, c = _random(2, 2, 4, 5), _random(2, 3, 4, 5), _random(2, 3, 4, 5)
        got = lstm(*map(torch.from_numpy, (x, h, c)))
    for g, hand in zip(got, _mim_lstm(lstm, x, h, c)):
        np.testing.assert_allclose(g.numpy(), hand, rtol=1e-4, atol=1e-5)


def test_block_by_hand_over_two_steps():
    """Step one: MIM-N has no change to read and stays zero. Step two: it reads X_2 - X_1."""
    torch.manual_seed(0)
    block = MIMBlock(3, 3, kernel=1, grid=(4, 5))
    s, conv = checks.sigmoid, checks.conv1x1
    x1, x2, m = _random(2, 3, 4, 5), _random(2, 3, 4, 5), _random(2, 3, 4, 5)
    with torch.no_grad():
        for p in (block.non_stationary.peephole, block.stationary.peephole):
            p.normal_()
        state = block.init_state(torch.from_numpy(x1))
        _, state, m1 = block(torch.from_numpy(x1), state, torch.from_numpy(m))
        assert not state[2][0].any() and not state[2][1].any()
        got_h, (_, got_c, (got_nh, _), _, got_prev), got_m = block(torch.from_numpy(x2), state, m1)
    h1, c1, s1 = (t.numpy() for t in (state[0], state[1], state[3]))
    n_h, n_c = _mim_lstm(block.non_stationary, x2 - x1, np.zeros_like(h1), np.zeros_like(h1))
    ix, gx, fx, ox = np.split(conv(block.conv_x, x2), 4, axis=1)
    ih, gh, oh = np.split(conv(block.conv_h, h1), 3, axis=1)
    im, gm, fm, om = np.split(conv(block.conv_m, m1.numpy()), 4, axis=1)
    m_new = s(fx + fm + 1) * m1.numpy() + s(ix + im) * np.tanh(gx + gm)
    t, _ = _mim_lstm(block.stationary, n_h, c1, s1)  # MIM-S in place of the forget path
    c_new = t + s(ix + ih) * np.tanh(gx + gh)
    h_new = s(ox + oh + om) * np.tanh(conv(block.conv_last, np.concatenate([c_new, m_new], axis=1)))
    for got, hand in ((got_nh, n_h), (got_m, m_new), (got_c, c_new), (got_h, h_new), (got_prev, x2)):
        np.testing.assert_allclose(got.numpy(), hand, rtol=1e-4, atol=1e-5)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("mim")


def test_exports_to_standard_onnx(small_config, tmp_path):
    checks.exported_model("mim", small_config, tmp_path)
