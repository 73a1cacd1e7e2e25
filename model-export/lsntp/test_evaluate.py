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


@pytest.mark.parametrize("graph", ["dense", "sparse"])
def test_tiny_evaluation_writes_metrics_report_and_plots(small_config, tmp_path, graph):
    if graph == "sparse":  # the adjacency map and the distance cut at inference work on a neighbour list too
        import dataclasses
        small_config = dataclasses.replace(small_config, model=dataclasses.replace(small_config.model, graph="sparse", graph_k=8))
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
    where = metrics["models"][label]["trained_on"]  # the machine that trained it, as the run recorded it
    assert " cores, " in where and f"| {where} |" in text
    assert not (out / "report.md").exists()
    for png in ("lead_metrics", "mae_map", "mae_map_persistence", "adjacency_column", "mae_vs_distance", "reliability"):
        assert os.path.getsize(out / "plots" / f"{png}.png") > 0, png
    # the intervals, beside the two baselines, and the reliability diagram's coverage at every level and lead
    with open(out / "intervals.json") as f:
        iv = json.load(f)
    assert set(iv["results"]) == {"conformal", "export-time, never updated", "static per-lead width",
                                  "persistence + validation error quantiles"}
    for r in iv["results"].values():
        a = r["after_first_day"]
        assert len(a["coverage"]) == small_config.data.beta and all(0 <= c <= 1 for row in a["coverage"] for c in row)
        assert all(w[0] < w[1] for w in a["width"]) and all(c > 0 for c in a["crps"])  # 95% wider than 80%
    assert len(iv["reliability"]["coverage"][0]) == len(iv["reliability"]["levels"]) == 6
    assert "| 80%: conformal |" in (out / "intervals.md").read_text()


def test_day_of_year_wraps_on_a_365_day_calendar():
    t = np.array(["2013-01-01T00", "2013-12-31T18", "2016-02-29T06", "2016-03-01T00"], dtype="datetime64[ns]")
    assert list(evaluate.day_of_year(t)) == [0, 364, 58, 59]


def test_seasonal_climatology_takes_the_same_hour_within_15_days_wrapping_the_year():
    # a tiny 6-hourly series over one year: a seasonal cycle (cell 0, cos of the day of year) and the hour (cell 1)
    times = np.arange("2013-01-01T00", "2014-01-01T00", 6, dtype="datetime64[h]").astype("datetime64[ns]")
    season = np.cos(2 * np.pi * evaluate.day_of_year(times) / 365)
    hour = evaluate.hours_of_day(times)
    values = np.stack([season, hour], axis=-1)[:, None, :].astype(np.float64)  # (T, 1, 2)
    targets = np.array([["2014-01-02T06", "2014-01-02T12"], ["2014-06-30T18", "2014-07-01T00"]], dtype="datetime64[ns]")
    f, info = evaluate.seasonal_climatology(values, times, targets)
    assert f.shape == (2, 2, 1, 2)
    # 2 January (day 1): days 351..364 of 2013 and 0..16, wrapping the year: winter, not the year's mean (0)
    days = np.array([d for d in range(365) if min(abs(d - 1), 365 - abs(d - 1)) <= 15])
    assert len(days) == 31 and f[0, 0, 0, 0] == pytest.approx(np.cos(2 * np.pi * days / 365).mean()) and f[0, 0, 0, 0] > 0.9
    assert f[0, 0, 0, 1] == 6 and f[0, 1, 0, 1] == 12 and f[1, 1, 0, 1] == 0  # the target's own hour
    assert f[1, 0, 0, 0] == pytest.approx(np.cos(2 * np.pi * np.arange(165, 196) / 365).mean())  # 30 June: days 165..195
    assert info["fallback_target_times"] == 0 and info["frames_per_target"] == {"min": 31, "max": 31}


def test_seasonal_climatology_falls_back_to_the_whole_hour_and_says_so():
    times = np.arange("2013-01-01T00", "2013-01-11T00", 12, dtype="datetime64[h]").astype("datetime64[ns]")  # 10 days
    values = np.arange(len(times), dtype=np.float32)[:, None, None]
    f, info = evaluate.seasonal_climatology(values, times, np.array([["2013-06-01T12", "2013-01-05T00"]], dtype="datetime64[ns]"))
    assert f[0, 0, 0, 0] == pytest.approx(np.mean(np.arange(1, 20, 2)))  # June: no frame within 15 days, every 12 UTC frame
    assert f[0, 1, 0, 0] == pytest.approx(np.mean(np.arange(0, 20, 2)))  # 5 January: every 00 UTC frame is within 15 days
    assert info["fallback_target_times"] == 1 and info["fallback_examples"] == ["2013-06-01T12:00Z"]
    assert "fall back" in evaluate.climatology_note(info)
    with pytest.raises(ValueError, match=r"hour\(s\) \[6\]"):
        evaluate.seasonal_climatology(values, times, np.array([["2013-01-05T06"]], dtype="datetime64[ns]"))
