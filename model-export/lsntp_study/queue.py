"""A training queue: the runs of a comparison, trained one after another in the background.

    ./lsntp queue model-export/queues/comparison.yaml              # work through it (resumable)
    ./lsntp queue model-export/queues/comparison.yaml --status     # where every run stands

The queue file lists runs in the order they should be trained:

    runs:
      - {config: configs/era5-lsntp.yaml, seeds: [0, 1, 2]}          # era5-lsntp-s0, -s1, -s2
      - {config: configs/era5-lsntp.yaml, name: era5-lsntp-k5, set: {model.kernel: 5}}

Every run trains in its own process (`lsntp train CONFIG --resume`) with its output appended to
`RUN/train.log`, and its state in `RUN/progress.json`. Stopping the queue (Ctrl-C, kill, the
machine going away) loses at most the current epoch: the run is then "stopped" (see `state`), and
a worker started again skips finished runs and resumes the rest. Several workers may share one
queue (each claims a run with a lock file), e.g. one per core with LSNTP_THREADS=1. A run that fails is recorded (RUN/failed.txt) and skipped; the
queue goes on with the next.
"""
from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
import time

import yaml

from lsntp.config import ConfigError, PROJECT_ROOT

MODEL_EXPORT = os.path.join(PROJECT_ROOT, "model-export")


@dataclasses.dataclass(frozen=True)
class QueuedRun:
    name: str
    config: str  # path relative to model-export/ (or absolute)
    overrides: dict

    def command(self, run_dir: str, device: str | None) -> list[str]:
        cmd = [sys.executable, "-m", "lsntp", "train", self.config, "--run-dir", run_dir, "--resume",
               "--set", f"name={self.name}"]
        for key, value in self.overrides.items():
            cmd += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        if device:
            cmd += ["--device", device]
        return cmd


def read(path: str) -> list[QueuedRun]:
    """The runs of a queue file, in order; seeds expand into one run per seed."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such queue file")
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    entries = doc.get("runs")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: needs a non-empty list 'runs'")
    out, names = [], set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "config" not in e:
            raise ConfigError(f"{path}: runs[{i}] needs a 'config'")
        unknown = set(e) - {"config", "name", "seeds", "set"}
        if unknown:
            raise ConfigError(f"{path}: runs[{i}] has unknown key(s) {sorted(unknown)}")
        cfg_path = e["config"] if os.path.isabs(e["config"]) else os.path.join(MODEL_EXPORT, e["config"])
        if not os.path.exists(cfg_path):
            raise ConfigError(f"{path}: runs[{i}]: no such config {e['config']}")
        with open(cfg_path) as f:
            base_name = e.get("name") or yaml.safe_load(f)["name"]
        overrides = dict(e.get("set") or {})
        seeds = e.get("seeds")
        expanded = [(base_name, overrides)] if seeds is None else [
            (f"{base_name}-s{s}", {**overrides, "train.seed": int(s)}) for s in seeds]
        for name, ov in expanded:
            if name in names:
                raise ConfigError(f"{path}: run name '{name}' appears twice")
            names.add(name)
            out.append(QueuedRun(name, e["config"], ov))
    return out


def state(run_dir: str) -> str:
    """finished | failed | training (a worker holds it now) | stopped (started, not finished, no worker
    holds it: the queue resumes it) | waiting (never started)."""
    if os.path.exists(os.path.join(run_dir, "failed.txt")):
        return "failed"
    p = os.path.join(run_dir, "progress.json")
    if os.path.exists(p):
        with open(p) as f:
            if json.load(f).get("state") == "finished":
                return "finished"
        return "training" if held(run_dir) else "stopped"
    return "waiting"


def held(run_dir: str) -> bool:
    """Whether a worker holds the run's lock now. The probe takes the lock for an instant when it is
    free; a worker that tries to claim the run in that instant looks again before it gives up (work)."""
    path = os.path.join(run_dir, ".lock")
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:  # read-only: flock needs no write access, and never truncates
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def status(runs: list[QueuedRun], runs_dir: str) -> str:
    lines = [f"{'run':34} {'state':9} {'epoch':>7} {'best val MAE':>12} {'minutes':>8}"]
    for r in runs:
        d = os.path.join(runs_dir, r.name)
        st = state(d)
        p = os.path.join(d, "progress.json")
        prog = json.load(open(p)) if os.path.exists(p) else {}
        best = prog.get("best_val_mae")
        lines.append(f"{r.name:34} {st:9} {str(prog.get('epoch', '-')) + '/' + str(prog.get('epochs', '-')):>7} "
                     f"{'-' if best is None else f'{best:.4f}':>12} {prog.get('train_minutes', '-'):>8}")
    return "\n".join(lines)


def _die_with_parent():  # pragma: no cover - runs in the child
    """The training process ends when its worker does (Linux): a killed queue leaves no orphan
    training beside the next worker that claims the run."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _claim(run_dir: str):
    """An open, exclusively locked file in run_dir, or None if another worker holds the run."""
    lock = open(os.path.join(run_dir, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def work(queue_file: str, runs_dir: str, device: str | None = None, retry_failed: bool = False,
         log=print) -> int:
    """Trains every run not finished and not claimed by another worker; returns how many it trained.

    The queue file is read again before each run, so runs added or reordered while the queue works
    are taken up without a restart."""
    trained, retried = 0, set()
    last_look = False
    while True:
        claimed, busy = None, False
        for r in read(queue_file):
            run_dir = os.path.join(runs_dir, r.name)
            os.makedirs(run_dir, exist_ok=True)
            failed = os.path.join(run_dir, "failed.txt")
            if retry_failed and r.name not in retried and os.path.exists(failed):
                os.remove(failed)
                retried.add(r.name)
            if state(run_dir) in ("finished", "failed"):
                continue
            lock = _claim(run_dir)
            if lock is None:
                busy = True
                continue  # another worker has it (or a status probe, for an instant: see held)
            if state(run_dir) in ("finished", "failed"):
                lock.close()
                continue
            claimed = (r, run_dir, lock)
            break
        if claimed is None:
            if busy and not last_look:  # one more look, in case a lock was only a probe's
                last_look = True
                time.sleep(0.5)
                continue
            return trained
        last_look = False
        r, run_dir, lock = claimed
        try:
            log(f"queue: {r.name} starts ({time.strftime('%H:%M:%S')}), log in {run_dir}/train.log")
            cmd = r.command(run_dir, device)
            with open(os.path.join(run_dir, "train.log"), "a") as out:
                out.write(f"\n== {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {' '.join(cmd)}\n")
                out.flush()
                env = dict(os.environ, PYTHONUNBUFFERED="1")
                rc = subprocess.call(cmd, cwd=MODEL_EXPORT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent)
            if rc != 0 or state(run_dir) != "finished":
                with open(os.path.join(run_dir, "failed.txt"), "w") as f:
                    f.write(f"exit status {rc}; see train.log\n")
                log(f"queue: {r.name} FAILED (exit {rc}); see {run_dir}/train.log")
            else:
                trained += 1
                log(f"queue: {r.name} done ({time.strftime('%H:%M:%S')})")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
