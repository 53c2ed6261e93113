"""A run directory read back: its method, settings, summary, found architecture and data facts.

This is what lets ``train``, ``profile``, ``show`` and ``export`` take a run directory and build the network for the
right input without being told the dataset again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import load_yaml, validated
from ..errors import BadInputError
from ..genome import Genome, genome_from_dict
from ..run.rundir import CONFIG, SUMMARY, RunDir
from .base import Method, get_method


@dataclass(frozen=True)
class Run:
    """A run directory's contents (``summary`` is None while the run has not finished)."""

    path: Path
    method: Method
    config: Any
    summary: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.summary is not None

    @property
    def genome(self) -> Genome:
        """The run's answer: the architecture its summary names (AutoShrink: the final cell)."""
        if self.summary is None:
            raise BadInputError(f"{self.path} has no summary.json yet: the run has not finished, so it has no answer")
        best = self.summary.get("best") or {}
        found = best.get("genome", best.get("cell"))  # "cell": summaries written before every method had one
        if found is None:
            raise BadInputError(f"{self.path / SUMMARY} names no architecture")
        return genome_from_dict(found)

    @property
    def facts(self) -> dict[str, Any]:
        """Dataset, input shape, classes: from the summary, or from the data itself for older summaries."""
        if self.summary is not None and "input_shape" in self.summary:
            keys = ("dataset", "input_shape", "n_classes", "class_names")
            return {k: self.summary[k] for k in keys if k in self.summary}
        from ..data.facts import task_facts

        return task_facts(self.config.task)


def run_method(path: Path | str) -> Method:
    """The method that wrote a run directory, from its config.yaml."""
    data = _config_tree(Path(path))
    return get_method(str(data.get("method", "?")))


def load_run(path: Path | str) -> Run:
    """A run directory, finished or not; one line if it is not one."""
    path = Path(path)
    data = _config_tree(path)
    method = get_method(str(data.get("method", "?")))
    config = validated(method.config, data, str(path / CONFIG))
    run = RunDir(path)
    summary = run.read_json(SUMMARY) if run.file(SUMMARY).exists() else None
    return Run(path, method, config, summary)


def _config_tree(path: Path) -> dict[str, Any]:
    file = path / CONFIG
    if not path.is_dir():
        raise BadInputError(f"{path} is not a run directory")
    if not file.exists():
        raise BadInputError(f"{path} holds no run ({CONFIG} not found)")
    data = load_yaml(file)
    if not isinstance(data, dict):
        raise BadInputError(f"{file}: expected a mapping of settings")
    return data
