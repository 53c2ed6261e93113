"""A run directory carries its data to every command that takes it, and nothing too large is ever built."""

import json
import sqlite3
import time
from contextlib import closing

import pytest

from shrinknas.errors import BadInputError, TooLargeError
from shrinknas.genome.dag_cell import Topology
from shrinknas.nets.deploy import build, network_spec
from shrinknas.run.store import RunStore

TINY = ["--dataset", "digits", "--nodes", 3, "--candidates", 2, "--epochs", 1, "--proxy-size", 200,
        "--batch-size", 64, "--confirm-top", 1, "--confirm-seeds", 1, "--quiet"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from shrinknas.cli import main

    out = tmp_path_factory.mktemp("runs") / "digits"
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "autoshrink", *map(str, TINY), "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def test_the_summary_records_the_data_and_the_architecture_file_the_answer(digits_run):
    summary = json.loads((digits_run / "summary.json").read_text())
    assert (summary["method"], summary["dataset"], summary["input_shape"], summary["n_classes"]) == \
        ("autoshrink", "digits", [1, 8, 8], 10)
    assert summary["class_names"] == [str(i) for i in range(10)]
    assert json.loads((digits_run / "architecture.json").read_text()) == summary["best"]["genome"]


def test_profile_and_train_use_the_runs_own_data(cli, digits_run, tmp_path):
    code, out, err = cli("profile", digits_run, "--json")
    assert code == 0, err
    assert json.loads(out)["input"] == [1, 8, 8]  # digits, not a 3x32x32 default
    code, out, err = cli("profile", digits_run, "--input-shape", "3,32,32", "--json")
    assert code == 0 and json.loads(out)["input"] == [3, 32, 32]  # unless told otherwise
    code, out, err = cli("train", digits_run, "--epochs", 1, "--json")
    assert code == 0, err
    assert json.loads(out)["dataset"] == "digits" and json.loads(out)["input_shape"] == [1, 8, 8]


def test_a_bare_cell_file_must_name_its_training_data(cli, tmp_path):
    path = tmp_path / "cell.json"
    path.write_text(Topology.complete("cnn", ("input", "conv1x1")).to_json())
    code, _, err = cli("train", path, "--epochs", 1)
    assert code == 2 and "--dataset" in err and err.count("\n") == 1


def test_runs_ls_scores_the_final_cell(cli, digits_run):
    code, out, _ = cli("runs", "ls", digits_run.parent)
    summary = json.loads((digits_run / "summary.json").read_text())
    final = summary["best"]["S_fresh_mean"]  # the confirm stage's pick, on fresh seeds, not the search's best
    assert code == 0 and f"{final:.4f}" in out and f"{summary['search_best']['S']:.4f}" not in out


def test_a_cell_too_large_for_memory_is_refused_in_a_second_before_anything_is_built(cli, tmp_path):
    nodes = 10_000
    cell = Topology("cnn", ("input",) + ("conv1x1",) * (nodes - 1), tuple((0, j) for j in range(1, nodes)))
    path = tmp_path / "huge.json"
    path.write_text(cell.to_json())
    start = time.perf_counter()
    code, out, err = cli("profile", path, "--json")
    assert code == 2 and out == "" and err.count("\n") == 1 and "GiB" in err and "limit" in err
    assert time.perf_counter() - start < 30  # a guard against building it, not a timing claim: building takes minutes
    with pytest.raises(TooLargeError):
        build(cell, None)


def test_the_size_estimate_of_a_cell_network_is_its_parameter_count():
    for cell, options in [(Topology.complete("cnn", ("input", "conv1x1", "sepconv3x3", "conv1x1")), {}),
                          (Topology("cnn", ("input", "sepconv5x5", "maxpool3x3", "avgpool3x3"), ((0, 1), (1, 3))),
                           {"cells_per_stage": 2, "width_mult": 1.5}),
                          (Topology("cnn", ("input", "conv1x1"), ()), {"macro": "imagenet"})]:
        from shrinknas.nets.deploy import estimate_size

        model, spec, shape = build(cell, {"input_shape": [1, 28, 28], "n_classes": 10}, **options)
        assert estimate_size("cnn", spec, shape).params == sum(p.numel() for p in model.parameters())


def test_options_of_another_kind_are_refused():
    cell = Topology.complete("cnn", ("input", "conv1x1"))
    with pytest.raises(BadInputError, match="--hidden does not apply to cnn architectures"):
        network_spec(cell, None, hidden=10)


def test_a_store_of_an_older_version_is_refused_in_one_line_saying_what_to_do(digits_run, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(digits_run, old)
    with closing(sqlite3.connect(old / "trials.sqlite")) as conn, conn:
        conn.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    with pytest.raises(BadInputError, match="older shrinknas .*--force-new") as info:
        RunStore.read(old)
    assert "\n" not in str(info.value)


def test_a_relative_dataset_path_is_recorded_absolute(cli, tmp_path, monkeypatch):
    import numpy as np
    import yaml

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    np.savez(tmp_path / "tiny.npz", x=rng.integers(0, 255, (len(y), 8, 8), dtype=np.uint8), y=y)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("search", "autoshrink", "--dataset", "npz:tiny.npz", "--nodes", 3, "--candidates", 2,
                       "--epochs", 1, "--proxy-size", 60, "--confirm-top", 0, "--quiet", "--out", "run")
    assert code == 0, err
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["task"]["dataset"]
    assert recorded == f"npz:{tmp_path / 'tiny.npz'}"
    monkeypatch.chdir(tmp_path.parent)  # a later command elsewhere still finds the data
    code, out, err = cli("profile", tmp_path / "run", "--json")
    assert code == 0 and json.loads(out)["input"] == [1, 8, 8], err
