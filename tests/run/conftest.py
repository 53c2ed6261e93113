import os
from pathlib import Path

import pytest

import shrinknas

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent  # where fake_trials lives

#: A search small enough for tests, slow enough per trial (~0.2 s) to be stopped in the middle of a step.
TINY_SEARCH = ["search", "autoshrink", "--dataset", "digits", "--nodes", "4", "--candidates", "3", "--epochs", "2",
               "--proxy-size", "400", "--batch-size", "64", "--seed", "3", "--stop-edges", "3", "--quiet",
               "--protocol", "inherit"]  # the default, and the protocol whose parent weights a resume must find


def worker_pythonpath() -> str:
    """Where worker processes (pool, Ray, CLI subprocesses) find shrinknas and the fake trials."""
    src = str(Path(shrinknas.__file__).resolve().parents[1])
    parts = [src, str(TESTS)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder
