"""Validated settings: what a trial needs to be reproduced, and what a search needs on top.

Defaults are the authors' (see the project docs). Every model is frozen and forbids unknown keys, so a
typo in a YAML file is an error, not a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import BadInputError


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_NEUTRAL = "identity_neutral"
_INHERIT_ONLY = "inherit_only"


def added_setting(default: Any, *, inherit_only: bool = False, **kwargs: Any) -> Any:
    """A field added after runs were stored. Its default must do what the code did before the field existed;
    at that value ``identity`` leaves it out, so stored runs keep their trial keys and stay resumable."""
    extra = {_NEUTRAL: default, **({_INHERIT_ONLY: True} if inherit_only else {})}
    return Field(default, json_schema_extra=extra, **kwargs)


def inherit_only(default: Any, **kwargs: Any) -> Any:
    """A training setting only the inherit protocol reads: ``from_scratch`` resets it, so a cell trained from
    scratch is keyed (and trained) the same whichever protocol's settings asked for it."""
    return Field(default, json_schema_extra={_INHERIT_ONLY: True}, **kwargs)


def identity(model: BaseModel) -> dict[str, Any]:
    """The settings that decide an outcome, as JSON: trial keys and a run's stored identity are made of this."""
    data = model.model_dump(mode="json")
    _drop_neutral(model, data)
    return data


def _drop_neutral(model: BaseModel, data: dict[str, Any]) -> None:
    for name, info in type(model).model_fields.items():
        value, extra = getattr(model, name), info.json_schema_extra
        if isinstance(extra, dict) and _NEUTRAL in extra and value == extra[_NEUTRAL]:
            del data[name]
        elif isinstance(value, BaseModel):
            _drop_neutral(value, data[name])


class ImageTraining(_Strict):
    """Candidate training for image classification (authors: Adam 4e-3, batch 128, <=20 epochs)."""

    epochs: int = Field(20, ge=1)
    lr: float = Field(4e-3, gt=0)
    batch_size: int = Field(128, ge=1)
    weight_decay: float = Field(1e-5, ge=0)
    patience: int = Field(5, ge=1, description="stop after this many epochs without a new best val_acc")
    early_exit_epoch: int = Field(3, ge=1, description="epoch at which a hopeless candidate is stopped")
    early_exit_acc: float = Field(0.2, ge=0, le=1, description="val_acc below this at early_exit_epoch stops")
    projection_weight_decay: float = Field(4e-5, ge=0, description="L2 on the residual projections (authors)")
    schedule: Literal["constant", "cosine"] = "constant"
    augment: bool = Field(False, description="random crop (pad 4 / 2) and horizontal flip of training batches")
    channels_last: bool = True
    precision: Literal["fp32", "bf16"] = added_setting(
        "fp32", description="arithmetic of training and validation: fp32, or bf16 autocast (weights, optimizer and "
        "loss stay fp32); bf16 pays only where the CPU has native bf16 (AVX512-BF16 or AMX) or on a GPU")
    max_steps: int | None = Field(None, ge=0, description="stop after this many optimizer steps (then validate)")
    finetune_steps: int = inherit_only(
        24, ge=0, description="optimizer steps of a candidate that starts from its parent")
    finetune_lr: float = inherit_only(4e-3, gt=0, description="Adam learning rate of such a candidate")
    finetune_schedule: Literal["constant", "cosine"] = added_setting(
        "constant", inherit_only=True,
        description="its learning rate: constant, or cosine-annealed to zero over the fine-tune steps")
    finetune_steps_per_cut_edge: int = added_setting(
        0, inherit_only=True, ge=0,
        description="extra fine-tune steps for every further edge a removal cuts off (those of a node it leaves "
        "without input): such a candidate is several removals at once and needs longer to recover")
    finetune_max_steps: int | None = added_setting(
        None, inherit_only=True, ge=1, description="at most this many fine-tune steps however many edges are cut off")
    path_dropout: float = added_setting(
        0.0, inherit_only=True, ge=0, lt=1,
        description="chance that training cuts an edge of a cell, per sample (a node left without input is cut too): "
        "trains a parent whose weights still work with an edge removed (inherit protocol)")
    leaf_handover: bool = added_setting(
        False, inherit_only=True,
        description="a node that becomes a leaf where a leaf died takes over that leaf's trained output weights "
        "(residual, next layer) instead of entering through zero weights (inherit protocol)")

    @model_validator(mode="after")
    def _cap_above_budget(self) -> "ImageTraining":
        if self.finetune_max_steps is not None and self.finetune_max_steps < self.finetune_steps:
            raise ValueError(f"finetune_max_steps {self.finetune_max_steps} is below finetune_steps "
                             f"{self.finetune_steps}")
        return self

    def finetune_budget(self, edges_cut_off: int = 0) -> int:
        """Optimizer steps of a fine-tune whose removal took ``edges_cut_off`` further edges with it."""
        steps = self.finetune_steps + self.finetune_steps_per_cut_edge * max(edges_cut_off, 0)
        return steps if self.finetune_max_steps is None else min(steps, self.finetune_max_steps)

    def finetuning(self, edges_cut_off: int = 0) -> "ImageTraining":
        """The schedule of a candidate that inherits weights: a short fine-tune, no early exit."""
        budget = self.finetune_budget(edges_cut_off)
        return self.model_copy(update={"epochs": self.epochs, "max_steps": budget, "lr": self.finetune_lr,
                                       "schedule": self.finetune_schedule, "patience": self.epochs + 1,
                                       "early_exit_acc": 0.0})

    def from_scratch(self) -> "ImageTraining":
        """The paper's training of a cell: every inherit-only setting at its default."""
        fields = type(self).model_fields
        return self.model_copy(update={name: info.default for name, info in fields.items()
                                       if isinstance(info.json_schema_extra, dict)
                                       and info.json_schema_extra.get(_INHERIT_ONLY)})


