"""The day-block bootstrap on synthetic paired scores: a known difference is recovered, the interval
narrows with more days, days (not windows) are the unit, and the same seed gives the same interval."""
import numpy as np
import pytest

from . import bootstrap


def synthetic(days: int, per_day: int = 24, true_diff: float = 0.1, seed: int = 0):
    """Paired per-window MAEs of two systems: a day-level weather effect both share, a day-level
    effect on their difference (what makes windows of one day move together), and window noise."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(days), per_day)
    weather = rng.normal(1.0, 0.3, days)[day]
    b = weather + rng.normal(0, 0.05, day.size)
    a = b + true_diff + rng.normal(0, 0.05, days)[day] + rng.normal(0, 0.02, day.size)
    start = np.datetime64("2014-01-01T00", "h")
    issue = start + (np.arange(day.size) * (24 // per_day)).astype("timedelta64[h]")
    return a, b, bootstrap.issue_days(issue)


def test_issue_days_are_utc_dates():
    t = np.array(["2014-01-01T00", "2014-01-01T23", "2014-01-02T00"], dtype="datetime64[ns]")
    assert list(bootstrap.issue_days(t)) == ["2014-01-01", "2014-01-01", "2014-01-02"]


def test_known_difference_is_recovered_and_the_interval_narrows_with_more_days():
    widths = []
    for days in (8, 60):
        a, b, blocks = synthetic(days)
        r = bootstrap.mean_difference(a, b, blocks, n_resamples=2000, seed=1)
        assert r["lo"] < 0.1 < r["hi"] and r["lo"] < r["diff"] < r["hi"], r
        assert r["blocks"] == days and r["windows"] == days * 24
        widths.append(r["hi"] - r["lo"])
    assert widths[1] < widths[0] / 2  # ~ sqrt(60/8) = 2.7 times narrower


def test_days_are_the_unit_not_windows():
    """A per-day effect on the difference is seen: the day-block interval is wider than the one that
    treats each window as its own block (which would be over-confident)."""
    a, b, blocks = synthetic(20)
    by_day = bootstrap.mean_difference(a, b, blocks, n_resamples=2000, seed=3)
    by_window = bootstrap.mean_difference(a, b, np.arange(len(a)), n_resamples=2000, seed=3)
    assert (by_day["hi"] - by_day["lo"]) > 2 * (by_window["hi"] - by_window["lo"])


def test_same_seed_same_interval_and_a_ratio():
    a, b, blocks = synthetic(10)
    r1 = bootstrap.mean_difference(a, b, blocks, n_resamples=500, seed=7)
    r2 = bootstrap.mean_difference(a, b, blocks, n_resamples=500, seed=7)
    assert r1 == r2 and r1["seed"] == 7 and r1["resamples"] == 500
    q = bootstrap.ratio_of_means(a, b, blocks, n_resamples=500, seed=7)
    assert q["ratio"] == pytest.approx(a.mean() / b.mean()) and q["lo"] < q["ratio"] < q["hi"]
    with pytest.raises(ValueError, match="paired"):
        bootstrap.mean_difference(a, b[:-1], blocks)
