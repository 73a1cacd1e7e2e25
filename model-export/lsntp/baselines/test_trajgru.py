"""TrajGRU: shapes, the warp along each link and the GRU update by hand, training, ONNX export."""
import numpy as np
import torch
import torch.nn.functional as F

from .. import system_checks as checks
from .trajgru import LEAKY_SLOPE, LINKS, TrajGRUCell


def test_forecast_shape():
    checks.assert_forecast_shape("trajgru", layers=3, downsample=False)


def _cell_with_flows(flows):
    """A cell on a 4 x 5 grid whose flow generator emits the constant flows [(column, row) per link]."""
    cell = TrajGRUCell(in_channels=1, hidden=2, kernel=3, grid=(4, 5))
    with torch.no_grad():
        cell.flows.weight.zero_()
        cell.flows.bias.copy_(torch.tensor(flows, dtype=torch.float32).flatten())
    return cell


def test_warp_reads_the_state_along_each_flow():
    flows = [(1.0, 0.0), (0.0, -0.5)] + [(0.0, 0.0)] * (LINKS - 2)
    cell = _cell_with_flows(flows)
    h = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(1, 2, 4, 5)
    with torch.no_grad():
        warped = cell.warp(h, torch.zeros(1, 1, 4, 5)).reshape(1, 2, LINKS, 4, 5).numpy()
    hn = h.numpy()
    one_right = np.zeros_like(hn)
    one_right[..., :, :-1] = hn[..., :, 1:]  # column + 1; zero beyond the grid
    half_up = 0.5 * hn
    half_up[..., 1:, :] += 0.5 * hn[..., :-1, :]  # half of row - 1, half of the cell itself
    np.testing.assert_allclose(warped[:, :, 0], one_right, atol=1e-5)
    np.testing.assert_allclose(warped[:, :, 1], half_up, atol=1e-5)
    for link in range(2, LINKS):
        np.testing.assert_allclose(warped[:, :, link], hn, atol=1e-5)


def test_gru_update_by_hand():
    torch.manual_seed(0)
    cell = _cell_with_flows([(0.0, 0.0)] * LINKS)  # every link reads H where it is: sum_l W^l H is a 1x1 conv of H
    x, h = torch.randn(1, 1, 4, 5), torch.randn(1, 2, 4, 5)
    with torch.no_grad():
        got, state, _ = cell(x, h, None)
        w = cell.state_to_state.weight.reshape(6, 2, LINKS).sum(2)[:, :, None, None]
        xs = cell.input_to_state(x)
        hs = F.conv2d(h, w, cell.state_to_state.bias)
        z, r = torch.sigmoid(xs[:, 0:2] + hs[:, 0:2]), torch.sigmoid(xs[:, 2:4] + hs[:, 2:4])
        candidate = F.leaky_relu(xs[:, 4:6] + r * hs[:, 4:6], LEAKY_SLOPE)
    torch.testing.assert_close(got, (1 - z) * candidate + z * h)
    assert state is got


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("trajgru")


def test_exports_to_standard_onnx(small_config, tmp_path):
    assert "GridSample" in checks.op_types(checks.exported_model("trajgru", small_config, tmp_path))
