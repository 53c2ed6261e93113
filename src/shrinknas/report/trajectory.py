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
from ..run.rundir import SUMMARY, RunDir  # noqa: E402
from ..search.autoshrink import preference  # noqa: E402

KEPT, CANDIDATE, RETRAINED, FINALIST = "#1f77b4", "#9e9e9e", "#ff7f0e", "#2ca02c"


def trajectory_figure(rows: list[dict[str, Any]], summary: dict[str, Any] | None = None, title: str = "") -> Figure:
    """``rows``: trajectory.jsonl's lines; ``summary``: summary.json, for the confirm stage's finalists."""
    usable = [r for r in rows if r.get("status") == "ok" and r.get("S") is not None and math.isfinite(r["S"])]
    kept = sorted((r for r in usable if r.get("kept")), key=lambda r: r["step"])
    if not any("kept" in r for r in rows):  # written before the column existed: each step kept its best
        kept = [max((r for r in usable if r["step"] == s), key=lambda r: preference(r["S"], r["n_edges"]))
                for s in sorted({r["step"] for r in usable})]
    if not kept:
        raise BadInputError("the trajectory has no kept cell yet: nothing to draw")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(2, 1),
                                      layout="constrained")
    top.scatter([r["step"] for r in usable], [r["S"] for r in usable], s=12, color=CANDIDATE, label="candidates")
    top.plot([r["step"] for r in kept], [r["S"] for r in kept], "-o", ms=4, color=KEPT, label="kept cell")
    retrained = [r for r in usable if r.get("from_scratch") and r["step"] > 0]
    if retrained:
        top.scatter([r["step"] for r in retrained], [r["S"] for r in retrained], s=30, facecolors="none",
                    edgecolors=RETRAINED, linewidths=1.5, label="step re-trained from scratch")
    finalists = ((summary or {}).get("confirm") or {}).get("finalists") or []
    fresh = [f for f in finalists if f.get("S_fresh_mean") is not None]
    if fresh:
        top.scatter([f["step"] for f in fresh], [f["S_fresh_mean"] for f in fresh], marker="*", s=140,
                    color=FINALIST, zorder=3, label="confirm stage: mean S on fresh seeds")
    best = (summary or {}).get("best")
    if best is not None:
        top.annotate(f"final cell: step {best['step']}, {best['n_edges']} edges", (best["step"], best["S"]),
                     xytext=(-12, -40), textcoords="offset points", ha="right", fontsize=8,
                     arrowprops={"arrowstyle": "->", "color": "#333333"},
                     bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc", "alpha": 0.9})
    top.set_ylabel("S, the search's score")
    top.legend(fontsize=8, loc="best")
    top.grid(alpha=0.3)
    top.set_title(title, fontsize=10)

    bottom.plot([r["step"] for r in kept], [r["macs"] for r in kept], "-o", ms=3, color=KEPT)
    bottom.set_yscale("log")
    bottom.set_ylabel("kept cell's MACs")
    edges = bottom.twinx()
    edges.step([r["step"] for r in kept], [r["n_edges"] for r in kept], where="post", color=CANDIDATE)
    edges.set_ylabel("edges", color=CANDIDATE)
    bottom.set_xlabel("shrink step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.grid(alpha=0.3)
    return fig


def draw_trajectory(run_dir: Path | str, path: Path | str) -> None:
    run = RunDir(run_dir)
    rows = run.read_trajectory()
    if not rows:
        raise BadInputError(f"{run.path} has no trajectory to draw; is it a run directory?")
    summary = run.read_json(SUMMARY) if run.file(SUMMARY).exists() else None
    fig = trajectory_figure(rows, summary, title=f"{run.path.name}: {len(rows)} trials")
    try:
        fig.savefig(path, dpi=110)
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot write {path}: {exc}") from None
    finally:
        plt.close(fig)
