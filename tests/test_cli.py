"""The `shrinknas` command as a user runs it: exit codes, printed numbers, run-directory files."""

import json
import re
import subprocess
import sys

import pytest
import torch
import yaml

from shrinknas.run import hardware
from shrinknas.genome.dag_cell import Topology


SHRINK_A = {"kind": "cnn", "ops": ["input", "sepconv3x3", "sepconv3x3", "sepconv3x3", "conv1x1"],
            "edges": [[0, 1], [0, 2], [1, 2], [0, 3], [0, 4], [3, 4]]}


@pytest.fixture
def cell_file(tmp_path):
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(SHRINK_A))
    return path


def test_search_writes_a_run_directory_that_reproduces_the_printout(tmp_path, cli):
    out_dir = tmp_path / "run"
    code, out, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 4, "--candidates", 2,
                         "--epochs", 1, "--proxy-size", 200, "--batch-size", 64, "--seed", 1, "--out", out_dir,
                         "--quiet")
    assert code == 0, err
    config = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert config["search"]["nodes"] == 4 and config["task"]["proxy_val"] == 40
    lines = [json.loads(x) for x in (out_dir / "trajectory.jsonl").read_text().splitlines()]
    summary = json.loads((out_dir / "summary.json").read_text())
    assert len(lines) == summary["trials"]
    assert {"step", "removed_edge", "edges", "val_acc", "macs", "params", "S", "seconds", "status", "kept", "from_scratch"} <= set(lines[0])
    # inherit: step 0 from scratch; later steps fine-tuned, or re-trained whole when all their fine-tunes collapsed
    assert lines[0]["from_scratch"] and config["search"]["scratch_if_drop"] == 0.15
    assert all(len({x["from_scratch"] for x in lines if x["step"] == s}) == 1 for s in {x["step"] for x in lines})
    # one kept row per step, and each step's candidates are the previous step's kept cell minus one edge
    kept = {x["step"]: x for x in lines if x["kept"]}
    assert sorted(kept) == sorted({x["step"] for x in lines})
    ops = Topology.from_dict(json.loads((out_dir / "architecture.json").read_text())).ops
    for x in lines:
        if x["step"] > 0:
            parent = Topology("cnn", ops, tuple(map(tuple, kept[x["step"] - 1]["edges"])))
            assert [list(e) for e in parent.without(tuple(x["removed_edge"])).edges] == x["edges"]
    best_line = max((x for x in lines if x["status"] == "ok"), key=lambda x: (x["S"], -x["n_edges"]))
    assert summary["search_best"]["S"] >= best_line["S"] - 1e-12  # eq. (7)
    # the fast default confirms its best kept cells on fresh seeds, at most K (2) trainings; the best mean is final
    assert config["confirm"] == {"top": 2, "seeds": 1} and len(summary["confirm"]["finalists"]) == 2
    # and its fine-tunes are a fifth of the shortest training from scratch: 3 epochs of 4 batches of 64
    assert config["task"]["training"]["finetune_steps"] == 3
    best_cell = json.loads((out_dir / "architecture.json").read_text())
    assert best_cell == summary["best"]["genome"] == summary["confirm"]["finalists"][0]["genome"]
    assert f"{summary['best']['val_acc']:.4f}" in out and str(out_dir) in out.replace("\n", "")
    assert summary["machine"] == hardware.describe()  # where it ran: another CPU kind rounds differently


def test_the_readme_first_command_runs_with_a_proxy_fitted_to_digits(tmp_path, cli):
    out_dir = tmp_path / "x"
    code, out, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 4, "--candidates", 2,
                         "--epochs", 2, "--out", out_dir)
    assert code == 0, err
    task = yaml.safe_load((out_dir / "config.yaml").read_text())["task"]
    assert (task["proxy_train"], task["proxy_val"]) == (1150, 230)  # the largest 5:1 proxy digits holds
    said = out.replace("\n", " ")
    assert said.count("the largest class-balanced one it holds, 1150 train + 230 val") == 1 and "final cell" in said


