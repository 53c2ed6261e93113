"""Candidate-training throughput as a fraction of this machine's fp32 matrix-multiply peak, in one run.

Training FLOPs are estimated as 3 x forward FLOPs (forward + two backward products) = 6 x MACs per image.
The peak is a large square ``torch.mm`` at the same thread count, measured in the same process right
before and after, so the ratio survives a noisy, shared machine. A profile of further steps says where a step's
time goes, and so what the whole step would reach if everything but the convolutions cost nothing.
Variants, all in the same run: channels_last against NCHW at the task's batch size; with ``--batch-sizes``,
channels_last at other batch sizes; with ``--compile``, channels_last under torch.compile (its compile time too);
with ``--bf16``, channels_last under bf16 autocast (``--precision bf16``), its FLOP/s still over the fp32 peak.
Usage: python benchmarks/throughput.py [--dataset fashion-mnist] [--nodes 8] [--threads 1] [--steps 30]
       [--batch-sizes 32 64 256] [--compile] [--bf16]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass

import torch

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.data.images import proxy_data
from shrinknas.nets.cnn import build_proxy_network
from shrinknas.resources import count
from shrinknas.run import hardware
from shrinknas.methods.autoshrink.loop import derive_seed
from shrinknas.genome.dag_cell import Topology, balanced_ops
from shrinknas.train.classify import autocast, param_groups
from shrinknas.train.common import keep_freed_memory
from emit import emit  # benchmarks/emit.py


def matmul_flops(size: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


#: Profiler op names, by substring, grouped into what a training step spends its time on (first match wins).
CATEGORIES = (("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
              ("optimizer", ("optimizer", "foreach", "adam")), ("relu", ("relu", "threshold", "clamp_min")),
              ("add (residuals, gradient sums)", ("aten::add",)),
              ("concat and copies", ("aten::cat", "slice", "narrow", "copy_")), ("pooling", ("pool",)))


def step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
         settings: ImageTraining = ImageTraining()) -> None:
    with autocast(x.device, settings):  # as the trainer does it
        loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def time_shares(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                steps: int, settings: ImageTraining) -> dict[str, float]:
    """Fraction of a training step's CPU time per op category (profiler self time, so nothing counts twice)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step(model, opt, x, y, settings)
    spent: dict[str, float] = {}
    for event in prof.key_averages():
        name = event.key.lower()
        group = next((g for g, keys in CATEGORIES if any(k in name for k in keys)), "other")
        spent[group] = spent.get(group, 0.0) + event.self_cpu_time_total
    total = sum(spent.values())
    return {g: round(t / total, 3) for g, t in sorted(spent.items(), key=lambda kv: -kv[1])}


@dataclass(frozen=True)
class Variant:
    channels_last: bool = True
    batch_size: int | None = None  # None: the task's
    compiled: bool = False
    precision: str = "fp32"

    @property
    def name(self) -> str:
        name = "channels_last" if self.channels_last else "nchw"
        if self.batch_size is not None:
            name += f"_batch_{self.batch_size}"
        return name + ("_compiled" if self.compiled else "") + ("_bf16" if self.precision == "bf16" else "")


@dataclass
class Measured:
    flops: float
    shares: dict[str, float]
    warmup_seconds: float  # the first 3 steps: with torch.compile, the compile time


def training_flops(cell: Topology, task: ImageTask, steps: int, variant: Variant) -> Measured:
    """Achieved training FLOP/s, and where the time of a step goes."""
    data = proxy_data(task)
    torch.manual_seed(0)
    model = build_proxy_network(cell, task, data.in_channels, data.n_classes)
    macs = count(model, data.input_shape).macs
    fmt = torch.channels_last if variant.channels_last else torch.contiguous_format
    model.to(memory_format=fmt).train()
    opt = torch.optim.Adam(param_groups(model, task.training), lr=4e-3)
    bs = variant.batch_size or task.training.batch_size
    x = data.train_x[:bs].contiguous(memory_format=fmt)
    y = data.train_y[:bs]
    if variant.compiled:
        import torch._inductor.config as inductor

        inductor.force_disable_caches = True  # the warm-up then counts the compile a fresh candidate would pay
    forward = torch.compile(model) if variant.compiled else model
    settings = task.training.model_copy(update={"precision": variant.precision})
    start = time.perf_counter()
    for _ in range(3):  # warm-up: allocator, oneDNN primitive caches, the compiler
        step(forward, opt, x, y, settings)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step(forward, opt, x, y, settings)
    flops = 6 * macs * bs * steps / (time.perf_counter() - start)
    return Measured(flops, time_shares(forward, opt, x, y, max(3, steps // 3), settings), warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="channels_last at these batch sizes too")
    parser.add_argument("--compile", action="store_true", help="channels_last under torch.compile too")
    parser.add_argument("--bf16", action="store_true", help="channels_last under bf16 autocast too")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    allocator_tuned = keep_freed_memory()  # as every candidate's training does
    task = ImageTask(dataset=args.dataset)
    cell = Topology.complete("cnn", balanced_ops("cnn", args.nodes, random.Random(derive_seed(0, "ops"))))
    peak_before = matmul_flops()
    variants = [Variant(), Variant(channels_last=False)] + [Variant(batch_size=b) for b in args.batch_sizes]
    variants += [Variant(compiled=True)] if args.compile else []
    variants += [Variant(precision="bf16")] if args.bf16 else []
    measured = {v.name: training_flops(cell, task, args.steps, v) for v in variants}
    peak = max(peak_before, matmul_flops())
    achieved = {name: m.flops for name, m in measured.items()}
    shares = {name: m.shares for name, m in measured.items()}
    # the convolutions' own rate: the step's FLOPs over the time convolution kernels took; were every other op
    # free, the whole step would run at this fraction of the peak and no faster
    conv_rate = {fmt: achieved[fmt] / shares[fmt]["convolution"] for fmt in achieved}
    emit({
        "machine": {**hardware.describe(), "native_bf16": hardware.native_bf16()},
        "threads": args.threads, "nodes": args.nodes, "keep_freed_memory": allocator_tuned,
        "batch_size": task.training.batch_size, "steps": args.steps,
        "matmul_gflops": round(peak / 1e9, 2),
        "training_gflops": {k: round(v / 1e9, 2) for k, v in achieved.items()},
        "fraction_of_matmul_peak": {k: round(v / peak, 3) for k, v in achieved.items()},
        "time_shares": shares,
        "convolution_kernels_fraction_of_peak": {k: round(v / peak, 3) for k, v in conv_rate.items()},
        "warmup_seconds": {name: round(m.warmup_seconds, 1) for name, m in measured.items()},
    }, args.out)


if __name__ == "__main__":
    main()
