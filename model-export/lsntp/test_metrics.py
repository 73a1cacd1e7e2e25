"""Masked metrics and the reference-free baselines."""
import numpy as np
import pytest

from . import metrics
from .evaluate import climatology_forecast, hour_of_day_climatology, persistence


def test_masked_cells_are_left_out_of_every_metric():
    rng = np.random.default_rng(0)
    truth = 270 + rng.normal(size=(4, 3, 8, 8))
    pred = truth + 0.5
    mask = np.zeros((8, 8), bool)
    mask[2, 3] = True
    wild = pred.copy()
    wild[..., 2, 3] = 1e6  # a masked cell's error must not count
    a = metrics.per_lead(pred, truth, mask, data_range=30.0)
    b = metrics.per_lead(wild, truth, mask, data_range=30.0)
    for k in ("mae", "rmse", "psnr"):
        np.testing.assert_allclose(a[k], b[k])
    np.testing.assert_allclose(a["mae"], 0.5)
    np.testing.assert_allclose(a["psnr"], 10 * np.log10(255.0 ** 2 / 0.25))
    assert abs(a["ssim"][0] - b["ssim"][0]) < 0.05  # only the window around the masked cell sees it


def test_perfect_forecast_scores_ssim_one_and_all_masked_is_refused():
    truth = 270 + np.random.default_rng(1).normal(size=(2, 2, 8, 8))
    m = metrics.per_lead(truth, truth, None, data_range=30.0)
    np.testing.assert_allclose(m["ssim"], 1.0)
    with pytest.raises(ValueError, match="masked"):
        metrics.per_lead(truth, truth, np.ones((8, 8), bool))


def test_skill_against_persistence():
    s = metrics.summarise({"mae": np.array([0.5, 1.0]), "rmse": np.ones(2), "ssim": np.ones(2), "psnr": np.ones(2)},
                          persistence_mae=np.array([1.0, 1.0]))
    assert s["skill_vs_persistence"] == [0.5, 0.0]


def test_persistence_and_hour_of_day_climatology():
    xs = np.arange(2 * 3 * 1 * 1, dtype=float).reshape(2, 3, 1, 1)
    assert (persistence(xs, 2)[:, :, 0, 0] == [[2, 2], [5, 5]]).all()
    times = np.arange("2020-01-01T00", "2020-01-03T00", dtype="datetime64[h]")
    values = (times.astype(np.int64) % 24).astype(float)[:, None, None] * np.ones((1, 2, 2))
    clim = hour_of_day_climatology(values, times)
    f = climatology_forecast(clim, np.array([["2020-02-01T05", "2020-02-01T06"]], dtype="datetime64[h]"))
    assert f.shape == (1, 2, 2, 2) and f[0, 0, 0, 0] == 5.0 and f[0, 1, 0, 0] == 6.0


def test_both_ssims_equal_skimage_on_kelvin_frames():
    """ssim: skimage with the training range, map averaged over every cell; ssim_paper: skimage's
    defaults for float64 input (data range 2.0, border strip cropped), as the paper's lineage called it."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(2)
    truth = (280 + np.cumsum(rng.normal(size=(2, 2, 12, 15)), axis=-1)).astype(np.float32)  # float32, as models give
    pred = (truth + rng.normal(scale=0.5, size=truth.shape)).astype(np.float32)
    w = metrics.per_window(pred, truth, None, data_range=30.0)
    truth = truth.astype(np.float64)
    for i in range(2):
        for lead in range(2):
            _, smap = structural_similarity(truth[i, lead], pred[i, lead].astype(np.float64), data_range=30.0, full=True, win_size=7)
            assert w["ssim"][i, lead] == pytest.approx(smap.mean(), abs=1e-9)
            paper = structural_similarity(pred[i, lead].astype(np.float64), truth[i, lead])  # no data_range: 2.0 from the dtype
            assert w["ssim_paper"][i, lead] == pytest.approx(paper, abs=1e-9)
    lead = metrics.per_lead(pred, truth, None, data_range=30.0)
    np.testing.assert_allclose(lead["ssim_paper"], w["ssim_paper"].mean(axis=0))
