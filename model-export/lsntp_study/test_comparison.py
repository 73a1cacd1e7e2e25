"""The comparison on a tiny queue: two seeds of LS-NTP, one of ConvLSTM, trained two steps each on
the small real cut; an ablation waiting, one failed. Checks the rows, seeds, intervals, missing rows,
the cache, and that a row's MAE is the plain masked MAE of its checkpoint's forecasts."""
import json
import os

import numpy as np
import pytest
import torch
import yaml

from lsntp import config, train
from lsntp.checkpoint import load
from lsntp.forecaster import predict
from lsntp.metrics import masked_mae

from . import comparison


def make_tiny_queue(folder: str, data_path: str) -> tuple[str, str]:
    """Configs, a queue and its runs under folder; returns (queue file, runs dir)."""
    base = {"name": "tiny-lsntp", "data": {"path": data_path, "grid_id": "test-grid", "val_start": "2019-03-02T00:00",
                                           "test_start": "2019-03-02T12:00", "alpha": 3, "beta": 2},
            "model": {"kind": "lsntp", "hidden": 4, "embed_dim": 8, "down_channels": 4, "nsa_hidden": 4},
            "train": {"epochs": 1, "batch": 4}}
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tiny-lsntp.yaml"), "w") as f:
        yaml.safe_dump(base, f)
    with open(os.path.join(folder, "tiny-convlstm.yaml"), "w") as f:
        yaml.safe_dump({"base": "tiny-lsntp.yaml", "name": "tiny-convlstm", "model": {"kind": "convlstm", "hidden": 4}}, f)
    cfgs = {n: os.path.join(folder, f"{n}.yaml") for n in ("tiny-lsntp", "tiny-convlstm")}
    q = os.path.join(folder, "queue.yaml")
    with open(q, "w") as f:
        yaml.safe_dump({"runs": [{"config": cfgs["tiny-lsntp"], "seeds": [0, 1]}, {"config": cfgs["tiny-convlstm"], "seeds": [0]},
                                 {"config": cfgs["tiny-lsntp"], "name": "tiny-lsntp-no-nsa", "set": {"model.nsa": False}},
                                 {"config": cfgs["tiny-lsntp"], "name": "tiny-lsntp-k1", "set": {"model.kernel": 1}}]}, f)
    runs = os.path.join(folder, "runs")
    for name, cfg_name, seed in (("tiny-lsntp-s0", "tiny-lsntp", 0), ("tiny-lsntp-s1", "tiny-lsntp", 1),
                                 ("tiny-convlstm-s0", "tiny-convlstm", 0)):
        cfg = config.load(cfgs[cfg_name], {"name": name, "train.seed": seed})
        train.train(cfg, os.path.join(runs, name), max_steps=2, quiet=True)
    os.makedirs(os.path.join(runs, "tiny-lsntp-k1"))
    with open(os.path.join(runs, "tiny-lsntp-k1", "failed.txt"), "w") as f:
        f.write("exit status 1; see train.log\n")
    return q, runs


@pytest.fixture(scope="module")
def tiny_queue(era5_small_nc, tmp_path_factory):
    return make_tiny_queue(str(tmp_path_factory.mktemp("cmp")), era5_small_nc)


def test_the_real_queue_groups_into_the_seeds_tables():
    systems = {s.name: s for s in comparison.systems(os.path.join(comparison.queue.MODEL_EXPORT, "queues", "comparison.yaml"))}
    assert systems["era5-lsntp"].reference and len(systems["era5-lsntp"].runs) == 3 and systems["era5-lsntp"].folder == "lsntp"
    assert (systems["era5-saconvlstm"].table, systems["era5-saconvlstm"].row, systems["era5-saconvlstm"].folder) == ("3", "SA-ConvLSTM", "saconvlstm")
    assert (systems["era5-daggconvlstm"].table, systems["ncep-lsntp-no-nsa-lagc"].row) == ("4", "w/o NSA & LAGC")
    assert (systems["era5-lsntp-k5"].table, systems["era5-lsntp-k5"].row) == ("5", "k = 5")
    assert (systems["era5-lsntp-d300"].table, systems["era5-lsntp-d300"].row) == ("5", "d = 300 km")
    assert systems["era5-lsntp-linear"].row == "LSI without ReLU (linear)" and systems["ncep-lsntp-relu"].row == "LSI with ReLU (the seed's)"
    assert systems["ncep-lsntp-no-lsi"].folder == "lsntp-no-lsi" and systems["ncep-lsntp"].grid_id == "ncep-na-2p5"
    assert (systems["ncep-lsntp-full-res"].table, systems["ncep-lsntp-full-res"].row) == ("6", "full resolution (no downsampling)")
    assert (systems["era5-lsntp-linear"].table, systems["era5-lsntp-sparse-k9"].table, systems["ncep-lsntp-no-lsi"].table) == ("6", "6", "4")
    # another system at full resolution: measured for the resolution rule (Table 6), not a second Table 3 row
    assert (systems["ncep-convlstm-full-res"].table, systems["ncep-convlstm-full-res"].row) == ("6", "ConvLSTM at full resolution (no downsampling)")
    assert systems["ncep-convlstm"].table == "3" and len(systems["ncep-dconvlstm-full-res"].runs) == 3


