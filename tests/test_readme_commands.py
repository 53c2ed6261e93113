"""Every `shrinknas` command README.md shows runs as written, walked in order at small settings.

The walk appends settings that make each command small (later flags win) and swaps the installed-only Fashion-MNIST
for the subset shipped in the package; everything else is the README's own text, so a renamed flag or command fails
here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

#: What makes a command small, by its first words (the longest prefix that matches wins).
SMALL = {
    ("search", "autoshrink"): ["--nodes", "3", "--candidates", "2", "--epochs", "1", "--proxy-size", "200",
                               "--batch-size", "64", "--confirm-top", "1", "--confirm-seeds", "1", "--workers", "1",
                               "--quiet"],
    ("train",): ["--epochs", "1"],
}
#: Lines of README code that are not shrinknas commands a test can run here.
SKIPPED = ("make ", "ray ", "source ", "pip ", "git ")


def readme_commands() -> list[list[str]]:
    """The shrinknas commands of README's bash blocks, continuation lines joined and comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            for part in line.split(";"):
                words = shlex.split(part, comments=True)
                if words[:1] == ["shrinknas"] and "..." not in words:
                    commands.append(words[1:])
    return commands


def small(words: list[str], runs: Path) -> list[str]:
    words = [w.replace("runs/", f"{runs}/") for w in words]
    words = ["fashion-mnist-mini" if w == "fashion-mnist" else w for w in words]
    prefix = max((p for p in SMALL if tuple(words[: len(p)]) == p), key=len, default=None)
    return words + (SMALL[prefix] if prefix else [])


def test_the_readme_shows_commands_of_every_kind():
    firsts = {tuple(c[:2]) if c[0] in ("search", "runs") else (c[0],) for c in readme_commands()}
    assert {("search", "autoshrink"), ("show",), ("train",), ("runs", "ls")} <= firsts


@pytest.mark.slow
def test_every_readme_command_runs_as_written(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for words in readme_commands():
        code, out, err = cli(*small(words, tmp_path / "runs"))
        assert code == 0, f"shrinknas {shlex.join(words)}: {err}"