class TextTraining(_Strict):
    """Language-model training. Defaults are the authors' candidate training (SGD lr 20, clip 0.25,
    10 epochs, no dropout); ``SHRINKRNN_FINAL_TRAINING`` holds their final-training values."""

    epochs: int = Field(10, ge=1)
    lr: float = Field(20.0, gt=0)
    batch_size: int = Field(128, ge=1)
    eval_batch_size: int = Field(10, ge=1)
    bptt: int = Field(35, ge=2)
    bptt_half_prob: float = Field(0.05, ge=0, le=1, description="chance a batch uses half the BPTT length")
    bptt_std: float = Field(0.0, ge=0, description="std of the normal jitter on the BPTT length (AWD-LSTM: 5)")
    clip: float = Field(0.25, gt=0)
    lr_decay_epochs: tuple[int, ...] | None = Field(
        None, description="lr / 10 after these epochs (0-based); None: the authors' epochs - 4 and epochs - 2"
    )
    patience: int = Field(4, ge=1, description="stop after this many epochs without a new best val_ppl")
    overfit_ratio: float | None = Field(3.0, gt=0, description="stop once val loss exceeds this multiple of train loss")
    weight_decay: float = Field(0.0, ge=0)
    dropout: float = Field(0.0, ge=0, lt=1, description="variational dropout on the cell output")
    dropout_x: float = Field(0.0, ge=0, lt=1, description="variational dropout on the cell's input x")
    dropout_h: float = Field(0.0, ge=0, lt=1, description="variational dropout on the states entering each edge")
    dropout_i: float = Field(0.0, ge=0, lt=1, description="variational dropout on the embedding output")
    dropout_e: float = Field(0.0, ge=0, lt=1, description="word-level dropout of whole embedding rows")
    ar_alpha: float = Field(0.0, ge=0, description="activation regularisation (L2 of dropped outputs)")
    tar_beta: float = Field(0.0, ge=0, description="temporal activation regularisation (slowness)")
    asgd: bool = Field(False, description="switch SGD to averaged SGD when validation stalls (NT-ASGD)")
    nonmono: int = Field(5, ge=1, description="NT-ASGD: epochs without beating the older best before switching")

    def decay_after(self) -> frozenset[int]:
        """0-based epochs after which the learning rate drops tenfold (10 epochs: after 6 and 8)."""
        if self.lr_decay_epochs is not None:
            return frozenset(self.lr_decay_epochs)
        return frozenset(e for e in (self.epochs - 4, self.epochs - 2) if e >= 0)


