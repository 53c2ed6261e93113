"""Every committed report still loads: each JSON file under experiments/ and benchmarks/ parses, each line of a
committed trajectory too, and each committed run's config.yaml builds an ``AutoShrinkConfig``, so its cells can be
re-trained by today's code (``reevaluate.py`` and ``fidelity.py`` read a folder's settings from it).

Two folders are refused by design, in one line naming the setting, rather than read as something they were not:
the first version's run, whose config.yaml names ``finetune_epochs`` (fine-tune length in optimizer steps replaced
it), and the dropped ``leaf_handover: silent`` variant. No figure of any report is checked here: reports are
results, and the code that makes them is tested on runs the tests make."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from shrinknas.config import validated
from shrinknas.methods.autoshrink.config import AutoShrinkConfig
from shrinknas.errors import BadInputError

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = (ROOT / "experiments", ROOT / "benchmarks")
#: run folder name -> the setting its config.yaml names that this version refuses
REFUSED_BY_DESIGN = {"fm6": "finetune_epochs", "leaf_handover_silent": "leaf_handover"}


def committed(pattern: str) -> list[Path]:
    return sorted(path for folder in FOLDERS for path in folder.rglob(pattern))


def test_every_committed_report_loads() -> None:
    reports, trajectories, configs = committed("*.json"), committed("*.jsonl"), committed("config.yaml")
    # a moved or renamed folder would otherwise leave this test with nothing to check
    assert len(reports) > 200 and len(trajectories) > 40 and len(configs) > 40
    broken = []
    for path in reports:
        try:
            json.loads(path.read_text())
        except ValueError as exc:
            broken.append(f"{path.relative_to(ROOT)}: {exc}")
    for path in trajectories:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                json.loads(line)
            except ValueError as exc:
                broken.append(f"{path.relative_to(ROOT)}:{number}: {exc}")
    refused = {}
    for path in configs:
        try:
            config = validated(AutoShrinkConfig, yaml.safe_load(path.read_text()), str(path))
        except BadInputError as exc:
            refused[path.parent.name] = str(exc)
            continue
        if path.parent.name in REFUSED_BY_DESIGN:
            broken.append(f"{path.relative_to(ROOT)} loads, but this version should refuse it")
        elif config.search.nodes < 3:
            broken.append(f"{path.relative_to(ROOT)}: {config.search.nodes} nodes")
    assert not broken, broken[:10]
    assert set(refused) == set(REFUSED_BY_DESIGN), refused
    for name, setting in REFUSED_BY_DESIGN.items():
        assert setting in refused[name] and "\n" not in refused[name]
