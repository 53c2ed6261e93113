"""Search cost and fidelity: the inherit protocol (fine-tune from the kept parent) against the paper's
from-scratch protocol, on the same data, seed and cell.

Reports, in one run: total trial seconds of each protocol and their ratio, the best S each finds, and the
ranking fidelity at every step of the inherit run (Kendall tau between the K candidates' S when fine-tuned
from the parent and when trained from scratch as the paper does).
Usage: python benchmarks/protocols.py --nodes 5 --candidates 10 [--dataset fashion-mnist] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import time

import torch
from scipy.stats import kendalltau

from shrinknas.config import AutoShrinkConfig, ImageTask, ImageTraining, SearchSettings
from shrinknas.run.trial import TrialSpec, evaluate
from shrinknas.run.executors import evaluate_serially
from shrinknas.search.autoshrink import autoshrink, derive_seed
from shrinknas.search.metric import score
from emit import emit  # benchmarks/emit.py


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


def fidelity(config: AutoShrinkConfig, inherited, paper, budget: int) -> list[dict]:
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
            scratch = [score(evaluate(TrialSpec(c.topology, config.task, seed)), c.topology, config.task,
                             config.search) for c in cands]
        tau = kendalltau([c.score for c in cands], scratch).statistic
        best_ft = max(range(len(cands)), key=lambda i: cands[i].score)
        rows.append({"step": step, "candidates": len(cands), "shared_with_paper_run": known,
                     "kendall_tau": None if tau != tau else round(float(tau), 3),
                     "same_winner": best_ft == max(range(len(cands)), key=lambda i: scratch[i]),
                     "scratch_S_of_finetune_winner_minus_best": round(scratch[best_ft] - max(scratch), 4)})
    return rows


def noise_ceiling(config: AutoShrinkConfig, paper) -> dict:
    """Kendall tau between step 1's candidates trained from scratch with the run's seed and with another seed:
    how well the paper protocol agrees with itself, the ceiling for any faster protocol."""
    cands = [c for c in paper.candidates if c.step == 1 and c.ok]
    other_seed = derive_seed(config.search.seed + 1, "trial", 1)
    again = [score(evaluate(TrialSpec(c.topology, config.task, other_seed)), c.topology, config.task, config.search)
             for c in cands]
    tau = kendalltau([c.score for c in cands], again).statistic
    return {"candidates": len(cands), "kendall_tau": None if tau != tau else round(float(tau), 3)}


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
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report: dict = {"settings": vars(args)}
    results = {}
    for protocol in ("inherit", "paper"):
        config, result, seconds = run(protocol, args)
        results[protocol] = (config, result)
        best = result.best
        report[protocol] = {"seconds": round(seconds, 1), "trials": len(result.candidates),
                            "trial_epochs": sum(c.result.epochs for c in result.candidates),
                            "best_S": round(best.score, 4), "best_val_acc": best.result.val_acc,
                            "best_macs": best.result.macs, "best_cell": best.topology.to_dict()}
    report["speedup"] = round(report["paper"]["seconds"] / report["inherit"]["seconds"], 2)
    report["best_S_gap"] = round(report["paper"]["best_S"] - report["inherit"]["best_S"], 4)
    config, inherited = results["inherit"]
    rows = fidelity(config, inherited, results["paper"][1], args.fidelity_steps)
    taus = [r["kendall_tau"] for r in rows if r["kendall_tau"] is not None]
    report["fidelity"] = rows
    report["paper_seed_to_seed_step1"] = noise_ceiling(config, results["paper"][1])
    report["mean_kendall_tau"] = round(sum(taus) / len(taus), 3) if taus else None
    emit(report, args.out)


if __name__ == "__main__":
    main()
