"""The queue as an operator meets it: a real worker process, SIGKILLed with its training mid-run,
leaves the run "stopped" (not "training"); a worker started again resumes it from its last saved
epoch and finishes it, with every epoch in its history once."""
import json
import os
import signal
import subprocess
import sys
import time

import yaml

from lsntp import checkpoint

from . import queue


def _write_queue(folder: str, cfg_path: str, epochs: int) -> str:
    q = os.path.join(folder, "queue.yaml")
    with open(q, "w") as f:
        yaml.safe_dump({"runs": [{"config": cfg_path, "name": "tiny-run", "set": {"train.epochs": epochs}}]}, f)
    return q


def _worker(q: str, runs: str) -> subprocess.Popen:
    env = dict(os.environ, LSNTP_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "lsntp_study", "queue", q, "--runs-dir", runs], cwd=queue.MODEL_EXPORT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group has already ended
        pass
    worker.wait(timeout=30)


def _progress(run_dir: str) -> dict:
    try:
        with open(os.path.join(run_dir, "progress.json")) as f:
            return json.load(f)
    except (OSError, ValueError):  # not written yet
        return {}


def test_a_killed_worker_leaves_the_run_stopped_and_the_next_worker_resumes_it(era5_small_nc, tmp_path):
    cfg_path = str(tmp_path / "tiny.yaml")
    with open(cfg_path, "w") as f:
        yaml.safe_dump({"name": "tiny", "data": {"path": era5_small_nc, "grid_id": "test-grid", "val_start": "2019-03-02T00:00",
                                                 "test_start": "2019-03-02T12:00", "alpha": 3, "beta": 2},
                        "model": {"kind": "lsntp", "hidden": 4, "embed_dim": 8, "down_channels": 4, "nsa_hidden": 4},
                        "train": {"batch": 4, "patience": 10_000}}, f)
    runs = str(tmp_path / "runs")
    run_dir = os.path.join(runs, "tiny-run")
    worker = _worker(_write_queue(str(tmp_path), cfg_path, epochs=10_000), runs)
    try:
        deadline = time.time() + 180
        while _progress(run_dir).get("epoch", 0) < 2:
            assert worker.poll() is None, worker.stdout.read()
            assert time.time() < deadline, "the worker saved no second epoch within 180 s"
            time.sleep(0.1)
        assert queue.state(run_dir) == "training"  # the worker holds the run's lock
    finally:
        _kill(worker)  # the worker and its training process, as `kill -9 -PGID` does
    deadline = time.time() + 10
    while queue.state(run_dir) != "stopped":
        assert time.time() < deadline, f"state {queue.state(run_dir)} after the worker died"
        time.sleep(0.1)
    assert "stopped" in queue.status(queue.read(os.path.join(str(tmp_path), "queue.yaml")), runs)

    done = checkpoint.read(os.path.join(run_dir, "last.pt"))["epoch"] + 1  # epochs saved before the kill
    worker = _worker(_write_queue(str(tmp_path), cfg_path, epochs=done + 2), runs)
    try:
        out, _ = worker.communicate(timeout=300)
    finally:
        _kill(worker)  # nothing left running if it timed out
    assert worker.returncode == 0, out
    assert queue.state(run_dir) == "finished", out
    with open(os.path.join(run_dir, "train.log")) as f:
        log = f.read()
    assert f"resuming tiny-run at epoch {done + 1}" in log
    history = checkpoint.read(os.path.join(run_dir, "last.pt"))["history"]
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, done + 3))
