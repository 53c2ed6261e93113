"""The files of a run directory a person (or a script) reads back: config, summary, the found architecture, and a
method's own (AutoShrink's trajectory).

Every number the CLI prints comes from these files. Files are written whole through a temporary name and
an atomic rename, so a crash never leaves a half-written result behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import BadInputError

CONFIG = "config.yaml"
TRAJECTORY = "trajectory.jsonl"
ARCHITECTURE = "architecture.json"  # the run's answer: any command that takes an architecture file takes it
SUMMARY = "summary.json"
STORE = "trials.sqlite"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInputError(f"cannot write {path}: {exc.strerror}") from None


class RunDir:
    """One run's folder."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def create(self) -> "RunDir":
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"cannot create run directory {self.path}: {exc.strerror}") from None
        if not os.access(self.path, os.W_OK):
            raise BadInputError(f"run directory {self.path} is not writable")
        return self

    def file(self, name: str) -> Path:
        return self.path / name

    def remove(self, *names: str) -> None:
        for name in names:
            try:
                self.file(name).unlink(missing_ok=True)
            except OSError as exc:
                raise BadInputError(f"cannot remove {self.file(name)}: {exc.strerror}") from None

    def write_text(self, name: str, text: str) -> None:
        write_atomic(self.file(name), text)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2) + "\n")

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise BadInputError(f"{path} does not exist; is {self.path} a finished run directory?") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadInputError(f"{path} is not valid JSON") from None

    def write_trajectory(self, records: Iterable[dict]) -> None:
        self.write_text(TRAJECTORY, "".join(json.dumps(r) + "\n" for r in records))

    def trajectory_writer(self) -> "TrajectoryWriter":
        return TrajectoryWriter(self.file(TRAJECTORY))

    def read_trajectory(self) -> list[dict]:
        path = self.file(TRAJECTORY)
        if not path.exists():
            return []
        lines = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                raise BadInputError(f"{path}:{n} is not a JSON line") from None
        return lines


class TrajectoryWriter:
    """Appends one JSON line per trained candidate as it finishes (a crash keeps every finished line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("w")

    def append(self, record: dict) -> None:
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "TrajectoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
