"""The decision rules on made-up scores: the resolution rule follows validation, never test, and
measures what it claims; the best other system is chosen on the seed every system has."""
import numpy as np
import pytest

from ..fixtures import resolution_scenario
from .rules import best_other, resolution_rule


def test_the_resolution_rule_follows_validation_and_measures_full_resolution_against_its_peers():
    ref, full, peers, rows, window_mae, blocks = resolution_scenario()
    out = resolution_rule(ref, full, rows, window_mae, blocks, 500, 1)
    assert out["decided"] and out["full_better_on_validation"] and out["full_seeds"] == 1
    assert out["validation_mae_reference"] == pytest.approx((2.02 + 1.99 + 2.03) / 3)
    d = out["convlstm_minus_full"]
    assert d["diff"] == pytest.approx(np.mean(window_mae["ncep-convlstm"] - window_mae["ncep-lsntp-full-res"]))
    assert out["full_over_persistence"]["ratio"] == pytest.approx(window_mae["ncep-lsntp-full-res"].mean() / window_mae["Persistence"].mean())
    assert "peers_minus_full" not in out  # no peer passed
    # with another system at full resolution: its difference to the full-resolution LS-NTP
    peer = next(p for p in peers if p.name == "ncep-convlstm-full-res")
    window_mae[peer.name] = window_mae["ncep-lsntp-full-res"] + 0.1 + np.random.default_rng(1).normal(0, 0.01, 80)
    rows.append({"system": peer.name, "kind": "convlstm", "label": "ConvLSTM", "table": "6", "seeds": 3,
                 "parameters": 359371, "runs": [{"validation_mae": v} for v in (2.01, 2.02, 2.03)]})
    p = resolution_rule(ref, full, rows, window_mae, blocks, 500, 1, [peer])["peers_minus_full"][peer.name]
    assert p["diff"] == pytest.approx(np.mean(window_mae[peer.name] - window_mae["ncep-lsntp-full-res"]))
    assert p["lo"] > 0 and p["validation_mae"] == pytest.approx(2.02) and p["parameters_vs_full"] == pytest.approx(0.894, abs=1e-3)
    # worse on validation: the rule stops there and the test part is never looked at
    rows[1]["runs"] = [{"validation_mae": 2.05}]
    window_mae.pop("ncep-lsntp-full-res")  # a test score the rule must not need
    out = resolution_rule(ref, full, rows, window_mae, blocks, 500, 1, [peer])
    assert out["decided"] and not out["full_better_on_validation"] and "full_over_persistence" not in out
    rows[1]["seeds"], rows[1]["runs"] = 0, []
    assert resolution_rule(ref, full, rows, window_mae, blocks, 500, 1) == {"full_resolution": full.name, "decided": False}


def test_best_other_is_chosen_on_the_seed_every_system_has():
    run = lambda seed, v: {"seed": seed, "validation_mae": v}
    rows = [{"system": "d", "kind": "dconvlstm", "table": "3", "seeds": 3, "runs": [run(0, 0.4935), run(1, 0.511), run(2, 0.5096)]},
            {"system": "a", "kind": "agcrn", "table": "3", "seeds": 1, "runs": [run(0, 0.4958)]},
            {"system": "c", "kind": "convlstm", "table": "3", "seeds": 3, "runs": [run(0, 0.40)]},  # ConvLSTM is never "other"
            {"system": "w", "kind": "lsntp", "table": "4", "seeds": 1, "runs": [run(0, 0.30)]}]  # nor an ablation
    # by the mean, the one-seed system would win (0.4958 < 0.5047): the extra seeds must not undo the choice
    assert best_other(rows)["system"] == "d"
