"""Forecast latency of a shipped model: PyTorch eager against ONNX Runtime Java, same machine, same run.

Method: the checkpoint is rebuilt in PyTorch (eager, no_grad, all cores) and timed on batch 1 and
16 after warm-up; then the tools module's OnnxLatencyBench (ONNX Runtime Java, all cores, full graph
optimisation) times the exported model.onnx on the same batches, and a square float32 MatMul in
ONNX Runtime to measure the machine's own peak. FLOPs count the convolutions and the graph
products (2 x multiply-adds), not elementwise work, so the reported FLOP rate is a lower bound.
Writes benchmark.json and benchmark.md beside the model.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

from .config import PROJECT_ROOT
from .ls_conv import LSConv
from .checkpoint import load as load_checkpoint
from .train import set_threads

BATCHES = (1, 16)
MATMUL_N = 2048


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of one forward pass: convolutions, transposed convolutions and the (I + A) X products."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, nn.ConvTranspose2d):
            total[0] += 2 * inp[0].numel() * m.out_channels * k // m.groups
        else:
            total[0] += 2 * out.numel() * (m.in_channels // m.groups) * k

    def ls_conv_hook(m, inp, out):
        # LS-Conv computes from its parameters (ls_conv.ls_conv), not through its Conv2d modules:
        # its graph product and its convolutions (stride 1, same size out) are counted here
        b, c, h, w = inp[0].shape
        if m.settings.lagc:  # each node sums k neighbours: every node in the dense form, graph_k in the sparse one
            total[0] += 2 * b * c * (h * w) * m.graph[0].k
        for conv in ([m.nsa.conv1, m.nsa.conv2, m.nsa.conv3] if m.nsa is not None else []) + [m.conv]:
            k = conv.kernel_size[0] * conv.kernel_size[1]
            total[0] += 2 * b * conv.out_channels * h * w * (conv.in_channels // conv.groups) * k

    ls_layers = [m for m in model.modules() if isinstance(m, LSConv)]
    inside = {id(c) for m in ls_layers for c in m.modules() if c is not m}
    hooks = [m.register_forward_hook(conv_hook) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and id(m) not in inside]
    hooks += [m.register_forward_hook(ls_conv_hook) for m in ls_layers]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return total[0]


def time_torch(model, x, repeats: int) -> list[float]:
    with torch.no_grad():
        for _ in range(3):
            model(x)
        ms = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            ms.append((time.perf_counter() - t0) * 1e3)
    return ms


def stats(ms) -> dict:
    a = np.asarray(ms)
    return {"median_ms": float(np.median(a)), "p10_ms": float(np.percentile(a, 10)), "p90_ms": float(np.percentile(a, 90)),
            "min_ms": float(a.min()), "max_ms": float(a.max()), "n": int(a.size)}


def matmul_model(path: str, n: int):
    g = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "matmul_peak",
                          [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n]),
                           helper.make_tensor_value_info("B", TensorProto.FLOAT, [n, n])],
                          [helper.make_tensor_value_info("C", TensorProto.FLOAT, [n, n])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def java_classpath() -> str:
    """The tools module's runtime classpath as tools/bin/run builds it: a manifest-only jar (ONNX Runtime 1.29
    crashes with a very long java.class.path). bin/run rebuilds it when sources changed."""
    job = os.path.join(PROJECT_ROOT, "tools")
    subprocess.run([os.path.join(job, "bin", "run"), "--help"], cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(job, "target", "run-classpath.jar")


def run(model_dir: str, checkpoint: str, data_path: str | None = None, repeats: int = 30) -> dict:
    threads = set_threads()
    onnx_path = os.path.join(model_dir, "model.onnx")
    if not os.path.exists(onnx_path):
        raise FileNotFoundError(f"{onnx_path}: no such model (export it first)")
    model, cfg, prepared, _ = load_checkpoint(checkpoint, data_path)
    xs, _ = prepared.test.arrays()
    out = {"machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
                       "torch": torch.__version__}, "model": cfg.model.label, "grid_id": cfg.data.grid_id,
           "method": __doc__.split("\n\n")[1].replace("\n", " "), "torch_eager": {}, "flops_per_forecast": {}}
    for b in BATCHES:
        x = torch.from_numpy(np.resize(xs, (b,) + xs.shape[1:]).astype(np.float32))
        out["flops_per_forecast"][str(b)] = count_flops(model, x)
        print(f"PyTorch eager, batch {b}: timing {repeats} runs", flush=True)
        out["torch_eager"][str(b)] = stats(time_torch(model, x, repeats))
    with tempfile.TemporaryDirectory() as tmp:
        mm = os.path.join(tmp, "matmul.onnx")
        matmul_model(mm, MATMUL_N)
        print("ONNX Runtime Java: model and MatMul peak", flush=True)
        cmd = ["java", "-cp", java_classpath(), "ai.lsntp.bench.OnnxLatencyBench", onnx_path, mm, str(MATMUL_N),
               str(repeats), str(threads)] + [str(b) for b in BATCHES]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"ONNX Runtime Java benchmark failed: {res.stderr[-2000:]}")
        java = json.loads(res.stdout.strip().splitlines()[-1])
    out["onnxruntime_java"] = java["model"]
    out["matmul_peak"] = java["matmul"]
    for b in map(str, BATCHES):
        t, o = out["torch_eager"][b]["median_ms"], out["onnxruntime_java"][b]["median_ms"]
        flops = out["flops_per_forecast"][b]
        out.setdefault("speedup_ort_over_torch", {})[b] = t / o
        out.setdefault("ort_gflops", {})[b] = flops / (o / 1e3) / 1e9
        out.setdefault("ort_fraction_of_matmul_peak", {})[b] = out["ort_gflops"][b] / java["matmul"]["gflops"]
    with open(os.path.join(model_dir, "benchmark.json"), "w") as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(model_dir, "benchmark.md"), "w") as f:
        f.write(markdown(out))
    print(markdown(out))
    return out


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"## Latency: {r['model']} ({r['grid_id']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['threads']} threads; torch {m['torch']}. {r['method']}", "",
             "| batch | PyTorch eager median (p10-p90) ms | ONNX Runtime Java median (p10-p90) ms | speed-up | GFLOP per call | ORT GFLOP/s | of MatMul peak |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for b in r["torch_eager"]:
        t, o = r["torch_eager"][b], r["onnxruntime_java"][b]
        lines.append(f"| {b} | {t['median_ms']:.1f} ({t['p10_ms']:.1f}-{t['p90_ms']:.1f}) | {o['median_ms']:.1f} ({o['p10_ms']:.1f}-{o['p90_ms']:.1f}) | "
                     f"{r['speedup_ort_over_torch'][b]:.1f}x | {r['flops_per_forecast'][b] / 1e9:.2f} | {r['ort_gflops'][b]:.1f} | "
                     f"{100 * r['ort_fraction_of_matmul_peak'][b]:.1f}% |")
    mp = r["matmul_peak"]
    lines += ["", f"MatMul peak in ONNX Runtime Java ({mp['n']}x{mp['n']} float32): {mp['gflops']:.0f} GFLOP/s (median {mp['median_ms']:.1f} ms).", ""]
    return "\n".join(lines)
