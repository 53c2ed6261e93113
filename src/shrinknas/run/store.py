"""The run store: one SQLite file per run, so a crash never costs a finished trial.

Every finished trial is committed the moment it finishes (WAL journal, synchronous=FULL), keyed by its
canonical spec key; a resumed run reads those rows back instead of training again. Besides trials it keeps what
any method needs to survive a crash: per-epoch values of long trials (``intermediate``), their latest checkpoint,
named artifacts, stage markers, and ``records``, rows a method keeps for itself (AutoShrink's kept step, say).
A ``meta`` table names the schema version, the method and the resolved config, so a directory holding another
search is refused rather than silently mixed. Every SQLite failure a user can cause (not a database, truncated,
read-only, disk full) becomes one ``BadInputError`` line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import BadInputError, IncompatibleRunError
from . import hardware
from .rundir import STORE
from .trial import TrialResult, TrialSpec

log = logging.getLogger(__name__)

STORE_NAME = STORE
#: Bump when the tables change: an older or newer store is refused with a clear message, never misread.
SCHEMA_VERSION = 2

_SQLITE_HEADER = b"SQLite format 3\x00"
_RESULT_COLUMNS = ("status", "metrics", "outputs", "seconds", "error", "host")
_TABLES = {"trials", "weights", "intermediate", "checkpoints", "artifacts", "stages", "records"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY,
    genome TEXT NOT NULL,
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    parent TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    metrics TEXT NOT NULL,
    outputs TEXT NOT NULL,
    seconds REAL NOT NULL,
    error TEXT,
    host TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS weights (key TEXT PRIMARY KEY REFERENCES trials (key), state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS intermediate (
    owner TEXT NOT NULL,
    step INTEGER NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (owner, step)
);
CREATE TABLE IF NOT EXISTS checkpoints (owner TEXT PRIMARY KEY, step INTEGER NOT NULL, state BLOB NOT NULL,
                                        created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (name TEXT PRIMARY KEY, data BLOB NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stages (name TEXT PRIMARY KEY, state TEXT NOT NULL, value TEXT, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (kind, idx)
);
"""


@dataclass(frozen=True)
class RunProgress:
    """How far a run got, whatever its method: what ``shrinknas runs ls/show`` print before the method's own lines."""

    path: Path
    method: str
    state: str
    trials: int
    failed: int
    trial_seconds: float
    started: float | None
    updated: float | None
    # the batch of trainings the run was last at (a step's candidates, the confirm stage): a step of from-scratch
    # candidates can take an hour, and these say how far into it the run is
    round_label: str | None = None
    round_done: int = 0
    round_total: int = 0
    round_started: float | None = None


def store_path(run_dir: Path) -> Path:
    return Path(run_dir) / STORE_NAME


