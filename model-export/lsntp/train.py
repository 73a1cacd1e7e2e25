"""Training: MSE on normalised values, Adam, validation every epoch, early stopping, checkpoints, resume."""
from __future__ import annotations

import dataclasses
import json
import os
import random
import time

import numpy as np
import torch
from tqdm import tqdm

from . import config as config_mod
from .data import MinMax, Series, WindowDataset, load_series, split_by_time
from .forecaster import ModelConfig, build_forecaster


@dataclasses.dataclass
class Prepared:
    series: Series
    norm: MinMax
    step_change_k: float  # std of the one-step change on the training part, kelvin
    train: WindowDataset
    val: WindowDataset
    test: WindowDataset
    split: object


def set_threads():
    """Use every core the machine gives this process (torch starts with one here)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = int(os.environ.get("LSNTP_THREADS", n))  # fewer when several runs share the machine
    torch.set_num_threads(max(1, n))
    return n


def prepare(cfg: config_mod.RunConfig, data_path: str | None = None) -> Prepared:
    series = load_series(data_path or cfg.data.resolved_path, cfg.data.variable)
    split = split_by_time(series.times, cfg.data.val_start, cfg.data.test_start)
    train_vals = series.values[split.train[0]:split.train[1]]
    norm = MinMax.fit(train_vals)
    fill = float(np.nanmean(train_vals))
    a, b = cfg.data.alpha, cfg.data.beta
    step_change = float(np.nanstd(np.diff(train_vals, axis=0)))
    parts = [WindowDataset(series, p, a, b, fill) for p in (split.train, split.val, split.test)]
    for name, ds in zip(("training", "validation", "test"), parts):
        if len(ds) == 0:
            raise config_mod.ConfigError(f"the {name} part is shorter than alpha + beta = {a + b} frames; move the split dates")
    return Prepared(series, norm, step_change, *parts, split=split)


def build_model(cfg: config_mod.RunConfig, prepared: Prepared):
    s = prepared.series
    return build_forecaster(cfg.model, s.lats.size, s.lons.size, cfg.data.beta, prepared.norm, s.lats, s.lons,
                            prepared.step_change_k)


def _tensors(ds: WindowDataset):
    xs, ys = ds.arrays()
    return torch.from_numpy(xs), torch.from_numpy(ys)


def predict(model, xs: torch.Tensor, batch: int = 16) -> np.ndarray:
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(xs), batch):
            outs.append(model(xs[i:i + batch]))
    return torch.cat(outs).numpy()


def masked_mae(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(pred - truth)[..., ~mask].mean())


def training_period(prepared: Prepared) -> str:
    t = prepared.series.times
    a, b = prepared.split.train
    fmt = lambda x: np.datetime_as_string(x, unit="m") + "Z"
    return f"{fmt(t[a])}/{fmt(t[b - 1])}"


def train(cfg: config_mod.RunConfig, run_dir: str, resume: bool = False, data_path: str | None = None,
          max_steps: int | None = None, quiet: bool = False) -> dict:
    """Train one model; returns the history. Writes run_dir/{last,best}.pt and history.json."""
    threads = set_threads()
    tc = cfg.train
    torch.manual_seed(tc.seed)
    np.random.seed(tc.seed)
    random.seed(tc.seed)
    prepared = prepare(cfg, data_path)
    model = build_model(cfg, prepared)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    os.makedirs(run_dir, exist_ok=True)
    last_path, best_path = os.path.join(run_dir, "last.pt"), os.path.join(run_dir, "best.pt")
    history = {"epochs": [], "threads": threads}
    start_epoch, best, stale, spent = 0, float("inf"), 0, 0.0
    if resume and os.path.exists(last_path):
        ck = torch.load(last_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["rng"])
        history, start_epoch, best, stale = ck["history"], ck["epoch"] + 1, ck["best"], ck["stale"]
        spent = history.get("train_seconds", 0.0)
        if history.get("finished") and not (history.get("ran_all_epochs") and tc.epochs > start_epoch):
            print(f"{cfg.name}: already trained ({history['finished']}); nothing to resume")
            return history
        history.pop("finished", None)  # more epochs asked for than the finished run had
        print(f"resuming {cfg.name} at epoch {start_epoch + 1} (best validation MAE {best:.4f} K)")
    xs, ys = _tensors(prepared.train)
    vx, vy = _tensors(prepared.val)
    mask = prepared.series.mask
    n_params = sum(p.numel() for p in model.parameters())
    if not quiet:
        print(f"{cfg.name}: {cfg.model.label}, {n_params:,} parameters; windows train {len(xs)}, "
              f"validation {len(vx)}, test {len(prepared.test)}; {threads} threads")
    steps = 0
    t0 = time.time() - spent
    for epoch in range(start_epoch, tc.epochs):
        model.train()
        g = torch.Generator().manual_seed(tc.seed * 1000 + epoch)
        order = torch.randperm(len(xs), generator=g)[::max(1, tc.train_stride)]
        losses = []
        bar = tqdm(range(0, len(order), tc.batch), desc=f"{cfg.name} epoch {epoch + 1}/{tc.epochs}",
                   leave=False, disable=quiet, mininterval=2.0)
        for i in bar:
            idx = order[i:i + tc.batch]
            x, y = xs[idx], ys[idx]
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
        elapsed = time.time() - t0
        improved = val_mae < best
        if improved:
            best, stale = val_mae, 0
        else:
            stale += 1
        history["epochs"].append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_mae": val_mae, "seconds": elapsed})
        history["train_seconds"] = elapsed
        if not quiet:
            print(f"{cfg.name} epoch {epoch + 1}: train loss {np.mean(losses):.3e}, validation MAE {val_mae:.4f} K"
                  f"{' (best)' if improved else ''}, {elapsed / 60:.1f} min")
        ck = {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": torch.get_rng_state(),
              "history": history, "epoch": epoch, "best": best, "stale": stale,
              "config": config_mod.to_dict(cfg), "norm": dataclasses.asdict(prepared.norm),
              "training_period": training_period(prepared), "validation_mae": val_mae}
        torch.save(ck, last_path + ".tmp")
        os.replace(last_path + ".tmp", last_path)
        if improved:
            torch.save(ck, best_path)
        if max_steps is not None and steps >= max_steps:
            break
        stop = None
        if stale >= tc.patience:
            stop = f"early stop, no better validation MAE for {tc.patience} epochs"
        elif elapsed > tc.max_minutes * 60:
            stop = f"stopped at the {tc.max_minutes:g} minute budget"
        elif epoch + 1 == tc.epochs:
            stop = f"all {tc.epochs} epochs"
            history["ran_all_epochs"] = True
        if stop:
            print(f"{cfg.name}: {stop}")
            history["finished"] = stop
            ck["history"] = history
            torch.save(ck, last_path)
            break
    history["best_val_mae"] = best
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump(history, f, indent=1)
    return history


def load_checkpoint(path: str, data_path: str | None = None):
    """Rebuild a trained model from a checkpoint; returns (model, run config, prepared data, checkpoint)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint (train the model first)")
    ck = torch.load(path)
    raw = ck["config"]
    cfg = config_mod.RunConfig(name=raw["name"], data=config_mod.DataConfig(**raw["data"]),
                               model=ModelConfig(**raw["model"]), train=config_mod.TrainConfig(**raw["train"]))
    prepared = prepare(cfg, data_path)
    model = build_model(cfg, prepared)
    model.load_state_dict(ck["model"])
    model.eval()
    return model, cfg, prepared, ck
