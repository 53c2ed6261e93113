"""`shrinknas runs plot` on a real (tiny) search: the figure shows what the run directory's files say."""

import json

import pytest

from shrinknas.report.trajectory import pareto_front, trajectory_figure


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A default fast search small enough for a test; 1 fine-tune step and a drop of 0 make it re-train steps."""
    from shrinknas.cli import main

    out = tmp_path_factory.mktemp("plot") / "run"
    with pytest.raises(SystemExit) as done:
        main(["search", "autoshrink", "--dataset", "digits", "--nodes", "4", "--candidates", "2", "--epochs", "1",
              "--proxy-size", "200", "--batch-size", "64", "--finetune-steps", "1", "--scratch-if-drop", "0",
              "--out", str(out), "--quiet"])
    assert done.value.code == 0
    rows = [json.loads(x) for x in (out / "trajectory.jsonl").read_text().splitlines()]
    return out, rows, json.loads((out / "summary.json").read_text())


def _axes(fig, name):
    return next(ax for ax in fig.axes if ax.get_label() == name)


def _by_label(ax, label):
    return next(c for c in [*ax.lines, *ax.collections] if c.get_label() == label)


def test_the_figure_draws_the_kept_path_the_retrained_steps_and_the_finalists(tiny_run):
    _, rows, summary = tiny_run
    top = _axes(trajectory_figure(rows, summary), "scores")
    kept = sorted((r for r in rows if r["kept"]), key=lambda r: r["step"])
    line = _by_label(top, "kept cell")
    assert list(line.get_xdata()) == [r["step"] for r in kept] and list(line.get_ydata()) == [r["S"] for r in kept]
    retrained = [(r["step"], r["S"]) for r in rows if r["from_scratch"] and r["step"] > 0]
    assert retrained, "the run must re-train a step for this test to mean anything"
    markers = _by_label(top, "step re-trained from scratch").get_offsets().tolist()
    assert markers == [list(p) for p in retrained]
    stars = _by_label(top, "confirm stage: mean S on fresh seeds").get_offsets().tolist()
    assert stars == [[f["step"], f["S_fresh_mean"]] for f in summary["confirm"]["finalists"]]
    assert len(_by_label(top, "candidates").get_offsets()) == sum(r["status"] == "ok" for r in rows)


def test_runs_plot_writes_a_png_next_to_the_run(tiny_run, cli):
    out, _, _ = tiny_run
    code, stdout, err = cli("runs", "plot", out)
    png = out / "trajectory.png"
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and str(png) in stdout.replace("\n", "")


def test_a_folder_that_is_no_run_is_one_line_and_exit_2(cli, tmp_path):
    code, _, err = cli("runs", "plot", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "holds no run" in err


def test_a_run_without_a_trajectory_is_one_line_and_exit_2(cli, tmp_path):
    (tmp_path / "config.yaml").write_text("method: autoshrink\n")
    code, _, err = cli("runs", "plot", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "no trajectory" in err


def test_a_trajectory_written_before_the_kept_column_draws_each_steps_best(tiny_run):
    _, rows, _ = tiny_run
    old = [{k: v for k, v in r.items() if k != "kept"} for r in rows]
    line = _by_label(_axes(trajectory_figure(old), "scores"), "kept cell")
    best = {}
    for r in old:
        if r["status"] == "ok" and (r["step"] not in best or (r["S"], -r["n_edges"]) > best[r["step"]]):
            best[r["step"]] = (r["S"], -r["n_edges"])
    assert list(line.get_ydata()) == [best[s][0] for s in sorted(best)]


def test_the_pareto_front_is_every_cell_nothing_beats_on_both_macs_and_accuracy(tiny_run):
    _, rows, summary = tiny_run
    cells = [r for r in rows if r["status"] == "ok"]
    front = pareto_front(cells)

    def beaten(r):
        return any(o["macs"] <= r["macs"] and o["val_acc"] >= r["val_acc"] and
                   (o["macs"], o["val_acc"]) != (r["macs"], r["val_acc"]) for o in cells)

    assert front and not any(beaten(r) for r in front)
    on_front = {(r["macs"], r["val_acc"]) for r in front}  # one cell stands for cells with the same numbers
    assert all((r["macs"], r["val_acc"]) in on_front or beaten(r) for r in cells)
    drawn = _by_label(_axes(trajectory_figure(rows, summary), "pareto"), "Pareto front")
    assert list(drawn.get_xdata()) == [r["macs"] for r in front]


@pytest.mark.parametrize("name", ["plot.nosuchformat", "missing-folder/plot.png"])
def test_an_unwritable_drawing_is_one_line_and_exit_2(tiny_run, cli, tmp_path, name):
    out, _, _ = tiny_run
    code, _, err = cli("runs", "plot", out, "-o", tmp_path / name)
    assert code == 2 and err.count("\n") == 1 and "cannot write drawing" in err


def test_a_paper_protocol_run_has_no_retrained_steps_to_mark(tmp_path, cli):
    """Under the paper protocol every candidate trains from scratch: none of them is a re-trained step."""
    out = tmp_path / "paper"
    code, _, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 3, "--candidates", 1, "--epochs", 1,
                       "--proxy-size", 100, "--protocol", "paper", "--out", out, "--quiet")
    assert code == 0, err
    png = tmp_path / "t.svg"
    assert cli("runs", "plot", out, "-o", png)[0] == 0
    assert "step re-trained from scratch" not in png.read_text() and "kept cell" in png.read_text()
