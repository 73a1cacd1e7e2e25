"""`lsntp parity-fixtures`: per kind, a model and its parity files as export.export writes them
for shipped models; unknown kinds are named."""
import json

import numpy as np
import onnx

from .__main__ import main


def test_writes_a_model_and_parity_files_per_kind(tmp_path):
    assert main(["parity-fixtures", "--out", str(tmp_path), "--kinds", "lsntp,saconvlstm,lsntp-sparse"]) == 0
    for kind, label in (("lsntp", "LS-NTP"), ("saconvlstm", "SA-ConvLSTM"), ("lsntp-sparse", "LS-NTP")):
        folder = tmp_path / kind
        meta = {p.key: p.value for p in onnx.load(str(folder / "model.onnx")).metadata_props}
        assert meta["model_name"] == label and json.loads(meta["architecture"])["kind"] == kind.split("-")[0]
        if kind.startswith("lsntp"):
            assert meta["graph_form"] == ("sparse" if kind.endswith("sparse") else "dense")
        parity = json.loads((folder / "parity.json").read_text())
        assert parity["input_shape"] == [1, 3, 9, 12] and parity["expected_shape"] == [1, 2, 9, 12]
        expected = np.fromfile(folder / "parity-expected.f32", "<f4")
        assert expected.size == 2 * 9 * 12 and 250 < expected.mean() < 300
        x = np.fromfile(folder / "parity-input.f32", "<f4").reshape(3, 9, 12)
        # the network's part of the forecast is large enough for a 1e-4 K parity check to see it
        assert 0.5 < np.abs(expected.reshape(2, 9, 12) - x[-1]).mean() < 2.0


def test_unknown_kind_is_named(tmp_path, capsys):
    assert main(["parity-fixtures", "--out", str(tmp_path), "--kinds", "convlstm,transformer"]) == 2
    assert "transformer" in capsys.readouterr().err
