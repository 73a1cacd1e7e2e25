"""PredRNN++: shapes, the GHU in the bottom layer only, the Causal LSTM and the GHU by hand
(1x1 kernels), training, ONNX export."""
import numpy as np
import torch

from .. import system_checks as checks
from ..forecaster import core_of
from .predrnnpp import CausalLSTMCell, GradientHighwayUnit, HighwayCausalLSTMCell


def test_forecast_shape():
    checks.assert_forecast_shape("predrnnpp", layers=1)
    checks.assert_forecast_shape("predrnnpp", layers=3, downsample=False)


def test_gradient_highway_sits_in_the_bottom_layer_only():
    core = core_of(checks.tiny_model("predrnnpp", layers=3))
    for stack in (core.encoder, core.decoder):
        assert [type(c) for c in stack] == [HighwayCausalLSTMCell, CausalLSTMCell, CausalLSTMCell]


def _random(*shape):
    return torch.randn(*shape).numpy()


def test_causal_lstm_by_hand():
    torch.manual_seed(0)
    cell = CausalLSTMCell(2, 3, kernel=1)
    x, h, c, m = _random(2, 2, 4, 5), _random(2, 3, 4, 5), _random(2, 3, 4, 5), _random(2, 3, 4, 5)
    with torch.no_grad():
        got_h, (_, got_c), got_m = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)),
                                         torch.from_numpy(m))
    s, conv = checks.sigmoid, checks.conv1x1
    ix, fx, gx, ixm, fxm, gxm, ox = np.split(conv(cell.conv_x, x), 7, axis=1)
    ih, fh, gh, oh = np.split(conv(cell.conv_h, h), 4, axis=1)
    ic, fc, gc = np.split(conv(cell.conv_c, c), 3, axis=1)
    im, fm, mm = np.split(conv(cell.conv_m, m), 3, axis=1)
    c_new = s(fx + fh + fc + 1) * c + s(ix + ih + ic) * np.tanh(gx + gh + gc)  # C' first ...
    icm, gcm, fcm, oc = np.split(conv(cell.conv_c2m, c_new), 4, axis=1)
    m_new = s(fxm + fm + fcm + 1) * np.tanh(mm) + s(ixm + im + icm) * np.tanh(gxm + gcm)  # ... then M' from C'
    o = np.tanh(ox + oh + oc + conv(cell.conv_om, m_new))
    h_new = o * np.tanh(conv(cell.conv_last, np.concatenate([c_new, m_new], axis=1)))
    for got, hand in ((got_c, c_new), (got_m, m_new), (got_h, h_new)):
        np.testing.assert_allclose(got.numpy(), hand, rtol=1e-4, atol=1e-5)


def test_gradient_highway_by_hand():
    torch.manual_seed(0)
    ghu = GradientHighwayUnit(3, kernel=1)
    x, z = _random(2, 3, 4, 5), _random(2, 3, 4, 5)
    with torch.no_grad():
        got = ghu(torch.from_numpy(x), torch.from_numpy(z)).numpy()
    p, s = np.split(checks.conv1x1(ghu.conv_x, x) + checks.conv1x1(ghu.conv_z, z), 2, axis=1)
    s = checks.sigmoid(s)
    np.testing.assert_allclose(got, s * np.tanh(p) + (1 - s) * z, rtol=1e-4, atol=1e-5)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("predrnnpp")


def test_exports_to_standard_onnx(small_config, tmp_path):
    checks.exported_model("predrnnpp", small_config, tmp_path)
