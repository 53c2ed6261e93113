"""Weight inheritance between cell networks that share channels (AutoShrink candidates and their parent).

A candidate is its parent minus one edge u -> v: v's input loses u's channels, nodes left without input
disappear, and a node that lost its last outgoing edge joins the cell output. Every channel carries a label
(``nets.cnn.Label``), so each parameter of the child is filled from the parent by label: kept channels get
the parent's trained values, channels the parent lacked feed in through zero weights (so they change nothing
until trained) and the rest keeps its fresh initialisation.
"""

from __future__ import annotations

import torch

from .cnn import ChannelAxes, CellNetwork


def _positions(child: tuple, parent: tuple) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(child positions found in parent, their parent positions, child positions the parent lacks)."""
    where = {label: i for i, label in enumerate(parent)}
    found = [i for i, label in enumerate(child) if label in where]
    missing = [i for i, label in enumerate(child) if label not in where]
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long)  # noqa: E731
    return as_long(found), as_long([where[child[i]] for i in found]), as_long(missing)


def transfer(target: torch.Tensor, source: torch.Tensor, target_axes: list, source_axes: list) -> bool:
    """Copy ``source`` into ``target`` along labelled axes; returns False when the two cannot be matched."""
    source_labels = {axis: labels for axis, labels, _ in source_axes}
    if {a for a, _, _ in target_axes} != set(source_labels):
        return False
    index: list = [slice(None)] * target.ndim
    picked = source
    for axis, labels, zero_missing in target_axes:
        found, from_parent, missing = (t.to(target.device) for t in _positions(labels, source_labels[axis]))
        picked = picked.index_select(axis, from_parent)
        index[axis] = found
        if zero_missing and len(missing):
            target.index_fill_(axis, missing, 0.0)
    if len(target_axes) == 2:
        index[0], index[1] = index[0][:, None], index[1][None, :]
    free = [d for d in range(target.ndim) if d not in source_labels]
    if any(target.shape[d] != source.shape[d] for d in free):
        return False
    target[tuple(index)] = picked
    return True


@torch.no_grad()
def transfer_state(
    target: dict[str, torch.Tensor], target_axes: ChannelAxes, source: dict[str, torch.Tensor], source_axes: ChannelAxes
) -> int:
    """Fill the ``target`` tensors in place from ``source`` by name and channel label; returns how many were filled.

    Tensors named in the axes dicts move by label, others are copied when their shapes agree. Any two
    labelled layouts work: a child and its parent, or one candidate and its block of a batched network.
    """
    copied = 0
    for name, tensor in target.items():
        from_tensor = source.get(name)
        if from_tensor is None:
            continue
        axes = target_axes.get(name)
        if axes:
            copied += transfer(tensor, from_tensor.to(tensor.device, tensor.dtype), axes, source_axes.get(name, []))
        elif from_tensor.shape == tensor.shape:
            tensor.copy_(from_tensor)
            copied += 1
    return copied


def inherit(child: CellNetwork, parent: CellNetwork) -> int:
    """Fill ``child`` in place from ``parent``; returns how many tensors were (fully or partly) inherited."""
    return transfer_state(child.state_dict(), child.axes, parent.state_dict(), parent.axes)
