"""Paths the project's files record: relative to the project root inside it, absolute outside."""
import os

from . import paths


def test_a_path_inside_the_project_is_recorded_relative_and_found_again():
    inside = os.path.join(paths.RUNS_DIR, "era5-lsntp-s0", "best.pt")
    assert paths.project_relative(inside) == os.path.join("model-export", "runs", "era5-lsntp-s0", "best.pt")
    assert paths.from_project(paths.project_relative(inside)) == inside
    assert paths.project_relative(paths.PROJECT_ROOT) == "."


def test_a_path_outside_the_project_stays_absolute(tmp_path):
    outside = str(tmp_path / "runs" / "best.pt")
    assert paths.project_relative(outside) == outside and paths.from_project(outside) == outside
    beside = os.path.join(os.path.dirname(paths.PROJECT_ROOT), "elsewhere", "x.pt")  # ../elsewhere: not inside
    assert paths.project_relative(beside) == beside