def test_compare_rows_intervals_missing_and_cache(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "cmp")
    logs = []
    report = comparison.compare(q, runs, out, n_resamples=500, seed=1, log=logs.append)
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
    again = comparison.compare(q, runs, out, n_resamples=500, seed=1, log=logs.append)
    assert not any("predicted" in m for m in logs)
    assert again["datasets"]["test-grid"]["rows"][0]["metrics"] == d["rows"][0]["metrics"]


def test_readme_results_block_is_rewritten_and_the_prose_kept(tiny_queue, tmp_path):
    q, runs = tiny_queue
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n## Results\n\n{comparison.README_BEGIN}\nold table\n{comparison.README_END}\n\nThe author's prose.\n")
    report = comparison.compare(q, runs, str(tmp_path / "cmp"), n_resamples=200, seed=1, readmes=(str(readme),),
                                log=lambda m: None)
    comparison.update_readme(str(readme), report, str(tmp_path / "cmp"))  # rewriting is idempotent: one block, no growth
    text = readme.read_text()
    assert "old table" not in text and text.count(comparison.README_BEGIN) == 1
    assert text.startswith("# Project\n\n## Results\n\n") and text.endswith(f"{comparison.README_END}\n\nThe author's prose.\n")
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
        comparison.compare(q, runs, str(tmp_path / "cmp"), n_resamples=200, seed=1, readmes=(str(readme),),
                           log=lambda m: None)
    assert not (tmp_path / "cmp").exists()  # refused before the comparison's work, not after it
    assert readme.read_text() == "# Project\n\nNo block here.\n"


