"""The `shrinknas` command on recurrent cells: a tiny language-model search, final training, profile, show."""

import json
import math

import pytest


WORDS = "the quick brown fox jumps over a lazy dog".split()
SHRINKRNN = {"kind": "rnn", "ops": ["tanh", "identity", "sigmoid", "sigmoid", "tanh", "identity"],
             "edges": [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [1, 3], [1, 4], [1, 5], [2, 4], [2, 5], [3, 4], [3, 5]]}


@pytest.fixture
def text_dir(tmp_path):
    root = tmp_path / "text"
    root.mkdir()
    lines = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(6)).capitalize() + "." for i in range(60)]
    (root / "train.txt").write_text("\n".join(lines[:40]))
    (root / "valid.txt").write_text("\n".join(lines[40:50]))
    (root / "test.txt").write_text("\n".join(lines[50:]))
    return root


@pytest.fixture
def shrinkrnn_file(tmp_path):
    path = tmp_path / "shrinkrnn.json"
    path.write_text(json.dumps(SHRINKRNN))
    return path


def test_rnn_search_end_to_end_then_train_the_found_cell(cli, tmp_path, text_dir):
    out_dir = tmp_path / "run"
    code, out, err = cli("search", "autoshrink", "--task", "rnn", "--dataset", f"text:{text_dir}",
                         "--nodes", 3, "--candidates", 2, "--epochs", 1, "--hidden", 8, "--vocab", 20,
                         "--batch-size", 4, "--proxy-size", 30, "--proxy-val", 8, "--seed", 2, "--out", out_dir,
                         "--quiet")
    assert code == 0, err
    summary = json.loads((out_dir / "summary.json").read_text())
    lines = [json.loads(x) for x in (out_dir / "trajectory.jsonl").read_text().splitlines()]
    # 3 nodes, 3 edges; the authors' stop keeps round(3 / 4) = 1 edge (a removal may cut off a node, and its
    # edges with it, so one step can be enough)
    assert lines[0]["n_edges"] == 3 and len(lines) == summary["trials"] == 1 + 2 * summary["steps"]
    assert min(x["n_edges"] for x in lines[-2:]) <= 1
    assert all(x["status"] == "ok" and x["val_ppl"] > 1 for x in lines)
    hidden = 8
    for x in lines:  # the authors' score: 0.25 (200 - ppl) - (log10(edges * hidden^2) - 6)
        expected = 0.25 * (200 - x["val_ppl"]) - (math.log10(x["n_edges"] * hidden**2) - 6)
        assert x["S"] == pytest.approx(expected)
    assert "val_ppl" in out and f"{summary['best']['val_ppl']:.2f}" in out
    best = json.loads((out_dir / "architecture.json").read_text())
    assert best["kind"] == "rnn" and len(best["ops"]) == 3

    # the confirm stage on the finished run: the finalists re-trained, scored by perplexity like the search
    code, out, err = cli("search", "autoshrink", "--task", "rnn", "--dataset", f"text:{text_dir}",
                         "--nodes", 3, "--candidates", 2, "--epochs", 1, "--hidden", 8, "--vocab", 20,
                         "--batch-size", 4, "--proxy-size", 30, "--proxy-val", 8, "--seed", 2, "--out", out_dir,
                         "--quiet", "--confirm-top", 2, "--confirm-seeds", 1)
    assert code == 0, err
    confirmed = json.loads((out_dir / "summary.json").read_text())
    finalists = confirmed["confirm"]["finalists"]
    assert confirmed["trials_trained"] == len(finalists) == 2 and "mean S" in out
    for f in finalists:
        (ppl,) = f["val_ppl_fresh"]
        assert f["S_fresh_mean"] == pytest.approx(0.25 * (200 - ppl) - (math.log10(f["n_edges"] * hidden**2) - 6))
    assert json.loads((out_dir / "architecture.json").read_text()) == finalists[0]["genome"] == confirmed["best"]["genome"]

    code, out, err = cli("train", out_dir, "--dataset", f"text:{text_dir}", "--hidden", 8,
                         "--vocab", 20, "--epochs", 2, "--batch-size", 4, "--json", "--out", tmp_path / "final")
    assert code == 0, err
    report = json.loads(out)
    assert report["epochs"] == 2 and report["test_ppl"] > 1 and report["training"]["dropout"] == 0.75
    assert (tmp_path / "final" / "weights.pt").exists()


def test_profile_published_shrinkrnn(cli, shrinkrnn_file):
    code, out, err = cli("profile", shrinkrnn_file, "--hidden", 745, "--classes", 10000, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["edges"] == 12 and abs(report["params"] - 23e6) < 0.03 * 23e6


def test_show_draws_an_rnn_cell(cli, shrinkrnn_file, tmp_path):
    code, out, err = cli("show", shrinkrnn_file, "-o", tmp_path / "cell.png")
    assert code == 0, err
    assert "highway" in out and (tmp_path / "cell.png").stat().st_size > 0


def test_options_of_another_kind_of_architecture_are_refused(cli, shrinkrnn_file):
    code, _, err = cli("profile", shrinkrnn_file, "--cells-per-stage", 2)
    assert code == 2 and "--cells-per-stage does not apply to rnn architectures" in err and "--hidden" in err


def test_missing_fortunes_directory_is_one_line(cli, tmp_path, shrinkrnn_file):
    code, _, err = cli("train", shrinkrnn_file, "--dataset", f"fortunes:{tmp_path / 'none'}", "--epochs", 1)
    assert code == 2 and "fortunes" in err and err.count("\n") == 1


def test_rnn_flags_are_refused_for_image_searches(cli, tmp_path):
    code, _, err = cli("search", "autoshrink", "--hidden", 10, "--out", tmp_path)
    assert code == 2 and "--task rnn" in err


def test_weight_inheritance_is_refused_for_rnn_searches(cli, tmp_path):
    code, _, err = cli("search", "autoshrink", "--task", "rnn", "--protocol", "inherit", "--out", tmp_path / "r")
    assert code == 2 and "--protocol paper" in err
