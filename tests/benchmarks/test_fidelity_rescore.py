"""The README's ranking-fidelity numbers come from committed reports; re-summarising them must give them again.

``benchmarks/fidelity.py --rescore`` rebuilds every candidate's S from its stored val_acc and the MACs the run
counted, and recomputes every tau and winner. If the metric, the candidate sampling or the summary drifted, the
committed numbers would silently stop being what the code computes; these tests catch that, without training.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RESULTS = BENCHMARKS / "results"
sys.path.insert(0, str(BENCHMARKS))

import fidelity  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

REPORTS = sorted(RESULTS.glob("fidelity_fm8*.json")) + [RESULTS / "finetune_schedule_fm8.json"]
SUMMARY_FIELDS = ("variants", "S", "reference", "edges_cut_off", "scratch_best_S")


def run_folder(report: Path) -> Path:
    """The committed plain files of the run a report measured."""
    if "seed1_plain" in report.name:
        return RESULTS / "fm8_screen_seed1" / "plain"
    return RESULTS / ("fm8_intel" if "intel" in report.name else "fm8_screen" if "screen" in report.name else "fm8")


def mismatches(stored, fresh, path: str = "") -> list[str]:
    """Fields of ``stored`` that ``fresh`` lacks or disagrees on. Seconds were stored rounded to 0.1 s, so ratios
    of them agree to about 0.1 %; everything else must be equal."""
    if isinstance(stored, dict):
        return [m for key, value in stored.items()
                for m in ([f"{path}/{key} missing"] if key not in fresh else mismatches(value, fresh[key], f"{path}/{key}"))]
    if "seconds" in path and isinstance(stored, float):
        return [] if math.isclose(stored, fresh, rel_tol=2e-3) else [f"{path}: {stored} != {fresh}"]
    return [] if stored == fresh else [f"{path}: {stored} != {fresh}"]


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.stem)
def test_a_committed_report_rescores_to_its_own_numbers(report: Path) -> None:
    stored = json.loads(report.read_text())
    fresh = fidelity.rescore(report, run_folder(report))
    assert [s["step"] for s in fresh["steps"]] == [s["step"] for s in stored["steps"]]
    found = []
    for old, new in zip(stored["steps"], fresh["steps"]):
        found += mismatches({k: old[k] for k in SUMMARY_FIELDS if k in old}, new, f"step {old['step']}")
    assert not found, found[:5]


def test_a_cut_edge_rule_composed_from_fixed_budgets_gives_the_readme_figures() -> None:
    """AMD step 12: each candidate takes the fine-tune of the budget the rule gives it. The node-cutting removals
    (11 and 4 edges cut off) get 96 steps, the others keep 24; README: tau 0.38 against the full-schedule mean, and
    it picks the full schedule's best."""
    report = RESULTS / "fidelity_fm8_step12_budgets.json"
    (step,) = fidelity.rescore(report, run_folder(report), ((24, 48), (24, 96)))["steps"]
    assert step["edges_cut_off"] == [0, 0, 0, 0, 0, 11, 0, 0, 0, 4]
    acc = step["val_acc"]
    rule = acc["finetune_24_cut24to96"]
    assert rule == [acc["finetune_96"][i] if i in (5, 9) else acc["finetune_24"][i] for i in range(10)]
    assert acc["finetune_24_cut24to48"][5] == acc["finetune_48"][5]
    assert step["variants"]["finetune_24"]["kendall_tau_vs_scratch_mean"] == -0.022
    assert step["variants"]["finetune_24_cut24to96"]["kendall_tau_vs_scratch_mean"] == 0.378
    assert step["variants"]["finetune_24_cut24to96"]["scratch_mean_S_lost"] == 0.0


def test_a_rule_needing_a_budget_the_report_lacks_is_not_composed() -> None:
    report = RESULTS / "fidelity_fm8_step12_budgets.json"
    (step,) = fidelity.rescore(report, run_folder(report), ((24, 200),))["steps"]
    assert not any("cut24to200" in name for name in step["variants"])


def test_reference_ceiling_of_a_noiseless_reference_is_a_perfect_tau() -> None:
    seeds = [[0.1, 0.2, 0.3, 0.4]] * 3
    ceiling = fidelity.reference_ceiling([list(s) for s in seeds])
    assert ceiling["seed_sd"] == 0.0
    assert ceiling["tau_ceiling_vs_mean"] == 1.0


def test_reference_ceiling_of_pure_noise_is_zero() -> None:
    """Seeds that disagree more than the candidates differ: no ranking can be seen to agree with it."""
    seeds = [[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]]
    assert fidelity.reference_ceiling(seeds)["tau_ceiling_vs_mean"] == 0.0


def test_a_short_fine_tune_ranks_node_cutting_removals_lower_than_the_full_one() -> None:
    """README (screening, seed 1): along the default's path, the removals that take 2 or more further edges rank
    8th-10th of their step after 8 steps at 7 of 9 (mean 7.8), 4.4 on the mean after 24; an 8:3 screen keeps the
    default's pick at 6 of 16 steps."""
    report = RESULTS / "fidelity_fm8_seed1_plain_screen8.json"
    short_ranks, full_ranks, same = [], [], 0
    for step in fidelity.rescore(report, run_folder(report))["steps"]:
        short, full = step["S"]["finetune_8"], step["S"]["finetune_24"]
        by_short = sorted(range(len(short)), key=lambda i: short[i], reverse=True)
        by_full = sorted(range(len(full)), key=lambda i: full[i], reverse=True)
        cutting = [i for i, cut in enumerate(step["edges_cut_off"]) if cut >= 2]
        short_ranks += [by_short.index(i) + 1 for i in cutting]
        full_ranks += [by_full.index(i) + 1 for i in cutting]
        same += by_full[0] in by_short[:3]
    assert short_ranks == [9, 10, 8, 9, 9, 9, 8, 5, 3] and full_ranks == [4, 10, 1, 2, 9, 6, 1, 6, 1]
    assert same == 6
