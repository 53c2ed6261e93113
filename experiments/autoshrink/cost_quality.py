"""What each way of searching costs and what its cell is worth, at the paper's settings (N=8, K=10), in one figure.

Each point is one whole search: x, its trial seconds on one core (the shrink loop and the confirm stage, from the run's
``summary.json``); y, the mean S of its final cell re-trained from scratch on 4 fresh seeds (``reevaluate.py``
reports), the fair way to compare searches (a search's own best S is a maximum over noisy trainings). Every search
below ran on the same kind of machine (an AMD EPYC with AVX-512), seeds 0-2, so both axes compare. The dashed line is
one point of S below the default's mean: the issue's bar for "as good". The faithful
search (every candidate from scratch, the paper's schedule) ran at seed 0.
Usage: python experiments/autoshrink/cost_quality.py --out experiments/autoshrink/cost/cost_quality_fm8.json  (draws the .png beside it)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from emit import emit  # experiments/autoshrink/emit.py

#: the committed run folders, and the re-evaluation reports that judged their final cells on fresh seeds
FOLDERS = Path(__file__).resolve().parent / "searches"
JUDGED = Path(__file__).resolve().parent / "fresh_seeds"


def seeds_0_to_2(way: str, folder: str, report: str, run: str) -> list[tuple[str, int, str, str, str]]:
    """One option's three searches, named alike: ``{s}`` is the seed's suffix (none for seed 0, else _seedN) and
    ``{n}`` the seed itself."""
    return [(way, n, folder.format(s=s, n=n), report.format(s=s, n=n), run.format(s=s, n=n))
            for n, s in enumerate(("", "_seed1", "_seed2"))]


#: (way of searching, search seed, committed run folder, re-evaluation report, the run's name in that report)
SEARCHES = [
    ("default", 0, "fm8_plain", "reevaluate_fm8_cutedge_vs_plain.json", "runs/fm8_plain"),
    ("default", 1, "fm8_screen_seed1/plain", "reevaluate_fm8_seed1_cutedge_vs_plain.json", "runs/fm8s1_plain"),
    ("default", 2, "fm8_seed2", "reevaluate_fm8_seed2_cutedge_vs_plain.json", "runs/fm8s2_plain"),
    *seeds_0_to_2("--precision bf16", "fm8_bf16{s}", "reevaluate_fm8{s}_bf16.json", "runs/fm8s{n}_bf16"),
    *seeds_0_to_2("node-cutting fine-tune", "fm8{s}_cutedge", "reevaluate_fm8{s}_cutedge_vs_plain.json",
                  "runs/fm8s{n}_cutedge"),
    *seeds_0_to_2("--finetune-steps 12", "fm8{s}_ft12", "reevaluate_fm8{s}_ft12_vs_plain.json", "runs/fm8s{n}_ft12"),
    ("screening 8:3", 0, "fm8_screen", "reevaluate_fm8_screen_vs_plain.json", "runs/fm8_screen"),
    ("screening 8:3", 1, "fm8_screen_seed1/screen", "reevaluate_fm8_seed1_screen_vs_plain.json", "runs/fm8s1_screen"),
    ("bf16 + node-cutting", 0, "fm8_bf16_cutedge", "reevaluate_fm8_bf16_cutedge.json", "runs/fm8s0_bf16_cutedge"),
    ("faithful (--protocol paper)", 0, "fm8_paper", "reevaluate_fm8_faithful.json", "runs/fm8s0_paper"),
]


def search_point(way: str, seed: int, folder: str, report: str, run: str) -> dict:
    summary = json.loads((FOLDERS / folder / "summary.json").read_text())
    confirm = (summary.get("confirm") or {}).get("trial_seconds") or 0.0
    judged = json.loads((JUDGED / report).read_text())
    (cell,) = [c for c in judged["cells"] if c["run"] == run and c["which"] == "best"]
    if cell["cell"] != summary["best"]["cell"]:
        raise SystemExit(f"{report} judged another cell of {run} than {folder}'s final cell")
    return {"way": way, "seed": seed, "folder": folder, "trial_seconds": round(summary["trial_seconds"] + confirm, 1),
            "edges": cell["edges"], "macs": cell["macs"], "S_fresh_mean": cell["S_fresh_mean"]}


def by_way(points: list[dict]) -> dict[str, dict]:
    ways: dict[str, list[dict]] = {}
    for p in points:
        ways.setdefault(p["way"], []).append(p)
    return {way: {"seeds": [p["seed"] for p in ps],
                  "trial_seconds_mean": round(statistics.fmean(p["trial_seconds"] for p in ps), 1),
                  "S_fresh_mean": round(statistics.fmean(p["S_fresh_mean"] for p in ps), 4)}
            for way, ps in ways.items()}


def draw(points: list[dict], means: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    fig, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
    colors = dict(zip(means, plt.get_cmap("tab10").colors))
    markers = {0: "o", 1: "s", 2: "^"}
    for p in points:
        ax.scatter(p["trial_seconds"], p["S_fresh_mean"], color=colors[p["way"]], marker=markers.get(p["seed"], "o"),
                   s=40, alpha=0.7)
    for way, m in means.items():
        ax.scatter(m["trial_seconds_mean"], m["S_fresh_mean"], color=colors[way], marker="*", s=260,
                   edgecolor="black", linewidth=0.6, label=f"{way} (mean of seeds {', '.join(map(str, m['seeds']))})")
    bar = means["default"]["S_fresh_mean"] - 0.01
    ax.axhline(bar, color="grey", linestyle="--", linewidth=0.8)
    ax.text(0.01, bar, "one point of S below the default", transform=ax.get_yaxis_transform(), va="top",
            fontsize=8, color="grey")
    seconds = [p["trial_seconds"] for p in points]
    if max(seconds) > 4 * min(seconds):  # a from-scratch search beside the fast ones
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([1000, 2000, 3000, 5000, 10000, 20000, 30000, 50000]))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("trial seconds on one core (search + confirm stage)")
    ax.set_ylabel("final cell: mean S on 4 fresh seeds")
    ax.set_title("N=8, K=10 on Fashion-MNIST, AMD EPYC (AVX-512): seed 0 o, 1 s, 2 ^", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=None, help="JSON report; the figure is drawn beside it as .png")
    args = parser.parse_args()
    points = [search_point(*search) for search in SEARCHES]
    means = by_way(points)
    if args.out:
        draw(points, means, Path(args.out).with_suffix(".png"))
    emit({"searches": points, "by_way": means}, args.out)


if __name__ == "__main__":
    main()
