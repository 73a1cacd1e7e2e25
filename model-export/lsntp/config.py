"""Run configuration: one YAML file per model and data set (configs/), checked field by field."""
from __future__ import annotations

import dataclasses
import os

import yaml

from .forecaster import ModelConfig
from .paths import PROJECT_ROOT  # noqa: F401  (re-exported: fixtures, tests)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the setting."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    path: str  # GRIB or NetCDF file; relative paths are taken from the project root
    grid_id: str
    val_start: str  # first valid time of the validation part
    test_start: str  # first valid time of the test part (held out)
    alpha: int = 6
    beta: int = 6
    variable: str | None = None

    def __post_init__(self):
        if self.alpha < 1:
            raise ConfigError(f"data.alpha must be at least 1, got {self.alpha}")
        if self.beta < 1:
            raise ConfigError(f"data.beta must be at least 1, got {self.beta}")

    @property
    def resolved_path(self) -> str:
        return self.path if os.path.isabs(self.path) else os.path.normpath(os.path.join(PROJECT_ROOT, self.path))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch: int = 8
    lr: float = 1e-3
    patience: int = 5  # early stopping: epochs without a better validation MAE
    seed: int = 0
    max_minutes: float = 55.0  # wall-clock budget; training stops after the epoch that crosses it
    train_stride: int = 1  # use every n-th training window per epoch (long series)
    # halve the learning rate after this many epochs without a better validation MAE (None: constant lr)
    lr_decay_patience: int | None = None


@dataclasses.dataclass(frozen=True)
class RunConfig:
    name: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    source_file: str | None = None


def _build(cls, section: str, raw):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"'{section}' must be a mapping, got {type(raw).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(section + '.' + u for u in unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**raw)
    except TypeError as e:
        raise ConfigError(f"'{section}': {e}") from e
    except ValueError as e:
        raise ConfigError(str(e)) from e


def parse(raw: dict, source_file: str | None = None) -> RunConfig:
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError("a run configuration needs at least 'name', 'data' and 'model'")
    unknown = sorted(set(raw) - {"name", "data", "model", "train"})
    if unknown:
        raise ConfigError(f"unknown top-level setting(s) {', '.join(unknown)}")
    if "data" not in raw:
        raise ConfigError("missing 'data' section")
    return RunConfig(name=str(raw["name"]), data=_build(DataConfig, "data", raw["data"]),
                     model=_build(ModelConfig, "model", raw.get("model")),
                     train=_build(TrainConfig, "train", raw.get("train")), source_file=source_file)


def _read_yaml(path: str, seen: tuple = ()) -> dict:
    """A config file's mapping, with `base: OTHER.yaml` (relative to the file) merged under it section
    by section, so the runs of one data set share one statement of its data and training protocol."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such configuration file")
    with open(path) as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = base if os.path.isabs(base) else os.path.join(os.path.dirname(os.path.abspath(path)), base)
    if os.path.abspath(base_path) in seen:
        raise ConfigError(f"{path}: 'base' chain loops back to {base}")
    merged = _read_yaml(base_path, seen + (os.path.abspath(path),))
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load(path: str, overrides: dict | None = None) -> RunConfig:
    raw = _read_yaml(path)
    for key, value in (overrides or {}).items():  # "section.field": value, or a top-level "name"
        section, dot, field = key.partition(".")
        if dot:
            raw.setdefault(section, {})[field] = value
        else:
            raw[key] = value
    return parse(raw, source_file=path)


def to_dict(cfg: RunConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d.pop("source_file", None)
    return d
