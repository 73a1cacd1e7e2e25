"""D-ConvLSTM: shapes, the deformable convolution by hand (plain convolution at zero offsets,
shifted and interpolated reads), training, ONNX export."""
import torch
import torch.nn.functional as F

from .. import system_checks as checks
from .dconvlstm import DeformableConv2d


def test_forecast_shape():
    checks.assert_forecast_shape("dconvlstm", downsample=False, kernel=5)


def _conv_with_offset(column: float, row: float):
    torch.manual_seed(0)
    conv = DeformableConv2d(2, 3, 3, grid=(4, 5))
    with torch.no_grad():  # every tap of every cell moves by (column, row)
        conv.offsets.bias.copy_(torch.tensor([column, row]).repeat(9))
    return conv


def test_zero_offsets_make_it_a_plain_convolution():
    conv = _conv_with_offset(0.0, 0.0)
    x = torch.randn(2, 2, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), F.conv2d(x, conv.conv.weight, conv.conv.bias, padding=1))


def test_offsets_move_every_read():
    x = torch.randn(2, 2, 4, 5)
    with torch.no_grad():
        conv = _conv_with_offset(1.0, 0.0)
        # tap j of column c reads column c + j + 1: an unpadded convolution of x padded with two columns on the right
        plain = F.conv2d(F.pad(x, (0, 2, 1, 1)), conv.conv.weight, conv.conv.bias)
        torch.testing.assert_close(conv(x), plain)
        half = _conv_with_offset(0.5, 0.0)  # bilinear: half way between the two reads
        torch.testing.assert_close(half(x), 0.5 * (plain + F.conv2d(x, conv.conv.weight, conv.conv.bias, padding=1)))


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("dconvlstm")


def test_exports_to_standard_onnx(small_config, tmp_path):
    assert "GridSample" in checks.op_types(checks.exported_model("dconvlstm", small_config, tmp_path))
