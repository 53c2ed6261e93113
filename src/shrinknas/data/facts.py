"""What a run directory records about its data, so every later command (train, profile, show, export) builds the
network for the right input without being told again: dataset, input shape, classes and their names."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def task_facts(task: Any) -> dict[str, Any]:
    """The data facts of a task's dataset (loading it once, so a missing dataset is one clear error up front).

    Image tasks: ``input_shape`` (C, H, W), ``n_classes``, ``class_names``; language tasks: ``input_shape`` (the
    BPTT length of one sequence) and ``n_classes`` (the vocabulary size)."""
    if getattr(task, "task", None) == "rnn":
        from .text import load_corpus

        corpus = load_corpus(task.dataset, task.vocab_size, task.proxy_train_lines, task.proxy_eval_lines)
        return {"dataset": task.dataset, "input_shape": [task.training.bptt], "n_classes": corpus.vocab_size}
    from .images import load_image_dataset

    dataset = load_image_dataset(task.dataset)
    names = list(getattr(dataset, "class_names", ()) or (str(i) for i in range(dataset.n_classes)))
    return {"dataset": task.dataset, "input_shape": list(dataset.image_shape), "n_classes": dataset.n_classes,
            "class_names": names}


#: Dataset names that carry a path after their colon (``folder:DIR@32x32`` keeps its size suffix).
PATH_KINDS = ("folder", "npz", "cifar10", "cifar100", "fashion-mnist", "ptb", "text", "fortunes")


def absolute_dataset(name: str) -> str:
    """The dataset name with its path made absolute, so a run directory's settings name the same files whatever
    directory a later command runs in."""
    kind, sep, rest = name.partition(":")
    if not sep or kind not in PATH_KINDS or not rest:
        return name
    where, at, size = rest.rpartition("@") if kind == "folder" and "@" in rest else (rest, "", "")
    return f"{kind}:{Path(where).expanduser().resolve()}{at}{size}"