def test_the_resolution_rule_follows_validation_and_says_what_full_resolution_lacks():
    from types import SimpleNamespace

    members = comparison.systems(os.path.join(comparison.queue.MODEL_EXPORT, "queues", "comparison.yaml"))
    refs = comparison.references(members)
    ncep = [s for s in members if s.grid_id == "ncep-na-2p5"]
    full = comparison.full_resolution_of(refs["ncep-na-2p5"], ncep)
    assert full is not None and full.name == "ncep-lsntp-full-res"
    assert comparison.full_resolution_of(full, ncep) is None  # already at full resolution: nothing to compare
    peers = comparison.full_resolution_peers(refs["ncep-na-2p5"], ncep)
    assert {p.name for p in peers} == {"ncep-convlstm-full-res", "ncep-dconvlstm-full-res", "ncep-saconvlstm-full-res"}
    assert comparison.full_resolution_peers(full, ncep) == []
    rng = np.random.default_rng(0)
    blocks = np.repeat(np.arange(20), 4)
    window_mae = {"ncep-lsntp": 2.1 + rng.normal(0, 0.05, 80), "ncep-lsntp-full-res": 2.0 + rng.normal(0, 0.05, 80),
                  "ncep-convlstm": 2.1 + rng.normal(0, 0.05, 80), "Persistence": 2.7 + rng.normal(0, 0.05, 80)}
    run = lambda v: {"validation_mae": v}
    rows = [{"system": "ncep-lsntp", "kind": "lsntp", "table": "3", "seeds": 3, "parameters": 164265, "runs": [run(2.02), run(1.99), run(2.03)]},
            {"system": "ncep-lsntp-full-res", "kind": "lsntp", "table": "6", "seeds": 1, "parameters": 402037, "runs": [run(1.98)]},
            {"system": "ncep-convlstm", "kind": "convlstm", "table": "3", "seeds": 3, "parameters": 162117, "runs": [run(2.0)]}]
    ds = SimpleNamespace(blocks=blocks)
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1)
    assert out["full_better_on_validation"] and out["validation_mae_reference"] == pytest.approx((2.02 + 1.99 + 2.03) / 3)
    d = out["convlstm_minus_full"]
    assert d["diff"] == pytest.approx(np.mean(window_mae["ncep-convlstm"] - window_mae["ncep-lsntp-full-res"]))
    assert out["full_over_persistence"]["ratio"] == pytest.approx(window_mae["ncep-lsntp-full-res"].mean() / window_mae["Persistence"].mean())
    assert "better. On test it is" in text and "it has 1;" in text and "2.4 x the downsampled LS-NTP's" in text
    rows[1]["seeds"], rows[1]["runs"] = 3, [run(1.98), run(1.97), run(1.99)]  # three seeds: only the size keeps it out
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1)
    assert "It is not the reference of these tables: its 402,037 parameters" in text and "seeds of the reference" not in text
    assert "whether they gain as much at full resolution is untested" in text  # no peer passed
    # with the other systems at full resolution: each one's difference to the full-resolution LS-NTP
    peer = next(p for p in peers if p.name == "ncep-convlstm-full-res")
    window_mae["ncep-convlstm-full-res"] = window_mae["ncep-lsntp-full-res"] + 0.1 + rng.normal(0, 0.01, 80)
    rows.append({"system": "ncep-convlstm-full-res", "kind": "convlstm", "label": "ConvLSTM", "table": "6", "seeds": 3,
                 "parameters": 359371, "runs": [run(2.01), run(2.02), run(2.03)]})
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1, [peer])
    p = out["peers_minus_full"]["ncep-convlstm-full-res"]
    assert p["diff"] == pytest.approx(np.mean(window_mae["ncep-convlstm-full-res"] - window_mae["ncep-lsntp-full-res"]))
    assert p["lo"] > 0 and p["validation_mae"] == pytest.approx(2.02) and p["parameters_vs_full"] == pytest.approx(0.894, abs=1e-3)
    assert "At full resolution LS-NTP is ahead of ConvLSTM" in text and "only ConvLSTM ran at full resolution" in text
    window_mae["ncep-convlstm-full-res"] = window_mae["ncep-lsntp-full-res"] - 0.1  # now ConvLSTM is better
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1, [peer])
    assert "ahead of none of them beyond the interval and behind ConvLSTM" in text
    rows.pop()
    rows[1]["seeds"], rows[1]["runs"] = 1, [run(2.05)]  # worse on validation: the test part is never looked at
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1)
    assert not out["full_better_on_validation"] and "full_over_persistence" not in out and text.endswith("the downsampled reference stays.")
    rows[1]["seeds"], rows[1]["runs"] = 0, []
    out, text = comparison._resolution_rule(refs["ncep-na-2p5"], full, rows, window_mae, ds, 500, 1)
    assert out["decided"] is False and "undecided" in text


def test_best_other_is_chosen_on_the_seed_every_system_has():
    run = lambda seed, v: {"seed": seed, "validation_mae": v}
    rows = [{"system": "d", "kind": "dconvlstm", "table": "3", "seeds": 3, "runs": [run(0, 0.4935), run(1, 0.511), run(2, 0.5096)]},
            {"system": "a", "kind": "agcrn", "table": "3", "seeds": 1, "runs": [run(0, 0.4958)]},
            {"system": "c", "kind": "convlstm", "table": "3", "seeds": 3, "runs": [run(0, 0.40)]},  # ConvLSTM is never "other"
            {"system": "w", "kind": "lsntp", "table": "4", "seeds": 1, "runs": [run(0, 0.30)]}]  # nor an ablation
    # by the mean, the one-seed system would win (0.4958 < 0.5047): the extra seeds must not undo the choice
    assert comparison.best_other(rows)["system"] == "d"


def test_the_other_systems_at_full_resolution_are_matched_to_the_full_resolution_ls_ntp():
    """The resolution rule compares the full-resolution LS-NTP with other systems run at full
    resolution (comparison.full_resolution_peers): they must be matched to it as Table 3 is to the
    downsampled one (lsntp/test_sizes.py checks every config against the downsampled LS-NTP)."""
    from lsntp.test_sizes import TOLERANCE, parameters, shipped_grids

    grids = shipped_grids()
    members = comparison.systems(os.path.join(comparison.queue.MODEL_EXPORT, "queues", "comparison.yaml"))
    checked = 0
    for ref in comparison.references(members).values():
        full = comparison.full_resolution_of(ref, members)
        peers = comparison.full_resolution_peers(ref, members)
        if full is None or not peers:
            continue
        target = parameters(full.cfg, grids)
        for peer in peers:
            n = parameters(peer.cfg, grids)
            assert abs(n / target - 1) <= TOLERANCE, f"{peer.name}: {n:,} parameters against {full.name}'s {target:,}"
            checked += 1
    assert checked == 3  # NCEP's ConvLSTM, D-ConvLSTM and SA-ConvLSTM at full resolution
