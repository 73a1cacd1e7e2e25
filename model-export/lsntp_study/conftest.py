"""The study's shared fixture: a tiny queue with real runs (fixtures.make_tiny_queue), trained once
for every test of the session that reads it (compare and zoo write only under their own folders)."""
import pytest

from .fixtures import make_tiny_queue


@pytest.fixture(scope="session")
def tiny_queue(era5_small_nc, tmp_path_factory):
    return make_tiny_queue(str(tmp_path_factory.mktemp("tiny-queue")), era5_small_nc)
