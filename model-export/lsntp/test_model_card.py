"""The model card renders from a model folder: ONNX metadata, evaluation.md, benchmark.md, commands.sh."""
import json

import onnx
from onnx import TensorProto, helper

from . import model_card

META = {
    "model_name": "LS-NTP", "model_version": "1.2.3", "grid_id": "test-grid", "alpha": "3", "beta": "2",
    "step_hours": "1", "grid_height": "2", "grid_width": "2", "grid_lat0": "52.0", "grid_lon0": "-1.0",
    "grid_dlat": "-0.25", "grid_dlon": "0.25", "units": "K", "source_data": "era5-small.nc", "source_variable": "t2m",
    "training_period": "2019-03-01T00:00Z/2019-03-01T23:00Z", "weights_sha256": "ab" * 32,
    "architecture": json.dumps({"kind": "lsntp", "hidden": 4}), "missing_fill": "frame-mean",
    "validation_metrics": json.dumps({"mae": 0.41, "rmse": 0.55, "windows": 7, "mae_per_lead": [0.3, 0.5]}),
}


def _model_dir(tmp_path, extra=True):
    x = helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, 3, 2, 2])
    y = helper.make_tensor_value_info("forecast", TensorProto.FLOAT, [1, 3, 2, 2])
    proto = helper.make_model(helper.make_graph([helper.make_node("Identity", ["frames"], ["forecast"])], "g", [x], [y]))
    for k, v in META.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.save(proto, str(tmp_path / "model.onnx"))
    if extra:
        (tmp_path / "evaluation.md").write_text("## test-grid: held-out test\n\n| model | MAE (K) |\n|---|---:|\n| LS-NTP | 0.420 |\n")
        (tmp_path / "commands.sh").write_text("./lsntp train model-export/configs/era5-lsntp.yaml\n")
    return tmp_path


def test_card_renders_metadata_evaluation_and_commands(tmp_path):
    out = model_card.write(str(_model_dir(tmp_path)))
    text = open(out).read()
    assert text.startswith("# LS-NTP 1.2.3 for grid `test-grid`")
    assert "3 frames in, 2 out, every 1 h; grid 2 x 2" in text
    assert "kind=lsntp, hidden=4" in text and "MAE 0.41 K, RMSE 0.55 K over 7 windows" in text
    assert "frame-mean" in text  # how missing cells are filled
    assert "| LS-NTP | 0.420 |" in text  # evaluation.md, as it is
    assert "```bash\n./lsntp train model-export/configs/era5-lsntp.yaml\n```" in text


def test_card_without_evaluation_or_commands_still_renders(tmp_path):
    text = open(model_card.write(str(_model_dir(tmp_path, extra=False)))).read()
    assert "weights SHA-256 `abababababababab...`" in text and "## The commands" not in text
