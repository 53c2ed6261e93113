"""Architecture Compression: sample and train layer sequences, embed them, descend in the embedding.

- ``sampler``: the paper's random architectures (appendix 9) and variants of a teacher
- ``encoding``: rows ``[t, k, o, s, p]`` to normalised tensors for the autoencoder, and back
- ``descent``: COMPRESS (eqs. 16-18): gradient steps on a teacher's embedding, repair, ranking
- ``pruning``: the torch-pruning baseline at the same parameter count
"""
