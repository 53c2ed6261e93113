"""The ``shrinknas`` command: parse, validate, call one function, print.

Errors a user can cause print one line and exit 2; Ctrl-C exits 130. Nothing below this module prints.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from typer.exceptions import TyperException
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .config import AutoShrinkConfig, load_yaml, validated
from .errors import BadInputError, ShrinkNASError
from .genome.dag_cell import Topology

if TYPE_CHECKING:
    from .run.store import RunProgress

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Find small, fast neural networks by shrinking large ones.",
    no_args_is_help=True,
)
search_app = typer.Typer(help="Run an architecture search.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(search_app, name="search")
runs_app = typer.Typer(help="List runs and their progress.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(runs_app, name="runs")

console = Console()
err = Console(stderr=True)


# ----------------------------------------------------------------------------------------------- helpers
def load_cell(path: Path) -> Topology:
    """A cell JSON file, or a run directory (its best_cell.json)."""
    if path.is_dir():
        path = path / "best_cell.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise BadInputError(f"cell file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read cell file {path}: {exc}") from None
    return Topology.from_json(text)


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


#: ``--precision`` of both image trainers: one help text, one check.
PRECISION_HELP = ("cnn: fp32 | bf16 (autocast: about 1.5x faster training where the CPU has native bf16, e.g. "
                  "AVX512-BF16 or AMX, and on GPUs; much slower on CPUs without it)")


def _warn_slow_bf16(precision: str | None, device: str | None) -> None:
    from .run.hardware import native_bf16

    if precision == "bf16" and (device or "cpu") == "cpu" and not native_bf16():
        err.print("[yellow]warning:[/] this CPU has no native bf16; --precision bf16 will train slower than fp32")


def _set_threads(threads: int) -> None:
    if threads < 0:
        raise BadInputError("--threads must be 0 (default) or a positive number")
    if threads:
        import torch

        torch.set_num_threads(threads)


def available_cores() -> int:
    """Cores this process may run on (a container's or taskset's share, not the whole machine's)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _share_of_cores(workers: int) -> int:
    return max(1, available_cores() // max(1, workers))


def _emit_json(data: Any) -> None:
    console.print_json(json.dumps(data))


def _fmt_macs(macs: int | None) -> str:
    return "-" if macs is None else f"{macs / 1e6:.2f} M"


def _fmt_params(params: int | None) -> str:
    return "-" if params is None else f"{params / 1e6:.3f} M"


# ------------------------------------------------------------------------------------------------ search
#: Finalists the confirm stage re-trains by default after a fast (inherit) search: README, "The confirm stage".
FAST_CONFIRM_TOP = 3
#: A fast search re-trains a step from scratch when all its fine-tunes fell this far: README, "The last steps".
FAST_SCRATCH_IF_DROP = 0.15
#: How the candidates bar names a step's rounds of training.
STEP_ROUNDS = {"candidates": "candidates", "screen": "candidates, screening", "finalists": "screened best, full "
               "fine-tune", "from scratch": "again, from scratch"}


@search_app.command("autoshrink")
def search_autoshrink(
    task: Optional[str] = typer.Option(None, help="cnn (image classification) | rnn (language modelling)"),
    dataset: Optional[str] = typer.Option(
        None, help="cnn: digits | fashion-mnist | fashion-mnist-mini | cifar10:DIR | cifar100:DIR | folder:DIR[@HxW] | "
        "npz:FILE; rnn: fortunes | ptb:DIR | text:DIR"
    ),
    nodes: Optional[int] = typer.Option(None, help="nodes of the initial complete DAG (paper: cnn 8, rnn 6)"),
    candidates: Optional[int] = typer.Option(None, help="K candidates sampled per shrink step (paper: 10)"),
    lam: Optional[float] = typer.Option(None, help="lambda of S = acc - lambda * log10(resource / 1e6)"),
    resource: Optional[str] = typer.Option(None, help="macs | params"),
    epochs: Optional[int] = typer.Option(None, help="max epochs per candidate (authors: cnn 20, rnn 10)"),
    proxy_size: Optional[int] = typer.Option(
        None, help="cnn: class-balanced proxy training images (default: the paper's 5000 where the dataset holds "
        "5000 + 1000 balanced, else the largest balanced proxy it holds at 5:1); rnn: first training lines (4000)"
    ),
    proxy_val: Optional[int] = typer.Option(
        None, help="cnn: proxy validation images (default: proxy-size / 5); rnn: first validation lines (300)"
    ),
    hidden: Optional[int] = typer.Option(None, help="rnn: embedding = hidden size (authors' search: 100)"),
    vocab: Optional[int] = typer.Option(None, help="rnn: vocabulary cap, <unk> and <eos> included (10000)"),
    batch_size: Optional[int] = typer.Option(None, help="candidate batch size (authors: 128)"),
    lr: Optional[float] = typer.Option(None, help="candidate learning rate (authors: cnn Adam 4e-3, rnn SGD 20)"),
    stop_edges: Optional[int] = typer.Option(
        None, help="stop when the cell has this many edges (cnn default 0; rnn: a quarter of the initial edges)"
    ),
    protocol: Optional[str] = typer.Option(
        None, help="inherit: candidates fine-tune the kept parent (default for cnn) | paper: every candidate "
        "trained from scratch, as published (rnn: the only one)"
    ),
    finetune_steps: Optional[int] = typer.Option(None, help="optimizer steps per candidate with --protocol inherit"),
    finetune_schedule: Optional[str] = typer.Option(
        None, help="learning rate of those steps: constant (default) | cosine (annealed to zero at the last step)"),
    finetune_steps_per_cut_edge: Optional[int] = typer.Option(
        None, help="extra fine-tune steps for every further edge a removal cuts off with a node (default 0)"),
    finetune_max_steps: Optional[int] = typer.Option(
        None, help="at most this many fine-tune steps however many edges a removal cuts off (default: no cap)"),
    precision: Optional[str] = typer.Option(None, help=PRECISION_HELP + " (default fp32)"),
    path_dropout: Optional[float] = typer.Option(
        None, help="chance that training cuts each cell edge per sample, so a parent's weights suit its children "
        "(default 0)"),
    leaf_handover: Optional[bool] = typer.Option(
        None, "--leaf-handover/--no-leaf-handover", help="a node that becomes a leaf where a leaf died inherits that "
        "leaf's output weights instead of zero ones (default off)"),
    scratch_if_drop: Optional[str] = typer.Option(
        None, metavar="D|off", help="with --protocol inherit: re-train a step from scratch when every fine-tuned "
        f"candidate falls more than D below its parent's val_acc (default {FAST_SCRATCH_IF_DROP}; off: never)"),
    screen_steps: Optional[int] = typer.Option(
        None, help="with --protocol inherit: fine-tune every candidate for only this many steps first, and give the "
        "full fine-tune to the --screen-top best of them alone (successive halving; default off)"),
    screen_top: Optional[int] = typer.Option(None, help="candidates that pass --screen-steps (default 3)"),
    screen_pass_cuts: Optional[bool] = typer.Option(
        None, "--screen-pass-cuts/--no-screen-pass-cuts", help="with --screen-steps: a removal that cuts off a node "
        "passes the screen too, whatever its short score (default off)"),
    confirm_top: Optional[int] = typer.Option(
        None, help="after the search, re-train this many of the best kept cells from scratch on fresh seeds and "
        f"take the best mean S as the final cell (default {FAST_CONFIRM_TOP} with --protocol inherit; 0: the paper's "
        "pick, the default with --protocol paper; rerun a finished run to change it)"),
    confirm_seeds: Optional[int] = typer.Option(None, help="fresh seeds per cell with --confirm-top (default 2)"),
    seed: Optional[int] = typer.Option(None, help="one seed for every random choice"),
    device: Optional[str] = typer.Option(None, help="cpu | cuda"),
    threads: int = typer.Option(1, help="torch threads per trial (1 is fastest for small candidates on a busy CPU; "
                                "0: this machine's cores / --workers); keep it when resuming"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings; flags override it"),
    out: Path = typer.Option(Path("runs/autoshrink"), help="run directory; one holding an unfinished run is resumed"),
    force_new: bool = typer.Option(False, "--force-new", help="start over even if OUT holds a run"),
    workers: int = typer.Option(0, help="trials evaluated at once, each in its own process; 0: one per CPU core"),
    executor: Optional[str] = typer.Option(None, help="serial | pool | ray (default: pool when --workers > 1)"),
    ray_address: str = typer.Option("local", help="with --executor ray: local (start Ray here) | auto | HOST:PORT"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """AutoShrink (Algorithm 1): shrink a complete DAG cell one edge per step, best of K by S."""
    from .run.executors import make_executor
    from .search.metric import DEFAULT_LAMBDA
    from .search.driver import run_autoshrink

    tree: dict = {}
    if config is not None:
        loaded = load_yaml(config)
        if loaded is not None and not isinstance(loaded, dict):
            raise BadInputError(f"{config}: expected a mapping of settings at the top level")
        tree = loaded or {}
    given_task = tree.get("task") if isinstance(tree.get("task"), dict) else {}
    kind = task or given_task.get("task") or "cnn"
    if kind == "rnn":
        proxy = {"task.proxy_train_lines": proxy_size, "task.proxy_eval_lines": proxy_val,
                 "task.hidden": hidden, "task.vocab_size": vocab}
    else:
        if hidden is not None or vocab is not None:
            raise BadInputError("--hidden and --vocab apply to language models; add --task rnn")
        proxy = {"task.proxy_train": proxy_size,
                 "task.proxy_val": proxy_val if proxy_val is not None else (max(10, proxy_size // 5) if proxy_size else None)}
    overrides = {
        "task.task": task,
        "task.dataset": dataset,
        "search.nodes": nodes,
        "search.candidates": candidates,
        "search.lam": lam,
        "search.resource": resource,
        "task.training.epochs": epochs,
        **proxy,
        "task.training.batch_size": batch_size,
        "task.training.lr": lr,
        "search.stop_edges": stop_edges,
        "search.protocol": protocol,
        "task.training.finetune_steps": finetune_steps,
        "task.training.finetune_schedule": finetune_schedule,
        "task.training.finetune_steps_per_cut_edge": finetune_steps_per_cut_edge,
        "task.training.finetune_max_steps": finetune_max_steps,
        "task.training.precision": precision,
        "task.training.path_dropout": path_dropout,
        "task.training.leaf_handover": leaf_handover,
        "search.scratch_if_drop": scratch_if_drop,  # a number or "off", read by the settings model
        "search.screen_steps": screen_steps,
        "search.screen_top": screen_top,
        "search.screen_pass_cuts": screen_pass_cuts,
        "confirm.top": confirm_top,
        "confirm.seeds": confirm_seeds,
        "search.seed": seed,
        "task.device": device,
    }
    for dotted, value in overrides.items():
        if value is not None:
            _set(tree, dotted, value)
    kind = tree.setdefault("task", {}).setdefault("task", "cnn")
    tree.setdefault("search", {}).setdefault("lam", DEFAULT_LAMBDA.get(kind, 0.1))
    if kind == "rnn":
        _rnn_search_defaults(tree["search"])
    else:
        tree.setdefault("search", {}).setdefault("protocol", "inherit")  # the fast protocol (README, Performance)
        if tree["search"]["protocol"] == "inherit":  # fine-tuned scores pick finalists, fresh seeds pick among them
            tree.setdefault("confirm", {}).setdefault("top", FAST_CONFIRM_TOP)
            tree["search"].setdefault("scratch_if_drop", FAST_SCRATCH_IF_DROP)
        if "seed" in tree["search"]:
            tree.setdefault("task", {}).setdefault("data_seed", tree["search"]["seed"])
        _fit_unset_proxy(tree["task"])
    cfg: AutoShrinkConfig = validated(AutoShrinkConfig, tree, "settings")
    _set_threads(threads)
    if cfg.task.task == "cnn":
        _warn_slow_bf16(cfg.task.training.precision, cfg.task.device)

    s, t = cfg.search, cfg.task
    if workers < 0:
        raise BadInputError(f"--workers must be 0 (one per core) or more, got {workers}")
    workers = workers or (1 if executor == "serial" else min(available_cores(), s.candidates))
    per_trial = threads or _share_of_cores(workers)
    trial_executor = make_executor(executor, workers, ray_address, threads_per_trial=per_trial)
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=quiet, transient=False,
    )

    def on_open(stored: "RunProgress") -> None:
        """The store opened (or was refused before anything was printed): say what runs, then show progress."""
        console.print(
            f"[bold]AutoShrink[/] {t.task} search on [cyan]{t.dataset}[/]: N={s.nodes}, K={s.candidates}, "
            f"lambda={s.lam}, resource={s.resource}, seed={s.seed}"
            f"{', bf16' if getattr(t.training, 'precision', 'fp32') == 'bf16' else ''} -> {out}"
        )
        if stored.trials:
            console.print(f"resuming: {stored.trials} finished trials in {out} are read back, not trained again"
                          + (f" (of {stored.failed} failed, all but divergences are retried)" if stored.failed else ""))
        progress.start()

    with trial_executor:
        edges_bar = progress.add_task("edges removed", total=s.nodes * (s.nodes - 1) // 2)
        step_bar = progress.add_task("candidates", total=1)
        state: dict[str, int | None] = {"edges0": None}

        def on_step(step: int, n: int, edges_left: int, round_name: str) -> None:
            if state["edges0"] is None:
                state["edges0"] = edges_left
                progress.update(edges_bar, total=edges_left)
            progress.update(edges_bar, completed=state["edges0"] - edges_left)
            label = "complete DAG" if step == 0 else f"step {step} {STEP_ROUNDS.get(round_name, round_name)}"
            progress.reset(step_bar, total=n, description=label)

        try:
            summary = run_autoshrink(
                cfg, out, trial_executor, force_new=force_new, on_open=on_open, on_step=on_step,
                on_trial_done=lambda c: progress.advance(step_bar),
                on_confirm_start=lambda n: progress.reset(step_bar, total=n, description="confirm trainings"),
                on_confirm_trial=lambda: progress.advance(step_bar),
            )
            progress.update(edges_bar, completed=state["edges0"])
        finally:
            if progress.live.is_started:
                progress.stop()
    _print_summary(summary, out)


def _fit_unset_proxy(task: dict) -> None:
    """An unset proxy size is the dataset's fitting one (the paper's where it holds it); a given one is kept, and
    stays an error where it does not fit."""
    from .config import ImageTask
    from .data.images import fitting_proxy

    dataset = task.get("dataset", ImageTask.model_fields["dataset"].default)
    if isinstance(dataset, str) and not {"proxy_train", "proxy_val"} <= task.keys():
        n_train, n_val = fitting_proxy(dataset)
        task.setdefault("proxy_train", n_train)
        task.setdefault("proxy_val", n_val)


def _rnn_search_defaults(search: dict) -> None:
    """The authors' RNN search: 6 nodes, parameters as the resource, stop once a quarter of the edges is left."""
    search.setdefault("resource", "params")
    nodes = search.setdefault("nodes", 6)
    if isinstance(nodes, int):  # anything else is reported by the settings validation
        search.setdefault("stop_edges", round(0.25 * nodes * (nodes - 1) / 2))


def _print_summary(summary: dict, out: Path) -> None:
    best, full = summary["best"], summary["complete_dag"]
    text = best["val_acc"] is None and best.get("val_ppl") is not None
    table = Table(title="AutoShrink result")
    for col in ("cell", "edges", "val_ppl" if text else "val_acc", "MACs/token" if text else "MACs", "params", "S"):
        table.add_column(col, justify="right")
    for name, c in (("complete DAG", full), ("best", best)):
        perf = c["val_ppl"] if text else c["val_acc"]
        shown = "-" if perf is None else (f"{perf:.2f}" if text else f"{perf:.4f}")
        table.add_row(name, str(c["n_edges"]), shown, _fmt_macs(c["macs"]), _fmt_params(c["params"]), f"{c['S']:.4f}")
    console.print(table)
    if summary.get("confirm"):
        _print_confirm(summary["confirm"]["finalists"], text)
    console.print(f"best cell: {Topology.from_dict(best['cell'])}", markup=False)
    reused, confirm = summary.get("trials_from_store", 0), summary.get("confirm")
    retrained = summary.get("retrained_steps")
    console.print(
        f"{summary['trials']} trials ({summary['failed_trials']} failed"
        + (f"; step{'s' * (len(retrained) > 1)} {', '.join(map(str, retrained))} re-trained from scratch after "
           "every fine-tune collapsed" if retrained else "")
        + (f"; {summary['screening_trials']} had a screening fine-tune first" if summary.get("screening_trials") else "")
        + ")"
        + (f" and {len(confirm['finalists']) * len(confirm['seeds'])} confirm trainings" if confirm else "")
        + (f", {reused} read back from the store," if reused else "")
        + f" in {summary['wall_seconds']:.1f} s; run directory: {out}"
    )
    if summary.get("stopped_early"):
        console.print(f"[yellow]stopped early: {summary['stopped_early']}[/]")


def _print_confirm(finalists: list[dict], text: bool) -> None:
    """The confirm stage's finalists, best first: the first is the final cell."""
    table = Table(title="confirmed on fresh seeds (from scratch); the first is the final cell")
    for col in ("step", "edges", "MACs/token" if text else "MACs", "S in search", "S fresh", "mean S"):
        table.add_column(col, justify="right")
    for f in finalists:
        fresh = " ".join("failed" if s is None else f"{s:.4f}" for s in f["S_fresh"])
        table.add_row(str(f["step"]), str(f["n_edges"]), _fmt_macs(f["macs"]), f"{f['S']:.4f}", fresh,
                      _fmt_score(f["S_fresh_mean"]))
    console.print(table)


# -------------------------------------------------------------------------------------------------- runs
@runs_app.command("ls")
def runs_ls(directory: Path = typer.Argument(Path("runs"), help="a run directory, or a folder of them")) -> None:
    """List runs with their state and progress."""
    from .run.store import RunStore, find_runs

    table = Table(title=f"runs in {directory}", box=box.SIMPLE_HEAD)
    for col in ("run", "method", "state", "steps", "trainings", "best S", "time", "updated"):
        table.add_column(col, justify="left" if col in ("run", "method", "state") else "right")
    unreadable = []
    for path in find_runs(directory):
        try:
            with RunStore.read(path) as store:
                p = store.progress()
        except ShrinkNASError as exc:
            unreadable.append(str(exc))
            table.add_row(_run_name(path, directory), "?", "damaged", *["-"] * 5)
            continue
        trials = f"{p.trials} ({p.failed} failed)" if p.failed else str(p.trials)
        table.add_row(_run_name(path, directory), p.method, p.state, _fmt_steps(p), trials,
                      _fmt_score(p.best_score), _fmt_seconds(p.trial_seconds), _fmt_when(p.updated, short=True))
    if not table.rows:
        console.print(f"no runs in {directory}")
        return
    console.print(table)
    if unreadable:
        raise BadInputError(f"{len(unreadable)} unreadable run(s); first: {unreadable[0]}")


@runs_app.command("show")
def runs_show(
    directory: Path = typer.Argument(..., help="a run directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """One run's settings, progress and the cell kept at every step."""
    from dataclasses import asdict

    from .run.store import RunStore

    with RunStore.read(directory) as store:
        p, config, steps = store.progress(), store.config(), store.steps()
    if as_json:
        _emit_json({**asdict(p), "path": str(p.path), "config": config, "steps": steps})
        return
    console.print(f"{p.path}: {p.method} run, {p.state}", markup=False)
    confirmed = f" + {p.confirm_trainings} confirm trainings" if p.confirm_trainings else ""
    # the store counts trainings: a step re-trained from scratch (--scratch-if-drop) adds its collapsed fine-tunes
    console.print(f"steps {p.steps_done}, trainings {p.trials - p.confirm_trainings}{confirmed} ({p.failed} failed), "
                  f"best S {_fmt_score(p.best_score)}, trial time {_fmt_seconds(p.trial_seconds)}, "
                  f"started {_fmt_when(p.started)}, last update {_fmt_when(p.updated)}", markup=False)
    if p.confirm_trainings:
        final_step = next((row["step"] for row in steps if row["key"] == p.final_key), None)
        console.print("final cell (confirm stage): " + (
            f"step {final_step}'s, mean S {_fmt_score(p.final_score)} on fresh seeds" if final_step is not None
            else "every finalist failed, so the best S above"), markup=False)
    if p.round_label and p.state != "finished":
        console.print(f"last round of trainings: {p.round_label}, {p.round_done} of {p.round_total} finished "
                      f"(round started {_fmt_when(p.round_started)})", markup=False)
    table = Table(title="kept candidate of every step")
    for col in ("step", "edges", "val_acc", "val_ppl", "MACs", "params", "S"):
        table.add_column(col, justify="right")
    for row in steps:
        table.add_row(str(row["step"]), str(len(row["topology"]["edges"])), _fmt_float(row["val_acc"]),
                      _fmt_float(row["val_ppl"], 2), _fmt_macs(row["macs"]), _fmt_params(row["params"]),
                      _fmt_score(row["score"]))
    console.print(table)
    if p.state in ("interrupted", "stopped", "failed"):
        console.print("resume it by running the same search command with the same --out", markup=False)


@runs_app.command("plot")
def runs_plot(
    directory: Path = typer.Argument(..., help="a run directory (finished or still running)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="image to write (png, svg, pdf; default DIR/trajectory.png)"),
) -> None:
    """Draw a search's trajectory: every candidate's S by step, the kept path, re-trained steps, finalists."""
    from .report.trajectory import draw_trajectory

    path = output or directory / "trajectory.png"
    draw_trajectory(directory, path)
    console.print(f"drawn to {path}", markup=False)


def _run_name(path: Path, root: Path) -> str:
    return str(path) if path == root else path.name


def _fmt_float(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _fmt_score(value: float | None) -> str:
    return _fmt_float(value)


def _fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _fmt_steps(p: "RunProgress") -> str:
    """Steps done, and for a run not finished how far its round under way is: ``4 (+9/10)``."""
    under_way = p.round_total and p.state != "finished" and p.round_done < p.round_total
    return f"{p.steps_done} (+{p.round_done}/{p.round_total})" if under_way else str(p.steps_done)


def _fmt_when(timestamp: float | None, short: bool = False) -> str:
    """``short``: the time of day for today, the date otherwise."""
    import datetime

    if timestamp is None:
        return "-"
    when = datetime.datetime.fromtimestamp(timestamp)
    if not short:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%H:%M" if when.date() == datetime.date.today() else "%Y-%m-%d")


# ------------------------------------------------------------------------------------------------- train
def _task_of(topo: Topology, task: Optional[str]) -> str:
    """The cell's kind decides the task; an explicit --task must agree with it."""
    if task is not None and task != topo.kind:
        raise BadInputError(f"the cell's kind is {topo.kind} but --task {task} was given; use --task {topo.kind}")
    return topo.kind


@app.command()
def train(
    cell: Path = typer.Argument(..., help="cell JSON (or a run directory: its best cell)"),
    task: Optional[str] = typer.Option(None, help="cnn | rnn (default: the cell's kind)"),
    dataset: Optional[str] = typer.Option(
        None, help="cnn: digits | fashion-mnist | cifar10:DIR | cifar100:DIR (default digits); rnn: fortunes | ptb:DIR | text:DIR (default fortunes)"
    ),
    cells_per_stage: int = typer.Option(1, help="cnn: T cells stacked per stage"),
    width_mult: float = typer.Option(1.0, help="cnn: width multiplier of the Table 1 network"),
    hidden: int = typer.Option(745, help="rnn: embedding = hidden size (ShrinkRNN: 745)"),
    vocab: int = typer.Option(10000, help="rnn: vocabulary cap, <unk> and <eos> included"),
    epochs: Optional[int] = typer.Option(None, help="training epochs (default: cnn 20, rnn 8000 as DARTS, i.e. until stopped)"),
    lr: Optional[float] = typer.Option(None, help="cnn: Adam learning rate, cosine decay (4e-3); rnn: SGD then ASGD (20)"),
    batch_size: Optional[int] = typer.Option(None, help="default: cnn 128, rnn 64"),
    augment: bool = typer.Option(False, help="cnn: random crop and horizontal flip"),
    precision: str = typer.Option("fp32", help=PRECISION_HELP),
    act: str = typer.Option("relu", help="cnn: relu | swish"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    threads: int = typer.Option(0, help="torch threads (0: torch's default)"),
    out: Optional[Path] = typer.Option(None, help="write result.json and weights here"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Train the network built from a cell on the full training set; report test accuracy (cnn) or validation
    and test perplexity (rnn, the paper's recipe: dropouts, weight decay, SGD then NT-ASGD), and the size."""
    topo = load_cell(cell)
    _set_threads(threads)
    if _task_of(topo, task) == "rnn":
        _train_language(topo, dataset or "fortunes", hidden, vocab, epochs, lr, batch_size, seed, device, out, as_json)
        return
    from .config import ImageTraining
    from .train.final import train_final

    epochs = 20 if epochs is None else epochs
    settings = validated(
        ImageTraining,
        {"epochs": epochs, "lr": 4e-3 if lr is None else lr, "batch_size": batch_size or 128, "augment": augment,
         "schedule": "cosine", "patience": epochs + 1, "early_exit_acc": 0.0, "precision": precision},
        "train",
    )
    _warn_slow_bf16(settings.precision, device)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=as_json) as progress:
        bar = progress.add_task("epochs", total=epochs)
        report = train_final(
            topo, dataset or "digits", settings, cells_per_stage=cells_per_stage, width_mult=width_mult, act=act,
            seed=seed, device=device, out=out,
            on_epoch=lambda e, m: progress.update(bar, completed=e, description=f"epoch {e} test_acc {m['val_acc']:.4f}"),
        )
    if as_json:
        _emit_json(report)
        return
    console.print(
        f"test_acc {report['test_acc']:.4f}  MACs {_fmt_macs(report['macs'])}  params {_fmt_params(report['params'])}  "
        f"({report['seconds']:.1f} s)"
    )


def _train_language(
    topo: Topology, dataset: str, hidden: int, vocab: int, epochs: Optional[int], lr: Optional[float],
    batch_size: Optional[int], seed: int, device: str, out: Optional[Path], as_json: bool,
) -> None:
    from .config import SHRINKRNN_FINAL_TRAINING, TextTask
    from .train.final import train_final_language

    training = SHRINKRNN_FINAL_TRAINING.model_dump()
    training.update({k: v for k, v in {"epochs": epochs, "lr": lr, "batch_size": batch_size}.items() if v is not None})
    settings = validated(
        TextTask,
        {"dataset": dataset, "hidden": hidden, "vocab_size": vocab, "device": device, "training": training},
        "train",
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=as_json) as progress:
        bar = progress.add_task("epochs", total=settings.training.epochs)
        report = train_final_language(
            topo, settings, seed=seed, out=out,
            on_epoch=lambda e, m: progress.update(
                bar, completed=e, description=f"epoch {e} val_ppl {m['val_ppl']:.2f} ({m['optimizer']})"
            ),
        )
    if as_json:
        _emit_json(report)
        return
    console.print(
        f"val_ppl {report['val_ppl']:.2f}  test_ppl {report['test_ppl']:.2f}  params {_fmt_params(report['params'])}  "
        f"MACs/token {_fmt_macs(report['macs'])}  ({report['epochs']} epochs, {report['seconds']:.1f} s)"
    )


# ----------------------------------------------------------------------------------------------- profile
@app.command()
def profile(
    cell: Path = typer.Argument(..., help="cell JSON (or a run directory)"),
    task: Optional[str] = typer.Option(None, help="cnn | rnn (default: the cell's kind)"),
    macro: str = typer.Option("cifar", help="cnn: cifar | imagenet"),
    act: str = typer.Option("relu", help="cnn: relu | swish (ShrinkCNN-B)"),
    hidden: int = typer.Option(745, help="rnn: embedding = hidden size (ShrinkRNN: 745)"),
    vocab: int = typer.Option(10000, help="rnn: vocabulary size (PTB: 10000)"),
    latency: bool = typer.Option(False, help="cnn: also measure batch-1 CPU latency"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Params and MACs of the macro network (cnn) or the language model (rnn) built from a cell."""
    topo = load_cell(cell)
    if _task_of(topo, task) == "rnn":
        _profile_language(topo, hidden, vocab, latency, as_json)
        return
    from .nets.cnn import preset_network
    from .resources import count, measure_latency

    net, shape = preset_network(topo, macro, act)
    counts = count(net, shape)
    report: dict[str, Any] = {"macro": macro, "input": list(shape), "params": counts.params, "macs": counts.macs,
                              "memory_bytes": counts.memory_bytes}
    lines = [f"{macro} network, input {'x'.join(map(str, shape))}: params {_fmt_params(counts.params)}, "
             f"MACs {_fmt_macs(counts.macs)}"]
    if latency:
        report["latency_seconds"] = measure_latency(net, shape)
        lines.append(f"latency (batch 1): {report['latency_seconds'] * 1e3:.2f} ms")
    _emit_profile(topo, report, lines, as_json)


def _profile_language(topo: Topology, hidden: int, vocab: int, latency: bool, as_json: bool) -> None:
    from .nets.rnn import count_language_model

    if latency:
        raise BadInputError("--latency measures image networks; drop it for rnn cells")
    if hidden < 1 or vocab < 2:
        raise BadInputError("--hidden must be at least 1 and --vocab at least 2")
    counts = count_language_model(topo, hidden, vocab)
    report = {"task": "rnn", "hidden": hidden, "vocab_size": vocab, "edges": counts.edges, "params": counts.params,
              "macs_per_token": counts.macs_per_token}
    _emit_profile(topo, report, [f"language model, hidden {hidden}, vocabulary {vocab}: "
                                 f"params {_fmt_params(counts.params)}, MACs/token {_fmt_macs(counts.macs_per_token)}"],
                  as_json)


def _emit_profile(topo: Topology, report: dict[str, Any], lines: list[str], as_json: bool) -> None:
    """Both profiles end alike: the report as one JSON object, or the cell followed by its summary lines."""
    if as_json:
        _emit_json(report)
        return
    console.print(str(topo), markup=False)
    for line in lines:
        console.print(line)


# -------------------------------------------------------------------------------------------------- show
@app.command()
def show(
    cell: Path = typer.Argument(..., help="cell JSON (or a run directory)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="draw the cell to this image (png, svg, pdf)"),
) -> None:
    """Print a cell's ops and edges; draw it with -o."""
    topo = load_cell(cell)
    live = topo.reachable()
    leaves = set(topo.leaves())
    table = Table(title=f"{topo.kind} cell, {len(topo.edges)} edges")
    for col in ("node", "op", "inputs", "role"):
        table.add_column(col)
    for i, op in enumerate(topo.ops):
        first = "input" if topo.kind == "cnn" else "highway from x, h_prev"
        role = first if i == 0 else ("unreachable" if i not in live else ("output (leaf)" if i in leaves else ""))
        table.add_row(str(i), op, ", ".join(map(str, topo.predecessors(i))), role)
    console.print(table)
    console.print("edges: " + (" ".join(f"{u}->{v}" for u, v in topo.edges) or "(none)"))
    if output is not None:
        from .report.cell import draw_cell

        draw_cell(topo, output)
        console.print(f"drawn to {output}")


# -------------------------------------------------------------------------------------------------- main
INTERRUPTED = 130


def _interrupted_message(argv: list[str]) -> str:
    """For a search: the command that resumes it (the same one, without --force-new, which would start over)."""
    if argv[:1] != ["search"]:
        return "interrupted"
    again = shlex.join(["shrinknas", *(a for a in argv if a != "--force-new")])
    return f"interrupted; every finished trial is saved. resume with: {again}"


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="shrinknas", standalone_mode=False)
    except ShrinkNASError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except TyperException as exc:  # typer vendors click: its usage errors derive from TyperException
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            console.print(ctx.get_help(), markup=False, highlight=False)
            sys.exit(0)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        code = INTERRUPTED
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into this exit code
        err.print(_interrupted_message(sys.argv[1:] if argv is None else argv), markup=False, soft_wrap=True)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
