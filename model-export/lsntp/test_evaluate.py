"""Evaluation: the two reference forecasts by hand, and a tiny end-to-end evaluation into a folder."""
import json
import os

import numpy as np
import pytest

from . import evaluate, train


def test_persistence_holds_the_newest_frame_for_every_lead():
    xs = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)  # (windows, alpha, H, W)
    p = evaluate.persistence(xs, beta=4)
    assert p.shape == (2, 4, 2, 2)
    for lead in range(4):
        np.testing.assert_array_equal(p[:, lead], xs[:, -1])


def test_climatology_is_the_training_mean_of_each_hour_of_day():
    times = np.arange("2020-01-01T00", "2020-01-03T00", dtype="datetime64[h]").astype("datetime64[ns]")  # 48 h
    values = np.zeros((48, 1, 2), np.float32)
    values[:, 0, 0] = np.arange(48)  # cell (0, 0) counts the hours
    values[:, 0, 1] = 280.0
    values[25, 0, 1] = np.nan  # a missing value is left out of its hour's mean
    clim = evaluate.hour_of_day_climatology(values, times)
    assert sorted(clim) == list(range(24))
    assert clim[0][0, 0] == pytest.approx((0 + 24) / 2) and clim[5][0, 0] == pytest.approx((5 + 29) / 2)
    assert clim[1][0, 1] == pytest.approx(280.0)
    targets = np.array([["2020-01-05T05", "2020-01-05T06"]], dtype="datetime64[ns]")
    f = evaluate.climatology_forecast(clim, targets)
    assert f.shape == (1, 2, 1, 2)
    assert f[0, 0, 0, 0] == pytest.approx(17.0) and f[0, 1, 0, 0] == pytest.approx(18.0)


def test_climatology_without_an_hour_says_which():
    clim = {0: np.zeros((1, 1)), 12: np.zeros((1, 1))}
    with pytest.raises(ValueError, match=r"hour\(s\) \[6\]"):
        evaluate.climatology_forecast(clim, np.array([["2020-01-01T06"]], dtype="datetime64[ns]"))


def test_tiny_evaluation_writes_metrics_report_and_plots(small_config, tmp_path):
    train.train(small_config, str(tmp_path / "run"), max_steps=2, quiet=True)
    out = tmp_path / "eval"
    report = evaluate.evaluate([str(tmp_path / "run" / "best.pt")], str(out))
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    label = small_config.model.label
    assert set(metrics["results"]) == {label, "Persistence", "Climatology"}
    assert metrics["data"]["test_windows"] == report["data"]["test_windows"] > 0
    for name, r in metrics["results"].items():
        assert len(r["mae"]) == small_config.data.beta
        assert 0.0 < r["mean"]["mae"] < 10.0 and r["mean"]["rmse"] >= r["mean"]["mae"], name  # kelvin, a real day
        assert -1.0 <= r["mean"]["ssim"] <= 1.0 and r["mean"]["psnr"] > 20.0, name
    assert metrics["results"]["Persistence"]["mean"]["skill_vs_persistence"] == pytest.approx(0.0)
    assert metrics["results"]["Persistence"]["mae"][0] < metrics["results"]["Persistence"]["mae"][-1]  # errors grow with lead
    assert metrics["models"][label]["parameters"] > 0
    text = (out / "evaluation.md").read_text()
    assert f"| {label} |" in text and "| Persistence |" in text and "| Climatology |" in text
    assert not (out / "report.md").exists()
    for png in ("lead_metrics", "mae_map", "mae_map_persistence", "adjacency_column", "mae_vs_distance"):
        assert os.path.getsize(out / "plots" / f"{png}.png") > 0, png
