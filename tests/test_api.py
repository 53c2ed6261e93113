"""The Python API: the README's notebook snippet, run exactly as written, and the same settings as the CLI."""

import re
from pathlib import Path

import shrinknas

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_public_name_is_there():
    assert set(shrinknas.__all__) <= set(dir(shrinknas))
    assert {"search", "load_run", "build", "profile", "train", "export", "settings"} <= set(shrinknas.__all__)
    assert "autoshrink" in shrinknas.methods()


def test_the_same_words_give_the_same_settings_as_the_command_line():
    from shrinknas.methods.autoshrink.config import AutoShrinkConfig

    python = shrinknas.settings("autoshrink", dataset="digits", nodes=4, proxy_size=500, seed=2)
    assert python.search.protocol == "inherit" and python.confirm.top == 3  # the fast preset, as on the CLI
    assert (python.task.proxy_train, python.task.proxy_val, python.task.data_seed) == (500, 100, 2)
    assert python == AutoShrinkConfig.model_validate(
        {"task": {"dataset": "digits", "proxy_train": 500}, "search": {"nodes": 4, "seed": 2}})
    paper = shrinknas.settings("autoshrink", preset="paper")
    assert paper.search.protocol == "paper" and paper.confirm.top == 0 and paper.search.scratch_if_drop is None


def test_the_readme_snippet_runs_as_written(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    snippet = next(b for b in blocks if "import shrinknas" in b)
    assert len(snippet.strip().splitlines()) <= 10
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    assert (tmp_path / "runs").is_dir()


def test_the_fast_defaults_never_outweigh_what_fine_tuning_saves():
    """The confirm stage trains at most K cells from scratch, and a fine-tune takes at most a fifth of the shortest
    training from scratch; at the paper's settings both are the fast default as measured (3 x 2, 24 steps)."""
    paper_size = shrinknas.settings("autoshrink", candidates=10, proxy_size=5000).with_fitted_finetune()
    assert (paper_size.confirm.top, paper_size.confirm.seeds, paper_size.task.training.finetune_steps) == (3, 2, 24)
    small = shrinknas.settings("autoshrink", candidates=3, proxy_size=1000).with_fitted_finetune()
    assert (small.confirm.top, small.confirm.seeds, small.task.training.finetune_steps) == (3, 1, 5)
    given = shrinknas.settings("autoshrink", candidates=3, proxy_size=1000, finetune_steps=24, confirm_seeds=2,
                               confirm_top=3).with_fitted_finetune()
    assert (given.confirm.top, given.confirm.seeds, given.task.training.finetune_steps) == (3, 2, 24)
    paper = shrinknas.settings("autoshrink", preset="paper", candidates=3, proxy_size=1000).with_fitted_finetune()
    assert paper.confirm.top == 0 and paper.task.training.finetune_steps == 24  # nothing to fit: no fine-tunes
