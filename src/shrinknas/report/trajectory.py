"""A search's trajectory as one figure: every candidate's S by step, the kept path, the steps re-trained from
scratch, the confirm stage's finalists; below it, what the kept cell costs. Read from a run directory's files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..errors import BadInputError  # noqa: E402
from ..config import load_yaml  # noqa: E402
from ..run.rundir import CONFIG, SUMMARY, RunDir  # noqa: E402
from ..methods.autoshrink.loop import preference  # noqa: E402
from .figures import save_figure  # noqa: E402

KEPT, CANDIDATE, RETRAINED, FINALIST = "#1f77b4", "#9e9e9e", "#ff7f0e", "#2ca02c"


def trajectory_figure(rows: list[dict[str, Any]], summary: dict[str, Any] | None = None, title: str = "",
                      inheriting: bool = True) -> Figure:
    """``rows``: trajectory.jsonl's lines; ``summary``: summary.json, for the confirm stage's finalists and the final
    cell; ``inheriting``: a fast run, whose from-scratch steps after step 0 are re-trained ones (under the paper
    protocol every candidate trains from scratch). Axes are labelled ``scores``, ``cost`` and ``pareto``."""
    usable = [r for r in rows if r.get("status") == "ok" and r.get("S") is not None and math.isfinite(r["S"])]
    kept = sorted((r for r in usable if r.get("kept")), key=lambda r: r["step"])
    if not any("kept" in r for r in rows):  # written before the column existed: each step kept its best
        kept = [max((r for r in usable if r["step"] == s), key=lambda r: preference(r["S"], r["n_edges"]))
                for s in sorted({r["step"] for r in usable})]
    if not kept:
        raise BadInputError("the trajectory has no kept cell yet: nothing to draw")
    fig = plt.figure(figsize=(13, 6.5), layout="constrained")
    axes = fig.subplot_mosaic([["scores", "pareto"], ["cost", "pareto"]], width_ratios=(3, 2),
                              height_ratios=(2, 1), sharex=False)
    for name, ax in axes.items():
        ax.set_label(name)
    axes["cost"].sharex(axes["scores"])
    best = (summary or {}).get("best")
    retrained = [r for r in usable if inheriting and r.get("from_scratch") and r["step"] > 0]
    _draw_scores(axes["scores"], usable, kept, retrained, summary, best)
    _draw_cost(axes["cost"], kept)
    _draw_pareto(axes["pareto"], usable, best)
    fig.suptitle(title, fontsize=10)
    return fig


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trained cells no other beats on both MACs (fewer) and quality (higher accuracy, lower perplexity),
    cheapest first."""
    front: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r["macs"], -_quality(r))):
        if not front or _quality(r) > _quality(front[-1]):
            front.append(r)
    return front


def _quality(row: dict[str, Any]) -> float:
    return row["val_acc"] if row.get("val_acc") is not None else -row["val_ppl"]


def _draw_scores(ax: Any, usable: list[dict], kept: list[dict], retrained: list[dict], summary: dict | None,
                 best: dict | None) -> None:
    full = [r for r in usable if not r.get("screened_out")]
    short = [r for r in usable if r.get("screened_out")]
    ax.scatter([r["step"] for r in full], [r["S"] for r in full], s=12, color=CANDIDATE, label="candidates")
    if short:  # their S is a screening fine-tune's, shorter than the others'
        ax.scatter([r["step"] for r in short], [r["S"] for r in short], s=12, facecolors="none", edgecolors=CANDIDATE,
                   label="screened out (short fine-tune)")
    ax.plot([r["step"] for r in kept], [r["S"] for r in kept], "-o", ms=4, color=KEPT, label="kept cell")
    if retrained:
        ax.scatter([r["step"] for r in retrained], [r["S"] for r in retrained], s=30, facecolors="none",
                   edgecolors=RETRAINED, linewidths=1.5, label="step re-trained from scratch")
    finalists = ((summary or {}).get("confirm") or {}).get("finalists") or []
    fresh = [f for f in finalists if f.get("S_fresh_mean") is not None]
    if fresh:
        ax.scatter([f["step"] for f in fresh], [f["S_fresh_mean"] for f in fresh], marker="*", s=140,
                   color=FINALIST, zorder=3, label="confirm stage: mean S on fresh seeds")
    if best is not None:
        ax.annotate(f"final cell: step {best['step']}, {best['n_edges']} edges", (best["step"], best["S"]),
                    xytext=(-12, -40), textcoords="offset points", ha="right", fontsize=8,
                    arrowprops={"arrowstyle": "->", "color": "#333333"},
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc", "alpha": 0.9})
    ax.set_ylabel("S, the search's score")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)


def _draw_cost(ax: Any, kept: list[dict]) -> None:
    ax.plot([r["step"] for r in kept], [r["macs"] for r in kept], "-o", ms=3, color=KEPT)
    ax.set_yscale("log")
    ax.set_ylabel("kept cell's MACs")
    edges = ax.twinx()
    edges.step([r["step"] for r in kept], [r["n_edges"] for r in kept], where="post", color=CANDIDATE)
    edges.set_ylabel("edges", color=CANDIDATE)
    ax.set_xlabel("shrink step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _draw_pareto(ax: Any, usable: list[dict], best: dict | None) -> None:
    """Every trained cell by cost and quality: what the search saw on its way, and which cells nothing beat."""
    text = all(r.get("val_acc") is None for r in usable)
    quality = "val_ppl" if text else "val_acc"
    ax.scatter([r["macs"] for r in usable], [r[quality] for r in usable], s=12, color=CANDIDATE,
               label="trained cells")
    front = pareto_front(usable)
    ax.step([r["macs"] for r in front], [r[quality] for r in front], "-o", where="post", ms=4, color=KEPT,
            label="Pareto front")
    if best is not None and best.get(quality) is not None:
        ax.scatter([best["macs"]], [best[quality]], marker="D", s=60, facecolors="none", edgecolors="#d62728",
                   linewidths=1.5, zorder=3, label="final cell")
    ax.set_xscale("log")
    if text:
        ax.invert_yaxis()  # up is better on both panels
    ax.set_xlabel("MACs" + (" per token" if text else ""))
    ax.set_ylabel(quality + (" (lower is better)" if text else ""))
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)


def draw_trajectory(run_dir: Path | str, path: Path | str) -> None:
    run = RunDir(run_dir)
    rows = run.read_trajectory()
    if not rows:
        raise BadInputError(f"{run.path} has no trajectory to draw; is it a run directory?")
    summary = run.read_json(SUMMARY) if run.file(SUMMARY).exists() else None
    config = load_yaml(run.file(CONFIG)) if run.file(CONFIG).exists() else None
    protocol = ((config or {}).get("search") or {}).get("protocol") if isinstance(config, dict) else None
    fig = trajectory_figure(rows, summary, title=f"{run.path.name}: {len(rows)} trials",
                            inheriting=protocol != "paper")
    save_figure(fig, path, dpi=110)
