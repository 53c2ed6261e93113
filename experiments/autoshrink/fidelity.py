"""Ranking fidelity and per-step cost of the fast (inherit) protocol at paper size, read off a finished run.

For chosen steps of an inherit run, the step's own K candidates (the run's sample) are
  - fine-tuned from the kept parent (the run's stored weights) for every budget in ``--budgets`` steps (and every
    ``--schedules``, ``--leaf-handover`` and ``--cut-edge-steps`` choice);
    the run's own budget is the run's own trials, read back from its store (trained again, they reproduced the
    run's numbers exactly: this is the search's code path),
  - trained from scratch as the paper does, with the run's seed and with a second seed (or, with ``--reference``,
    read from a finished paper-protocol run of the same settings wherever it stood on the same parent).
All candidates are ranked by S. Reported per step: Kendall tau of every budget against from-scratch, of the
second scratch seed against the first (how far the paper protocol agrees with itself: the ceiling), whether the
winners agree, the from-scratch S lost by taking the fine-tune winner, and the seconds each protocol spent.
On the steps of a paper-protocol run (a faithful search), the parents are its kept cells trained again with the
run's own trial (same key, same numbers), and ``--scratch-epochs`` equal to the run's with ``--scratch-seeds 1``
reads its own from-scratch trials back: the fast protocol ranked on a faithful search's path, against that search.
``--reuse REPORT`` reads back what an earlier report measured (training is deterministic), so adding a seed to a
full-schedule reference trains only that seed.
Usage: python experiments/autoshrink/fidelity.py runs/fm8 --steps 5 15 --workers 2 --out experiments/autoshrink/ranking/fidelity_fm8.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from shrinknas.config import ImageTask
from shrinknas.methods.autoshrink.config import AutoShrinkConfig
from shrinknas.run import hardware
from shrinknas.run.executors import PoolExecutor, evaluate_with
from shrinknas.run.rundir import RunDir
from shrinknas.run.store import RunStore
from shrinknas.genome.dag_cell import edges_cut_off
from shrinknas.run.trial import ParentWeights, TrialResult, TrialSpec
from shrinknas.train.cells import image_training
from shrinknas.methods.autoshrink.loop import derive_seed, initial_cell, sample_removals
from shrinknas.methods.autoshrink.run import stored_config, written_config
from shrinknas.methods.autoshrink.metric import score
from shrinknas.genome.dag_cell import Topology
from shrinknas.methods.autoshrink.records import steps as kept_steps
from emit import emit  # experiments/autoshrink/emit.py


@dataclass(frozen=True)
class Variants:
    """The protocol variants measured at every step."""

    budgets: tuple[int, ...]  # fine-tune steps
    scratch_epochs: int | None  # None: no from-scratch variants (a reference run supplies them)
    schedules: tuple[str, ...] = ("constant",)
    finetune_other_seed: bool = False  # every fine-tune variant with a second seed too
    scratch_seeds: int = 2  # from scratch with this many seeds: their agreement is the paper protocol's own noise,
    # their mean S a less noisy reference
    handovers: tuple[bool | None, ...] = (None,)  # leaf handover for the fine-tunes (None: as the run had it)
    # (extra steps per edge a removal cuts off, cap) of the fine-tunes (None: as the run had it)
    cut_rules: tuple[tuple[int, int | None] | None, ...] = (None,)


def step_cells(kept: dict[int, Topology], config: AutoShrinkConfig, step: int, only: list[int] | None = None
               ) -> list[Topology]:
    """The step's own K candidates: the run's kept parent minus each removal the run sampled (``only``: those at
    these positions, for a costly reference on the few a choice hinges on)."""
    parent = kept[step - 1]
    cells = [parent.without(e) for e in sample_removals(parent, config.search.candidates, config.search.seed, step)]
    return cells if only is None else [cells[i] for i in only]


def run_files(run: Path) -> tuple[AutoShrinkConfig, dict[int, Topology]]:
    """A run directory's settings and kept cells from its plain files (config.yaml, trajectory.jsonl): what a
    committed result folder holds without the store, enough to summarise a report again."""
    config = written_config(run)
    ops = initial_cell(config).ops
    kept = {row["step"]: row_cell(config, ops, row) for row in RunDir(run).read_trajectory() if row["kept"]}
    return config, kept


def row_cell(config: AutoShrinkConfig, ops: tuple[str, ...], row: dict) -> Topology:
    """The cell a trajectory row trained: the run's node ops (drawn from its seed once) with the row's edges."""
    return Topology(config.task.task, ops, tuple(map(tuple, row["edges"])))


def parent_weights(store: RunStore, config: AutoShrinkConfig, steps: list[int], workers: int
                   ) -> dict[int, ParentWeights]:
    """The trained parent of each step: an inherit run's stored weights; a paper run keeps none, so its kept cells
    are trained again exactly as the run trained them (the same trial key, so the same numbers, checked), and the
    fast protocol's fine-tunes can be ranked on a faithful search's own steps against its own from-scratch scores."""
    kept = {row["step"]: row for row in kept_steps(store)}
    found, retrain = {}, {}
    for step in steps:
        row = kept[step - 1]
        topology = Topology.from_dict(row["genome"])
        stored = store.get(row["key"])
        if stored is not None and stored.weights is not None:
            found[step] = ParentWeights(row["key"], topology, stored.weights)
        elif config.search.protocol == "paper" and stored is not None:
            spec = TrialSpec(topology, config.task, derive_seed(config.search.seed, "trial", step - 1), keep_weights=True)
            if spec.key() != row["key"]:
                raise SystemExit(f"step {step - 1} of {store.path} was not trained as this script would train it again")
            retrain[step] = (spec, stored)
        else:
            raise SystemExit(f"step {step - 1} of {store.path} has no stored weights: is it an inherit run?")
    results = evaluate_with(PoolExecutor(workers))([spec for spec, _ in retrain.values()]) if retrain else []
    for (step, (spec, stored)), again in zip(retrain.items(), results):
        if (again.metric("val_acc"), again.metric("epochs")) != (stored.metric("val_acc"), stored.metric("epochs")):
            raise SystemExit(f"step {step - 1}'s cell trained again gave val_acc {again.metric('val_acc')} in {again.metric('epochs')} "
                             f"epochs, the run {stored.metric('val_acc')} in {stored.metric('epochs')}: another kind of machine?")
        found[step] = ParentWeights(spec.key(), spec.genome, again.weights)
    return found


def step_specs(config: AutoShrinkConfig, step: int, variants: Variants, only: list[int] | None,
               parent: ParentWeights):
    """(label, spec) of every trial measured at ``step``: the K candidates under every protocol variant."""
    parent_topology = parent.genome
    settings, task = config.search, config.task
    assert isinstance(task, ImageTask)
    # the run's own trial seed first, then others: every variant's j-th seed is the same
    seeds = [derive_seed(settings.seed + j, "trial", step) for j in range(max(2, variants.scratch_seeds))]
    seed, other_seed = seeds[:2]
    cells = step_cells({step - 1: parent_topology}, config, step, only)

    def finetune(b: int, schedule: str, handover: bool, cut_rule: tuple[int, int | None]) -> ImageTask:
        per_edge, cap = cut_rule
        return task.model_copy(update={"training": task.training.model_copy(update={
            "finetune_steps": b, "finetune_schedule": schedule, "leaf_handover": handover,
            "finetune_steps_per_cut_edge": per_edge, "finetune_max_steps": cap})})

    own_handover = task.training.leaf_handover
    handovers = dict.fromkeys(own_handover if h is None else h for h in variants.handovers)
    own_rule = (task.training.finetune_steps_per_cut_edge, task.training.finetune_max_steps)
    cut_rules = dict.fromkeys(own_rule if r is None else r for r in variants.cut_rules)
    trials: list[tuple[str, ImageTask, int, ParentWeights | None]] = []
    for b, schedule, handover, rule in itertools.product(variants.budgets, variants.schedules, handovers, cut_rules):
        name = (f"finetune_{b}" + ("" if schedule == "constant" else f"_{schedule}")
                + ("" if handover == own_handover else "_handover" if handover else "_no_handover")
                + ("" if rule == own_rule else rule_suffix(rule)))
        trials.append((name, finetune(b, schedule, handover, rule), seed, parent))
        if variants.finetune_other_seed:
            trials.append((f"{name}_other_seed", finetune(b, schedule, handover, rule), other_seed, parent))
    if variants.scratch_epochs is not None:
        # as the paper trains: no path dropout or other inherit-only setting; on a paper run, its own task (its trials
        # were keyed with it, so the run's seed is read back, not trained again)
        paper = task if settings.protocol == "paper" else task.from_scratch()
        scratch_task = paper.model_copy(update={"training": paper.training.model_copy(
            update={"epochs": variants.scratch_epochs})})
        for j, s in enumerate(seeds[: variants.scratch_seeds]):
            trials.append((scratch_name(j), scratch_task, s, None))
    return cells, [(name, i, TrialSpec(cell, t, s, parent=p)) for name, t, s, p in trials
                   for i, cell in enumerate(cells)]


def cut_rule(text: str) -> tuple[int, int | None] | None:
    """``run`` -> None (the run's own rule); ``N`` or ``N:CAP`` -> (N, CAP or None)."""
    if text == "run":
        return None
    per_edge, _, cap = text.partition(":")
    return int(per_edge), int(cap) if cap else None


def rule_suffix(rule: tuple[int, int | None]) -> str:
    """A cut-edge rule's part of a variant's name: ``_cut24to96``."""
    return f"_cut{rule[0]}" + (f"to{rule[1]}" if rule[1] else "")


def same_training(spec: TrialSpec) -> str:
    """Equal for specs that train alike: the same cell, seed and parent, and the same schedule once a cut-edge rule
    has set the candidate's budget (the rule's own settings then no longer matter)."""
    neutral = {"finetune_steps_per_cut_edge": 0, "finetune_max_steps": None}
    schedule = image_training(spec).model_copy(update=neutral)
    task = spec.task.model_copy(update={"training": spec.task.training.model_copy(update=neutral)})
    parent = spec.parent.key if spec.parent else None
    return json.dumps([spec.genome.to_dict(), spec.seed, parent, task.model_dump(mode="json"),
                       schedule.model_dump(mode="json")], sort_keys=True)


def scratch_name(j: int) -> str:
    """The j-th from-scratch seed's label: the run's seed, then the names older result files use."""
    return ("scratch", "scratch_other_seed")[j] if j < 2 else f"scratch_seed_{j}"


def scratch_mean(scores: dict[str, list[float]], leave_out: str | None = None) -> list[float] | None:
    """Mean S per candidate over the from-scratch seeds (all, or all but one): the reference with less noise."""
    seeds = [s for name, s in scores.items() if name.startswith("scratch") and name != leave_out]
    if len(seeds) < (1 if leave_out else 2):  # a mean of one seed is no less noisy than that seed
        return None
    return [sum(column) / len(column) for column in zip(*seeds)]


def read_reference(folder: Path, config: AutoShrinkConfig) -> dict[tuple[int, Topology], TrialResult]:
    """The from-scratch results of a paper-protocol run of the same settings, by (step, cell), from its plain files:
    a published folder, or a run still going, serves for the steps it has finished."""
    ref_config, _ = run_files(folder)
    if ref_config.search.protocol != "paper" or ref_config.task != config.task:
        raise SystemExit(f"{folder} is not a --protocol paper run of the same task settings")
    ops = initial_cell(ref_config).ops
    metrics = ("val_acc", "val_ppl", "macs", "params", "epochs")
    return {(row["step"], row_cell(ref_config, ops, row)): TrialResult(
                key=row["key"], status=row["status"], metrics={f: row[f] for f in metrics if row[f] is not None},
                seconds=row["seconds"], error=row["error"])
            for row in RunDir(folder).read_trajectory()}


def tau(a: list[float], b: list[float]) -> float | None:
    value = kendalltau(a, b).statistic
    return None if value != value else round(float(value), 3)


def reference_ceiling(seeds: list[list[float]]) -> dict | None:
    """How much of the reference's ranking is the candidates rather than the seed, and the tau that caps.

    One-way ANOVA over (seed x candidate) scores: the reliability of one seed's scores is ICC(1); that of their mean
    over n seeds is (MSB - MSW) / MSB. A ranking that knew every candidate's true score exactly would reach, against
    a reference of reliability r, a Pearson correlation of sqrt(r); for normal noise Kendall tau is
    2/pi * arcsin(rho). Below the issue's 0.6, no protocol can be seen to meet it against this reference.
    """
    n = len(seeds)
    if n < 2:
        return None
    scores = np.array(seeds)
    k = scores.shape[1]
    between = n * scores.mean(axis=0).var(ddof=1)
    within = ((scores - scores.mean(axis=0)) ** 2).sum() / (k * (n - 1))
    one_seed = (between - within) / (between + (n - 1) * within)
    of_mean = (between - within) / between if between > 0 else 0.0  # candidates alike on average: no signal

    def ceiling(r: float) -> float:
        return round(2 / math.pi * math.asin(math.sqrt(min(max(r, 0.0), 1.0))), 3)

    return {"seeds": n, "seed_sd": round(math.sqrt(within), 4), "candidate_sd": round(float(scores.mean(axis=0).std(ddof=1)), 4),
            "reliability_one_seed": round(float(one_seed), 3), "tau_ceiling_vs_one_seed": ceiling(one_seed),
            "reliability_of_mean": round(float(of_mean), 3), "tau_ceiling_vs_mean": ceiling(of_mean)}


def results_by_variant(cells: list[Topology], labelled, results: list[TrialResult], config: AutoShrinkConfig
                       ) -> tuple[dict[str, list[float]], dict[str, list[float | None]], dict[str, float]]:
    """S, val_acc and seconds of every variant, per candidate."""
    scores: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    accs: dict[str, list[float | None]] = {}
    for (name, i, _), r in zip(labelled, results):
        scores.setdefault(name, [float("nan")] * len(cells))[i] = score(r, cells[i], config.task, config.search)
        accs.setdefault(name, [None] * len(cells))[i] = r.metric("val_acc")
        seconds[name] = seconds.get(name, 0.0) + r.seconds
    return scores, accs, seconds


def summarise(step: int, cells: list[Topology], edges_before: int, scores: dict[str, list[float]],
              accs: dict[str, list[float | None]], seconds: dict[str, float]) -> dict:
    candidates = range(len(next(iter(scores.values()))))
    scratch = scores.get("scratch")  # absent with --scratch-epochs 0: fine-tune variants among themselves
    best_scratch = max(candidates, key=lambda i: scratch[i]) if scratch else None
    all_seeds = scratch_mean(scores)
    variants = {}
    for name, s in scores.items():
        if name == "scratch":
            continue
        winner = max(candidates, key=lambda i: s[i])
        variants[name] = {
            "kendall_tau_vs_scratch": tau(s, scratch) if scratch else None,
            # against the mean over the from-scratch seeds; a scratch seed is compared with the mean of the others
            "kendall_tau_vs_scratch_mean": tau(s, mean) if (mean := scratch_mean(
                scores, leave_out=name if name.startswith("scratch") else None)) else None,
            # how far the variant agrees with itself under another seed: the noise in its own ranking
            "kendall_tau_vs_other_seed": tau(s, scores[f"{name}_other_seed"]) if f"{name}_other_seed" in scores else None,
            "same_winner": winner == best_scratch if scratch else None,
            "scratch_S_lost": round(scratch[best_scratch] - scratch[winner], 4) if scratch else None,
            "scratch_mean_S_lost": round(max(all_seeds) - all_seeds[winner], 4) if all_seeds else None,
            "seconds": round(seconds[name], 1),
            "seconds_ratio_scratch_over_this": round(seconds["scratch"] / seconds[name], 2) if scratch else None,
            "best_S": round(max(s), 4),
        }
    return {"step": step, "edges_before": edges_before, "candidates": len(candidates),
            # edges each removal takes with it beyond its own (nodes it cuts off): inherited weights rate such
            # candidates differently from training from scratch
            "edges_cut_off": [edges_before - 1 - len(cell.edges) for cell in cells],
            "scratch_seconds": round(seconds["scratch"], 1) if scratch else None,
            "scratch_best_S": round(scratch[best_scratch], 4) if scratch else None,
            "reference": reference_ceiling([s for name, s in scores.items() if name.startswith("scratch")]),
            "variants": variants, "val_acc": accs, "S": {name: [round(v, 5) for v in s] for name, s in scores.items()}}


def run_macs(run: Path) -> dict[tuple[int, tuple], int]:
    """MACs the run itself counted for every cell it trained, by (step, edges)."""
    return {(row["step"], tuple(map(tuple, row["edges"]))): row["macs"] for row in RunDir(run).read_trajectory()}


def stored_results(old: dict, cells: list[Topology], macs: dict[tuple[int, tuple], int]
                   ) -> dict[str, list[TrialResult]]:
    """A stored report step's variants as results again: its val_acc, the run's MACs, its seconds spread evenly."""
    seconds = {name: v["seconds"] for name, v in old["variants"].items()} | {"scratch": old["scratch_seconds"]}
    return {name: [TrialResult(key="", status="ok", metrics={"val_acc": acc, "macs": macs[(old["step"], cell.edges)]}, seconds=(seconds[name] or 0.0) / len(cells)) for cell, acc in zip(cells, accs)]
            for name, accs in old["val_acc"].items()}


def read_reused(reports: list[Path], scratch_epochs: int | None) -> dict[tuple[int, str], dict]:
    """Steps of earlier reports whose variants need no training again, by (step, variant name).

    Training is deterministic on CPU, so a variant with the same name (budget, schedule, seed index) and, for the
    from-scratch ones, the same epochs gives the same numbers; reading it back saves hours of a full schedule.
    """
    reused: dict[tuple[int, str], dict] = {}
    here = hardware.describe()
    for path in reports:
        report = json.loads(path.read_text())
        if "machine" not in report:
            print(f"warning: {path} does not say which machine measured it; its numbers hold only if it was this "
                  "kind", file=sys.stderr)
        elif changed := hardware.differences(report["machine"], here):
            raise SystemExit(f"{path} was measured on another kind of machine ({changed}): its numbers would not "
                             "match what this one trains")
        same_epochs = report["settings"].get("scratch_epochs") == scratch_epochs
        for old in report["steps"]:
            for name in old["val_acc"]:
                if same_epochs or not name.startswith("scratch"):
                    reused.setdefault((old["step"], name), old)
    return reused


def composed(results: dict[str, list[TrialResult]], parent: Topology, cells: list[Topology],
             config: AutoShrinkConfig, rule: tuple[int, int | None]) -> tuple[str, list[TrialResult]] | None:
    """The fine-tune variant a cut-edge rule gives, put together from a report's fixed-budget fine-tunes: each
    candidate's fine-tune at the budget the rule gives it is the same training as that fixed budget's (bit for
    bit, tested). None when the report lacks a budget the rule needs."""
    training = config.task.training.model_copy(
        update={"finetune_steps_per_cut_edge": rule[0], "finetune_max_steps": rule[1]})
    budgets = [training.finetune_budget(edges_cut_off(parent, cell)) for cell in cells]
    if any(f"finetune_{b}" not in results for b in budgets):
        return None
    name = f"finetune_{training.finetune_steps}" + rule_suffix(rule)
    return name, [results[f"finetune_{b}"][i] for i, b in enumerate(budgets)]


def rescore(report_path: Path, run: Path | None = None, compose: tuple[tuple[int, int | None], ...] = ()) -> dict:
    """A stored report summarised again by this script's current rules, without training anything.

    The S of each candidate is rebuilt from its stored val_acc and the MACs the run itself counted for that cell.
    ``compose``: cut-edge rules whose variants are put together from the report's budgets where it has them.
    """
    report = json.loads(report_path.read_text())
    run = run or Path(report["run"])
    config, kept = run_files(run)
    macs = run_macs(run)
    rows = []
    for old in report["steps"]:
        step = old["step"]
        cells = step_cells(kept, config, step, old.get("only"))
        results = stored_results(old, cells, macs)
        results.update(filter(None, (composed(results, kept[step - 1], cells, config, rule) for rule in compose)))
        labelled = [(name, i, None) for name, rs in results.items() for i in range(len(rs))]
        flat = [r for rs in results.values() for r in rs]
        summary = summarise(step, cells, old["edges_before"], *results_by_variant(cells, labelled, flat, config))
        rows.append(old | summary)  # what the report had beyond the summary (e.g. which variants it read back) stays
    return report | {"run": str(run), "steps": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path, nargs="?",
                        help="directory of a finished run: --protocol inherit, or paper (its kept cells are trained "
                             "again as the fine-tunes' parents; --scratch-epochs as the run's and --scratch-seeds 1 "
                             "read its own trials back as the from-scratch side)")
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 15])
    parser.add_argument("--only", nargs="+", default=[], metavar="STEP:I,J",
                        help="at STEP measure only the candidates at these positions of the run's sample (0-based)")
    parser.add_argument("--budgets", type=int, nargs="+", default=[8, 24, 48], help="fine-tune steps to compare")
    parser.add_argument("--scratch-epochs", type=int, default=3, help="from-scratch epochs (paper: up to 20; 0: no from-scratch side)")
    parser.add_argument("--schedules", nargs="+", default=["constant"], choices=["constant", "cosine"],
                        help="fine-tune learning-rate schedules to compare")
    parser.add_argument("--leaf-handover", nargs="+", default=["run"], choices=["run", "on", "off"],
                        help="fine-tune with leaf handover as the run had it, on, off: one variant each")
    parser.add_argument("--cut-edge-steps", nargs="+", default=["run"], metavar="run|N[:CAP]",
                        help="fine-tune with N extra steps per edge a removal cuts off, at most CAP steps in all (run: "
                             "as the run had it): one variant each; with --rescore, put together from the report's "
                             "fixed budgets where it has every one the rule needs")
    parser.add_argument("--finetune-other-seed", action="store_true",
                        help="fine-tune every variant with a second seed too (its seed-to-seed agreement)")
    parser.add_argument("--scratch-seeds", type=int, default=2,
                        help="train from scratch with this many seeds (1: the run's only; more: a less noisy "
                             "reference, their mean S)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="a finished --protocol paper run of the same settings: its trials are the from-scratch "
                             "side (steps where it stood on the same parent), so nothing is trained from scratch here")
    parser.add_argument("--rescore", type=Path, default=None,
                        help="a report of this script: summarise it again by the current rules, training nothing "
                             "(RUN, when given, replaces the run it names, e.g. a run sharing those steps' trials)")
    parser.add_argument("--reuse", type=Path, nargs="+", default=[],
                        help="earlier reports of this script on the same run: a variant one of them measured at a step "
                             "(same name, and the same --scratch-epochs for the from-scratch ones) is read back, not "
                             "trained again")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.rescore:
        report = rescore(args.rescore, args.run, tuple(filter(None, map(cut_rule, args.cut_edge_steps))))
        emit(report | {"settings": report["settings"] | {"out": args.out}}, args.out)
        return
    if args.run is None:
        parser.error("RUN is required (or --rescore REPORT)")
    store = RunStore.read(args.run)
    recorded = store.machine()
    machine_changed = hardware.differences(recorded, hardware.describe()) if recorded else ""
    if machine_changed:
        print(f"warning: {args.run} ran on another kind of machine ({machine_changed}): fine-tunes at its own "
              "settings will not reproduce its numbers, so they are trained again here", file=sys.stderr)
    config = stored_config(store)
    reference = read_reference(args.reference, config) if args.reference else None
    scratch_epochs = None if reference or args.scratch_epochs == 0 else args.scratch_epochs
    handovers = tuple({"run": None, "on": True, "off": False}[h] for h in args.leaf_handover)
    variants = Variants(tuple(args.budgets), scratch_epochs, tuple(args.schedules), args.finetune_other_seed,
                        args.scratch_seeds, handovers, tuple(cut_rule(r) for r in args.cut_edge_steps))
    parent_edges = {row["step"] + 1: len(row["genome"]["edges"]) for row in kept_steps(store)}
    only = {int(step): [int(i) for i in picked.split(",")] for step, _, picked in (o.partition(":") for o in args.only)}
    reused = read_reused(args.reuse, scratch_epochs)
    for (step, _), old in reused.items():
        if step in args.steps and old["edges_before"] != parent_edges[step]:
            raise SystemExit(f"a --reuse report's step {step} stood on another parent: is it a report on this run?")
        if step in args.steps and old.get("only") != only.get(step):
            raise SystemExit(f"a --reuse report measured other candidates at step {step} (--only)")
    macs = run_macs(args.run) if reused else {}
    start = time.perf_counter()
    parents = parent_weights(store, config, args.steps, args.workers)
    jobs = [(step, *step_specs(config, step, variants, only.get(step), parents[step])) for step in args.steps]
    specs = [spec for step, _, labelled in jobs for name, _, spec in labelled if (step, name) not in reused]
    unique = {same_training(spec): spec for spec in specs}  # a rule that leaves a candidate's budget alone: once
    # the run's own trials are read back, unless the run trained them on another kind of machine
    in_run = {} if machine_changed else store.get_many(spec.key() for spec in unique.values())
    to_train = {k: spec for k, spec in unique.items() if spec.key() not in in_run}
    outcome = dict(zip(to_train, evaluate_with(PoolExecutor(args.workers))(list(to_train.values()))))
    outcome |= {k: in_run[spec.key()] for k, spec in unique.items() if k not in to_train}
    trained = (outcome[same_training(spec)] for spec in specs)
    rows = []
    for step, cells, labelled in jobs:
        read_back = {name: stored_results(reused[step, name], cells, macs)[name]
                     for name, _, _ in labelled if (step, name) in reused}
        measured = [read_back[name][i] if name in read_back else next(trained) for name, i, _ in labelled]
        if reference is not None:
            missing = [c for c in cells if (step, c) not in reference]
            if missing:
                raise SystemExit(f"{args.reference} did not train step {step}'s candidates: it kept another cell before")
            labelled = labelled + [("scratch", i, None) for i in range(len(cells))]
            measured = measured + [reference[(step, c)] for c in cells]
        rows.append(summarise(step, cells, parent_edges[step], *results_by_variant(cells, labelled, measured, config))
                    | {"reused": sorted(read_back)} | ({"only": only[step]} if step in only else {}))

    def plain(v):
        return str(v) if isinstance(v, Path) else [plain(x) for x in v] if isinstance(v, list) else v

    report = {"run": str(args.run), "machine": hardware.describe(),
              "settings": {k: plain(v) for k, v in vars(args).items() if k != "run"},
              "wall_seconds": round(time.perf_counter() - start, 1), "steps": rows}
    emit(report, args.out)


if __name__ == "__main__":
    main()
