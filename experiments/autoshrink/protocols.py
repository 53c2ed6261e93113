"""Search cost and fidelity: the inherit protocol (fine-tune from the kept parent) against the paper's
from-scratch protocol, on the same data, seed and cell.

Reports, in one run: total trial seconds of each protocol and their ratio, the best S each finds, and the
ranking fidelity at every step of the inherit run (Kendall tau between the K candidates' S when fine-tuned
from the parent and when trained from scratch as the paper does).
Usage: python experiments/autoshrink/protocols.py --nodes 5 --candidates 10 [--dataset fashion-mnist] [--out FILE.json]
   or: python experiments/autoshrink/protocols.py --runs runs/fm5_inherit runs/fm5_paper --workers 2 [--out FILE.json]
       (two finished CLI runs that differ only in --protocol, read back from their stores; nothing is retrained
       except the second-seed candidates that measure how well the paper protocol agrees with itself)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from scipy.stats import kendalltau

from shrinknas.config import ImageTask, ImageTraining
from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
from shrinknas.run.trial import TrialSpec
from shrinknas.run.executors import PoolExecutor, evaluate_serially, evaluate_with
from shrinknas.methods.autoshrink.loop import SearchResult, autoshrink, derive_seed
from shrinknas.methods.autoshrink.run import replay
from shrinknas.methods.autoshrink.metric import score
from emit import emit  # experiments/autoshrink/emit.py


def run(protocol: str, args: argparse.Namespace):
    task = ImageTask(dataset=args.dataset, proxy_train=args.proxy_train, proxy_val=args.proxy_val or args.proxy_train // 5,
                     training=ImageTraining(epochs=args.epochs, finetune_steps=args.finetune_steps))
    config = AutoShrinkConfig(
        search=SearchSettings(nodes=args.nodes, candidates=args.candidates, seed=args.seed, protocol=protocol),
        task=task,
    )
    start = time.perf_counter()
    result = autoshrink(config, evaluate_serially)
    return config, result, time.perf_counter() - start


def read_runs(inherit_dir: Path, paper_dir: Path) -> dict[str, tuple[AutoShrinkConfig, SearchResult, float]]:
    """Both finished runs, replayed from their stores, with the wall seconds their summaries recorded."""
    runs = {}
    for protocol, folder in (("inherit", inherit_dir), ("paper", paper_dir)):
        config, result = replay(folder)
        if config.search.protocol != protocol:
            raise SystemExit(f"{folder} is a --protocol {config.search.protocol} run, not {protocol}")
        wall = json.loads((folder / "summary.json").read_text())["wall_seconds"]
        runs[protocol] = (config, result, wall)
    same = [c.model_copy(update={"search": c.search.model_copy(update={"protocol": "paper"})}) for c, _, _ in runs.values()]
    if same[0] != same[1]:
        raise SystemExit("the two runs differ in more than --protocol")
    return runs


def fidelity(config: AutoShrinkConfig, inherited, paper, budget: int, evaluate_many) -> list[dict]:
    """Per step: Kendall tau of S between the fine-tuned candidates and the same candidates from scratch.

    Where both runs stood on the same cell, the paper run already trained the same candidates (same seed, same
    sample); other steps are re-trained from scratch, up to ``budget`` steps.
    """
    scratch_runs = {(c.step, c.topology): c.score for c in paper.candidates}
    rows = []
    for step in sorted({c.step for c in inherited.candidates if c.step > 0}):
        cands = [c for c in inherited.candidates if c.step == step and c.ok]
        if len(cands) < 3:
            continue
        known = all((step, c.topology) in scratch_runs for c in cands)
        if not known and budget <= 0:
            continue
        if known:
            scratch = [scratch_runs[(step, c.topology)] for c in cands]
        else:
            budget -= 1
            seed = derive_seed(config.search.seed, "trial", step)
            results = evaluate_many([TrialSpec(c.topology, config.task, seed) for c in cands])
            scratch = [score(r, c.topology, config.task, config.search) for r, c in zip(results, cands)]
        tau = kendalltau([c.score for c in cands], scratch).statistic
        best_ft = max(range(len(cands)), key=lambda i: cands[i].score)
        rows.append({"step": step, "candidates": len(cands), "shared_with_paper_run": known,
                     "kendall_tau": None if tau != tau else round(float(tau), 3),
                     "same_winner": best_ft == max(range(len(cands)), key=lambda i: scratch[i]),
                     "scratch_S_of_finetune_winner_minus_best": round(scratch[best_ft] - max(scratch), 4)})
    return rows


def noise_ceiling(config: AutoShrinkConfig, paper, evaluate_many) -> dict:
    """Kendall tau between step 1's candidates trained from scratch with the run's seed and with another seed:
    how well the paper protocol agrees with itself, the ceiling for any faster protocol."""
    cands = [c for c in paper.candidates if c.step == 1 and c.ok]
    other_seed = derive_seed(config.search.seed + 1, "trial", 1)
    results = evaluate_many([TrialSpec(c.topology, config.task, other_seed) for c in cands])
    again = [score(r, c.topology, config.task, config.search) for r, c in zip(results, cands)]
    tau = kendalltau([c.score for c in cands], again).statistic
    winner = max(range(len(cands)), key=lambda i: cands[i].score)
    return {"candidates": len(cands), "kendall_tau": None if tau != tau else round(float(tau), 3),
            "same_winner": winner == max(range(len(cands)), key=lambda i: again[i]),
            "other_seed_S_of_winner_minus_best": round(again[winner] - max(again), 4)}


def step_seconds(result: SearchResult) -> dict[int, float]:
    """Trial seconds spent at every shrink step (step 0: the complete DAG)."""
    spent: dict[int, float] = {}
    for c in result.candidates:
        spent[c.step] = round(spent.get(c.step, 0.0) + c.seconds, 1)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--finetune-steps", type=int, default=40)
    parser.add_argument("--proxy-train", type=int, default=5000)
    parser.add_argument("--proxy-val", type=int, default=0, help="default: proxy-train / 5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fidelity-steps", type=int, default=4, help="steps of the inherit run to re-train")
    parser.add_argument("--runs", nargs=2, type=Path, metavar=("INHERIT_DIR", "PAPER_DIR"),
                        help="compare two finished runs instead of running both searches here")
    parser.add_argument("--workers", type=int, default=1, help="processes for what this script trains itself")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = read_runs(*args.runs) if args.runs else {protocol: run(protocol, args) for protocol in ("inherit", "paper")}
    if args.runs:  # the runs' own settings, not this script's defaults
        report: dict = {"settings": {"runs": [str(p) for p in args.runs], "workers": args.workers,
                                     "fidelity_steps": args.fidelity_steps, "out": args.out,
                                     "config": runs["paper"][0].model_dump(mode="json")}}
    else:
        report = {"settings": vars(args)}
    for protocol, (config, result, wall) in runs.items():
        best = result.best
        report[protocol] = {"seconds": round(wall, 1), "trial_seconds": round(sum(c.result.seconds for c in result.candidates), 1),
                            "trials": len(result.candidates), "trial_epochs": sum(c.result.metric("epochs") for c in result.candidates),
                            "seconds_per_step": step_seconds(result),
                            "best_S": round(best.score, 4), "best_val_acc": best.result.metric("val_acc"),
                            "best_macs": best.result.metric("macs"), "best_params": best.result.metric("params"),
                            "best_step": best.step, "best_cell": best.topology.to_dict()}
    report["speedup"] = round(report["paper"]["seconds"] / report["inherit"]["seconds"], 2)
    report["trial_seconds_ratio"] = round(report["paper"]["trial_seconds"] / report["inherit"]["trial_seconds"], 2)
    report["best_S_gap"] = round(report["paper"]["best_S"] - report["inherit"]["best_S"], 4)
    config, inherited, _ = runs["inherit"]
    paper = runs["paper"][1]
    evaluate_many = evaluate_with(PoolExecutor(args.workers)) if args.workers > 1 else evaluate_serially
    rows = fidelity(config, inherited, paper, args.fidelity_steps, evaluate_many)
    taus = [r["kendall_tau"] for r in rows if r["kendall_tau"] is not None]
    report["fidelity"] = rows
    report["paper_seed_to_seed_step1"] = noise_ceiling(config, paper, evaluate_many)
    report["mean_kendall_tau"] = round(sum(taus) / len(taus), 3) if taus else None
    emit(report, args.out)


if __name__ == "__main__":
    main()
