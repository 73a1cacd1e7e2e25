"""A row over its seeds, on made-up per-window scores whose means are known."""
import numpy as np
import pytest

from .rows import SCORES, row


def _windows(abs_err: float, n: int = 6, leads: int = 2) -> dict:
    """Per-window scores as metrics.per_window gives them: every window and lead the same error."""
    full = lambda v: np.full((n, leads), v)
    return {"abs": full(abs_err), "sq": full(abs_err ** 2), "ssim": full(0.9), "ssim_paper": full(0.8)}


def test_a_row_is_the_mean_and_sd_over_its_seeds():
    r, window_mae = row("sys", "3", "System", "convlstm", [_windows(0.5), _windows(0.7)], [{"run": "s0"}, {"run": "s1"}])
    assert set(r["metrics"]) == set(SCORES) and r["seeds"] == 2
    assert r["metrics"]["mae"]["mean"] == pytest.approx(0.6) and r["metrics"]["mae"]["sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert r["metrics"]["mae"]["per_seed"] == pytest.approx([0.5, 0.7]) and r["per_lead"]["mae"] == pytest.approx([0.6, 0.6])
    assert [x["run"] for x in r["runs"]] == ["s0", "s1"] and r["runs"][1]["test"]["mae"] == pytest.approx(0.7)
    np.testing.assert_allclose(window_mae, 0.6)  # per window, averaged over seeds: what the bootstrap pairs
    one, _ = row("sys", "3", "System", "convlstm", [_windows(0.5)], [{"run": "s0"}])
    assert one["metrics"]["mae"]["sd"] is None  # no sd from one seed
