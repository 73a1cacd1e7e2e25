"""The zoo on the tiny queue (fixtures.make_tiny_queue): one exported model per system with a finished run,
the seed with the best validation MAE, its test metrics from the comparison, a README listing them,
nothing where the streaming job looks for served models, and no second export of an unchanged system."""
import glob
import json
import os
import time

import onnx
import pytest

from . import zoo
from .comparison.systems import LSI_RELU_ROW


def test_zoo_exports_the_best_validation_seed_of_every_system(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "models" / "zoo")
    logs = []
    doc = zoo.build(q, runs, out, n_resamples=200, ablations=True, log=logs.append)
    assert os.path.exists(tmp_path / "models" / "comparison" / "comparison.json")  # the comparison was brought up to date
    assert sorted(e["folder"] for e in doc["models"]) == ["test-grid/convlstm", "test-grid/lsntp"]
    # Tables 3, 4 and 6 by default: the untrained k = 1 sweep (Table 5) is not even projected
    assert {s["system"] for s in doc["not_yet"]} == {"tiny-lsntp-no-nsa"}
    comparison = json.load(open(tmp_path / "models" / "comparison" / "comparison.json"))
    lsntp_row = next(r for r in comparison["datasets"]["test-grid"]["rows"] if r["system"] == "tiny-lsntp")
    chosen = min(lsntp_row["runs"], key=lambda r: r["validation_mae"])
    folder = os.path.join(out, "test-grid", "lsntp")
    m = json.load(open(os.path.join(folder, "metrics.json")))
    assert m["run"] == chosen["run"] and m["test"]["mae"] == chosen["test"]["mae"] and m["row_seeds"] == 2
    for f in ("model.onnx", "parity-input.f32", "parity-expected.f32", "parity.json", "README.md", "evaluation.md", "commands.sh"):
        assert os.path.getsize(os.path.join(folder, f)) > 0, f
    # the card says which machine trained it (train.py records the machine in the run's history)
    assert m["trained_on"] == chosen["trained_on"] and " cores, " in m["trained_on"] and m["epochs"] == chosen["epochs"]
    assert f"on {chosen['trained_on']}" in open(os.path.join(folder, "README.md")).read()
    meta = {p.key: p.value for p in onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False).metadata_props}
    assert meta["grid_id"] == "test-grid" and meta["model_label"].startswith("LS-NTP")
    text = open(os.path.join(out, "README.md")).read()
    assert "`test-grid/lsntp`" in text and "`test-grid/convlstm`" in text and "Total: 2 models" in text
    assert 0 < doc["total_bytes"] < doc["projected_bytes_when_all_finished"]  # two systems still to come
    # the job serves OUT/*.onnx and OUT/*/model.onnx of its models directory: none of these may be there
    models_dir = str(tmp_path / "models")
    assert glob.glob(os.path.join(models_dir, "*.onnx")) == glob.glob(os.path.join(models_dir, "*", "model.onnx")) == []
    stamp = os.path.getmtime(os.path.join(folder, "model.onnx"))
    files = {p: open(p, "rb").read() for p in glob.glob(os.path.join(folder, "*"))}
    time.sleep(1.1)  # the second comparison's stamp (whole seconds) differs from the first's
    logs.clear()
    zoo.build(q, runs, out, n_resamples=200, ablations=True, log=logs.append)  # nothing changed: nothing exported again
    assert not any("exporting" in s for s in logs) and os.path.getmtime(os.path.join(folder, "model.onnx")) == stamp
    # and the folder is byte for byte as it was: metrics.json keeps the stamp of the comparison that made its numbers
    assert {p: open(p, "rb").read() for p in glob.glob(os.path.join(folder, "*"))} == files


def test_zoo_ships_only_the_tables_asked_for_and_removes_the_rest(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "zoo")
    zoo.build(q, runs, out, n_resamples=200, log=lambda s: None)
    stranger = os.path.join(out, "test-grid", "notes")  # not written by a zoo (no metrics.json): left alone
    os.makedirs(stranger)
    logs = []
    doc = zoo.build(q, runs, out, n_resamples=200, tables=("4",), log=logs.append)
    assert doc["models"] == [] and doc["tables"] == ["4"]  # both trained systems are Table 3 rows
    assert not os.path.exists(os.path.join(out, "test-grid", "lsntp"))
    assert not os.path.exists(os.path.join(out, "test-grid", "convlstm"))
    assert os.path.isdir(stranger)
    assert sum("removing test-grid/lsntp" in s for s in logs) == 1
    assert zoo.DEFAULT_TABLES == ("3", "4", "6")


