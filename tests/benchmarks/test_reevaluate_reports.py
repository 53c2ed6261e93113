"""README's tables of whole searches with an option against the default ("Half the fine-tune steps", "Removals that
cut off a node", "bf16 arithmetic") come from committed re-evaluation reports; each report must have re-trained the final cells of the
committed run folders it names, agree with the earlier reports where it re-trained the same cell with the same seeds,
and give the table's numbers."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import networkx as nx
import pytest

from shrinknas.genome.dag_cell import Topology

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"

# report, by search seed 0-2 -> {run folder it names (where it ran) -> the committed copy of that run}; the
# default first
FT12_REPORTS = {
    "reevaluate_fm8_ft12_vs_plain.json": {"runs/fm8_plain": "fm8_plain", "runs/fm8s0_ft12": "fm8_ft12"},
    "reevaluate_fm8_seed1_ft12_vs_plain.json": {"runs/fm8s1_plain": "fm8_screen_seed1/plain",
                                                "runs/fm8s1_ft12": "fm8_seed1_ft12"},
    "reevaluate_fm8_seed2_ft12_vs_plain.json": {"runs/fm8s2_plain": "fm8_seed2", "runs/fm8s2_ft12": "fm8_seed2_ft12"},
}
CUT_EDGE_REPORTS = {
    "reevaluate_fm8_cutedge_vs_plain.json": {"runs/fm8_plain": "fm8_plain", "runs/fm8s0_cutedge": "fm8_cutedge"},
    "reevaluate_fm8_seed1_cutedge_vs_plain.json": {"runs/fm8s1_plain": "fm8_screen_seed1/plain",
                                                   "runs/fm8s1_cutedge": "fm8_seed1_cutedge"},
    "reevaluate_fm8_seed2_cutedge_vs_plain.json": {"runs/fm8s2_plain": "fm8_seed2",
                                                   "runs/fm8s2_cutedge": "fm8_seed2_cutedge"},
}
# the same option at N=5, each run re-trained alone (seeds 0-2)
CUT_EDGE_N5_REPORTS = {f"reevaluate_fm5_seed{seed}_cutedge.json": {f"runs/fm5s{seed}_cutedge": f"fm5_cutedge_seed{seed}"}
                       for seed in range(3)}
# bf16 searches (seeds 0-2), each re-trained alone in fp32; the default's cells are those of the reports above
BF16_REPORTS = {f"reevaluate_fm8{'' if seed == 0 else f'_seed{seed}'}_bf16.json":
                {f"runs/fm8s{seed}_bf16": f"fm8_bf16{'' if seed == 0 else f'_seed{seed}'}"} for seed in range(3)}
BF16_N5_REPORTS = {f"reevaluate_fm5_seed{seed}_bf16.json": {f"runs/fm5s{seed}_bf16": f"fm5_bf16_seed{seed}"}
                   for seed in range(3)}
# both options together (N=8 seed 0): it ended on the bf16 run's own cell
BF16_CUT_EDGE_REPORTS = {"reevaluate_fm8_bf16_cutedge.json": {"runs/fm8s0_bf16_cutedge": "fm8_bf16_cutedge"}}
REPORTS = {**FT12_REPORTS, **CUT_EDGE_REPORTS, **CUT_EDGE_N5_REPORTS, **BF16_REPORTS, **BF16_N5_REPORTS,
           **BF16_CUT_EDGE_REPORTS}
Judged = tuple[str, str]  # (report, run): one final cell's fresh scores


def pairs(reports: dict[str, dict[str, str]]) -> list[tuple[Judged, Judged]]:
    """(the default's, the option's) final cell per search seed, from reports that judged both together."""
    return [tuple((report, run) for run in runs) for report, runs in reports.items()]  # type: ignore[misc]


# README section -> (the default's, the option's) final cell per search seed
SECTIONS = {
    "### Half the fine-tune steps": pairs(FT12_REPORTS),
    "### Removals that cut off a node": pairs(CUT_EDGE_REPORTS),
    "### bf16 arithmetic": [(default, (report, run)) for (default, _), (report, runs) in
                            zip(pairs(CUT_EDGE_REPORTS), BF16_REPORTS.items()) for run in runs],
}


def cells(report: str) -> dict[str, dict]:
    return {c["run"]: c for c in json.loads((RESULTS / report).read_text())["cells"]}


def readme_section(heading: str) -> str:
    return (ROOT / "README.md").read_text().split(heading, 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_a_report_re_trained_the_final_cells_of_its_committed_runs(report: str) -> None:
    for run, cell in cells(report).items():
        final = json.loads((RESULTS / REPORTS[report][run] / "summary.json").read_text())["best"]
        assert cell["cell"] == final["cell"] and cell["macs"] == final["macs"]
        assert cell["S_in_search"] == round(final["S"], 4)
        assert len(cell["S_fresh"]) == 4
        assert cell["S_fresh_mean"] == pytest.approx(statistics.mean(cell["S_fresh"]), abs=1e-4)


@pytest.mark.parametrize(("report", "earlier", "run"), [
    ("reevaluate_fm8_ft12_vs_plain.json", "reevaluate_fm8_screen_vs_plain.json", "runs/fm8_plain"),
    ("reevaluate_fm8_seed1_ft12_vs_plain.json", "reevaluate_fm8_seed1_screen_vs_plain.json", "runs/fm8s1_plain"),
    ("reevaluate_fm8_cutedge_vs_plain.json", "reevaluate_fm8_ft12_vs_plain.json", "runs/fm8_plain"),
    ("reevaluate_fm8_seed1_cutedge_vs_plain.json", "reevaluate_fm8_seed1_ft12_vs_plain.json", "runs/fm8s1_plain"),
    ("reevaluate_fm8_seed2_cutedge_vs_plain.json", "reevaluate_fm8_seed2_ft12_vs_plain.json", "runs/fm8s2_plain"),
])
def test_the_default_cell_scores_on_fresh_seeds_as_it_did_in_an_earlier_session(report: str, earlier: str,
                                                                               run: str) -> None:
    """Same cell, same derived seeds, same kind of machine: the re-evaluation is deterministic across sessions."""
    assert cells(report)[run]["S_fresh"] == cells(earlier)[run]["S_fresh"]


def live_graph(cell: dict) -> nx.DiGraph:
    """The network a cell builds: its edges between nodes reachable from the input, nodes labelled by op."""
    topology = Topology.from_dict(cell).pruned()
    graph = topology.to_networkx()
    return graph.subgraph({0} | {n for edge in topology.edges for n in edge})


def same_net(a: dict, b: dict) -> bool:
    return nx.is_isomorphic(live_graph(a), live_graph(b), node_match=lambda x, y: x["op"] == y["op"])


@pytest.mark.parametrize(("heading", "seed"), [(h, seed) for h in ("### Removals that cut off a node",
                                                                   "### bf16 arithmetic") for seed in range(3)])
def test_where_the_default_and_the_option_end_on_the_same_net_it_scores_the_same(heading: str, seed: int) -> None:
    """README: at the seeds where an option's search ends on the default's net under other node numbers, the two
    cells are the same graph of the same ops and train to the same fresh scores (in fp32, whatever the search's
    arithmetic)."""
    default, option = (cells(report)[run] for report, run in SECTIONS[heading][seed])
    same = same_net(default["cell"], option["cell"])
    assert same == (default["S_fresh"] == option["S_fresh"])
    row = next(line for line in readme_section(heading).splitlines() if line.startswith(f"| {seed} |"))
    assert ("the same net" in row) == same


def test_the_readme_gives_the_n5_bf16_runs_fresh_scores_next_to_the_default_cells_on_the_same_machine() -> None:
    """The default's N=5 cells on the bf16 runs' machine kind: seed 0 re-trained there, seed 1 (its run there) and
    seed 2 (its AVX2 run) the bf16 search's own net, so the bf16 report's scores are the default cell's."""
    bf16 = [cells(report)[run] for report, runs in BF16_N5_REPORTS.items() for run in runs]
    default_runs = ["fm5_screen_seed0/plain", "fm5_screen_seed1/plain", "fm5_protocols/last_step/step_rescue_seed2"]
    finals = [json.loads((RESULTS / run / "summary.json").read_text())["best"]["cell"] for run in default_runs]
    assert [same_net(final, row["cell"]) for final, row in zip(finals, bf16)] == [False, True, True]
    seed0 = {c["which"]: c for c in json.loads((RESULTS / "reevaluate_fm5_seed0_plain_finalists.json").read_text())["cells"]}
    assert seed0["best"]["cell"] == finals[0]
    defaults = [seed0["best"]["S_fresh_mean"], bf16[1]["S_fresh_mean"], bf16[2]["S_fresh_mean"]]
    section = readme_section("### bf16 arithmetic")
    for label, means in (("the default", defaults), ("**bf16**", [row["S_fresh_mean"] for row in bf16])):
        row = next(line for line in section.splitlines() if line.startswith(f"| {label}: S on 4 fresh seeds |"))
        printed = [float(x) for x in re.findall(r"(?<![\d.])(0\.\d{3})(?![\d])", row)]
        assert printed == [round(m, 3) for m in means] + [round(statistics.mean(means), 3)]


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_the_readme_table_gives_the_reports_fresh_scores(heading: str) -> None:
    section = readme_section(heading)
    table = {int(m[0]): (float(m[1]), float(m[2]))
             for m in re.findall(r"^\| (\d) \|.*\| \*\*(0\.\d+) / (0\.\d+)\*\* \|$", section, flags=re.M)}
    assert sorted(table) == [0, 1, 2]
    for seed, judged in enumerate(SECTIONS[heading]):
        default, option = (cells(report)[run]["S_fresh_mean"] for report, run in judged)
        assert table[seed] == (round(default, 3), round(option, 3))


