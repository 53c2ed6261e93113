"""AutoShrink's settings: the shrink loop and the confirm stage around the trials, and the task they train on.

The defaults are the fast search (``fast`` preset): candidates fine-tune their parent's weights, a step whose every
fine-tune collapsed is trained again from scratch, and 3 finalists are confirmed on fresh seeds. What depends on the
task or the protocol is filled in from what was given (``AutoShrinkConfig._fill_defaults``), so settings built in
Python, from a YAML file or from the command line are the same settings: language cells search as the authors did
(6 nodes, parameters as the resource, lambda 1, from scratch, down to a quarter of the edges), and the paper's
protocol picks the final cell by eq. (7), without a confirm stage.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from ...config import ImageTask, StrictModel, TextTask, added_setting

#: A fast search re-trains a step from scratch when all its fine-tunes fell this far (docs/autoshrink.md, "The last
#: steps"), and confirms this many finalists on fresh seeds ("The confirm stage").
FAST_SCRATCH_IF_DROP = 0.15
FAST_CONFIRM_TOP, FAST_CONFIRM_SEEDS = 3, 2
#: The fast default fine-tunes for 24 steps, but never for more than a fifth of the shortest training from scratch
#: (``early_exit_epoch`` epochs of the proxy): 24 at the paper's 5,000-image proxy and batch 128, 5 at 1,000 images.
FAST_FINETUNE_STEPS, FINETUNE_SHARE_OF_SHORTEST = 24, 5
#: The authors' language-cell search: 6 nodes, lambda 1 on parameters, stop once a quarter of the edges is left.
RNN_NODES, RNN_LAMBDA, RNN_KEEP_FRACTION = 6, 1.0, 0.25


def _fit_confirm_to_step(confirm: dict[str, Any], candidates: Any) -> None:
    """The fast default's confirm stage trains at most as many cells from scratch as one step of the paper's
    protocol does (K), so that its fixed cost never outweighs what fine-tuning saved: 3 finalists on 2 seeds where
    K >= 6 (the paper's K = 10 among them), one seed each below that, and at most K finalists. Given values stay."""
    if not isinstance(candidates, int) or candidates < 1:
        return  # the validation reports it
    if "seeds" not in confirm:
        top = confirm.get("top", FAST_CONFIRM_TOP)
        confirm["seeds"] = FAST_CONFIRM_SEEDS if isinstance(top, int) and top * FAST_CONFIRM_SEEDS <= candidates else 1
    if "top" not in confirm and isinstance(confirm["seeds"], int) and confirm["seeds"] >= 1:
        confirm["top"] = max(1, min(FAST_CONFIRM_TOP, candidates // confirm["seeds"]))


def _given(part: Any) -> dict[str, Any]:
    """The settings of one part as given: a dict as it is, a model as the fields it was given explicitly."""
    if isinstance(part, BaseModel):
        return {name: getattr(part, name) for name in part.model_fields_set}
    return dict(part) if isinstance(part, dict) else {} if part is None else part


class SearchSettings(StrictModel):
    """The AutoShrink loop around the trials."""

    nodes: int = Field(8, ge=2)
    candidates: int = Field(10, ge=1)
    lam: float = Field(0.1, ge=0)
    resource: Literal["macs", "params"] = "macs"
    stop_edges: int = Field(0, ge=0, description="stop once the cell has this many edges (authors' RNN: 4)")
    protocol: Literal["paper", "inherit"] = Field(
        "inherit", description="inherit: candidates fine-tune the kept parent's weights (the default for cnn cells) | "
        "paper: every candidate trained from scratch, as published (rnn cells: the only one)"
    )
    scratch_if_drop: float | None = added_setting(
        None, ge=0, le=1,
        description="inherit protocol (off: None): a step whose every fine-tuned candidate falls more than this below "
        "its parent's val_acc is trained again from scratch (the paper's schedule), and those trainings rank it: inherited "
        "weights that fit every child this badly rank failed starts, not cells")
    screen_steps: int | None = added_setting(
        None, ge=1,
        description="inherit protocol (off: None): fine-tune every candidate of a step for only this many steps first, "
        "then give the full fine-tune to the screen_top best by S alone (one rung of successive halving); only those "
        "can be kept. At a constant learning rate (the default) a screening fine-tune is the full one's first steps, "
        "and the full one goes on from it")
    screen_top: int = added_setting(3, ge=1, description="candidates that pass screening to the full fine-tune")
    screen_pass_cuts: bool = added_setting(
        False, description="with screen_steps: a removal that cuts off further edges (a node loses its last input) "
        "passes the screen whatever its short S, besides the screen_top best. Such a cell recovers slowest from the "
        "parent's weights, so a short fine-tune ranks it near last even where the full one ranks it first")
    seed: int = 0

    @field_validator("scratch_if_drop", mode="before")
    @classmethod
    def _off_means_never(cls, value: Any) -> Any:
        """``off`` (the CLI's word; YAML reads a bare off as false) is None, and never a drop of 0."""
        if value is True:
            raise ValueError("expected a number from 0 to 1, or off")
        return None if value is False or (isinstance(value, str) and value.strip().lower() == "off") else value

    @model_validator(mode="after")
    def _scratch_if_drop_needs_inherit(self) -> "SearchSettings":
        if self.scratch_if_drop is not None and self.protocol != "inherit":
            raise ValueError("scratch_if_drop re-trains fine-tuned candidates; it needs --protocol inherit")
        if self.screen_steps is not None and self.protocol != "inherit":
            raise ValueError("screen_steps shortens fine-tunes; it needs --protocol inherit")
        if self.screen_pass_cuts and self.screen_steps is None:
            raise ValueError("screen_pass_cuts decides who passes a screen; it needs screen_steps")
        return self


class ConfirmSettings(StrictModel):
    """The stage after the shrink loop that picks the final cell on fresh seeds instead of the search's own score.

    A search's best S is the maximum of many single-seed trainings (biased upward), and under the inherit protocol
    a fine-tuned score; re-training the ``top`` kept cells from scratch with ``seeds`` fresh seeds and taking the
    best mean S picks the final cell on scores that played no part in choosing the finalists. Off (``top`` 0) is
    the paper's eq. (7), the default of ``protocol`` paper; the fast default confirms 3 cells."""

    top: int = Field(0, ge=0, description="kept cells (best search S first) to re-train from scratch; 0: off")
    seeds: int = Field(2, ge=1, description="fresh seeds per re-trained cell")


class AutoShrinkConfig(StrictModel):
    """A whole AutoShrink run: written resolved to config.yaml in the run directory."""

    method: Literal["autoshrink"] = "autoshrink"
    search: SearchSettings = SearchSettings()
    confirm: ConfirmSettings = ConfirmSettings()
    task: ImageTask | TextTask = Field(default_factory=ImageTask, discriminator="task")

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        """Defaults that depend on what else was given (see the module's docstring)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        search, confirm, task = (_given(data.get(name)) for name in ("search", "confirm", "task"))
        if task.setdefault("task", "cnn") == "rnn":
            search.setdefault("resource", "params")
            search.setdefault("lam", RNN_LAMBDA)
            search.setdefault("protocol", "paper")
            nodes = search.setdefault("nodes", RNN_NODES)
            if isinstance(nodes, int):  # anything else is reported by the validation
                search.setdefault("stop_edges", round(RNN_KEEP_FRACTION * nodes * (nodes - 1) / 2))
        else:
            train = task.get("proxy_train")
            if isinstance(train, int) and "proxy_val" not in task:
                task["proxy_val"] = max(10, train // 5)
        inheriting = search.get("protocol", "inherit") == "inherit"
        search.setdefault("scratch_if_drop", FAST_SCRATCH_IF_DROP if inheriting else None)
        if inheriting:
            _fit_confirm_to_step(confirm, search.get("candidates", SearchSettings.model_fields["candidates"].default))
        confirm.setdefault("top", 0)
        if "seed" in search and task["task"] == "cnn":  # one seed for every random choice, the proxy split too
            task.setdefault("data_seed", search["seed"])
        data.update(search=search, confirm=confirm, task=task)
        return data

    @model_validator(mode="after")
    def _rnn_scores_params(self) -> "AutoShrinkConfig":
        if self.task.task == "rnn" and self.search.resource != "params":
            raise ValueError("rnn searches score parameters (--resource params)")
        if self.task.task == "rnn" and self.search.protocol != "paper":
            raise ValueError("weight inheritance is implemented for cnn cells only; use --protocol paper for rnn")
        screen = self.search.screen_steps
        if screen is not None and isinstance(self.task, ImageTask) and screen >= self.task.training.finetune_steps:
            raise ValueError(f"screen_steps {screen} must be fewer than the fine-tune's "
                             f"{self.task.training.finetune_steps} steps")
        return self

    def with_fitted_finetune(self) -> "AutoShrinkConfig":
        """The fast default's fine-tune budget fitted to the proxy, unless it was given (see FAST_FINETUNE_STEPS):
        on a small proxy 24 steps are several epochs, as long as a hopeless candidate's whole training from
        scratch, and the fast search would cost more than the paper's."""
        task = self.task
        if (not isinstance(task, ImageTask) or self.search.protocol != "inherit" or self.search.screen_steps is not None
                or "finetune_steps" in task.training.model_fields_set):
            return self
        per_epoch = math.ceil(task.proxy_train / task.training.batch_size)
        shortest = task.training.early_exit_epoch * per_epoch
        steps = min(FAST_FINETUNE_STEPS, math.ceil(shortest / FINETUNE_SHARE_OF_SHORTEST))
        if steps == task.training.finetune_steps:
            return self
        training = task.training.model_copy(update={"finetune_steps": steps})
        return self.model_copy(update={"task": task.model_copy(update={"training": training})})

    def screening_task(self) -> ImageTask:
        """The task of a screening fine-tune: the search's, cut to ``screen_steps`` whatever a removal cuts off."""
        assert isinstance(self.task, ImageTask) and self.search.screen_steps is not None
        training = self.task.training.model_copy(update={
            "finetune_steps": self.search.screen_steps, "finetune_steps_per_cut_edge": 0, "finetune_max_steps": None})
        return self.task.model_copy(update={"training": training})
