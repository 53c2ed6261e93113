"""AutoShrink (paper Algorithm 1): shrink a complete DAG cell one edge per step, best of K candidates by S.

Registered as the method ``autoshrink``: its settings (``config.py``), presets, flags and run function (``run.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ...genome.dag_cell import Topology
from ...report.format import fmt_float, fmt_macs, fmt_params
from ...report.trajectory import draw_trajectory
from ...run.events import Event, EventSink
from ...report.text import TableView, View
from ..base import Flag, Method, RunStatus, register_method
from .config import AutoShrinkConfig
from .records import search_progress, steps
from .run import run, stored_identity


FLAGS = (
    Flag("task", "task.task", "cnn (image classification) | rnn (language modelling)", type=Literal["cnn", "rnn"]),
    Flag("dataset", "task.dataset", "cnn: digits | fashion-mnist | fashion-mnist-mini | cifar10:DIR | cifar100:DIR | "
         "folder:DIR | npz:FILE; rnn: fortunes | ptb:DIR | text:DIR"),
    Flag("nodes", "search.nodes", "nodes of the initial complete DAG (paper: cnn 8, rnn 6)"),
    Flag("candidates", "search.candidates", "K candidates sampled per shrink step (paper: 10)"),
    Flag("lam", "search.lam", "lambda of S = perf - lambda * log10(resource / 1e6) (cnn 0.1, rnn 1)"),
    Flag("resource", "search.resource", "what S charges for: macs | params (rnn: params)"),
    Flag("epochs", "task.training.epochs", "most epochs of a training from scratch (step 0, re-trained steps, the "
         "confirm stage; every candidate with --protocol paper); a fine-tuned candidate stops after --finetune-steps "
         "(authors: cnn 20, rnn 10)"),
    Flag("proxy-size", {"cnn": "task.proxy_train", "rnn": "task.proxy_train_lines"},
         "cnn: class-balanced proxy training images (default: the paper's 5000, or the largest the dataset holds); "
         "rnn: first training lines (4000)"),
    Flag("proxy-val", {"cnn": "task.proxy_val", "rnn": "task.proxy_eval_lines"},
         "cnn: proxy validation images (default: proxy-size / 5); rnn: first validation lines (300)"),
    Flag("hidden", {"rnn": "task.hidden"}, "rnn: embedding = hidden size (authors' search: 100)"),
    Flag("vocab", {"rnn": "task.vocab_size"}, "rnn: vocabulary cap, <unk> and <eos> included (10000)"),
    Flag("batch-size", "task.training.batch_size", "candidate batch size (authors: 128)"),
    Flag("lr", "task.training.lr", "learning rate of a training from scratch (authors: cnn Adam 4e-3, rnn SGD 20)"),
    Flag("stop-edges", "search.stop_edges", "stop when the cell has this many edges (cnn 0; rnn: a quarter of them)"),
    Flag("protocol", "search.protocol"),
    Flag("finetune-steps", {"cnn": "task.training.finetune_steps"},
         "optimizer steps of a candidate fine-tuned from its parent (--protocol inherit, the default; 24)"),
    Flag("finetune-schedule", {"cnn": "task.training.finetune_schedule"}),
    Flag("finetune-steps-per-cut-edge", {"cnn": "task.training.finetune_steps_per_cut_edge"}),
    Flag("finetune-max-steps", {"cnn": "task.training.finetune_max_steps"}),
    Flag("precision", {"cnn": "task.training.precision"}, "fp32 | bf16 (autocast: about 1.5x faster training where "
         "the CPU has native bf16, e.g. AVX512-BF16 or AMX, and on GPUs; much slower on CPUs without it)"),
    Flag("path-dropout", {"cnn": "task.training.path_dropout"}),
    Flag("leaf-handover", {"cnn": "task.training.leaf_handover"}),
    Flag("scratch-if-drop", "search.scratch_if_drop",
         "with --protocol inherit: re-train a step from scratch when every fine-tuned candidate falls more than D "
         "below its parent's val_acc (default 0.15; off: never)", metavar="D|off", type=str),
    Flag("screen-steps", "search.screen_steps"),
    Flag("screen-top", "search.screen_top"),
    Flag("screen-pass-cuts", "search.screen_pass_cuts"),
    Flag("confirm-top", "confirm.top", "after the search, re-train this many of the best kept cells from scratch on "
         "fresh seeds and take the best mean S as the final cell (default 3 with --protocol inherit; 0: the paper's "
         "pick, the default with --protocol paper; rerun a finished run to change it)"),
    Flag("confirm-seeds", "confirm.seeds"),
    Flag("seed", "search.seed", "one seed for every random choice (the proxy split included)"),
    Flag("device", "task.device", "cpu | cuda"),
)

PRESETS: dict[str, dict[str, Any]] = {
    # the defaults: fine-tuned candidates, collapsed steps re-trained from scratch, 3 finalists on fresh seeds
    "fast": {},
    # the paper's search as published: every candidate from scratch, the final cell by eq. (7)
    "paper": {"search": {"protocol": "paper"}},
}


def prepare(config: AutoShrinkConfig, emit: EventSink) -> AutoShrinkConfig:
    """The proxy fitted to the dataset where its size was not given (the paper's 5,000 / 1,000 where the dataset
    holds them, else the largest class-balanced one it holds), said once, then checked before the store opens."""
    task = config.task
    if task.task != "cnn":
        return config
    from ...data.images import PAPER_PROXY, fitting_proxy, proxy_data

    if "proxy_train" not in task.model_fields_set:
        fitted = fitting_proxy(task.dataset)
        if fitted != (task.proxy_train, task.proxy_val):
            emit(Event("note", f"{task.dataset} holds too few images a class for the paper's proxy of "
                               f"{PAPER_PROXY[0]} + {PAPER_PROXY[1]}: the proxy is the largest class-balanced one it "
                               f"holds, {fitted[0]} train + {fitted[1]} val images"))
            config = config.model_copy(update={"task": task.model_copy(
                update={"proxy_train": fitted[0], "proxy_val": fitted[1]})})
    proxy_data(config.task)
    fitted = config.with_fitted_finetune()
    if fitted is not config:
        emit(Event("note", f"fine-tunes take {fitted.task.training.finetune_steps} steps, a fifth of the shortest "
                           f"training from scratch on this {config.task.proxy_train}-image proxy "
                           f"(--finetune-steps sets it)"))
    return fitted


def headline(config: AutoShrinkConfig) -> str:
    s, t = config.search, config.task
    bf16 = ", bf16" if getattr(t.training, "precision", "fp32") == "bf16" else ""
    return (f"AutoShrink {t.task} search on {t.dataset}: N={s.nodes}, K={s.candidates}, lambda={s.lam}, "
            f"resource={s.resource}, protocol={s.protocol}, seed={s.seed}{bf16}")


def status(store: Any) -> RunStatus:
    """Steps kept, the final cell's score so far, and the kept cell of every step."""
    found, kept, p = search_progress(store), steps(store), store.progress()
    under_way = p.round_total and p.state != "finished" and p.round_done < p.round_total
    progress = f"{found.steps_done} (+{p.round_done}/{p.round_total})" if under_way else str(found.steps_done)
    confirmed = f" + {found.confirm_trainings} confirm trainings" if found.confirm_trainings else ""
    # the store counts trainings: a step re-trained from scratch (--scratch-if-drop) adds its collapsed fine-tunes
    lines = [f"steps {found.steps_done}, trainings {p.trials - found.confirm_trainings}{confirmed}, best S in the "
             f"search {fmt_float(found.best_score)}"]
    if found.confirm_trainings:
        final_step = next((row["step"] for row in kept if row["key"] == found.final_key), None)
        lines.append("final cell (confirm stage): " + (
            f"step {final_step}'s, mean S {fmt_float(found.final_score)} on fresh seeds" if final_step is not None
            else "every finalist failed, so the best S in the search"))
    rows = tuple((str(row["step"]), str(len(row["genome"]["edges"])), fmt_float(row.get("val_acc")),
                  fmt_float(row.get("val_ppl"), 2), fmt_macs(row.get("macs")), fmt_params(row.get("params")),
                  fmt_float(row["score"])) for row in kept)
    table = TableView("kept candidate of every step", ("step", "edges", "val_acc", "val_ppl", "MACs", "params", "S"),
                      rows)
    return RunStatus(progress=progress, score=found.final_cell_score, score_name="S",
                     view=View(tuple(lines), (table,)),
                     data={"steps_done": found.steps_done, "best_score": found.best_score,
                           "final_key": found.final_cell_key, "final_score": found.final_cell_score,
                           "confirm_trainings": found.confirm_trainings, "steps": kept})


