"""Keeping freed memory mapped changes where tensors live, never what training computes."""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import torch
    from shrinknas.config import ImageTask, ImageTraining
    from shrinknas.data.images import proxy_data
    from shrinknas.nets.cnn import build_proxy_network
    from shrinknas.genome.dag_cell import Topology
    from shrinknas.train.classify import fit
    from shrinknas.train.common import keep_freed_memory
    torch.set_num_threads(1)
    task = ImageTask(dataset="digits", proxy_train=300, proxy_val=60)
    data = proxy_data(task)
    cell = Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3", "conv1x1"))
    torch.manual_seed(0)
    model = build_proxy_network(cell, task, data.in_channels, data.n_classes)
    result = fit(model, data, ImageTraining(epochs=2, batch_size=32), seed=0)
    print(keep_freed_memory(), repr(result.history[-1]["train_loss"]), result.final_val_acc)
    """
)


def run_child(keep: str) -> list[str]:
    env = {**os.environ, "SHRINKNAS_KEEP_FREED_MEMORY": keep}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")
def test_training_numbers_are_identical_with_and_without_the_allocator_settings() -> None:
    tuned, default = run_child("1"), run_child("0")
    assert tuned[0] == "True" and default[0] == "False"
    assert tuned[1:] == default[1:]
