"""Each plot of an evaluation writes a PNG file."""
import numpy as np
import pytest

from . import plots

LATS, LONS = np.array([52.0, 51.75, 51.5]), np.array([-1.0, -0.75, -0.5, -0.25])


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_lead_curves(tmp_path):
    res = {name: {"mae": [0.5, 0.7], "rmse": [0.6, 0.9], "ssim": [0.9, 0.8], "psnr": [50.0, 48.0]}
           for name in ("LS-NTP", "Persistence", "Climatology")}
    path = tmp_path / "lead_metrics.png"
    plots.lead_curves(res, 1.0, str(path), "test")
    assert _is_png(path)


@pytest.mark.parametrize("draw", ["error_map", "adjacency_map"])
def test_maps(tmp_path, draw):
    field = np.arange(12, dtype=float).reshape(3, 4)
    field[1, 2] = np.nan  # a masked cell
    path = tmp_path / f"{draw}.png"
    if draw == "error_map":
        plots.error_map(LATS, LONS, field, str(path), "MAE")
    else:
        plots.adjacency_map(LATS, LONS, field, (51.75, -0.75), str(path), "column")
    assert _is_png(path)


def test_mae_vs_distance(tmp_path):
    path = tmp_path / "mae_vs_distance.png"
    plots.mae_vs_distance({"trained": [(0.0, 0.9, "0 km"), (100.0, 0.8, "100 km")],
                           "at inference": [(50.0, 0.85, "50 km")]}, str(path), "d")
    assert _is_png(path)
