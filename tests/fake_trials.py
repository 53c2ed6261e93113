"""Cheap, picklable trial functions for testing executors and the store (the trial itself is not under test).

They are top-level functions so process pools and Ray workers can import them. Those that need to remember
attempts across processes keep marker files in the directory named by the task's ``dataset`` field.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import torch

from shrinknas.config import ImageTask
from shrinknas.run.trial import TrialResult, TrialSpec
from shrinknas.genome.dag_cell import Topology


def make_specs(count: int, marker_dir: Path | str = "digits") -> list[TrialSpec]:
    """``count`` distinct specs (seeds 0..count-1) of one small cell."""
    cell = Topology.complete("cnn", ["input", "conv1x1", "sepconv3x3", "conv1x1"])
    task = ImageTask(dataset=str(marker_dir), proxy_train=100, proxy_val=20)
    return [TrialSpec(cell, task, seed) for seed in range(count)]


def seeded_trial(spec: TrialSpec) -> TrialResult:
    """A few steps of seeded torch training: equal specs give bit-equal numbers, whatever the process."""
    torch.manual_seed(spec.seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 6 * 6, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(32, 1, 6, 6), torch.randint(0, 4, (32,))
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return TrialResult(spec.key(), "ok", metrics={"val_acc": float(loss.item()), "params": torch.get_num_threads(), "epochs": 5})


def _attempt(spec: TrialSpec) -> int:
    """Count this attempt at ``spec`` in a marker file; returns the attempt number (1 = first)."""
    folder = Path(spec.task.dataset)
    n = 1
    while True:
        try:
            (folder / f"{spec.key()}.{n}").touch(exist_ok=False)
            return n
        except FileExistsError:
            n += 1


def attempts(spec: TrialSpec) -> int:
    return len(list(Path(spec.task.dataset).glob(f"{spec.key()}.*")))


def raising_trial(spec: TrialSpec) -> TrialResult:
    _attempt(spec)
    raise ValueError(f"cannot build seed {spec.seed}")


def flaky_trial(spec: TrialSpec) -> TrialResult:
    """Raises on the first attempt only."""
    if _attempt(spec) == 1:
        raise RuntimeError("transient failure")
    return seeded_trial(spec)


def dies_once_trial(spec: TrialSpec) -> TrialResult:
    """Kills its own worker process on the first attempt, as the OOM killer or a crash would."""
    if _attempt(spec) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return seeded_trial(spec)


def seed1_always_dies_trial(spec: TrialSpec) -> TrialResult:
    """Seed 1 kills its worker every time; the others are fine but slow enough to be in flight with it."""
    _attempt(spec)
    if spec.seed == 1:
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.5)
    return seeded_trial(spec)


def seed1_sleeps_trial(spec: TrialSpec) -> TrialResult:
    """Seed 1 runs for a minute, unless someone stops it."""
    _attempt(spec)
    if spec.seed == 1:
        time.sleep(60)
    return seeded_trial(spec)


def first_call_dies_then_evaluate(spec: TrialSpec) -> TrialResult:
    """The real trial, except that the first call in the whole run kills its worker process.

    The run is identified by the marker directory in ``SHRINKNAS_TEST_MARKERS`` (set before workers start).
    """
    from shrinknas.run.trial import evaluate

    try:
        (Path(os.environ["SHRINKNAS_TEST_MARKERS"]) / "killed").touch(exist_ok=False)
    except FileExistsError:
        return evaluate(spec)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")
