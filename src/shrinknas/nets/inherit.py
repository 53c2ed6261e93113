"""Weight inheritance between cell networks that share channels (AutoShrink candidates and their parent).

A candidate is its parent minus one edge u -> v: v's input loses u's channels, nodes left without input
disappear, and a node that lost its last outgoing edge joins the cell output. Every channel carries a label
(``nets.cnn.Label``), so each parameter of the child is filled from the parent by label: kept channels get
the parent's trained values, channels the parent lacked feed in through zero weights (so they change nothing
until trained) and the rest keeps its fresh initialisation.

With ``handover``, a node that becomes a leaf where a leaf died (the last edges of a chain) takes over the dead
leaf's output channels instead: the residual projection and the next layer keep their trained weights for those
channels, so the network still carries a signal. Through zero weights it would start cut off downstream.
"""

from __future__ import annotations

import torch

from .cnn import ChannelAxes, CellNetwork, Label


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


def handed_over(child: CellNetwork, parent: CellNetwork) -> dict[Label, Label]:
    """Channel labels of each cell's new leaves -> those of the leaves that died, paired in node order.

    A parent's leaf has no successors, so one missing from the child's leaves is gone from the child; a child's
    leaf has none either, so its labels appear only where the cell output is read. Renaming them there is safe.
    """
    renamed: dict[Label, Label] = {}
    for index, (child_cell, parent_cell) in enumerate(zip(child.cells, parent.cells)):
        born = sorted(set(child_cell.leaves) - set(parent_cell.leaves) - {0})  # node 0 carries the input's labels
        died = sorted(set(parent_cell.leaves) - set(child_cell.leaves) - {0})
        for new, old in zip(born, died):
            renamed.update({x: (index, old, x[2]) for x in child_cell.out_labels if x[:2] == (index, new)})
    return renamed


def inherit(child: CellNetwork, parent: CellNetwork, handover: bool = False) -> int:
    """Fill ``child`` in place from ``parent``; returns how many tensors were (fully or partly) inherited."""
    axes = child.axes
    renamed = handed_over(child, parent) if handover else {}
    if renamed:
        axes = {
            name: [(axis, tuple(renamed.get(x, x) for x in labels), zero) for axis, labels, zero in entries]
            for name, entries in axes.items()
        }
    return transfer_state(child.state_dict(), axes, parent.state_dict(), parent.axes)