def test_an_explicit_proxy_that_does_not_fit_stays_an_error(tmp_path, cli):
    code, _, err = cli("search", "autoshrink", "--dataset", "digits", "--proxy-size", 5000, "--out", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and "lower the proxy size" in err


def test_a_tiny_search_on_the_embedded_fashion_mnist_subset_runs(tmp_path, cli):
    out_dir = tmp_path / "mini"
    code, _, err = cli("search", "autoshrink", "--dataset", "fashion-mnist-mini", "--nodes", 3, "--candidates", 1,
                       "--epochs", 1, "--proxy-size", 100, "--confirm-top", 1, "--confirm-seeds", 1, "--workers", 1,
                       "--out", out_dir, "--quiet")
    assert code == 0, err
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["best"]["macs"] > 0
    assert yaml.safe_load((out_dir / "config.yaml").read_text())["task"]["dataset"] == "fashion-mnist-mini"


def test_paper_protocol_keeps_the_papers_pick(tmp_path, cli):
    out_dir = tmp_path / "paper"
    code, _, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 3, "--candidates", 1, "--epochs", 1,
                       "--proxy-size", 100, "--protocol", "paper", "--out", out_dir, "--quiet")
    assert code == 0, err
    assert yaml.safe_load((out_dir / "config.yaml").read_text())["confirm"]["top"] == 0
    assert "confirm" not in json.loads((out_dir / "summary.json").read_text())


def test_bad_flag_is_one_line_and_exit_2(cli):
    code, out, err = cli("search", "autoshrink", "--nodes", "many")
    assert code == 2 and err.count("\n") == 1 and "--nodes" in err


@pytest.mark.parametrize(
    "flag, value", [("--resource", "watts"), ("--finetune-schedule", "linear"), ("--path-dropout", "1.5"),
                    ("--confirm-top", "-1"), ("--confirm-seeds", "0"), ("--scratch-if-drop", "1.5"),
                    ("--scratch-if-drop", "never"), ("--finetune-steps-per-cut-edge", "-1"),
                    ("--finetune-max-steps", "10"),  # below the default 24 fine-tune steps
                    ("--screen-steps", "24"), ("--screen-steps", "0"), ("--screen-top", "0"), ("--precision", "fp16")]
)
def test_invalid_setting_is_exit_2(cli, tmp_path, flag, value):
    code, _, err = cli("search", "autoshrink", flag, value, "--out", tmp_path)
    assert code == 2 and err.count("\n") == 1 and flag.lstrip("-").split("-")[-1] in err


