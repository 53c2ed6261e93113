import os
from pathlib import Path

import pytest

import shrinknas

HERE = Path(__file__).resolve().parent


def worker_pythonpath() -> str:
    """Where worker processes (pool, Ray, CLI subprocesses) find shrinknas and the fake trials."""
    src = str(Path(shrinknas.__file__).resolve().parents[1])
    parts = [src, str(HERE)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


@pytest.fixture
def marker_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder
