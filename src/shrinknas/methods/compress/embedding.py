"""A trained embedding as one value: the autoencoder, its encoding and its parameter scale.

Its state is tensors and plain values only, so it saves with ``torch.save`` and loads with
``weights_only=True``; a descent needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ...genome.layer_seq import LayerSequence
from ...nets.autoencoder import ArchAutoencoder, AutoencoderShape
from ...train.embedding import EmbeddingTrainer, EmbeddingTraining, EpochCallback, ParamsScale
from .encoding import SequenceEncoding


@dataclass
class TrainedEmbedding:
    model: ArchAutoencoder
    encoding: SequenceEncoding
    scale: ParamsScale

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "shape": self.model.shape.to_dict(),
                "encoding": self.encoding.to_dict(), "scale": self.scale.to_dict()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TrainedEmbedding":
        model = ArchAutoencoder(AutoencoderShape(**state["shape"]))
        model.load_state_dict(state["model"])
        model.eval()
        return cls(model, SequenceEncoding(**state["encoding"]), ParamsScale(**state["scale"]))


def embedding_trainer(genomes: Sequence[LayerSequence], accuracies: Sequence[float],
                      settings: EmbeddingTraining = EmbeddingTraining(), shape: AutoencoderShape | None = None,
                      extra: Sequence[LayerSequence] = ()) -> EmbeddingTrainer:
    """A trainer whose encoding covers ``genomes`` and ``extra`` (the teachers it will compress), with T a
    multiple of what the autoencoder's stages halve."""
    stages = (shape or AutoencoderShape()).stages
    encoding = SequenceEncoding.covering(list(genomes) + list(extra), multiple=2 ** stages)
    if shape is not None and shape.seq_len < encoding.max_layers:
        raise ValueError(f"seq_len {shape.seq_len} is shorter than the longest architecture")
    if shape is not None:
        encoding = SequenceEncoding(**{**encoding.to_dict(), "max_layers": shape.seq_len})
    return EmbeddingTrainer(genomes, accuracies, encoding, settings, shape)


def train_embedding(genomes: Sequence[LayerSequence], accuracies: Sequence[float],
                    settings: EmbeddingTraining = EmbeddingTraining(), shape: AutoencoderShape | None = None,
                    extra: Sequence[LayerSequence] = (),
                    on_epoch: EpochCallback | None = None) -> tuple[TrainedEmbedding, list[dict]]:
    """Train an embedding start to end: the trained embedding and the per-epoch values."""
    trainer = embedding_trainer(genomes, accuracies, settings, shape, extra)
    history = trainer.fit(on_epoch)
    return trained(trainer), history


def trained(trainer: EmbeddingTrainer) -> TrainedEmbedding:
    trainer.model.eval()
    assert isinstance(trainer.encoding, SequenceEncoding)
    return TrainedEmbedding(trainer.model, trainer.encoding, trainer.scale)