def test_retraining_from_scratch_is_refused_without_inheritance(cli, tmp_path):
    code, _, err = cli("search", "autoshrink", "--protocol", "paper", "--scratch-if-drop", 0.1, "--out", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "needs --protocol inherit" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has the GPU the test asks for")
@pytest.mark.parametrize("task", ["cnn", "rnn"])
def test_absent_gpu_is_one_line_before_anything_runs(cli, tmp_path, task):
    code, _, err = cli("search", "autoshrink", "--task", task, "--device", "cuda", "--out", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and "no CUDA GPU" in err
    assert not (tmp_path / "r" / "trials.sqlite").exists()


def test_bad_config_yaml_is_exit_2(cli, tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("search: [unclosed\n")
    code, _, err = cli("search", "autoshrink", "--config", bad, "--out", tmp_path / "r")
    assert code == 2 and "not valid YAML" in err
    bad.write_text("search:\n  nodez: 4\n")
    code, _, err = cli("search", "autoshrink", "--config", bad, "--out", tmp_path / "r")
    assert code == 2 and "nodez" in err


def test_missing_dataset_names_what_to_do(cli, tmp_path):
    code, _, err = cli("train", tmp_path / "none.json")
    assert code == 2 and "does not exist" in err
    (tmp_path / "c.json").write_text(json.dumps(SHRINK_A))
    code, _, err = cli("train", tmp_path / "c.json", "--dataset", f"fashion-mnist:{tmp_path / 'nowhere'}")
    assert code == 2 and "dataset-fashion-mnist" in err


@pytest.mark.parametrize("text", ["{", "[]", '{"kind": "cnn", "ops": ["input"], "edges": [[0, 0]]}', "\x00\xff"])
def test_malformed_cell_file_is_exit_2(cli, tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_bytes(text.encode("latin-1"))
    code, _, err = cli("show", path)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_profile_shrinkcnn_a_json(cli, cell_file):
    code, out, _ = cli("profile", cell_file, "--macro", "imagenet", "--json")
    report = json.loads(out)
    assert code == 0 and report["params"] == 3_636_301 and report["macs"] == 383_677_672


def test_profile_text_names_the_cell_and_its_cost(cli, cell_file):
    code, out, _ = cli("profile", cell_file, "--macro", "imagenet")
    assert code == 0 and "sepconv3x3" in out and "params 3.636 M" in out and "MACs 383.68 M" in out


def test_module_entry_point_runs_the_cli(cell_file):
    done = subprocess.run([sys.executable, "-m", "shrinknas", "profile", str(cell_file), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["params"] > 0


def test_show_draws_and_lists(cli, cell_file, tmp_path):
    png = tmp_path / "cell.png"
    code, out, _ = cli("show", cell_file, "-o", png)
    assert code == 0 and png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "0->1" in out and "sepconv3x3" in out


def test_train_reports_test_accuracy(cli, cell_file, tmp_path):
    code, out, err = cli("train", cell_file, "--dataset", "digits", "--epochs", 2, "--batch-size", 32, "--json", "--out",
                         tmp_path / "t")
    assert code == 0, err
    report = json.loads(out)
    assert 0.3 < report["test_acc"] <= 1 and report["params"] > 0 and report["epochs"] == 2
    assert json.loads((tmp_path / "t" / "result.json").read_text())["test_acc"] == report["test_acc"]
    import torch

    state = torch.load(tmp_path / "t" / "weights.pt", weights_only=True)
    assert any(re.match(r"cells\.\d+\.ops", k) for k in state)


def test_train_in_bf16_says_so_and_learns(cli, cell_file, tmp_path):
    code, out, err = cli("train", cell_file, "--dataset", "digits", "--epochs", 2, "--batch-size", 32, "--json",
                         "--precision", "bf16")
    assert code == 0, err
    report = json.loads(out)
    assert report["precision"] == "bf16" and 0.3 < report["test_acc"] <= 1
    code, _, err = cli("train", cell_file, "--dataset", "digits", "--precision", "fp8")
    assert code == 2 and err.count("\n") == 1 and "precision" in err


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_bf16_warns_that_it_is_slower(cli, cell_file, monkeypatch, native):
    from shrinknas.run import hardware

    monkeypatch.setattr(hardware, "native_bf16", lambda: native)
    code, _, err = cli("train", cell_file, "--dataset", "digits", "--epochs", 1, "--batch-size", 64, "--json",
                       "--precision", "bf16")
    assert code == 0 and ("no native bf16" in err) is not native


def test_inherit_protocol_fine_tunes_candidates_briefly(tmp_path, cli):
    out_dir = tmp_path / "inherit"
    code, _, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 4, "--candidates", 2,
                       "--epochs", 3, "--proxy-size", 200, "--batch-size", 64, "--protocol", "inherit",
                       "--finetune-steps", 2, "--finetune-steps-per-cut-edge", 1, "--finetune-max-steps", 3,
                       "--leaf-handover", "--scratch-if-drop", "off", "--out", out_dir, "--quiet")
    assert code == 0, err
    lines = [json.loads(x) for x in (out_dir / "trajectory.jsonl").read_text().splitlines()]
    assert lines[0]["step"] == 0 and lines[0]["epochs"] >= 1
    assert all(x["epochs"] == 1 and not x["from_scratch"] for x in lines[1:])  # 2-3 steps of 64 images: one epoch
    stored = yaml.safe_load((out_dir / "config.yaml").read_text())
    training = stored["task"]["training"]
    assert stored["search"]["protocol"] == "inherit" and training["leaf_handover"] is True
    assert (training["finetune_steps_per_cut_edge"], training["finetune_max_steps"]) == (1, 3)
    assert stored["search"]["scratch_if_drop"] is None  # off: never re-trained, the run keyed as before the option


def test_steps_retrained_from_scratch_are_named_in_the_summary_and_the_printout(tmp_path, cli):
    """A drop of 0 and one fine-tune step make the tiny search re-train steps (fine-tunes fall below the parent)."""
    out_dir = tmp_path / "retrained"
    code, out, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 4, "--candidates", 2, "--epochs", 1,
                         "--proxy-size", 200, "--batch-size", 64, "--finetune-steps", 1, "--scratch-if-drop", 0,
                         "--confirm-top", 0, "--out", out_dir, "--quiet")
    assert code == 0, err
    lines = [json.loads(x) for x in (out_dir / "trajectory.jsonl").read_text().splitlines()]
    retrained = sorted({x["step"] for x in lines if x["from_scratch"] and x["step"] > 0})
    summary = json.loads((out_dir / "summary.json").read_text())
    assert retrained and summary["retrained_steps"] == retrained
    named = f"step{'s' * (len(retrained) > 1)} {', '.join(map(str, retrained))} re-trained from scratch"
    assert named in out.replace("\n", " ")


def test_a_screened_search_records_both_fine_tunes_and_counts_their_seconds(tmp_path, cli):
    """The rows of a screened step carry the short fine-tune; the summary's trial seconds include it; the figure marks
    the candidates that had the short one alone."""
    from shrinknas.report.trajectory import trajectory_figure

    out_dir = tmp_path / "screened"
    code, printed, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 4, "--candidates", 3, "--epochs", 1,
                             "--proxy-size", 200, "--batch-size", 32, "--finetune-steps", 4, "--screen-steps", 1,
                             "--screen-top", 1, "--scratch-if-drop", "off", "--confirm-top", 0, "--out", out_dir, "--quiet")
    assert code == 0, err
    rows = [json.loads(x) for x in (out_dir / "trajectory.jsonl").read_text().splitlines()]
    screened = [r for r in rows if "screen_S" in r]
    out = [r for r in screened if r["screened_out"]]
    assert out and all(r["S"] == r["screen_S"] and r["seconds"] == r["screen_seconds"] and not r["kept"] for r in out)
    assert all(sum(not r["screened_out"] for r in screened if r["step"] == step) == 1
               for step in {r["step"] for r in screened})
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["screening_trials"] == len(screened)
    assert f"{len(screened)} had a screening fine-tune first" in printed.replace("\n", " ")
    extra = sum(r["screen_seconds"] for r in screened if not r["screened_out"])
    assert summary["trial_seconds"] == pytest.approx(sum(r["seconds"] for r in rows) + extra, abs=1e-2)
    assert yaml.safe_load((out_dir / "config.yaml").read_text())["search"]["screen_steps"] == 1
    top = next(ax for ax in trajectory_figure(rows, summary).axes if ax.get_label() == "scores")
    hollow = next(c for c in top.collections if c.get_label() == "screened out (short fine-tune)")
    assert hollow.get_offsets().tolist() == [[r["step"], r["S"]] for r in out]


def test_screening_is_refused_without_inheritance(cli, tmp_path):
    code, _, err = cli("search", "autoshrink", "--protocol", "paper", "--screen-steps", 8, "--out", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "needs --protocol inherit" in err


def test_screen_pass_cuts_reaches_the_run_and_is_refused_without_a_screen(cli, tmp_path):
    code, _, err = cli("search", "autoshrink", "--screen-pass-cuts", "--out", tmp_path / "no_screen")
    assert code == 2 and err.count("\n") == 1 and "needs screen_steps" in err
    out_dir = tmp_path / "pass_cuts"
    code, _, err = cli("search", "autoshrink", "--dataset", "digits", "--nodes", 3, "--candidates", 2, "--epochs", 1,
                       "--proxy-size", 200, "--batch-size", 32, "--finetune-steps", 2, "--screen-steps", 1,
                       "--screen-top", 1, "--screen-pass-cuts", "--confirm-top", 0, "--out", out_dir, "--quiet")
    assert code == 0, err
    assert yaml.safe_load((out_dir / "config.yaml").read_text())["search"]["screen_pass_cuts"] is True
