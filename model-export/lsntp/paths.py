"""Where the project is (imports nothing heavy: the ingest and the command line use it before torch)."""
import os

PROJECT_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Where `train` puts a run's folder by default (runs/<name>), and where the study's queue looks.
RUNS_DIR = os.path.join(PROJECT_ROOT, "model-export", "runs")
# The raw reanalysis files the shipped configs train on (data/README.md).
RAW_DATA_DIR = os.path.join(PROJECT_ROOT, "data", "raw")


def project_relative(path: str) -> str:
    """path as the project's files record it: relative to the project root when it lies inside the
    project (so a clone elsewhere reads the same provenance), else absolute as it is."""
    full = os.path.abspath(path)
    rel = os.path.relpath(full, PROJECT_ROOT)
    return full if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def from_project(path: str) -> str:
    """The absolute path of a path recorded by project_relative (an absolute one stays as it is)."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(PROJECT_ROOT, path))
