import dataclasses
import os
import random
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from shrinknas.errors import BadInputError, IncompatibleRunError
from shrinknas.run.store import SCHEMA_VERSION, STORE_NAME, RunStore, find_runs
from shrinknas.run.trial import TrialResult

from fake_trials import make_specs

CONFIG = {"search": {"nodes": 4, "seed": 0}, "task": {"dataset": "digits", "epochs": 1}}


def _result(spec, acc=0.5, status="ok", error=None):
    return TrialResult(spec.key(), status, metrics={"val_acc": acc, "macs": 1000, "params": 10, "epochs": 2}, seconds=1.5, error=error)


def _filled_store(run_dir: Path, n: int = 3) -> list:
    specs = make_specs(n)
    with RunStore.open(run_dir, "autoshrink", CONFIG) as store:
        for i, spec in enumerate(specs):
            store.put(spec, _result(spec, acc=i / 10))
    return specs


def test_a_committed_trial_is_read_back_by_a_new_connection(tmp_path):
    specs = make_specs(2)
    store = RunStore.open(tmp_path, "autoshrink", CONFIG)
    store.put(specs[0], _result(specs[0], acc=0.75))
    store.put(specs[1], _result(specs[1], status="failed", acc=None, error="diverged: loss nan"))
    # read back before closing: what is committed must already be on disk for another process
    other = sqlite3.connect(tmp_path / STORE_NAME)
    assert other.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 2
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other.close()
    store.close()

    with RunStore.open(tmp_path, "autoshrink", CONFIG) as again:
        assert again.get(specs[0].key()) == _result(specs[0], acc=0.75)
        failed = again.get(specs[1].key())
        assert failed.status == "failed" and failed.error == "diverged: loss nan"
        assert again.get("no-such-key") is None
        assert [r.key for r in again.results()] == [s.key() for s in specs]
        row = again.trial_rows()[0]
        assert row["seed"] == 0 and '"conv1x1"' in row["genome"] and row["created"] > 0


def test_a_key_keeps_its_first_result(tmp_path):
    spec = make_specs(1)[0]
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        store.put(spec, _result(spec, acc=0.1))
        store.put(spec, _result(spec, acc=0.9))
        assert store.get(spec.key()).metric("val_acc") == 0.1
        assert len(store.results()) == 1


def test_a_result_of_another_spec_is_refused(tmp_path):
    a, b = make_specs(2)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store, pytest.raises(ValueError):
        store.put(a, _result(b))


def test_progress_counts_trials_and_their_seconds(tmp_path):
    _filled_store(tmp_path, 3)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        store.put(make_specs(4)[3], _result(make_specs(4)[3], status="failed", error="boom"))
        progress = store.progress()
    assert (progress.trials, progress.failed) == (4, 1)
    assert progress.trial_seconds == pytest.approx(6.0)
    assert progress.method == "autoshrink" and progress.state == "running"


def test_what_long_trials_and_methods_keep_survives_a_new_connection(tmp_path):
    from shrinknas.run.store import read_checkpoint, write_checkpoint, write_intermediate

    with RunStore.open(tmp_path, "dsonas", CONFIG) as store:
        write_intermediate(store.path, "trial-a", 0, {"loss": 2.5})  # as a worker process writes them
        write_intermediate(store.path, "trial-a", 1, {"loss": 1.5})
        store.report("trial-a", 1, {"loss": 1.25})  # a replayed epoch rewrites its values
        write_checkpoint(store.path, "trial-a", 0, b"epoch 0")
        store.save_checkpoint("trial-a", 1, b"epoch 1")  # only the latest is kept
        store.put_artifact("embedding", b"weights")
        store.set_stage("dataset", "done", {"archs": 3})
        store.set_stage("embedding", "running")
        store.put_record("step", 1, {"key": "b"})
        store.put_record("step", 0, {"key": "a"})
    with RunStore.read(tmp_path) as store:
        assert store.intermediate("trial-a") == [(0, {"loss": 2.5}), (1, {"loss": 1.25})]
        assert store.checkpoint("trial-a") == (1, b"epoch 1") == read_checkpoint(store.path, "trial-a")
        assert store.checkpoint("trial-b") is None and store.intermediate("trial-b") == []
        assert store.artifact("embedding") == b"weights" and store.artifact("other") is None
        assert {k: v["state"] for k, v in store.stages().items()} == {"dataset": "done", "embedding": "running"}
        assert store.stages()["dataset"]["value"] == {"archs": 3}
        assert [(i, v) for i, v, _ in store.records("step")] == [(0, {"key": "a"}), (1, {"key": "b"})]