def canonical_config(config: dict[str, Any]) -> str:
    """One text per config, so equal settings compare equal whatever their key order."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


class RunStore:
    """A run's trials, what its method keeps, and its identity, in SQLite; use ``RunStore.open`` or ``RunStore.read``."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # ----- opening -----
    @classmethod
    def open(cls, run_dir: Path, method: str, config: dict[str, Any], force_new: bool = False) -> "RunStore":
        """Create the store of a new run, or reopen the one of an unfinished run with the same settings.

        ``force_new`` throws an existing store away (also one that is corrupt) and starts over.
        """
        run_dir = Path(run_dir)
        path = store_path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
        if force_new:
            remove_store(run_dir)
        existed = path.exists() and path.stat().st_size > 0
        if existed:
            _check_header(path)  # before SQLite touches it: it would take a stub file for a new database
        store = cls(path, _connect(path, readonly=False))
        try:
            with store._sqlite_errors("open"):
                if existed:
                    store._check_readable()
                    store._check_identity(method, config)
                    store._check_not_running()
                    store._check_machine()
                _use_wal(store._conn)
                if not existed:
                    store._create(method, config)
            store.set_state("running")
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def read(cls, run_dir: Path) -> "RunStore":
        """Open an existing store for looking only (``runs ls/show``): nothing is created or changed."""
        path = store_path(Path(run_dir))
        if not path.is_file():
            raise BadInputError(f"{run_dir} holds no run ({STORE_NAME} not found)")
        _check_header(path)
        store = cls(path, _connect(path, readonly=True))
        try:
            with store._sqlite_errors("read"):
                store._check_readable()
        except BaseException:
            store.close()
            raise
        return store

    def _create(self, method: str, config: dict[str, Any]) -> None:
        with self._conn:
            self._conn.executescript(_SCHEMA)
            now = repr(time.time())
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("shrinknas_version", __version__),
                    ("method", method),
                    ("config", canonical_config(config)),
                    ("started", now),
                    ("machine", json.dumps(hardware.describe(), sort_keys=True)),
                ],
            )

    def _check_machine(self) -> None:
        """Another kind of machine may resume a run, but what it trains will not match bit for bit."""
        recorded = self.machine()
        changed = hardware.differences(recorded, hardware.describe()) if recorded else ""
        if changed:
            log.warning("%s was started on another kind of machine (%s): trials trained from here on round "
                        "differently, so the trajectory can part from the one the first machine would take",
                        self.path.parent, changed)

    def _check_readable(self) -> None:
        """Refuse a damaged file or a store of another schema before any of it is trusted."""
        problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(problems[0] if problems else "quick_check gave no answer")
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = self.meta("schema_version") if "meta" in tables else None
        if version is None:
            raise BadInputError(
                f"{self.path} is not a shrinknas run store; move it away or pass --force-new to start over"
            )
        if version == str(SCHEMA_VERSION) and not _TABLES <= tables:
            raise sqlite3.DatabaseError("tables are missing")
        if version != str(SCHEMA_VERSION):
            older = version.isdigit() and int(version) < SCHEMA_VERSION
            raise BadInputError(
                f"{self.path} was written by {'an older' if older else 'another'} shrinknas (store schema {version}, "
                f"this one reads {SCHEMA_VERSION}); finish or read that run with the version that wrote it, or pass "
                "--force-new to start it over"
            )

    def _check_identity(self, method: str, config: dict[str, Any]) -> None:
        stored_method = self.meta("method")
        if stored_method != method:
            raise IncompatibleRunError(
                f"{self.path.parent} holds a {stored_method} run, not {method}; "
                "choose another --out or pass --force-new to start over"
            )
        stored = self.config()
        if canonical_config(stored) != canonical_config(config):
            raise IncompatibleRunError(
                f"{self.path.parent} holds a run with other settings ({_first_difference(stored, config)}); "
                "choose another --out or pass --force-new to start over"
            )

    def _check_not_running(self) -> None:
        """Two searches in one directory would train the same trials twice and race on the result files."""
        pid = self.meta("pid")
        if self.state() == "running" and pid != str(os.getpid()):
            raise BadInputError(
                f"{self.path.parent} is being searched by process {pid} on this machine; "
                "wait for it to finish or stop it (Ctrl-C), or choose another --out"
            )

    # ----- meta -----
    def meta(self, name: str) -> str | None:
        with self._sqlite_errors("read"):
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def config(self) -> dict[str, Any]:
        """The resolved config the run was started with."""
        return self._meta_json("config")

    def machine(self) -> dict[str, str] | None:
        """The CPU and torch the run was started with (None: a store from before this was recorded)."""
        return self._meta_json("machine") if self.meta("machine") is not None else None

    def _meta_json(self, name: str) -> dict[str, Any]:
        try:
            value = json.loads(self.meta(name) or "{}")
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise BadInputError(
                f"{self.path} is damaged (its {name} is not a JSON object); move it away, or pass --force-new to "
                "start over")
        return value

    def set_state(self, state: str) -> None:
        """``running`` (by this process), ``interrupted``, ``failed`` or ``finished``: what ``runs ls`` shows."""
        values = [("state", state), ("pid", str(os.getpid())), ("host", socket.gethostname()), ("boot", _boot_id())]
        with self._sqlite_errors("write"), self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", values)

    def record_round(self, label: str, keys: list[str]) -> None:
        """The batch of trainings starting now (``keys``, some perhaps already stored), for ``progress``."""
        value = json.dumps({"label": label, "keys": keys, "started": time.time()})
        with self._sqlite_errors("write"), self._conn:
            self._conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('round', ?)", (value,))

    def state(self) -> str:
        """The recorded state, or ``stopped`` for a run whose process on this machine is gone (killed, crashed, or
        the machine restarted since: its pid may then name another process)."""
        state = self.meta("state") or "?"
        pid = self.meta("pid")
        if state == "running" and pid and self.meta("host") == socket.gethostname():
            restarted = self.meta("boot") not in (None, _boot_id())
            if restarted or not _alive(int(pid)):
                return "stopped"
        return state

    # ----- trials -----
    def get(self, key: str) -> TrialResult | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, TrialResult]:
        """The stored results among ``keys``, with their weights where kept; keys never stored are absent."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, TrialResult] = {}
        columns = ", ".join(f"t.{name}" for name in ("key",) + _RESULT_COLUMNS)
        with self._sqlite_errors("read"):
            for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                query = (
                    f"SELECT {columns}, w.state FROM trials t LEFT JOIN weights w ON w.key = t.key "
                    f"WHERE t.key IN ({marks})"
                )
                for row in self._conn.execute(query, chunk):
                    found[row[0]] = _result_from_row(row)
        return found

    def put(self, spec: TrialSpec, result: TrialResult) -> None:
        """Commit one finished trial (and its weights, if it kept them) now.

        A stored key keeps its first result, unless that was a failure being retried (see ``TrialResult.retryable``).
        """
        if result.key != spec.key():
            raise ValueError(f"result {result.key} does not belong to spec {spec.key()}")
        values = _result_values(result)
        names = ", ".join(("key", "genome", "task", "seed", "parent") + _RESULT_COLUMNS + ("created",))
        marks = ", ".join("?" * (len(_RESULT_COLUMNS) + 6))
        row = [
            result.key,
            json.dumps(spec.genome.to_dict()),
            json.dumps(spec.task.model_dump(mode="json"), sort_keys=True),
            spec.seed,
            spec.to_dict().get("parent"),
            *values,
            time.time(),
        ]
        with self._sqlite_errors("write"), self._conn:
            updates = ", ".join(f"{name} = excluded.{name}" for name in _RESULT_COLUMNS + ("created",))
            added = self._conn.execute(  # a retried failure replaces its record; anything else keeps the first
                f"INSERT INTO trials ({names}) VALUES ({marks}) "
                f"ON CONFLICT (key) DO UPDATE SET {updates} WHERE trials.status = 'failed'",
                row,
            ).rowcount
            if added and result.weights is not None:
                self._conn.execute("INSERT OR REPLACE INTO weights (key, state) VALUES (?, ?)", (result.key, result.weights))

    def results(self) -> list[TrialResult]:
        """Every stored trial in the order it finished."""
        columns = ", ".join(("key",) + _RESULT_COLUMNS)
        with self._sqlite_errors("read"):
            rows = self._conn.execute(f"SELECT {columns} FROM trials ORDER BY created, rowid").fetchall()
        return [_result_from_row(row) for row in rows]  # without weights: those are for resuming only

    def trial_rows(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored rows (every one, or those of ``keys``) as dicts for reports and checks: the spec's JSON columns as
        stored, the metrics and outputs decoded, and each metric also as a column of its own (``row["val_acc"]``)."""
        wanted = None if keys is None else list(dict.fromkeys(keys))
        rows = []
        with self._sqlite_errors("read"):
            for start in range(0, 1 if wanted is None else len(wanted), 500):
                where, args = ("", []) if wanted is None else \
                    (f"WHERE key IN ({', '.join('?' * len(wanted[start:start + 500]))})", wanted[start:start + 500])
                cursor = self._conn.execute(f"SELECT * FROM trials {where} ORDER BY created, rowid", args)
                names = [d[0] for d in cursor.description]
                rows += [dict(zip(names, row)) for row in cursor.fetchall()]
        for row in rows:
            row["metrics"], row["outputs"] = json.loads(row["metrics"]), json.loads(row["outputs"])
            row.update({name: value for name, value in row["metrics"].items() if name not in row})
        return rows

    def family(self, key: str) -> list[str]:
        """Keys of the trials that share ``key``'s parent and seed (the candidates of one step), itself included."""
        with self._sqlite_errors("read"):
            rows = self._conn.execute(
                "SELECT t.key FROM trials t JOIN trials k ON t.parent IS k.parent AND t.seed = k.seed WHERE k.key = ?",
                (key,)).fetchall()
        return [row[0] for row in rows]

    def drop_weights(self, keys: Iterable[str]) -> None:
        """Forget the trained weights of these trials (their records stay)."""
        keys = list(keys)
        with self._sqlite_errors("write"), self._conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                self._conn.execute(f"DELETE FROM weights WHERE key IN ({', '.join('?' * len(chunk))})", chunk)

    # ----- what long trials and methods keep -----
    def intermediate(self, owner: str) -> list[tuple[int, dict[str, Any]]]:
        """Per-step values a long trial (or a method's stage) reported, in step order."""
        with self._sqlite_errors("read"):
            rows = self._conn.execute("SELECT step, value FROM intermediate WHERE owner = ? ORDER BY step",
                                      (owner,)).fetchall()
        return [(step, json.loads(value)) for step, value in rows]

    def report(self, owner: str, step: int, values: Any) -> None:
        """Record one step's values for ``owner`` (a trial key or a stage name); a replayed step rewrites them."""
        with self._sqlite_errors("write"), self._conn:
            _insert_intermediate(self._conn, owner, step, values)

    def save_checkpoint(self, owner: str, step: int, state: bytes) -> None:
        with self._sqlite_errors("write"), self._conn:
            _insert_checkpoint(self._conn, owner, step, state)

    def checkpoint(self, owner: str) -> tuple[int, bytes] | None:
        """The latest checkpoint of ``owner``: (step it was taken after, bytes)."""
        with self._sqlite_errors("read"):
            row = self._conn.execute("SELECT step, state FROM checkpoints WHERE owner = ?", (owner,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def put_artifact(self, name: str, data: bytes) -> None:
        with self._sqlite_errors("write"), self._conn:
            self._conn.execute("INSERT OR REPLACE INTO artifacts (name, data, created) VALUES (?, ?, ?)",
                               (name, data, time.time()))

    def artifact(self, name: str) -> bytes | None:
        with self._sqlite_errors("read"):
            row = self._conn.execute("SELECT data FROM artifacts WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_stage(self, name: str, state: str, value: Any = None) -> None:
        """A stage marker: ``running`` or ``done`` (with what it produced), so a resumed run skips finished stages."""
        with self._sqlite_errors("write"), self._conn:
            self._conn.execute("INSERT OR REPLACE INTO stages (name, state, value, updated) VALUES (?, ?, ?, ?)",
                               (name, state, json.dumps(value), time.time()))

    def stages(self) -> dict[str, dict[str, Any]]:
        """Every stage marker in the order first set: ``{name: {"state", "value", "updated"}}``."""
        with self._sqlite_errors("read"):
            rows = self._conn.execute("SELECT name, state, value, updated FROM stages ORDER BY rowid").fetchall()
        return {name: {"state": state, "value": json.loads(value) if value else None, "updated": updated}
                for name, state, value, updated in rows}

    def put_record(self, kind: str, index: int, value: Any) -> None:
        """A method's own row (``kind`` names its table); writing an index again replaces it."""
        with self._sqlite_errors("write"), self._conn:
            self._conn.execute("INSERT OR REPLACE INTO records (kind, idx, value, created) VALUES (?, ?, ?, ?)",
                               (kind, index, json.dumps(value), time.time()))

    def records(self, kind: str) -> list[tuple[int, Any, float]]:
        """A method's rows of ``kind``: (index, value, when written), by index."""
        with self._sqlite_errors("read"):
            rows = self._conn.execute("SELECT idx, value, created FROM records WHERE kind = ? ORDER BY idx",
                                      (kind,)).fetchall()
        return [(idx, json.loads(value), created) for idx, value, created in rows]

    def progress(self) -> RunProgress:
        with self._sqlite_errors("read"):
            trials, failed, seconds, first, last = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0), COALESCE(SUM(seconds), 0.0), "
                "MIN(created), MAX(created) FROM trials"
            ).fetchone()
            (noted,) = self._conn.execute(
                "SELECT MAX(t) FROM (SELECT MAX(created) AS t FROM records UNION ALL "
                "SELECT MAX(created) FROM intermediate UNION ALL SELECT MAX(updated) FROM stages)").fetchone()
        started = self.meta("started")
        current = self._meta_json("round")
        keys = list(current.get("keys", ()))
        with self._sqlite_errors("read"):
            (round_done,) = self._conn.execute(
                f"SELECT COUNT(*) FROM trials WHERE key IN ({','.join('?' * len(keys))})", keys).fetchone()
        updates = [t for t in (last, noted) if t is not None]
        return RunProgress(
            path=self.path.parent,
            method=self.meta("method") or "?",
            state=self.state(),
            trials=trials,
            failed=failed,
            trial_seconds=float(seconds),
            started=float(started) if started else first,
            updated=max(updates) if updates else None,
            round_label=current.get("label"),
            round_done=round_done,
            round_total=len(keys),
            round_started=current.get("started"),
        )

    # ----- plumbing -----
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        """Turn what SQLite reports about the file or the disk into one line the user can act on."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise BadInputError(_explain(self.path, doing, exc)) from None


def _insert_intermediate(conn: sqlite3.Connection, owner: str, step: int, values: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO intermediate (owner, step, value, created) VALUES (?, ?, ?, ?)",
                 (owner, step, json.dumps(values), time.time()))


def _insert_checkpoint(conn: sqlite3.Connection, owner: str, step: int, state: bytes) -> None:
    conn.execute("INSERT OR REPLACE INTO checkpoints (owner, step, state, created) VALUES (?, ?, ?, ?)",
                 (owner, step, state, time.time()))


@contextmanager
def _short_connection(path: Path, doing: str) -> Iterator[sqlite3.Connection]:
    """A connection of its own for a trial running beside the run's (in a worker process, say): WAL lets both
    write, one at a time."""
    conn = _connect(path, readonly=False)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        with conn:
            yield conn
    except sqlite3.DatabaseError as exc:
        raise BadInputError(_explain(path, doing, exc)) from None
    finally:
        conn.close()


def write_intermediate(path: Path, owner: str, step: int, values: Any) -> None:
    """``RunStore.report`` from any process that can reach the store file."""
    with _short_connection(path, "write") as conn:
        _insert_intermediate(conn, owner, step, values)


def write_checkpoint(path: Path, owner: str, step: int, state: bytes) -> None:
    """``RunStore.save_checkpoint`` from any process that can reach the store file."""
    with _short_connection(path, "write") as conn:
        _insert_checkpoint(conn, owner, step, state)


def read_checkpoint(path: Path, owner: str) -> tuple[int, bytes] | None:
    with _short_connection(path, "read") as conn:
        row = conn.execute("SELECT step, state FROM checkpoints WHERE owner = ?", (owner,)).fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def remove_store(run_dir: Path) -> None:
    """Delete a run's store and its WAL side files (``--force-new``)."""
    path = store_path(Path(run_dir))
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        try:
            (path.parent / name).unlink(missing_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot remove {path.parent / name}: {exc.strerror}") from None


def find_runs(root: Path) -> list[Path]:
    """Run directories at ``root`` or one level below it, by name."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root} is not a directory")
    found = [root] if store_path(root).is_file() else []
    found += sorted(p for p in root.iterdir() if p.is_dir() and store_path(p).is_file())
    return found


def _boot_id() -> str:
    """This boot of the machine (Linux; elsewhere empty: a restart then goes unnoticed, only a dead pid counts)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        return sqlite3.connect(path, timeout=30)
    except sqlite3.DatabaseError as exc:
        raise BadInputError(_explain(path, "open", exc)) from None


def _use_wal(conn: sqlite3.Connection) -> None:
    """WAL: readers (``runs ls``) never block the search; FULL: a committed trial survives a machine crash."""
    if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
        raise sqlite3.OperationalError("cannot switch the journal to WAL mode")
    conn.execute("PRAGMA synchronous=FULL")


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    if header != _SQLITE_HEADER:
        raise BadInputError(_explain(path, "open", sqlite3.DatabaseError("file is not a database")))


def _explain(path: Path, doing: str, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    low = text.lower()
    if "full" in low:
        return f"cannot {doing} {path}: the disk is full; free some space and run the same command again to resume"
    if "readonly" in low or "read-only" in low or "unable to open" in low or "disk i/o" in low:
        return f"cannot {doing} {path}: {text}; choose a writable --out directory"
    if "locked" in low or "busy" in low:
        return f"cannot {doing} {path}: it is in use by another shrinknas process; wait for it or choose another --out"
    return (
        f"{path} is damaged or not a shrinknas run store ({text}); "
        "move it away, or pass --force-new to start the run over"
    )


def _result_values(result: TrialResult) -> list[Any]:
    """``_RESULT_COLUMNS`` of a result, its mappings as JSON."""
    data = result.to_dict()
    data["metrics"], data["outputs"] = json.dumps(dict(result.metrics)), json.dumps(dict(result.outputs))
    return [data[name] for name in _RESULT_COLUMNS]


def _result_from_row(row: tuple[Any, ...]) -> TrialResult:
    """A result from ``key, *_RESULT_COLUMNS`` and optionally its weights (bytes, loaded by the trial code)."""
    data = dict(zip(("key",) + _RESULT_COLUMNS + ("weights",), row))
    data["metrics"], data["outputs"] = json.loads(data["metrics"]), json.loads(data["outputs"])
    return TrialResult.from_dict(data)


def _first_difference(old: Any, new: Any, where: str = "") -> str:
    """The first setting that differs, as ``a.b: old -> new``: enough for the user to see why."""
    if isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                return _first_difference(old.get(name), new.get(name), f"{where}.{name}" if where else name)
    return f"{where or 'config'}: {old!r} -> {new!r}"
