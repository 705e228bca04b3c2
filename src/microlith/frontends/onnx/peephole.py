"""A cleanup of the lowered graph: a slice that takes exactly one piece of a concatenation reads
that piece instead.

The unrolled recurrent layers stack every step's state into Y (a CONCATENATION tree), and most
models then read one step of Y (`y[:, -1]` in PyTorch: Squeeze, Transpose, Gather). Reading the
step's own tensor drops the copy, the stacked buffer and the tie of every step's state to one
set of int8 parameters; prune() then removes whatever nothing reads any more.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir import Node, Op
from ...reference_float import slice_ranges
from .values import Builder

# Slices of tensors larger than this are left alone (finding the selected elements costs an index
# array of the tensor's size).
_MAX_ELEMENTS = 1 << 16


def _moves_no_data(b: Builder, node: Node) -> bool:
    """A RESHAPE, or a TRANSPOSE that keeps the order of the axes longer than 1."""
    if node.op is Op.RESHAPE:
        return True
    perm = b.tensors[node.inputs[1]].data
    shape = b.tensors[node.inputs[0]].shape
    if perm is None:
        return False
    moved = [int(p) for p in np.asarray(perm).reshape(-1) if shape[int(p)] != 1]
    return moved == sorted(moved)


def _flat_blocks(b: Builder, cat: Node) -> list[tuple[int, int, str]] | None:
    """(start, stop, input) of each input in the output's memory order, if each is one block."""
    out = b.tensors[cat.outputs[0]].shape
    axis = cat.attrs["axis"] % len(out)
    if math.prod(out[:axis]) != 1:
        return None
    blocks, start = [], 0
    for name in cat.inputs:
        size = math.prod(b.tensors[name].shape)
        blocks.append((start, start + size, name))
        start += size
    return blocks


def _selected(b: Builder, node: Node) -> tuple[int, int] | None:
    """The flat [start, stop) a STRIDED_SLICE takes, if it is one contiguous run."""
    shape = b.tensors[node.inputs[0]].shape
    consts = [b.tensors[n].data for n in node.inputs[1:4]]
    if math.prod(shape) > _MAX_ELEMENTS or any(c is None for c in consts):
        return None
    ranges = slice_ranges(node, shape, *consts)
    flat = np.arange(math.prod(shape)).reshape(shape)[np.ix_(*ranges)].reshape(-1)
    if flat.size == 0 or not np.array_equal(flat, np.arange(flat[0], flat[0] + flat.size)):
        return None
    return int(flat[0]), int(flat[0]) + int(flat.size)


def _piece(b: Builder, producer: dict, name: str, lo: int, hi: int) -> str | None:
    """The tensor holding exactly the flat elements [lo, hi) of `name`, found through
    data-preserving RESHAPE/TRANSPOSE and (nested) CONCATENATION nodes."""
    while True:
        node = producer.get(name)
        if node is None:
            return None
        if node.op in (Op.RESHAPE, Op.TRANSPOSE) and _moves_no_data(b, node):
            name = node.inputs[0]
            continue
        if node.op is not Op.CONCATENATION or node.attrs.get("activation", "NONE") != "NONE":
            return None
        blocks = _flat_blocks(b, node)
        inside = [(s, e, n) for s, e, n in (blocks or []) if s <= lo and hi <= e]
        if not inside:
            return None
        s, e, name = inside[0]
        lo, hi = lo - s, hi - s
        if (lo, hi) == (0, e - s):
            return name


def slices_of_concats(b: Builder) -> int:
    """Rewrite each STRIDED_SLICE that takes one whole piece of a concatenation into a RESHAPE of
    that piece; returns how many."""
    producer = {out: n for n in b.nodes for out in n.outputs}
    done = 0
    for k, node in enumerate(b.nodes):
        if node.op is not Op.STRIDED_SLICE:
            continue
        span = _selected(b, node)
        piece = _piece(b, producer, node.inputs[0], *span) if span else None
        if piece is None:
            continue
        out = node.outputs[0]
        shape = b.const(f"{out}_shape", list(b.tensors[out].shape))
        b.nodes[k] = Node(Op.RESHAPE, (piece, shape), (out,), {}, name=node.name)
        done += 1
    return done
