"""The Python API: what a notebook needs, in the same words as the command line.

>>> import shrinknas
>>> summary = shrinknas.search("autoshrink", out="runs/nb", dataset="digits", nodes=4, candidates=2)  # doctest: +SKIP
>>> run = shrinknas.load_run("runs/nb")                                                             # doctest: +SKIP
>>> shrinknas.profile(run)["macs"], shrinknas.train(run, epochs=1)["test_acc"]                      # doctest: +SKIP

Settings are the method's flags as keywords (``proxy_size=1000``, ``protocol="paper"``); ``preset`` picks named
defaults and ``config`` a YAML file, exactly as ``shrinknas search METHOD`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .genome import Genome, load_genome
from .run.events import EventSink, ignore


def search(method: str, out: Path | str | None = None, *, preset: str | None = None,
           config: Path | str | None = None, workers: int = 1, executor: str | None = None,
           ray_address: str = "local", threads_per_trial: int = 1, force_new: bool = False,
           on_event: EventSink = ignore, **settings: Any) -> dict[str, Any]:
    """Run (or resume) a search of a registered method into ``out`` (default ``runs/METHOD``); its summary.

    ``workers`` trials at once (a process pool above 1, or ``executor="ray"``); ``on_event`` receives the progress
    events the command line draws as bars."""
    from .methods.base import build_settings
    from .methods.driver import run_method
    from .run.executors import make_executor

    built = build_settings(method, preset, config, **settings)
    with make_executor(executor, workers, ray_address, threads_per_trial=threads_per_trial) as runner:
        return run_method(method, built, out or Path("runs") / method, runner, force_new=force_new,
                          on_event=on_event)


def settings(method: str, *, preset: str | None = None, config: Path | str | None = None, **values: Any) -> Any:
    """The validated settings a search with these words would run (nothing runs)."""
    from .methods.base import build_settings

    return build_settings(method, preset, config, **values)


def load_run(path: Path | str) -> Any:
    """A run directory: ``.method``, ``.config``, ``.summary``, ``.genome`` (its answer), ``.facts`` (its data)."""
    from .methods.results import load_run as load

    return load(path)


def _genome_and_facts(arch: Any, facts: dict[str, Any] | None) -> tuple[Genome, dict[str, Any] | None]:
    """An architecture given as a genome, a file, or a run (loaded or a directory), with the data to build it for."""
    from .methods.results import Run

    if isinstance(arch, (str, Path)):
        arch = load_run(arch) if Path(arch).is_dir() else load_genome(arch)
    if isinstance(arch, Run):
        return arch.genome, facts or arch.facts
    return arch, facts


def build(arch: Any, facts: dict[str, Any] | None = None, seed: int | None = None, **options: Any) -> Any:
    """The network an architecture (genome, file, run directory or loaded run) becomes for data ``facts``
    (``input_shape``, ``n_classes``; default: the run's own), fresh weights fixed by ``seed``."""
    from .nets.deploy import build as build_network

    genome, facts = _genome_and_facts(arch, facts)
    model, _, _ = build_network(genome, facts, seed, **options)
    return model


def profile(arch: Any, facts: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """Params, MACs and memory access (language cells: per token) of the network an architecture becomes."""
    from .nets.deploy import build as build_network
    from .nets.deploy import counts

    genome, facts = _genome_and_facts(arch, facts)
    model, spec, shape = build_network(genome, facts, None, **options)
    return {"kind": genome.kind, "network": spec.builder, "input": list(shape), **counts(genome.kind, model, shape)}


def train(arch: Any, dataset: str | None = None, out: Path | str | None = None, *, epochs: int | None = None,
          lr: float | None = None, batch_size: int | None = None, augment: bool = False, precision: str = "fp32",
          seed: int = 0, device: str = "cpu", **options: Any) -> dict[str, Any]:
    """Train an architecture's network fully on ``dataset`` (default: the run's own); the report ``train`` prints."""
    from .errors import BadInputError
    from .train.final import Recipe, train_found

    genome, facts = _genome_and_facts(arch, None)
    data = dataset or (facts or {}).get("dataset")
    if data is None:
        raise BadInputError("name the data to train on: dataset=...")
    recipe = Recipe(epochs, lr, batch_size, augment, precision, seed, device)
    return train_found(genome, data, recipe, Path(out) if out is not None else None, **options)


def export(source: Path | str, format: str, path: Path | str, facts: dict[str, Any] | None = None, seed: int = 0,
           **options: Any) -> Any:
    """Write a network as onnx, torchscript or state-dict with its model card: a ``train --out`` directory's
    trained weights, or a run directory's or architecture file's network with fresh weights."""
    from .export import export_found

    return export_found(source, format, path, facts, seed, **options)
