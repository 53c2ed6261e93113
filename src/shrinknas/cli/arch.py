"""What ``train``, ``profile``, ``show`` and ``export`` take: an architecture file or a run directory, and the data
to build it for (the run's own, or ``--dataset`` / ``--input-shape``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..genome import Genome, load_genome


@dataclass(frozen=True)
class Target:
    genome: Genome
    facts: dict[str, Any] | None  # None: a bare architecture file and no data named
    run: Any = None  # the run directory's contents, when one was given


def resolve(path: Path, dataset: str | None = None, input_shape: str | None = None,
            classes: int | None = None) -> Target:
    """The architecture at ``path`` and the data facts to build it for, most specific first: ``--input-shape``,
    then ``--dataset``, then the run directory's own."""
    if dataset is not None and input_shape is not None:
        raise BadInputError("give --dataset or --input-shape, not both")
    run = None
    if path.is_dir():
        from ..methods.results import load_run

        run = load_run(path)
        genome, facts = run.genome, run.facts
    else:
        genome, facts = load_genome(path), None
    if dataset is not None:
        facts = dataset_facts(dataset, genome.kind)
    if input_shape is not None:
        facts = {"input_shape": parse_shape(input_shape), "n_classes": classes or (facts or {}).get("n_classes", 10)}
    elif classes is not None:
        facts = {**(facts or {}), "n_classes": classes}
    return Target(genome, facts, run)


def dataset_facts(dataset: str, genome_kind: str) -> dict[str, Any]:
    from ..config import ImageTask, TextTask
    from ..data.facts import task_facts

    return task_facts(TextTask(dataset=dataset) if genome_kind == "rnn" else ImageTask(dataset=dataset))


def parse_shape(text: str) -> list[int]:
    try:
        shape = [int(part) for part in text.replace("x", ",").split(",")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        raise BadInputError(f"--input-shape {text!r}: expected positive integers such as 1,28,28 (C,H,W)")
    return shape
