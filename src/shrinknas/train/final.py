"""Final training of a found architecture on the full training set, for every genome kind: an AutoShrink cell's
Table 1 network (paper section 3.5), a recurrent cell's language model on the whole corpus (section 4.2), and the
kinds other methods register (``register_final_trainer``)."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ..config import SHRINKRNN_FINAL_TRAINING, ImageTraining, TextTask, validated
from ..errors import BadInputError
from ..genome import Genome
from ..nets.cnn import CELL_OPTIONS, CellNetwork, cell_network_spec, cifar_macro
from ..nets.deploy import KindOption, refuse_foreign
from ..nets.rnn import HIDDEN_OPTION, language_model_spec
from ..resources import count
from ..run.rundir import RunDir
from ..genome.dag_cell import Topology
from .classify import EpochCallback, fit

if TYPE_CHECKING:
    from ..data.images import TensorSplits


def train_final(
    topology: Topology,
    dataset: str,
    settings: ImageTraining,
    cells_per_stage: int = 1,
    width_mult: float = 1.0,
    act: str = "relu",
    seed: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train on all training images, evaluate on the test set; optionally save weights and a report.

    The report records the network (``network``: builder and arguments) and what its inputs need (``image_facts``),
    so ``export.load_trained(out)`` rebuilds it with these weights."""
    from ..data.augment import random_crop_flip
    from ..data.images import full_data

    data = full_data(dataset)
    torch.manual_seed(seed)
    macro = cifar_macro(cells_per_stage, width_mult, act)
    model = CellNetwork(topology, macro, data.in_channels, data.n_classes)
    counts = count(model, data.input_shape)
    pad = max(1, data.input_shape[-1] // 8)
    augment = (lambda xb, gen: random_crop_flip(xb, pad, gen)) if settings.augment else None
    start = time.perf_counter()
    fitted = fit(model, data, settings, seed=seed, device=device, on_epoch=on_epoch, augment=augment)
    report = {
        "dataset": dataset,
        "cell": topology.to_dict(),
        "cells_per_stage": cells_per_stage,
        "width_mult": width_mult,
        "act": act,
        "epochs": fitted.epochs,
        "precision": settings.precision,
        "test_acc": fitted.final_val_acc,
        "macs": counts.macs,
        "params": counts.params,
        "seconds": round(time.perf_counter() - start, 3),
        "history": fitted.history,
        "network": cell_network_spec(topology, macro, data.in_channels, data.n_classes).to_dict(),
        **image_facts(dataset, data),
    }
    if out is not None:
        save_trained(out, report, model, topology)
    return report


def image_facts(dataset: str, data: TensorSplits | None = None) -> dict[str, Any]:
    """What a network trained on ``dataset`` needs to be used on raw images, as ``final.py`` trains it: the input
    shape (C, H, W), class count and names (``str(i)`` where the dataset names none), and the per-channel mean
    and std of the whole training set on the 0..255 scale.

    >>> image_facts("digits")["input_shape"]  # doctest: +SKIP
    [1, 8, 8]
    """
    from ..data.images import full_data, load_image_dataset

    data = full_data(dataset) if data is None else data
    names = getattr(load_image_dataset(dataset), "class_names", None) or [str(i) for i in range(data.n_classes)]
    return {
        "input_shape": list(data.input_shape),
        "n_classes": data.n_classes,
        "class_names": list(names),
        "mean": list(data.mean),
        "std": list(data.std),
    }


def train_final_language(
    topology: Topology,
    task: TextTask,
    seed: int = 0,
    out: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train on the whole training text with ``task.training``; the best-validation weights are tested, kept
    and (with ``out``) saved, with the vocabulary (``vocab.txt``, word i on line i + 1). ``macs`` are per predicted
    token."""
    from .language import fit_lm, language_model_for

    model, corpus = language_model_for(topology, task, seed)
    fitted = fit_lm(model, corpus, task.training, seed=seed, device=task.device, with_test=True, on_epoch=on_epoch)
    report = {
        "dataset": task.dataset,
        "cell": topology.to_dict(),
        "hidden": task.hidden,
        "vocab_size": corpus.vocab_size,
        "epochs": fitted.epochs,
        "best_epoch": fitted.best_epoch,
        "asgd_from_epoch": fitted.asgd_from_epoch,
        "val_ppl": fitted.val_ppl,
        "test_ppl": fitted.test_ppl,
        "params": fitted.params,
        "macs": fitted.macs,
        "seconds": round(fitted.seconds, 3),
        "training": task.training.model_dump(mode="json"),
        "history": fitted.history,
        "network": language_model_spec(topology, corpus.vocab_size, task.hidden).to_dict(),
        "input_shape": [task.training.bptt],  # the sequence length an export unrolls the cell over
        "n_classes": corpus.vocab_size,
    }
    if out is not None:
        save_trained(out, report, model, topology)
        RunDir(out).write_text("vocab.txt", "".join(f"{word}\n" for word in corpus.vocab))
    return report


def save_trained(out: Path, report: dict[str, Any], model: torch.nn.Module, topology: Topology) -> None:
    """result.json, weights.pt (a plain state dict: load it with weights_only=True) and cell.json in ``out``."""
    run = RunDir(out).create()
    run.write_json("result.json", report)
    torch.save(model.state_dict(), run.file("weights.pt"))
    run.write_text("cell.json", json.dumps(topology.to_dict(), indent=2) + "\n")


@dataclass(frozen=True)
class Recipe:
    """What a user says of a final training whatever the architecture; None: the kind's own default."""

    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    augment: bool = False
    precision: str = "fp32"
    seed: int = 0
    device: str = "cpu"


FinalTrainer = Callable[..., dict[str, Any]]  # (genome, dataset, recipe, out, on_epoch, **options) -> report
_TRAINERS: dict[str, tuple[FinalTrainer, tuple[KindOption, ...]]] = {}
#: Modules whose import registers the other kinds' final trainings.
BUILTIN_FINAL_TRAINERS: tuple[str, ...] = ()


def register_final_trainer(genome_kind: str, trainer: FinalTrainer, options: tuple[KindOption, ...] = ()) -> None:
    """``trainer`` trains architectures of this kind fully, taking these options besides the ``Recipe``."""
    _TRAINERS[genome_kind] = (trainer, options)


def final_options() -> list[KindOption]:
    """Every option any kind's final training takes (for ``train``'s option list), each name once."""
    for module in BUILTIN_FINAL_TRAINERS:
        importlib.import_module(module)
    return list({o.name: o for _, options in _TRAINERS.values() for o in options}.values())


def train_found(genome: Genome, dataset: str, recipe: Recipe = Recipe(), out: Path | None = None,
                on_epoch: EpochCallback | None = None, **options: Any) -> dict[str, Any]:
    """Train ``genome``'s network fully on ``dataset`` with its kind's trainer; options left at None are defaults,
    and one the kind does not take is a one-line error."""
    final_options()
    if genome.kind not in _TRAINERS:
        raise BadInputError(f"{genome.kind} architectures have no final training")
    trainer, takes = _TRAINERS[genome.kind]
    given = {k: v for k, v in options.items() if v is not None}
    refuse_foreign(genome.kind, given, takes)
    return trainer(genome, dataset, recipe, out, on_epoch, **given)


def _train_cell(topology: Topology, dataset: str, recipe: Recipe, out: Path | None, on_epoch: EpochCallback | None,
                cells_per_stage: int = 1, width_mult: float = 1.0, act: str = "relu") -> dict[str, Any]:
    """The Table 1 network: Adam with cosine decay from 4e-3, batch 128, 20 epochs unless told otherwise."""
    epochs = recipe.epochs or 20
    settings = validated(ImageTraining, {
        "epochs": epochs, "lr": recipe.lr or 4e-3, "batch_size": recipe.batch_size or 128, "augment": recipe.augment,
        "schedule": "cosine", "patience": epochs + 1, "early_exit_acc": 0.0, "precision": recipe.precision}, "train")
    return train_final(topology, dataset, settings, cells_per_stage, width_mult, act, recipe.seed, recipe.device, out,
                       on_epoch)


def _train_language_cell(topology: Topology, dataset: str, recipe: Recipe, out: Path | None,
                         on_epoch: EpochCallback | None, hidden: int = 745, vocab: int = 10000) -> dict[str, Any]:
    """The authors' final recipe (dropouts, weight decay, SGD then NT-ASGD) unless epochs, lr or batch are given."""
    training = SHRINKRNN_FINAL_TRAINING.model_dump()
    training.update({k: v for k, v in {"epochs": recipe.epochs, "lr": recipe.lr, "batch_size": recipe.batch_size}.items()
                     if v is not None})
    task = validated(TextTask, {"dataset": dataset, "hidden": hidden, "vocab_size": vocab, "device": recipe.device,
                                "training": training}, "train")
    return train_final_language(topology, task, seed=recipe.seed, out=out, on_epoch=on_epoch)


register_final_trainer("cnn", _train_cell, tuple(o for o in CELL_OPTIONS if o.name != "macro"))
register_final_trainer("rnn", _train_language_cell, (
    HIDDEN_OPTION, KindOption("vocab", int, 10000, "rnn cells: vocabulary cap, <unk> and <eos> included")))
