"""Task and trainer settings: everything that decides a trial's outcome besides its genome and seed.

Defaults are the authors' (see the project docs).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import INHERIT_ONLY, StrictModel, added_setting, inherit_only

class ImageTraining(StrictModel):
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
                                       and info.json_schema_extra.get(INHERIT_ONLY)})


class TextTraining(StrictModel):
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


class ImageTask(StrictModel):
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


class TextTask(StrictModel):
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
