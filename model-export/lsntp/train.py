"""Training: MSE on normalised values, Adam, validation every epoch, early stopping, resume.

The loop only: data preparation lives in data.py, checkpoint I/O in checkpoint.py, the metric in
metrics.py. Each epoch writes `last.pt` (and `best.pt` when the validation MAE improved) and
`progress.json`, so a run that is interrupted resumes where it stood (`--resume`) and anyone can
read how far it got.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from . import checkpoint
from . import config as config_mod
from .data import WindowDataset, prepare
from .forecaster import predict
from .metrics import masked_mae


def set_threads():
    """Use every core the machine gives this process (torch starts with one here)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = int(os.environ.get("LSNTP_THREADS", n))  # fewer when several runs share the machine
    torch.set_num_threads(max(1, n))
    return n


def resolve_device(name: str | None) -> torch.device:
    """'cpu', 'cuda' or None (cpu); asking for CUDA where there is none is an error, not a silent CPU run."""
    name = name or "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this torch ({torch.__version__}) sees no CUDA device")
    if not (name == "cpu" or name.startswith("cuda")):
        raise ValueError(f"--device must be cpu or cuda[:N], got '{name}'")
    return torch.device(name)


def machine(device: torch.device, threads: int) -> dict:
    """Which machine trained a run: recorded in its history and, through it, in the model card."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"host_cpu": cpu, "cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _tensors(ds: WindowDataset):
    xs, ys = ds.arrays()
    return torch.from_numpy(xs), torch.from_numpy(ys)


def _write_progress(run_dir: str, cfg: config_mod.RunConfig, history: dict, state: str, best: float) -> None:
    last = history["epochs"][-1] if history["epochs"] else {}
    doc = {"name": cfg.name, "state": state, "epoch": last.get("epoch", 0), "epochs": cfg.train.epochs,
           "val_mae": last.get("val_mae"), "best_val_mae": None if best == float("inf") else best,
           "train_minutes": round(history.get("train_seconds", 0.0) / 60, 2),
           "finished": history.get("finished"), "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = os.path.join(run_dir, "progress.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, os.path.join(run_dir, "progress.json"))


def train(cfg: config_mod.RunConfig, run_dir: str, resume: bool = False, data_path: str | None = None,
          max_steps: int | None = None, quiet: bool = False, device: str | None = None) -> dict:
    """Train one model; returns the history. Writes run_dir/{last,best}.pt, progress.json and history.json."""
    threads = set_threads()
    dev = resolve_device(device)
    tc = cfg.train
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)
    random.seed(tc.seed)
    prepared = prepare(cfg.data, data_path)
    model = checkpoint.build_model(cfg, prepared).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    schedule = None if tc.lr_decay_patience is None else torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=0.5, patience=tc.lr_decay_patience)
    os.makedirs(run_dir, exist_ok=True)
    last_path, best_path = os.path.join(run_dir, "last.pt"), os.path.join(run_dir, "best.pt")
    history = {"epochs": [], "threads": threads, "machines": []}
    start_epoch, best, stale, spent = 0, float("inf"), 0, 0.0
    if resume and os.path.exists(last_path):
        ck = checkpoint.read(last_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if schedule is not None and ck.get("schedule"):
            schedule.load_state_dict(ck["schedule"])
        torch.set_rng_state(ck["rng"])
        history, start_epoch, best, stale = ck["history"], ck["epoch"] + 1, ck["best"], ck["stale"]
        spent = history.get("train_seconds", 0.0)
        if history.get("finished") and not (history.get("ran_all_epochs") and tc.epochs > start_epoch):
            if not quiet:
                print(f"{cfg.name}: already trained ({history['finished']}); nothing to resume")
            _write_progress(run_dir, cfg, history, "finished", best)
            return history
        history.pop("finished", None)  # more epochs asked for than the finished run had
        if not quiet:
            print(f"resuming {cfg.name} at epoch {start_epoch + 1} (best validation MAE {best:.4f} K)")
    history.setdefault("machines", [])
    here = machine(dev, threads)
    if here not in history["machines"]:
        history["machines"].append(here)
    xs, ys = _tensors(prepared.train)
    vx, vy = _tensors(prepared.val)
    mask = prepared.series.mask
    n_params = sum(p.numel() for p in model.parameters())
    history["parameters"] = n_params
    if not quiet:
        print(f"{cfg.name}: {cfg.model.label}, {n_params:,} parameters; windows train {len(xs)}, "
              f"validation {len(vx)}, test {len(prepared.test)}; {threads} threads on {dev}")
    steps = 0
    t0 = time.time() - spent
    for epoch in range(start_epoch, tc.epochs):
        model.train()
        g = torch.Generator().manual_seed(tc.seed * 1000 + epoch)
        order = torch.randperm(len(xs), generator=g)[::max(1, tc.train_stride)]
        losses = []
        bar = tqdm(range(0, len(order), tc.batch), desc=f"{cfg.name} epoch {epoch + 1}/{tc.epochs}",
                   leave=False, disable=quiet or not sys.stderr.isatty(), mininterval=2.0)
        for i in bar:
            idx = order[i:i + tc.batch]
            x, y = xs[idx].to(dev), ys[idx].to(dev)
            pred = model(x)
            loss = torch.mean((model.normalise(pred) - model.normalise(y)) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.2e}")
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        val_mae = masked_mae(predict(model, vx), vy.numpy(), mask)
        if schedule is not None:
            schedule.step(val_mae)
        elapsed = time.time() - t0
        improved = val_mae < best
        if improved:
            best, stale = val_mae, 0
        else:
            stale += 1
        history["epochs"].append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_mae": val_mae,
                                  "seconds": elapsed, "lr": opt.param_groups[0]["lr"]})
        history["train_seconds"] = elapsed
        if not quiet:
            print(f"{cfg.name} epoch {epoch + 1}: train loss {np.mean(losses):.3e}, validation MAE {val_mae:.4f} K"
                  f"{' (best)' if improved else ''}, {elapsed / 60:.1f} min")
        stop = None
        if stale >= tc.patience:
            stop = f"early stop, no better validation MAE for {tc.patience} epochs"
        elif elapsed > tc.max_minutes * 60:
            stop = f"stopped at the {tc.max_minutes:g} minute budget"
        elif epoch + 1 == tc.epochs:
            stop = f"all {tc.epochs} epochs"
            history["ran_all_epochs"] = True
        if stop:
            history["finished"] = stop
        ck = {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "optimizer": opt.state_dict(),
              "rng": torch.get_rng_state(), "schedule": None if schedule is None else schedule.state_dict(), "history": history, "epoch": epoch, "best": best, "stale": stale,
              "config": config_mod.to_dict(cfg), "norm": dataclasses.asdict(prepared.norm),
              "training_period": prepared.training_period(), "validation_mae": val_mae}
        checkpoint.save(ck, last_path)
        if improved:
            checkpoint.save(ck, best_path)
        _write_progress(run_dir, cfg, history, "finished" if stop else "training", best)
        if max_steps is not None and steps >= max_steps:
            break
        if stop:
            if not quiet:
                print(f"{cfg.name}: {stop}")
            break
    history["best_val_mae"] = best
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump(history, f, indent=1)
    return history
