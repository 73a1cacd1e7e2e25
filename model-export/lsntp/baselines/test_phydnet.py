"""PhyDNet: shapes, the 49 filters starting as finite-difference derivatives (their moments and
their action on polynomials), the Kalman-style correction by hand, training, ONNX export."""
import numpy as np
import torch
import torch.nn.functional as F

from .. import system_checks as checks
from .phydnet import PHYSICS_KERNEL, PhyCell, moment_kernels, moment_matrix


def test_forecast_shape():
    checks.assert_forecast_shape("phydnet", downsample=False)


def test_filters_start_with_one_moment_each():
    k = PHYSICS_KERNEL
    m = moment_matrix(k)
    moments = np.stack([m @ w @ m.T for w in moment_kernels(k)])  # PhyDNet's K2M
    np.testing.assert_allclose(moments.reshape(k * k, k * k), np.eye(k * k), atol=1e-9)
    cell = PhyCell(2)
    torch.testing.assert_close(cell.derivatives.weight[:, 1], torch.from_numpy(moment_kernels(k)).float())


def test_filters_differentiate_polynomials():
    """Filter (i, j) is d^(i+j)/d row^i d col^j: on a quadratic field it returns the derivatives exactly."""
    rows, cols = np.meshgrid(np.arange(15.0), np.arange(17.0), indexing="ij")
    field = 0.5 * rows ** 2 + 2.0 * rows * cols - 3.0 * cols
    kernels = torch.from_numpy(moment_kernels(PHYSICS_KERNEL))
    out = F.conv2d(torch.from_numpy(field)[None, None], kernels[:, None])[0].numpy()  # interior only
    k, r, c = PHYSICS_KERNEL, rows[3:-3, 3:-3], cols[3:-3, 3:-3]
    expected = {(0, 0): field[3:-3, 3:-3], (1, 0): r + 2.0 * c, (0, 1): 2.0 * r - 3.0, (2, 0): 1.0, (1, 1): 2.0,
                (0, 2): 0.0, (3, 0): 0.0, (2, 2): 0.0}
    for (i, j), value in expected.items():
        np.testing.assert_allclose(out[i * k + j], np.broadcast_to(value, r.shape), atol=1e-6)


def test_correction_follows_the_gain():
    """H' = H~ + K (E(X) - H~): a closed gain keeps the physical prediction H~ = H + Phi(H), an open one the observation."""
    torch.manual_seed(0)
    cell = PhyCell(3)
    observed, h = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6)
    with torch.no_grad():
        predicted = h + cell.combine(cell.norm(cell.derivatives(h)))
        cell.gain.weight.zero_()
        for bias, expected in ((-50.0, predicted), (50.0, observed)):
            cell.gain.bias.fill_(bias)
            torch.testing.assert_close(cell(observed, h), expected)
        cell.gain.bias.zero_()  # K = 1/2
        torch.testing.assert_close(cell(observed, h), 0.5 * (predicted + observed))


def test_training_lowers_the_loss():
    checks.assert_training_lowers_loss("phydnet")


def test_exports_to_standard_onnx(small_config, tmp_path):
    checks.exported_model("phydnet", small_config, tmp_path)