def test_progress_says_how_far_the_round_under_way_is(tmp_path):
    specs = make_specs(5)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        assert store.progress().round_label is None and store.progress().round_total == 0  # nothing started yet
        store.put(specs[0], _result(specs[0]))
        store.record_round("step 1, candidates", [spec.key() for spec in specs[:4]])  # one of them already stored
        store.put(specs[2], _result(specs[2]))
        store.put(specs[4], _result(specs[4]))  # not of this round
        progress = store.progress()
    assert progress.round_label == "step 1, candidates"
    assert (progress.round_done, progress.round_total) == (2, 4)
    assert progress.round_started is not None


def test_other_settings_are_refused_naming_force_new(tmp_path):
    _filled_store(tmp_path)
    changed = {"search": {"nodes": 5, "seed": 0}, "task": CONFIG["task"]}
    with pytest.raises(IncompatibleRunError, match=r"search\.nodes: 4 -> 5.*--force-new"):
        RunStore.open(tmp_path, "autoshrink", changed)
    with pytest.raises(IncompatibleRunError, match="holds a autoshrink run, not dsonas"):
        RunStore.open(tmp_path, "dsonas", CONFIG)


def test_key_order_of_the_config_does_not_matter(tmp_path):
    _filled_store(tmp_path)
    reordered = {"task": dict(reversed(list(CONFIG["task"].items()))), "search": CONFIG["search"]}
    with RunStore.open(tmp_path, "autoshrink", reordered) as store:
        assert len(store.results()) == 3


def test_force_new_starts_over(tmp_path):
    _filled_store(tmp_path)
    with RunStore.open(tmp_path, "dsonas", {"other": 1}, force_new=True) as store:
        assert store.results() == [] and store.config() == {"other": 1}


def _random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(5000))


def _truncated(path: Path) -> None:
    _filled_store(path.parent, 40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _wrong_schema(path: Path) -> None:
    _filled_store(path.parent)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),))


def _foreign_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE songs (title TEXT)")


def _text_file(path: Path) -> None:
    path.write_text("key,val_acc\nabc,0.5\n")


@pytest.mark.parametrize(
    "damage, message",
    [
        (_random_bytes, "damaged or not a shrinknas run store"),
        (_truncated, "damaged or not a shrinknas run store"),
        (_text_file, "damaged or not a shrinknas run store"),
        (_wrong_schema, "written by another shrinknas"),
        (_foreign_database, "not a shrinknas run store"),
    ],
)
def test_an_unusable_store_is_one_line_that_says_what_to_do(tmp_path, damage, message):
    damage(tmp_path / STORE_NAME)
    for opening in (lambda: RunStore.open(tmp_path, "autoshrink", CONFIG), lambda: RunStore.read(tmp_path)):
        with pytest.raises(BadInputError, match=message) as info:
            opening()
        assert "\n" not in str(info.value) and "--force-new" in str(info.value)
    with RunStore.open(tmp_path, "autoshrink", CONFIG, force_new=True) as store:  # the documented recovery
        assert store.results() == []