#: The authors' final ShrinkRNN training (DARTS/AWD-LSTM recipe): SGD lr 20 then NT-ASGD, batch 64,
#: variational and embedding dropout, slowness regularisation 1e-3, weight decay 8e-7, no lr steps.
SHRINKRNN_FINAL_TRAINING = TextTraining(
    epochs=8000,
    batch_size=64,
    bptt_std=5.0,
    lr_decay_epochs=(),
    patience=8000,
    overfit_ratio=None,
    weight_decay=8e-7,
    dropout=0.75,
    dropout_x=0.75,
    dropout_h=0.25,
    dropout_i=0.2,
    dropout_e=0.1,
    tar_beta=1e-3,
    asgd=True,
)


class ImageTask(_Strict):
    """Everything that decides a CNN candidate's outcome besides its cell and seed."""

    task: Literal["cnn"] = "cnn"
    dataset: str = "digits"
    proxy_train: int = Field(5000, ge=10, description="class-balanced training images")
    proxy_val: int = Field(1000, ge=10, description="class-balanced validation images, held back from train")
    data_seed: int = Field(0, description="which images form the proxy split")
    stem_channels: int = Field(32, ge=1)
    base_width: int = Field(16, ge=1)
    stages: int = Field(3, ge=1)
    training: ImageTraining = ImageTraining()
    device: str = "cpu"

    def from_scratch(self) -> "ImageTask":
        """This task as the paper trains a cell: from scratch, whatever the search's protocol settings."""
        return self.model_copy(update={"training": self.training.from_scratch()})


class TextTask(_Strict):
    """Everything that decides an RNN candidate's outcome besides its cell and seed."""

    task: Literal["rnn"] = "rnn"
    dataset: str = "fortunes"
    proxy_train_lines: int = Field(4000, ge=1)
    proxy_eval_lines: int = Field(300, ge=1)
    vocab_size: int = Field(10000, ge=10)
    hidden: int = Field(100, ge=1)
    training: TextTraining = TextTraining()
    device: str = "cpu"

    def from_scratch(self) -> "TextTask":
        """Language cells are always trained from scratch."""
        return self


class SearchSettings(_Strict):
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


class ConfirmSettings(_Strict):
    """The stage after the shrink loop that picks the final cell on fresh seeds instead of the search's own score.

    A search's best S is the maximum of many single-seed trainings (biased upward), and under the inherit protocol
    a fine-tuned score; re-training the ``top`` kept cells from scratch with ``seeds`` fresh seeds and taking the
    best mean S picks the final cell on scores that played no part in choosing the finalists. Off (``top`` 0) is
    the paper's eq. (7) and the library default (as ``protocol`` paper is); the CLI's fast default confirms 3 cells."""

    top: int = Field(0, ge=0, description="kept cells (best search S first) to re-train from scratch; 0: off")
    seeds: int = Field(2, ge=1, description="fresh seeds per re-trained cell")


class AutoShrinkConfig(_Strict):
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


def validated(model: type[_Strict], data: Any, source: str) -> Any:
    """Build a settings model, turning pydantic's report into one readable line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BadInputError(f"{source}: {where}: {first['msg']}") from None


def load_yaml(path: Path) -> Any:
    """Read a YAML file safely (no object construction), or fail with one line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not a UTF-8 text file; give a YAML file of settings") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise BadInputError(f"{path} is not valid YAML{at}") from None


def dump_yaml(model: BaseModel) -> str:
    return yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False)
