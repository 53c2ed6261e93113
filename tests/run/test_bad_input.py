"""Fuzz-style: malformed cell, config and store files all end in one line on stderr and exit code 2."""

import json
import random
import sqlite3
from contextlib import closing

import pytest

from shrinknas.methods.autoshrink.config import AutoShrinkConfig
from shrinknas.run.store import SCHEMA_VERSION, STORE_NAME, RunStore
from shrinknas.run.trial import TrialResult

from conftest import TINY_SEARCH
from fake_trials import make_specs

CELL = json.dumps({"kind": "cnn", "ops": ["input", "conv1x1", "sepconv3x3"], "edges": [[0, 1], [0, 2], [1, 2]]})


def _random_bytes(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(rng.randint(1, 400)) for _ in range(n)]


def _cell_cases() -> list[bytes]:
    """The same cases at every call (a generator of its own), so case i is the same bytes whichever tests ran."""
    rng = random.Random(2024)
    prefixes = [CELL[:cut].encode() for cut in sorted(rng.sample(range(1, len(CELL)), 8))]  # never whole JSON
    wrong_shapes = ['{"kind": "cnn"}', '{"kind": "mlp", "ops": ["input"], "edges": []}', '[1, 2]', '"cell"',
                    '{"kind": "cnn", "ops": ["input", "conv9x9"], "edges": [[0, 1]]}',
                    '{"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[1, 0]]}',
                    '{"kind": "cnn", "ops": ["input", "conv1x1"], "edges": [[0, 1.5]]}']
    return _random_bytes(rng, 12) + prefixes + [s.encode() for s in wrong_shapes]


#: A valid tiny config: each case below breaks one setting of it (were a case valid, the search would be short).
TINY_CONFIG = {"search": {"nodes": 3, "candidates": 1, "stop_edges": 2},
               "task": {"proxy_train": 100, "proxy_val": 20, "training": {"epochs": 1, "batch_size": 32}}}


def _numeric_settings(settings: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every number in a nested settings dict."""
    found = []
    for name, value in settings.items():
        if isinstance(value, dict):
            found += _numeric_settings(value, (*path, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((*path, name))
    return found


def _config_cases() -> list[bytes]:
    """Random bytes, every numeric setting (nested ones too) given a value of the wrong type, and misspelt keys."""
    rng = random.Random(2025)
    defaults = AutoShrinkConfig().model_dump(mode="json")
    cases = _random_bytes(rng, 12) + [b"- just\n- a list\n", b"search: [unclosed\n", b"\tsearch: 1\n"]
    for path in _numeric_settings(defaults):
        broken = json.loads(json.dumps(TINY_CONFIG))
        section = broken
        for name in path[:-1]:
            section = section.setdefault(name, {})
        section[path[-1]] = rng.choice(["many", [1, 2], {"x": 1}])
        cases.append(json.dumps(broken).encode())
    for section, name in [("search", "nodez"), ("task", "epochs"), ("method", "x")]:
        broken = json.loads(json.dumps(TINY_CONFIG))
        broken.setdefault(section, {})
        broken[section] = {**broken[section], name: 3} if isinstance(broken[section], dict) else {name: 3}
        cases.append(json.dumps(broken).encode())
    return cases


def _assert_one_line_exit_2(result, *, what):
    code, _, err = result
    assert code == 2, (what, err)
    assert err.startswith("error: ") and err.count("\n") == 1, (what, err)
    assert "Traceback" not in err


@pytest.mark.parametrize("case", range(len(_cell_cases())))
def test_malformed_cell_files(cli, tmp_path, case):
    path = tmp_path / "cell.json"
    path.write_bytes(_cell_cases()[case])
    _assert_one_line_exit_2(cli("show", path), what=path.read_bytes())


def test_malformed_config_files(cli, tmp_path):
    for i, data in enumerate(_config_cases()):
        path = tmp_path / f"config{i}.yaml"
        path.write_bytes(data)
        _assert_one_line_exit_2(cli("search", "autoshrink", "--config", path, "--out", tmp_path / f"run{i}", "--quiet"),
                                what=data)
        assert not (tmp_path / f"run{i}").exists()  # refused before anything was written


def _real_store(run_dir, config=None):
    specs = make_specs(60)
    with RunStore.open(run_dir, "autoshrink", config or {"settings": 1}) as store:
        for spec in specs:
            store.put(spec, TrialResult(spec.key(), "ok", metrics={"val_acc": 0.5, "macs": 1, "params": 1}, seconds=0.1))
    return (run_dir / STORE_NAME).read_bytes()


def _store_cases(tmp_path):
    """(name, bytes or a function that damages a store in place) for every kind of bad store."""
    data = _real_store(tmp_path / "source")
    page, rng = 4096, random.Random(2026)
    cuts = [1, 50, 100, 1000, page, 2 * page, len(data) // 2] + rng.sample(range(1, len(data) - page), 6)
    cases = [(f"random{i}", blob) for i, blob in enumerate(_random_bytes(rng, 6))]
    cases += [(f"truncated at {cut}", data[:cut]) for cut in cuts]
    cases += [("text file", b"key,val_acc\nabc,0.5\n")]

    def wrong_version(path):
        path.write_bytes(data)
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 7),))

    def foreign_database(path):
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("CREATE TABLE songs (title TEXT)")

    def other_search(path):  # a valid store of another search in the same directory
        _real_store(path.parent, {"search": {"nodes": 9}})

    def other_method(path):
        with RunStore.open(path.parent, "dsonas", {"x": 1}):
            pass

    cases += [("wrong schema version", wrong_version), ("foreign database", foreign_database),
              ("other search", other_search), ("other method", other_method)]
    return cases


def test_bad_store_files(cli, tmp_path):
    for i, (name, damage) in enumerate(_store_cases(tmp_path)):
        run_dir = tmp_path / f"run{i}"
        run_dir.mkdir()
        path = run_dir / STORE_NAME
        if callable(damage):
            damage(path)
        else:
            path.write_bytes(damage)
        before = path.read_bytes()
        _assert_one_line_exit_2(cli(*TINY_SEARCH, "--out", run_dir), what=name)
        assert path.read_bytes() == before, name  # a refused store is left as it was, for the user to inspect
        assert not (run_dir / "config.yaml").exists(), name
        if name not in ("other search", "other method"):  # those are fine stores: they can be shown
            _assert_one_line_exit_2(cli("runs", "show", run_dir), what=name)
            _assert_one_line_exit_2(cli("runs", "ls", run_dir), what=name)
