"""Checkpoints: atomic save and read back, rebuilding the trained model, the config check, CPU mapping."""
import os

import numpy as np
import pytest
import torch

from . import checkpoint, train
from .config import ConfigError, to_dict
from .data import prepare
from .forecaster import predict
from .metrics import masked_mae


def test_save_and_read_round_trip_leave_no_temporary_file(tmp_path):
    ck = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3, "history": {"epochs": [{"val_mae": 0.5}]}}
    path = str(tmp_path / "last.pt")
    checkpoint.save(ck, path)
    checkpoint.save({**ck, "epoch": 4}, path)  # replacing an existing checkpoint
    assert os.listdir(tmp_path) == ["last.pt"]  # no last.pt.tmp left behind
    back = checkpoint.read(path)
    assert back["epoch"] == 4 and back["history"] == ck["history"]
    torch.testing.assert_close(back["model"]["w"], ck["model"]["w"])


def test_reading_a_missing_checkpoint_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt: no such checkpoint"):
        checkpoint.read(str(tmp_path / "nope.pt"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, era5_small_nc):
    from .fixtures import tiny_config
    cfg = tiny_config(era5_small_nc)
    run = tmp_path_factory.mktemp("run")
    train.train(cfg, str(run), max_steps=2, quiet=True)
    return cfg, str(run / "best.pt")


def test_load_rebuilds_the_trained_model(trained):
    cfg, path = trained
    model, cfg_back, prepared, ck = checkpoint.load(path)
    assert cfg_back == cfg and not model.training
    # the validation MAE recorded while training is what the rebuilt model scores
    xs, ys = prepared.val.arrays()
    assert masked_mae(predict(model, torch.from_numpy(xs)), ys, prepared.series.mask) == pytest.approx(ck["validation_mae"], abs=1e-6)
    # and a model built from the same weights by hand forecasts exactly the same
    twin = checkpoint.build_model(cfg, prepare(cfg.data))
    twin.load_state_dict(ck["model"])
    x = torch.from_numpy(prepared.test.arrays()[0][:2])
    np.testing.assert_array_equal(predict(model, x), predict(twin, x))
    assert set(ck["model"]) == set(model.state_dict())


def test_config_goes_through_the_config_check(trained, tmp_path):
    cfg, path = trained
    ck = checkpoint.read(path)
    assert ck["config"] == to_dict(cfg)
    ck["config"]["model"]["hiden"] = 4  # a key no configuration knows
    bad = str(tmp_path / "bad.pt")
    checkpoint.save(ck, bad)
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) model\.hiden"):
        checkpoint.load(bad)


def test_a_checkpoint_written_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    """Storages tagged 'cuda:0' (as a GPU machine writes them) come back as CPU tensors."""
    import torch.serialization as serialization
    path = str(tmp_path / "gpu.pt")
    with monkeypatch.context() as m:
        m.setattr(serialization, "location_tag", lambda storage: "cuda:0")
        checkpoint.save({"model": {"w": torch.ones(3)}, "epoch": 0}, path)
    if not torch.cuda.is_available():  # proof that the file really claims a GPU
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path)
    back = checkpoint.read(path)
    assert back["model"]["w"].device.type == "cpu"
    torch.testing.assert_close(back["model"]["w"], torch.ones(3))


def test_trained_on_names_each_machine_once_and_merges_thread_counts():
    epyc = {"host_cpu": "AMD EPYC", "cores": 2, "device": "cpu"}
    assert checkpoint.trained_on({}) == "not recorded (trained before runs recorded their machine)"
    assert checkpoint.trained_on({"machines": [{**epyc, "threads": 1}]}) == "AMD EPYC, 2 cores, 1 thread(s), cpu"
    resumed = {"machines": [{**epyc, "threads": 1}, {**epyc, "threads": 2}, {**epyc, "threads": 1}]}
    assert checkpoint.trained_on(resumed) == "AMD EPYC, 2 cores, 1 and 2 thread(s), cpu"
    gpu = {"host_cpu": "Intel Xeon", "cores": 16, "threads": 16, "device": "cuda", "gpu": "NVIDIA H200"}
    assert checkpoint.trained_on({"machines": [{**epyc, "threads": 1}, gpu]}) == \
        "AMD EPYC, 2 cores, 1 thread(s), cpu, then Intel Xeon, 16 cores, 16 thread(s), NVIDIA H200"


def test_a_checkpoint_whose_data_file_moved_reads_the_file_of_that_name_in_data_raw(tmp_path, capsys):
    """A checkpoint records its data file where it was when it trained (the shipped ones: a folder
    beside the project on the machine that trained them). Loading it in a clone finds the file in
    data/raw/ by its name, says so, and rebuilds the same model."""
    from .paths import PROJECT_ROOT, RAW_DATA_DIR

    shipped = os.path.join(PROJECT_ROOT, "models", "era5-uk", "checkpoint.pt")
    ck = checkpoint.read(shipped)
    name = os.path.basename(ck["config"]["data"]["path"])
    assert os.path.exists(os.path.join(RAW_DATA_DIR, name))
    ck["config"]["data"]["path"] = str(tmp_path / "gone" / name)  # where it was on another machine
    moved = str(tmp_path / "moved.pt")
    torch.save(ck, moved)
    model, cfg, prepared, _ = checkpoint.load(moved)
    assert cfg.data.path == os.path.join("data", "raw", name) and prepared.series.values.shape[1:] == (33, 49)
    err = capsys.readouterr().err
    assert f"the checkpoint's data file {tmp_path / 'gone' / name} is not there; reading data/raw/{name}" in err
    norm = ck["norm"]  # the normalisation fitted when it trained is the one the data it reads now gives
    assert prepared.norm.lo == pytest.approx(norm["lo"], abs=1e-4) and prepared.norm.hi == pytest.approx(norm["hi"], abs=1e-4)


def test_a_data_file_found_nowhere_is_left_for_the_reader_to_name(tmp_path, small_config):
    from dataclasses import replace

    logs = []
    gone = replace(small_config, data=replace(small_config.data, path=str(tmp_path / "no-such-file.nc")))
    assert checkpoint.data_where_it_is(gone, log=logs.append) is gone and logs == []
    assert checkpoint.data_where_it_is(small_config, log=logs.append) is small_config and logs == []  # it exists