@pytest.mark.parametrize(("report", "run", "run_folder"), [
    ("reevaluate_fm8_plain_finalists.json", "runs/fm8_plain", "fm8_plain"),
    ("reevaluate_fm5_seed0_plain_finalists.json", "runs/fm5s0_plain", "fm5_screen_seed0/plain"),
])
def test_a_finalists_report_judged_every_finalist_of_the_run_and_the_final_cell_as_before(
        report: str, run: str, run_folder: str) -> None:
    """``--finalists`` re-trains each confirm finalist once; the final cell, with the same derived seeds, scores as
    in the report that judged it alone (at N=5 too: the same 2-edge net, the same seed-0 proxy)."""
    rows = {c["which"]: c for c in json.loads((RESULTS / report).read_text())["cells"]}
    summary = json.loads((RESULTS / run_folder / "summary.json").read_text())
    others = [f for f in summary["confirm"]["finalists"] if f["cell"] != summary["best"]["cell"]]
    assert len(others) == 2 and set(rows) == {"best"} | {f"finalist_step_{f['step']}" for f in others}
    for finalist in others:
        assert rows[f"finalist_step_{finalist['step']}"]["cell"] == finalist["cell"]
    assert rows["best"]["cell"] == summary["best"]["cell"] and all(r["run"] == run for r in rows.values())
    assert rows["best"]["S_fresh"] == cells("reevaluate_fm8_ft12_vs_plain.json")["runs/fm8_plain"]["S_fresh"]


def test_the_readme_gives_the_n5_option_runs_fresh_scores() -> None:
    section = readme_section("### Removals that cut off a node")
    row = next(line for line in section.splitlines() if line.startswith("| **with the option** |"))
    printed = [float(x) for x in re.findall(r"\*\*(0\.\d+)\*\*", row)]
    means = [cells(report)[run]["S_fresh_mean"] for report, runs in CUT_EDGE_N5_REPORTS.items() for run in runs]
    assert printed == [round(m, 3) for m in means] + [round(statistics.mean(means), 3)]


def test_bf16_with_the_node_cutting_fine_tune_ends_on_the_bf16_runs_cell_and_the_readme_says_so() -> None:
    both = cells("reevaluate_fm8_bf16_cutedge.json")["runs/fm8s0_bf16_cutedge"]
    bf16 = cells("reevaluate_fm8_bf16.json")["runs/fm8s0_bf16"]
    assert both["cell"] == bf16["cell"] and both["S_fresh"] == bf16["S_fresh"]
    paragraph = readme_section("### bf16 arithmetic").split("**With the node-cutting fine-tune too**", 1)[1]
    assert f"**{both['S_fresh_mean']:.3f}** on the 4 fresh seeds" in paragraph.split("\n\n", 1)[0]
