"""Every committed results folder can be judged again by today's code (``reevaluate.py``, ``fidelity.py`` read a
folder's settings from its config.yaml). The two folders whose config.yaml names a setting this version no longer
has (the first version's ``finetune_epochs``; the dropped ``leaf_handover: silent`` variant) are refused in one line,
as README says, rather than read as something they were not."""

from __future__ import annotations

from pathlib import Path

import pytest

from shrinknas.errors import BadInputError
from shrinknas.methods.autoshrink.run import written_config

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FOLDERS = sorted(p.parent for p in RESULTS.rglob("config.yaml"))
OLDER_CODE = {RESULTS / "fm6": "finetune_epochs",
              RESULTS / "fm5_protocols" / "leaf_handover_silent": "leaf_handover"}


def test_there_are_published_runs_to_check():
    assert len(FOLDERS) > 40


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_published_run_s_settings_load(folder):
    if folder in OLDER_CODE:
        with pytest.raises(BadInputError, match=OLDER_CODE[folder]) as refused:
            written_config(folder)
        assert "\n" not in str(refused.value)
        return
    config = written_config(folder)
    assert config.search.nodes >= 3
