"""DSO-NAS's optimizer overhead and whether physical pruning pays, measured in one run.

(a) Overhead: a search iteration (a weight step on a batch of the first part, then a factor step on a batch of the
second: the live wiring, the budget's gammas, APG-NAG) against two plain Nesterov steps of all weights on the
same supernet and the same two batches, factors fixed. Repeats alternate the order (ABBA) so drift on a shared
machine falls on both; the ratio is of medians. Goal: at most 1.15. A factor step computes no weight gradients,
which is most of why it can come out below 1.
(b) Pruning pays: a fresh supernet pretrained, then searched; each search epoch's seconds and the MACs its kept
wiring costs; the last search epoch's seconds over the first's. Epochs run one after another, so load drift falls
on that ratio; at the end, a forward and backward pass of the searched supernet with its dead ops skipped is timed
against the same pass computing every op, alternating, which holds on a noisy machine.
Usage: python benchmarks/dso_optimizer.py [--dataset fashion-mnist] [--images 4000] [--stages 3] [--blocks 2]
       [--levels 4] [--width 16] [--batch-size 64] [--repeats 20] [--pretrain-epochs 1] [--search-epochs 6]
       [--gamma 0.02] [--budget flops] [--threads 1] [--out benchmarks/results/dso_optimizer_fm.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from shrinknas.data.images import full_data
from shrinknas.data.splits import balanced_split
from shrinknas.genome.dso_block import DsoSpace
from shrinknas.nets.dso import DsoSupernet
from shrinknas.run import hardware
from shrinknas.train.supernet import SupernetSettings, SupernetTrainer, train_supernet
from emit import emit  # benchmarks/emit.py


def make_trainer(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> SupernetTrainer:
    space = DsoSpace(stages=args.stages, blocks=args.blocks, levels=args.levels, width=args.width, space=args.space)
    torch.manual_seed(args.seed)
    model = DsoSupernet(space, int(images.shape[1]), int(labels.max()) + 1)
    settings = SupernetSettings(batch_size=args.batch_size, gamma=args.gamma, budget=args.budget)
    return SupernetTrainer(model, images, labels, settings, args.seed)


def plain_step(trainer: SupernetTrainer, optimizer: torch.optim.Optimizer, batch: torch.Tensor) -> None:
    """What a step of ordinary training costs on this supernet: all weights, Nesterov SGD, factors fixed."""
    for p in trainer.model.scaling_factors():
        p.requires_grad_(False)
    x = trainer.images[batch].contiguous(memory_format=trainer.memory_format)
    loss = F.cross_entropy(trainer.model(x), trainer.labels[batch])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    for p in trainer.model.scaling_factors():
        p.requires_grad_(True)


def overhead(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> dict:
    trainer = make_trainer(args, images, labels)
    plain = torch.optim.SGD(trainer.model.weights(), lr=trainer.settings.weight_lr, momentum=0.9, nesterov=True)
    first, second = trainer.split
    gen = torch.Generator().manual_seed(args.seed)
    pairs = [(first[torch.randperm(len(first), generator=gen)[: args.batch_size]],
              second[torch.randperm(len(second), generator=gen)[: args.batch_size]]) for _ in range(args.repeats)]
    times: dict[str, list[float]] = {"search_iteration": [], "weight_step": [], "lambda_step": [],
                                     "two_plain_steps": []}

    def search(w: torch.Tensor, lam: torch.Tensor) -> None:
        start = time.perf_counter()
        trainer.step("weight", w)
        mid = time.perf_counter()
        trainer.step("lambda", lam)
        end = time.perf_counter()
        times["weight_step"].append(mid - start)
        times["lambda_step"].append(end - mid)
        times["search_iteration"].append(end - start)

    def two_plain(w: torch.Tensor, lam: torch.Tensor) -> None:
        start = time.perf_counter()
        plain_step(trainer, plain, w)
        plain_step(trainer, plain, lam)
        times["two_plain_steps"].append(time.perf_counter() - start)

    search(*pairs[0]), two_plain(*pairs[0])  # warm-up, not timed
    for key in times:
        times[key].clear()
    for r, (w, lam) in enumerate(pairs):
        for run in ((search, two_plain) if r % 2 == 0 else (two_plain, search)):
            run(w, lam)
    medians = {f"{k}_seconds": statistics.median(v) for k, v in times.items()}
    return {**medians, "ratio": medians["search_iteration_seconds"] / medians["two_plain_steps_seconds"],
            "goal": 1.15, "repeats": args.repeats, "live_lambdas_after": trainer.model.live_lambdas()}


def pass_seconds(trainer: SupernetTrainer, batch: torch.Tensor, prune: bool) -> float:
    """One forward and backward pass of the supernet on ``batch``, its dead ops skipped or not."""
    model = trainer.model
    model.prune = prune
    x = trainer.images[batch].contiguous(memory_format=trainer.memory_format)
    start = time.perf_counter()
    F.cross_entropy(model(x), trainer.labels[batch]).backward()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    model.prune = True
    return seconds


def pruning(args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor) -> dict:
    trainer = make_trainer(args, images, labels)
    history = train_supernet(trainer, args.pretrain_epochs, args.search_epochs)
    batch = trainer.split[0][: args.batch_size]
    passes: dict[bool, list[float]] = {True: [], False: []}
    pass_seconds(trainer, batch, True), pass_seconds(trainer, batch, False)  # warm-up
    for r in range(max(2, args.repeats // 2)):
        for prune in ((True, False) if r % 2 == 0 else (False, True)):
            passes[prune].append(pass_seconds(trainer, batch, prune))
    pruned, complete = statistics.median(passes[True]), statistics.median(passes[False])
    search = [e for e in history if e["stage"] == "search"]
    keep = ("stage", "epoch", "seconds", "live_lambdas", "lambdas", "kept_macs", "complete_macs", "kept_edges",
            "weight_loss", "weight_acc", "lambda_loss", "lambda_acc")
    return {"epochs": [{k: e[k] for k in keep if k in e} for e in history],
            "first_search_epoch_seconds": search[0]["seconds"] if search else None,
            "last_search_epoch_seconds": search[-1]["seconds"] if search else None,
            "last_over_first": search[-1]["seconds"] / search[0]["seconds"] if search else None,
            "kept_macs_last_over_complete": search[-1]["kept_macs"] / search[-1]["complete_macs"] if search else None,
            "pass_seconds_pruned": pruned, "pass_seconds_complete": complete, "pruned_over_complete": pruned / complete,
            "derived": trainer.derive().to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--images", type=int, default=4000, help="class-balanced training images used")
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--space", default="share")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--search-epochs", type=int, default=6)
    parser.add_argument("--gamma", type=float, default=0.02)
    parser.add_argument("--budget", default="flops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip", choices=("overhead", "pruning"), default=None, help="leave one measurement out")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = full_data(args.dataset)
    chosen, _ = balanced_split(data.train_y.numpy(), args.images, 0, args.seed)
    images, labels = data.train_x[chosen], data.train_y[chosen]
    start = time.perf_counter()
    report = {"settings": vars(args), "machine": hardware.describe(), "load_average_before": os.getloadavg()}
    if args.skip != "overhead":
        report["overhead"] = overhead(args, images, labels)
    if args.skip != "pruning":
        report["pruning"] = pruning(args, images, labels)
    report["seconds"] = time.perf_counter() - start
    report["load_average_after"] = os.getloadavg()
    emit(report, args.out)


if __name__ == "__main__":
    main()
