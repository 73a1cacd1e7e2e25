"""CrevNet: shapes, an even hidden size, the reversible update by hand and its inverse, training, ONNX export."""
import pytest
import torch

from .. import system_checks as checks
from ..forecaster import ModelConfig, build_forecaster
from ..data import MinMax
from .crevnet import ReversiblePredictiveCell


def test_forecast_shape():
    checks.assert_forecast_shape("crevnet", layers=3, downsample=False)


def test_odd_hidden_size_is_refused_by_name():
    with pytest.raises(ValueError, match="model.hidden must be even"):
        build_forecaster(ModelConfig(kind="crevnet", hidden=5), 9, 11, beta=2, norm=MinMax(0.0, 1.0))


def test_update_by_hand_and_its_inverse():
    """Output (X2', X1) with X2' = (1 - g) X2 + g H, H the ST-LSTM of X1: X1 and then X2 come back from the output."""
    torch.manual_seed(0)
    cell = ReversiblePredictiveCell(6, 6, kernel=3)
    assert cell.lift is None  # as wide as it is deep: exactly reversible
    x = torch.randn(2, 6, 4, 5)
    state, memory = (torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)), torch.randn(2, 3, 4, 5)
    with torch.no_grad():
        y, _, _ = cell(x, state, memory)
        h, _, _ = cell.rnn(x[:, :3], state, memory)
        g = torch.sigmoid(cell.attention(h))
        torch.testing.assert_close(y, torch.cat([(1 - g) * x[:, 3:] + g * h, x[:, :3]], dim=1))
        x1 = y[:, 3:]  # inverse: the kept half, then the updated half undone
        h1, _, _ = cell.rnn(x1, state, memory)
        g1 = torch.sigmoid(cell.attention(h1))
        torch.testing.assert_close(torch.cat([x1, (y[:, :3] - g1 * h1) / (1 - g1)], dim=1), x)


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("crevnet")


def test_exports_to_standard_onnx(small_config, tmp_path):
    checks.exported_model("crevnet", small_config, tmp_path)
