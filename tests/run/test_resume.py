"""A search killed in the middle of a step resumes where it stopped, with the result of an uninterrupted run."""

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from shrinknas.cli import main
from shrinknas.run.store import STORE_NAME, RunStore

from conftest import TINY_SEARCH, worker_pythonpath

pytestmark = pytest.mark.slow

K = 3  # candidates per step in TINY_SEARCH: step s holds trial rows 1 + K*(s-1) + 1 .. 1 + K*s


def _default_sigint() -> None:
    """Ctrl-C as in a terminal. A test run started in the background (``make test &``) ignores SIGINT, a child
    inherits that, and Python then installs no KeyboardInterrupt handler: the search could not be stopped."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_search(out: Path, *extra: str, tag: str = "") -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=worker_pythonpath(), SHRINKNAS_TEST_TAG=tag)
    command = [sys.executable, "-m", "shrinknas.cli", *TINY_SEARCH, "--out", str(out), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _rows(out: Path) -> int:
    """Finished trials in a run's store as another process sees them (0 before the store exists)."""
    try:
        with closing(sqlite3.connect(f"{(out / STORE_NAME).as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.Error:
        return 0


def _stop_mid_step_one(process: subprocess.Popen, out: Path, sig: int) -> int:
    """Send ``sig`` as soon as the first trial of step 1 is committed; returns the rows stored at that moment."""
    while _rows(out) < 2:
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)
    process.send_signal(sig)
    process.wait(timeout=60)
    rows = _rows(out)
    assert 2 <= rows < 2 + K, "the signal must land in the middle of step 1 for this test to mean anything"
    return rows


def _trials(out: Path) -> dict[str, tuple]:
    with RunStore.read(out) as store:
        return {row["key"]: row for row in store.trial_rows()}


def _outcome(row: dict) -> tuple:
    return row["status"], row["val_acc"], row["macs"], row["params"], row["epochs"]


def _trajectory(out: Path) -> list[dict]:
    """trajectory.jsonl without the measured seconds, which differ from run to run."""
    lines = [json.loads(line) for line in (out / "trajectory.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY_SEARCH, "--out", str(out)])
    assert exit_info.value.code == 0
    return out


def _processes_tagged(tag: str) -> list[int]:
    """Processes started by one test's search (they inherit its environment): the search and its workers."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f"SHRINKNAS_TEST_TAG={tag}".encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _trajectory_rows(run: Path, step: int) -> list[dict]:
    return [r for r in map(json.loads, (run / "trajectory.jsonl").read_text().splitlines()) if r["step"] == step]


def _wait_until_gone(tag: str) -> list[int]:
    deadline = time.monotonic() + 30
    while _processes_tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _processes_tagged(tag)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds leftover workers through /proc")
def test_sigkill_mid_step_then_resume_gives_the_same_search(cli, tmp_path, uninterrupted):
    out, tag = tmp_path / "run", uuid.uuid4().hex
    rows_at_kill = _stop_mid_step_one(_start_search(out, "--workers", "2", tag=tag), out, signal.SIGKILL)
    assert _wait_until_gone(tag) == []  # pool workers end with the search that owned them
    before = _trials(out)
    assert len(before) == rows_at_kill

    code, listing, _ = cli("runs", "ls", tmp_path)
    assert code == 0 and "stopped" in listing  # the process is gone without a word
    assert f"0 (+{rows_at_kill - 1}/{K})" in listing  # step 0 done, so far into step 1
    code, shown, _ = cli("runs", "show", out)  # how far into its step it got: step 0's one trial, then step 1's
    assert code == 0 and "last round of trainings: step 1, candidates (parent: " in shown
    assert f"edges), {rows_at_kill - 1} of {K} finished" in shown.replace("\n", " ")

    code, stdout, err = cli(*TINY_SEARCH, "--workers", "1", "--out", out)  # resumed by another executor: serial
    assert code == 0, err
    assert f"resuming: {rows_at_kill} finished trials" in stdout

    after, reference = _trials(out), _trials(uninterrupted)
    assert {k: _outcome(r) for k, r in after.items()} == {k: _outcome(r) for k, r in reference.items()}
    for key, row in before.items():  # no finished trial lost, none trained again
        assert after[key]["created"] == row["created"] and after[key]["host"] == row["host"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials_from_store"] == rows_at_kill
    assert summary["trials_trained"] == len(reference) - rows_at_kill
    assert (out / "best_cell.json").read_text() == (uninterrupted / "best_cell.json").read_text()
    assert _trajectory(out) == _trajectory(uninterrupted)

    code, shown, _ = cli("runs", "show", out)
    trainings = len(summary["confirm"]["finalists"]) * len(summary["confirm"]["seeds"])  # the default fast search
    assert code == 0 and "finished" in shown and f"best S {summary['search_best']['S']:.4f}" in shown
    replaced = sum(len(_trajectory_rows(out, step)) for step in summary["retrained_steps"])  # fine-tunes stored too
    assert f"steps {summary['steps']}, trainings {summary['trials'] + replaced} + {trainings} confirm trainings " \
        "(0 failed)" in shown
    assert f"final cell (confirm stage): step {summary['best']['step']}'s, mean S " in shown.replace("\n", " ")
    assert "last round of trainings" not in shown  # a finished run has none under way


def test_ctrl_c_keeps_the_store_and_prints_a_command_that_resumes(cli, tmp_path, uninterrupted):
    out = tmp_path / "run"
    process = _start_search(out, "--force-new")
    rows = _stop_mid_step_one(process, out, signal.SIGINT)
    _, err = process.communicate()
    assert process.returncode == 130
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("interrupted; every finished trial is saved. resume with: shrinknas search autoshrink")
    assert "--force-new" not in err  # it would start over
    with RunStore.read(out) as store:
        assert store.progress().state == "interrupted" and store.progress().trials == rows

    command = shlex.split(err.split("resume with: ", 1)[1])
    code, stdout, err = cli(*command[1:])
    assert code == 0, err
    assert f"resuming: {rows} finished trials" in stdout
    assert (out / "best_cell.json").read_text() == (uninterrupted / "best_cell.json").read_text()


class StopAfter:
    """The real trial in this process, but Ctrl-C after ``calls`` trials: a search stopped between trials."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def __call__(self, spec):
        from shrinknas.run.trial import evaluate

        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return evaluate(spec)


def test_an_inherit_protocol_run_resumes_from_stored_parent_weights(tmp_path):
    """Candidates fine-tune the kept parent's weights: those must come back from the store on resume."""
    from shrinknas.config import ImageTask, ImageTraining
    from shrinknas.methods.autoshrink.config import AutoShrinkConfig, SearchSettings
    from shrinknas.run.executors import SerialExecutor
    from shrinknas.methods.autoshrink.run import run_autoshrink

    config = AutoShrinkConfig(
        search=SearchSettings(nodes=4, candidates=2, stop_edges=3, seed=1, protocol="inherit"),
        task=ImageTask(dataset="digits", proxy_train=200, proxy_val=40,
                       training=ImageTraining(epochs=1, batch_size=64)),
    )
    whole = run_autoshrink(config, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run_autoshrink(config, tmp_path / "resumed", SerialExecutor(StopAfter(4)))  # stops inside step 2
    with RunStore.read(tmp_path / "resumed") as store:
        assert store.progress().trials == 4 and store.progress().state == "interrupted"
    resumed = run_autoshrink(config, tmp_path / "resumed")
    assert resumed["trials_from_store"] == 4
    assert {k: _outcome(r) for k, r in _trials(tmp_path / "resumed").items()} == {
        k: _outcome(r) for k, r in _trials(tmp_path / "whole").items()
    }
    assert resumed["best"] == whole["best"]
