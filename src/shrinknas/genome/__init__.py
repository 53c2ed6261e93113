"""Architectures as data: one protocol (``base.Genome``) and one module per kind.

- ``dag_cell``: AutoShrink's cells (``Topology``; kinds ``cnn`` and ``rnn``)
- ``dso_block``: DSO-NAS's search space (``DsoSpace``) and derived networks (``DsoArch``; kind ``dso``)
- ``layer_seq``: Architecture Compression's whole sequential CNNs (``LayerSequence``; kind ``sequential``)
"""

from .base import Genome, digest, genome_from_dict, genome_from_json, genome_kinds, load_genome, register
from .dag_cell import Topology
from .dso_block import DsoArch, DsoSpace
from .layer_seq import Layer, LayerSequence

__all__ = ["DsoArch", "DsoSpace", "Genome", "Layer", "LayerSequence", "Topology", "digest", "genome_from_dict",
           "genome_from_json", "genome_kinds", "load_genome", "register"]