def result_view(summary: Mapping[str, Any]) -> View:
    """The complete DAG against the final cell, the confirm stage's finalists, the counts, and any warning."""
    best, full = summary["best"], summary["complete_dag"]
    text = best.get("val_acc") is None and best.get("val_ppl") is not None
    perf = "val_ppl" if text else "val_acc"

    def shown(c: Mapping[str, Any]) -> str:
        return fmt_float(c.get(perf), 2 if text else 4)

    tables = [TableView("AutoShrink result", ("cell", "edges", perf, "MACs/token" if text else "MACs", "params", "S"),
                        tuple((name, str(c["n_edges"]), shown(c), fmt_macs(c["macs"]), fmt_params(c["params"]),
                               fmt_float(c["S"])) for name, c in (("complete DAG", full), ("final", best))))]
    confirm = summary.get("confirm")
    if confirm:
        tables.append(TableView(
            "confirmed on fresh seeds (from scratch); the first is the final cell",
            ("step", "edges", "MACs/token" if text else "MACs", "S in search", "S fresh", "mean S"),
            tuple((str(f["step"]), str(f["n_edges"]), fmt_macs(f["macs"]), fmt_float(f["S"]),
                   " ".join("failed" if v is None else f"{v:.4f}" for v in f["S_fresh"]), fmt_float(f["S_fresh_mean"]))
                  for f in confirm["finalists"])))
    retrained, reused = summary.get("retrained_steps"), summary.get("trials_from_store", 0)
    counts = (f"{summary['trials']} trials ({summary['failed_trials']} failed"
              + (f"; step{'s' * (len(retrained) > 1)} {', '.join(map(str, retrained))} re-trained from scratch after "
                 "every fine-tune collapsed" if retrained else "")
              + (f"; {summary['screening_trials']} had a screening fine-tune first"
                 if summary.get("screening_trials") else "") + ")"
              + (f" and {len(confirm['finalists']) * len(confirm['seeds'])} confirm trainings" if confirm else "")
              + (f", {reused} read back from the store," if reused else "")
              + f" in {summary['wall_seconds']:.1f} s")
    lines = (f"final cell: {Topology.from_dict(best['genome'])}", counts)
    warnings = tuple(summary.get("warnings", ())) + (
        (f"stopped early: {summary['stopped_early']}",) if summary.get("stopped_early") else ())
    return View(tables=tuple(tables), warnings=warnings, footer=lines)


METHOD = register_method(Method(
    name="autoshrink",
    title="AutoShrink",
    summary="AutoShrink (Algorithm 1): shrink a complete DAG cell one edge per step, best of K by S.",
    config=AutoShrinkConfig,
    run=run,
    flags=FLAGS,
    presets=PRESETS,
    default_preset="fast",
    status=status,
    stored_identity=stored_identity,
    prepare=prepare,
    files=("trajectory.jsonl", "best_cell.json"),
    headline=headline,
    result_view=result_view,
    plot=draw_trajectory,
    plot_file="trajectory.png",
    parallel_trials=lambda config: config.search.candidates,
))
