"""Architectures as data: one protocol (``base.Genome``) and one module per kind.

- ``dag_cell``: AutoShrink's cells (``Topology``; kinds ``cnn`` and ``rnn``)
"""

from .base import Genome, digest, genome_from_dict, genome_from_json, genome_kinds, load_genome, register
from .dag_cell import Topology

__all__ = ["Genome", "Topology", "digest", "genome_from_dict", "genome_from_json", "genome_kinds", "load_genome",
           "register"]
