"""The comparison on the tiny queue (fixtures.make_tiny_queue): two seeds of LS-NTP, one of ConvLSTM,
trained two steps each on the small real cut; an ablation waiting, one failed. Checks the rows,
seeds, intervals, missing rows, the cache, and that a row's MAE is the plain masked MAE of its
checkpoint's forecasts."""
import json
import os

import numpy as np
import pytest
import torch

from lsntp.checkpoint import load
from lsntp.forecaster import predict
from lsntp.metrics import masked_mae

from .compare import compare
from .report import HAND_BEGIN, HAND_END


def test_compare_rows_intervals_missing_and_cache(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "cmp")
    logs = []
    report = compare(q, runs, out, n_resamples=500, seed=1, log=logs.append)
    d = report["datasets"]["test-grid"]
    rows = {r["system"]: r for r in d["rows"]}
    lsntp, conv = rows["tiny-lsntp"], rows["tiny-convlstm"]
    assert lsntp["reference"] and lsntp["seeds"] == 2 and lsntp["metrics"]["mae"]["sd"] is not None
    assert conv["seeds"] == 1 and conv["metrics"]["mae"]["sd"] is None and conv["table"] == "3"
    assert rows["tiny-lsntp-no-nsa"]["seeds"] == 0 and rows["tiny-lsntp-k1"]["table"] == "5"
    # a row's MAE is the plain masked MAE of its checkpoint's forecasts, mean over seeds
    maes = []
    for s in (0, 1):
        model, cfg, prep, _ = load(os.path.join(runs, f"tiny-lsntp-s{s}", "best.pt"))
        xs, ys = prep.test.arrays()
        maes.append(masked_mae(predict(model, torch.from_numpy(xs)), ys, prep.series.mask))
    assert lsntp["metrics"]["mae"]["mean"] == pytest.approx(np.mean(maes), rel=1e-5)
    for name in ("tiny-convlstm", "Persistence", "Climatology"):
        v = rows[name]["vs_lsntp"]
        assert v["lo"] <= v["diff"] <= v["hi"] and v["resamples"] == 500 and v["seed"] == 1
        assert v["diff"] == pytest.approx(rows[name]["metrics"]["mae"]["mean"] - lsntp["metrics"]["mae"]["mean"], abs=1e-6)
    assert d["data"]["test_days"] == v["blocks"] == 2
    assert "statement" in d["headline"] and "ConvLSTM" in d["headline"]["statement"]
    missing = {m["run"]: m for m in report["missing"]}
    assert set(missing) == {"tiny-lsntp-no-nsa", "tiny-lsntp-k1"}
    assert missing["tiny-lsntp-no-nsa"]["why"].startswith("not trained yet") and missing["tiny-lsntp-k1"]["why"].startswith("failed: exit status 1")
    text = open(os.path.join(out, "README.md")).read()
    for s in ("| LS-NTP |", "| ConvLSTM |", "| Persistence |", "| Climatology |", "SSIM (paper-style)", "Rows still missing",
              "tiny-lsntp-k1", "Climatology: mean of the training frames",
              f"Size: 1 of the 1 other systems of Table 3 are within 20% of this LS-NTP's {lsntp['parameters']:,} parameters."):  # no paper size for a test grid
        assert s in text, s
    for png in ("mae_bars", "lead_mae"):
        assert os.path.getsize(os.path.join(out, "plots", f"{png}.png")) > 0
    assert json.load(open(os.path.join(out, "comparison.json")))["bootstrap"]["seed"] == 1
    assert sum("predicted" in m for m in logs) == 3
    logs.clear()  # a rerun predicts nothing again, and gives the same numbers
    again = compare(q, runs, out, n_resamples=500, seed=1, log=logs.append)
    assert not any("predicted" in m for m in logs)
    assert again["datasets"]["test-grid"]["rows"][0]["metrics"] == d["rows"][0]["metrics"]


def test_a_rerun_keeps_the_readmes_part_written_by_hand(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = tmp_path / "cmp"
    compare(q, runs, str(out), n_resamples=200, seed=1, log=lambda m: None)
    first = (out / "README.md").read_text()
    assert first.count(HAND_BEGIN) == first.count(HAND_END) == 1  # an empty place for the author's prose
    prose = "## What the tables show\n\nThe author's reading of the tables, kept across reruns.\n"
    (out / "README.md").write_text(first.replace(HAND_BEGIN + "\n", HAND_BEGIN + "\n" + prose))
    compare(q, runs, str(out), n_resamples=200, seed=1, log=lambda m: None)
    text = (out / "README.md").read_text()
    assert text.count(prose) == 1 and text.index(HAND_BEGIN) < text.index(prose) < text.index(HAND_END) < text.index("## test-grid")
    expected = first.replace(f"{HAND_BEGIN}\n{HAND_END}", f"{HAND_BEGIN}\n{prose.rstrip()}\n{HAND_END}")
    assert text.split("\n", 3)[3] == expected.split("\n", 3)[3]  # all else as generated (but for the time stamp)


def test_a_readme_whose_hand_written_part_cannot_be_kept_is_refused_before_any_work(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = tmp_path / "cmp"
    out.mkdir()
    broken = f"# old\n{HAND_BEGIN}\nprose with its end marker lost\n"
    (out / "README.md").write_text(broken)
    with pytest.raises(ValueError, match="broken pair of markers"):
        compare(q, runs, str(out), n_resamples=200, seed=1, log=lambda m: None)
    assert (out / "README.md").read_text() == broken and not (out / "comparison.json").exists()
