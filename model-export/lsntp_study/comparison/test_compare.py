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
from .report import README_BEGIN, README_END, update_readme


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


def test_readme_results_block_is_rewritten_and_the_prose_kept(tiny_queue, tmp_path):
    q, runs = tiny_queue
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n## Results\n\n{README_BEGIN}\nold table\n{README_END}\n\nThe author's prose.\n")
    report = compare(q, runs, str(tmp_path / "cmp"), n_resamples=200, seed=1, readmes=(str(readme),),
                                log=lambda m: None)
    update_readme(str(readme), report, str(tmp_path / "cmp"))  # rewriting is idempotent: one block, no growth
    text = readme.read_text()
    assert "old table" not in text and text.count(README_BEGIN) == 1
    assert text.startswith("# Project\n\n## Results\n\n") and text.endswith(f"{README_END}\n\nThe author's prose.\n")
    rows = {r["row"]: r for r in report["datasets"]["test-grid"]["rows"] if r.get("seeds")}
    lsntp, conv = rows["LS-NTP"], rows["ConvLSTM"]
    assert f"| LS-NTP | 3 | {lsntp['parameters']:,} | 2 | {lsntp['metrics']['mae']['mean']:.3f} +- {lsntp['metrics']['mae']['sd']:.3f} | (reference) |" in text
    v = conv["vs_lsntp"]
    assert f"| ConvLSTM | 3 | {conv['parameters']:,} | 1 | {conv['metrics']['mae']['mean']:.3f} | {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]" in text
    assert "| Persistence | 3 | - | - |" in text and report["datasets"]["test-grid"]["headline"]["statement"] in text
    # a queued row with no finished run is listed with its reason; the link reaches the full report
    assert "| w/o NSA | 4 |" in text and "| 0 of 1 | no result: not trained yet |" in text
    assert "([cmp/README.md](cmp/README.md)," in text
    assert f"on {lsntp['runs'][0]['trained_on']} (3 runs)" in text  # where the runs trained, as they recorded it
    # Table 3 first with its references at its end
    assert text.index("| ConvLSTM |") < text.index("| Persistence |") < text.index("| Climatology |")


def test_readme_without_its_results_block_is_refused(tiny_queue, tmp_path):
    q, runs = tiny_queue
    readme = tmp_path / "README.md"
    readme.write_text("# Project\n\nNo block here.\n")
    with pytest.raises(ValueError, match="needs exactly one results block"):
        compare(q, runs, str(tmp_path / "cmp"), n_resamples=200, seed=1, readmes=(str(readme),),
                           log=lambda m: None)
    assert not (tmp_path / "cmp").exists()  # refused before the comparison's work, not after it
    assert readme.read_text() == "# Project\n\nNo block here.\n"
