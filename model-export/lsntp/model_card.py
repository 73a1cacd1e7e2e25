"""A shipped model's README: what it is (from its ONNX metadata), how good (evaluation.md), how well its
prediction intervals are calibrated (intervals.md), how fast (benchmark.md) and the exact commands
that made it (commands.sh beside it)."""
from __future__ import annotations

import json
import os

import onnx


def write(model_dir: str) -> str:
    proto = onnx.load(os.path.join(model_dir, "model.onnx"), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    arch = json.loads(meta["architecture"])
    val = json.loads(meta["validation_metrics"])
    n_ls = sum(1 for n in proto.graph.node if n.op_type == "LSConv")
    size = os.path.getsize(os.path.join(model_dir, "model.onnx"))

    def read(name):
        p = os.path.join(model_dir, name)
        return open(p).read().strip() if os.path.exists(p) else None

    lines = [
        f"# {meta['model_name']} {meta['model_version']} for grid `{meta['grid_id']}`", "",
        f"{meta['alpha']} frames in, {meta['beta']} out, every {meta['step_hours']} h; grid {meta['grid_height']} x "
        f"{meta['grid_width']}, first cell {meta['grid_lat0']}N {meta['grid_lon0']}E, spacing {meta['grid_dlat']} / "
        f"{meta['grid_dlon']} degrees; {meta['units']}. Trained on {meta['source_data']} ({meta['source_variable']}), "
        f"training period {meta['training_period']}." + (
            f" Missing cells: `{meta['missing_fill']}` (each takes the mean of its frame's valid cells, in training "
            "and in the streaming job)." if meta.get("missing_fill") == "frame-mean" else
            f" Missing cells: `{meta['missing_fill']}`." if meta.get("missing_fill") else ""), "",
        f"`model.onnx`: {size / 1e6:.2f} MB, {len(proto.graph.node)} nodes of which {n_ls} `ai.lsntp::LSConv`; "
        f"weights SHA-256 `{meta['weights_sha256'][:16]}...`. Architecture: " +
        ", ".join(f"{k}={v}" for k, v in arch.items()) + ".", "",
        f"Validation (exported with the model): MAE {val['mae']} K, RMSE {val['rmse']} K over {val['windows']} windows; "
        f"per lead MAE {val['mae_per_lead']}.", "",
    ]
    for name in ("evaluation.md", "intervals.md", "benchmark.md"):
        text = read(name)
        if text:
            lines += [text, ""]
    commands = read("commands.sh")
    if commands:
        lines += ["## The commands that made it", "", "```bash", commands, "```", ""]
    out = os.path.join(model_dir, "README.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    return out
