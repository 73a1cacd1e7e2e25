"""The headline in words: each decision of rules.py said as it is, and the committed report's
statements written again from its own JSON, word for word."""
import json
import os

import numpy as np

from lsntp.paths import PROJECT_ROOT

from ..fixtures import resolution_scenario
from .prose import resolution, statement
from .rules import headline, resolution_rule


def test_the_resolution_rule_says_what_full_resolution_lacks():
    ref, full, peers, rows, window_mae, blocks = resolution_scenario()
    text = resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1), rows)
    assert "better. On test it is" in text and "it has 1;" in text and "2.4 x the downsampled LS-NTP's" in text
    rows[1]["seeds"], rows[1]["runs"] = 3, [{"validation_mae": v} for v in (1.98, 1.97, 1.99)]  # three seeds: only the size keeps it out
    text = resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1), rows)
    assert "It is not the reference of these tables: its 402,037 parameters" in text and "seeds of the reference" not in text
    assert "whether they gain as much at full resolution is untested" in text  # no peer passed
    peer = next(p for p in peers if p.name == "ncep-convlstm-full-res")
    window_mae[peer.name] = window_mae["ncep-lsntp-full-res"] + 0.1
    rows.append({"system": peer.name, "kind": "convlstm", "label": "ConvLSTM", "table": "6", "seeds": 3,
                 "parameters": 359371, "runs": [{"validation_mae": v} for v in (2.01, 2.02, 2.03)]})
    text = resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1, [peer]), rows)
    assert "At full resolution LS-NTP is ahead of ConvLSTM" in text and "only ConvLSTM ran at full resolution" in text
    assert "ConvLSTM (3 seed(s), 359,371 parameters, 0.89 x its; validation 2.0200 K) +0.1000 K" in text
    window_mae[peer.name] = window_mae["ncep-lsntp-full-res"] - 0.1  # now ConvLSTM is better
    text = resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1, [peer]), rows)
    assert "ahead of none of them beyond the interval and behind ConvLSTM" in text
    rows.pop()
    rows[1]["seeds"], rows[1]["runs"] = 1, [{"validation_mae": 2.05}]
    assert resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1), rows).endswith("the downsampled reference stays.")
    rows[1]["seeds"], rows[1]["runs"] = 0, []
    assert "undecided" in resolution(resolution_rule(ref, full, rows, window_mae, blocks, 500, 1), rows)


def test_the_headline_says_the_aim_and_convlstm_as_decided():
    ref, _, _, rows, window_mae, blocks = resolution_scenario()
    rows[2]["vs_lsntp"] = {"diff": -0.05, "lo": -0.08, "hi": -0.02, "blocks": 20}  # ConvLSTM better beyond the interval
    h = headline("ncep-na-2p5", ref, rows, window_mae, blocks, 500, 1)
    ratio = h["lsntp_over_persistence"]["ratio"]
    assert ratio == np.mean(window_mae["ncep-lsntp"]) / np.mean(window_mae["Persistence"]) and h["aim_fraction_of_persistence"] == 0.70
    text = statement(h, rows)
    assert text.startswith(f"LS-NTP's test MAE is {ratio:.3f} x persistence's") and "the aim is <= 0.70 x: NOT met." in text
    assert "LS-NTP is NOT ahead of ConvLSTM: ConvLSTM is better, by 0.0500 K" in text and "Resolution" not in text
    rows[2]["vs_lsntp"] = {"diff": 0.05, "lo": 0.02, "hi": 0.08, "blocks": 20}
    assert "LS-NTP is ahead of ConvLSTM: ConvLSTM's MAE minus LS-NTP's is +0.0500 K" in statement(
        headline("ncep-na-2p5", ref, rows, window_mae, blocks, 500, 1), rows)
    del window_mae["ncep-lsntp"]
    assert statement(headline("ncep-na-2p5", ref, rows, window_mae, blocks, 500, 1), rows) == \
        "LS-NTP has no finished run on this data set yet: no headline."


def test_the_committed_reports_statements_follow_from_its_json():
    with open(os.path.join(PROJECT_ROOT, "models", "comparison", "comparison.json")) as f:
        report = json.load(f)
    assert report["datasets"]
    for grid, d in report["datasets"].items():
        assert statement(d["headline"], d["rows"]) == d["headline"]["statement"], grid
