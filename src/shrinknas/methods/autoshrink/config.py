"""AutoShrink's settings: the shrink loop and the confirm stage around the trials, and the task they train on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ...config import ImageTask, StrictModel, TextTask, added_setting

class SearchSettings(StrictModel):
    """The AutoShrink loop around the trials."""

    nodes: int = Field(8, ge=2)
    candidates: int = Field(10, ge=1)
    lam: float = Field(0.1, ge=0)
    resource: Literal["macs", "params"] = "macs"
    stop_edges: int = Field(0, ge=0, description="stop once the cell has this many edges (authors' RNN: 4)")
    protocol: Literal["paper", "inherit"] = Field(
        "paper", description="paper: every candidate from scratch (the library default); inherit: candidates fine-tune "
        "the kept parent (the CLI default for cnn searches)"
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
    the paper's eq. (7) and the library default (as ``protocol`` paper is); the CLI's fast default confirms 3 cells."""

    top: int = Field(0, ge=0, description="kept cells (best search S first) to re-train from scratch; 0: off")
    seeds: int = Field(2, ge=1, description="fresh seeds per re-trained cell")


class AutoShrinkConfig(StrictModel):
    """A whole AutoShrink run: written resolved to config.yaml in the run directory."""

    method: Literal["autoshrink"] = "autoshrink"
    search: SearchSettings = SearchSettings()
    confirm: ConfirmSettings = ConfirmSettings()
    task: ImageTask | TextTask = Field(default_factory=ImageTask, discriminator="task")

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

    def screening_task(self) -> ImageTask:
        """The task of a screening fine-tune: the search's, cut to ``screen_steps`` whatever a removal cuts off."""
        assert isinstance(self.task, ImageTask) and self.search.screen_steps is not None
        training = self.task.training.model_copy(update={
            "finetune_steps": self.search.screen_steps, "finetune_steps_per_cut_edge": 0, "finetune_max_steps": None})
        return self.task.model_copy(update={"training": training})