def test_zoo_leaves_out_lsntp_ablations_unless_asked(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "zoo")
    # an earlier zoo's export of the no-NSA ablation (Table 4, kind lsntp) goes when ablations are not asked for
    earlier = os.path.join(out, "test-grid", "lsntp-no-nsa")
    os.makedirs(earlier)
    with open(os.path.join(earlier, "metrics.json"), "w") as f:
        json.dump({"system": "tiny-lsntp-no-nsa"}, f)
    doc = zoo.build(q, runs, out, n_resamples=200, log=lambda s: None)
    assert doc["ablations"] is False and doc["not_yet"] == [] and not os.path.exists(earlier)
    assert sorted(e["folder"] for e in doc["models"]) == ["test-grid/convlstm", "test-grid/lsntp"]
    assert "(without LS-NTP ablations)" in open(os.path.join(out, "README.md")).read()
    doc = zoo.build(q, runs, out, n_resamples=200, ablations=True, log=lambda s: None)
    assert [s["system"] for s in doc["not_yet"]] == ["tiny-lsntp-no-nsa"]
    assert zoo.is_ablation({"table": "4", "kind": "lsntp", "row": "w/o NSA"})
    assert not zoo.is_ablation({"table": "4", "kind": "daggconvlstm", "row": "DAGG-ConvLSTM"})
    # the other LSI form is a measurement of LS-NTP too; the sparse graph (Table 6) is a model to serve
    assert zoo.is_ablation({"table": "6", "kind": "lsntp", "row": LSI_RELU_ROW})
    assert not zoo.is_ablation({"table": "6", "kind": "lsntp", "row": "graph = sparse, graph_k = 9"})
    # another system at the other resolution is measured for the resolution rule; its Table 3 row ships
    assert zoo.is_ablation({"table": "6", "kind": "convlstm", "row": "ConvLSTM at full resolution (no downsampling)"})
    assert not zoo.is_ablation({"table": "3", "kind": "convlstm", "row": "ConvLSTM"})


def test_zoo_keeps_an_export_whose_row_has_no_finished_run_now_and_refuses_unknown_tables(tiny_queue, tmp_path):
    q, runs = tiny_queue
    out = str(tmp_path / "zoo")
    zoo.build(q, runs, out, n_resamples=200, ablations=True, log=lambda s: None)
    # an earlier zoo's export of the untrained no-NSA row (as when a finished run's training is extended)
    kept = os.path.join(out, "test-grid", "lsntp-no-nsa")
    os.makedirs(kept)
    with open(os.path.join(kept, "metrics.json"), "w") as f:
        json.dump({"system": "tiny-lsntp-no-nsa"}, f)
    doc = zoo.build(q, runs, out, n_resamples=200, ablations=True, log=lambda s: None)
    assert os.path.exists(os.path.join(kept, "metrics.json"))
    assert [s["earlier_export_kept"] for s in doc["not_yet"] if s["system"] == "tiny-lsntp-no-nsa"] == [True]
    assert "an earlier export is kept in `test-grid/lsntp-no-nsa`" in open(os.path.join(out, "README.md")).read()
    for bad in ((), ("3.4",), ("3", "7")):  # a typo must not empty the zoo
        with pytest.raises(ValueError, match="the comparison's tables are 3,4,5,6"):
            zoo.build(q, runs, out, n_resamples=200, tables=bad, log=lambda s: None)
    assert os.path.exists(os.path.join(out, "test-grid", "lsntp", "model.onnx"))
    doc = zoo.build(q, runs, out, n_resamples=200, max_folder_mb=0.01, log=lambda s: None)  # every system too big now
    assert doc["models"] == [] and not os.path.exists(os.path.join(out, "test-grid", "lsntp"))
    big = {s["system"]: s for s in doc["not_yet"] if s.get("too_big")}
    assert set(big) == {"tiny-lsntp", "tiny-convlstm"} and "./lsntp export " in big["tiny-lsntp"]["why"]


def test_provenance_is_recorded_relative_to_the_project(tiny_queue, tmp_path, tmp_path_factory, monkeypatch):
    """With the queue, its runs and the outputs inside the project, every path the comparison and the
    zoo record is relative to the project root: a clone reads the same provenance on any machine."""
    from lsntp import paths

    q, runs = tiny_queue
    root = str(tmp_path_factory.getbasetemp())  # holds the tiny queue and this test's folder: the "project"
    monkeypatch.setattr(paths, "PROJECT_ROOT", root)
    out = str(tmp_path / "models" / "zoo")
    zoo.build(q, runs, out, n_resamples=200, log=lambda s: None)
    runs_rel = os.path.relpath(runs, root)
    written = [os.path.join(d, f) for d, _, files in os.walk(tmp_path / "models") for f in files
               if f.endswith((".json", ".md", ".sh"))]
    assert len(written) >= 10
    for p in written:
        assert root not in open(p).read(), p  # no absolute path into the project anywhere
    report = json.load(open(tmp_path / "models" / "comparison" / "comparison.json"))
    assert (report["queue"], report["runs_dir"]) == (os.path.relpath(q, root), runs_rel)
    m = json.load(open(os.path.join(out, "test-grid", "lsntp", "metrics.json")))
    assert m["checkpoint"] == os.path.join(runs_rel, m["run"], "best.pt")
    assert m["comparison"] == os.path.relpath(str(tmp_path / "models" / "comparison" / "comparison.json"), root)
    assert f"--runs-dir {runs_rel}`" in open(tmp_path / "models" / "comparison" / "README.md").read()
    assert f"./lsntp export {m['checkpoint']} --out " in open(os.path.join(out, "test-grid", "lsntp", "commands.sh")).read()