def test_a_full_disk_is_reported_and_keeps_what_was_committed(tmp_path):
    specs = make_specs(2)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        store.put(specs[0], _result(specs[0]))
        conn = store._conn  # SQLite's own size cap gives the same SQLITE_FULL a full disk gives
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        big = _result(specs[1], status="failed", error="x" * 100_000)
        with pytest.raises(BadInputError, match="disk is full.*run the same command again"):
            store.put(specs[1], big)
    with RunStore.read(tmp_path) as store:
        assert [r.key for r in store.results()] == [specs[0].key()]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through permissions")
def test_a_read_only_directory_is_reported(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(BadInputError, match="writable --out"):
            RunStore.open(locked, "autoshrink", CONFIG)
    finally:
        locked.chmod(0o700)


def test_a_run_directory_that_is_a_file_is_reported(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(BadInputError, match="cannot create run directory"):
        RunStore.open(tmp_path / "taken", "autoshrink", CONFIG)


def test_reading_changes_nothing_and_needs_a_run(tmp_path):
    with pytest.raises(BadInputError, match="holds no run"):
        RunStore.read(tmp_path)
    assert list(tmp_path.iterdir()) == []
    _filled_store(tmp_path / "a")
    before = (tmp_path / "a" / STORE_NAME).read_bytes()
    with RunStore.read(tmp_path / "a") as store:
        assert store.progress().trials == 3
        with pytest.raises(BadInputError):
            store.set_state("finished")
    assert (tmp_path / "a" / STORE_NAME).read_bytes() == before


def test_find_runs_lists_the_directory_and_its_children(tmp_path):
    _filled_store(tmp_path / "b")
    _filled_store(tmp_path / "a")
    (tmp_path / "not-a-run").mkdir()
    assert find_runs(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert find_runs(tmp_path / "a") == [tmp_path / "a"]
    with pytest.raises(BadInputError):
        find_runs(tmp_path / "missing")


def test_a_run_another_live_process_is_searching_is_refused(tmp_path):
    _filled_store(tmp_path)
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            with closing(sqlite3.connect(tmp_path / STORE_NAME)) as conn, conn:
                conn.execute("UPDATE meta SET value = ? WHERE name = 'pid'", (str(other.pid),))
            with pytest.raises(BadInputError, match=f"being searched by process {other.pid}"):
                RunStore.open(tmp_path, "autoshrink", CONFIG)
        finally:
            other.kill()
    other.wait()
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:  # its process is gone: the run resumes
        assert len(store.results()) == 3


def test_a_run_left_running_before_the_machine_restarted_resumes_even_if_its_pid_is_taken(tmp_path):
    _filled_store(tmp_path)
    with subprocess.Popen(["sleep", "30"]) as other:  # the old pid, now some other live process
        try:
            with closing(sqlite3.connect(tmp_path / STORE_NAME)) as conn, conn:
                conn.execute("UPDATE meta SET value = ? WHERE name = 'pid'", (str(other.pid),))
                conn.execute("UPDATE meta SET value = 'running' WHERE name = 'state'")
                conn.execute("UPDATE meta SET value = 'an-earlier-boot' WHERE name = 'boot'")
            with RunStore.read(tmp_path) as store:
                assert store.state() == "stopped"
            with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
                assert len(store.results()) == 3
        finally:
            other.kill()


def test_a_run_records_its_machine_and_a_resume_on_another_kind_says_so(tmp_path, caplog):
    from shrinknas.run import hardware

    _filled_store(tmp_path)
    with RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        assert store.machine() == hardware.describe()
    assert not caplog.records  # the same machine: nothing to say
    with closing(sqlite3.connect(tmp_path / STORE_NAME)) as conn, conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'machine'",
                     ('{"cpu": "Some Other CPU", "cpu_kernels": "AVX2", "torch": "2.0.0"}',))
    with caplog.at_level("WARNING", logger="shrinknas.run.store"), RunStore.open(tmp_path, "autoshrink", CONFIG) as store:
        assert len(store.results()) == 3  # resumed all the same
    assert "another kind of machine" in caplog.text and "Some Other CPU ->" in caplog.text
