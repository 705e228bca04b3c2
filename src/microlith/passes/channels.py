"""Channels nothing reads: an activation channel that every later convolution or dense layer
multiplies by zero weights is never computed.

Pruned networks keep their shapes and zero the weights instead: the MLPerf Tiny VWW model has
output channels whose filters are all zero in its later pointwise layers (up to 234 of 256),
and the next pointwise layer's weights for those channels are zero too. Whatever such a channel
holds, it adds nothing downstream, so the layers that produce it need not compute it:

    producer  CONV_2D (not grouped) whose output channel c is read only through
    carriers  DEPTHWISE_CONV_2D (depth multiplier 1), MAX_POOL_2D, AVERAGE_POOL_2D (channel c
              in, channel c out) to
    consumers CONV_2D (not grouped) whose weights for input channel c are all zero, or
              FULLY_CONNECTED on a [1, 1, 1, C] tensor reshaped to [1, C], ditto.

Channel c then leaves the producer's filter, bias and per-channel scales, every carrier's (and
its activation tensors' last axis), and the consumers' input axis. Every remaining value is
computed exactly as before, so the model's outputs are the same bytes (verify holds them
against TFLM on the unpruned model). Channels stay where removing them would leave a count that
is not a multiple of 4, so the layers keep their fast kernel paths (groups of four channels,
words of four int8 values); and a tensor another node, or the graph's output, reads is left
alone, as is a chain whose weights or biases another layer shares.

A channel whose producer's filter is all zero is a constant: the producer writes its requantized
bias at every pixel, and a pooling layer on the way keeps it constant. Where it reaches a dense
layer (or a 1x1 convolution) only through pooling, its contribution there, the weights times the
constant plus the input offset, is the same for every input, so it is added to that layer's bias
(int32 wrap-around, as the sums wrap) and its weights zeroed; the channel is then unused and goes
as above. VWW's last pointwise layer has 234 such channels of 256 before its dense layer.

graph.meta["kept_channels"] maps each pruned activation tensor to the original channels it
keeps, in order (verify's per-layer diagnosis compares those).
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Quant
from .rewrite import Rewriter, copy_graph

CARRIERS = (Op.DEPTHWISE_CONV_2D, Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D)


def _zero_inputs(rw: Rewriter, node, x: str) -> np.ndarray | None:
    """Per channel of `x`, whether `node` (a consumer) multiplies it by zero weights only;
    None when `node` is no consumer of the kind this pass reads."""
    if node.op is Op.CONV_2D and node.inputs[0] == x:
        w = rw.t(node.inputs[1])
        if w.data is None or w.shape[3] != rw.t(x).shape[3]:
            return None   # grouped
        return ~w.data.reshape(-1, w.shape[3]).any(axis=0)
    if node.op is Op.RESHAPE and node.inputs[0] == x:
        shape = rw.t(x).shape
        y = node.outputs[0]
        readers = rw.readers(y)
        if (len(shape) != 4 or shape[:3] != (1, 1, 1) or rw.t(y).shape != (1, shape[3]) or y in rw.g.outputs
                or len(readers) != 1 or readers[0].op is not Op.FULLY_CONNECTED or readers[0].inputs[0] != y):
            return None
        w = rw.t(readers[0].inputs[1])
        if w.data is None or w.shape != (w.shape[0], shape[3]):
            return None
        return ~w.data.any(axis=0)
    return None


def _chain(rw: Rewriter, t: str):
    """From activation `t` (a producer's output): the carriers down to the consumers, and per
    channel whether every consumer ignores it; None if some reader is neither."""
    carriers, consumers, unused = [], [], None
    todo = [t]
    while todo:
        x = todo.pop()
        if x in rw.g.outputs or not rw.readers(x):
            return None
        for node in rw.readers(x):
            if node.op in CARRIERS and node.inputs[0] == x and \
                    (node.op is not Op.DEPTHWISE_CONV_2D or node.attrs.get("depth_multiplier") == 1):
                carriers.append(node)
                todo.append(node.outputs[0])
                continue
            zero = _zero_inputs(rw, node, x)
            if zero is None:
                return None
            consumers.append((node, x))
            unused = zero if unused is None else unused & zero
    return carriers, consumers, unused


def _slice_quant(q: Quant | None, keep: np.ndarray, axis: int) -> Quant | None:
    """The scales of the kept channels, where the quantization runs along the sliced axis."""
    if q is None or not q.per_axis or q.axis != axis:
        return q
    return Quant(tuple(np.asarray(q.scale)[keep].tolist()), tuple(np.asarray(q.zero_point)[keep].tolist()), axis)


def _slice_const(rw: Rewriter, name: str | None, keep: np.ndarray, axis: int) -> None:
    if name is None:
        return
    t = rw.t(name)
    data = np.take(t.data, keep, axis=axis)
    rw.g.tensors[name] = type(t)(t.name, tuple(data.shape), t.dtype, _slice_quant(t.quant, keep, axis), data)


def _own_constants(rw: Rewriter, nodes) -> bool:
    """Every constant the nodes read (weights, biases) is read by no other node: the pass rewrites
    them in place, which must not reach a node outside its edit (weights shared by two layers),
    nor slice one tensor twice."""
    names = [x for n in nodes for x in n.inputs[1:] if x is not None and rw.t(x).is_const]
    return len(names) == len(set(names)) and all(len(rw.readers(x)) == 1 for x in names)


def _slice_activation(rw: Rewriter, name: str, keep: np.ndarray) -> None:
    t = rw.t(name)
    rw.g.tensors[name] = type(t)(t.name, (*t.shape[:-1], len(keep)), t.dtype, t.quant, None, t.variable)


def _constant_path(rw: Rewriter, t: str):
    """From a producer's output `t`: the pooling layers down to one dense layer (through a
    reshape to [1, C]) or 1x1 convolution, each tensor read by the next alone; None otherwise.
    Returns (pools, consumer, the consumer's input tensor)."""
    pools = []
    while True:
        readers = rw.readers(t)
        if t in rw.g.outputs or len(readers) != 1:
            return None
        node = readers[0]
        if node.op in (Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D) and rw.t(node.outputs[0]).quant == rw.t(t).quant:
            pools.append(node)
            t = node.outputs[0]
            continue
        if _zero_inputs(rw, node, t) is None:
            return None   # not a consumer this pass reads
        if node.op is Op.CONV_2D:
            consumer, x = node, t
            if rw.t(node.inputs[1]).shape[1:3] != (1, 1):
                return None
        else:   # the reshape before a dense layer
            consumer, x = rw.readers(node.outputs[0])[0], node.outputs[0]
        has_bias = len(consumer.inputs) > 2 and consumer.inputs[2] is not None
        return (pools, consumer, x) if has_bias else None   # a bias to fold into


def fold_constant_channels(g: Graph) -> Graph:
    """A copy of `g` whose dense layers (or 1x1 convolutions) take the constant channels
    reaching them through pooling into their bias, their weights for those channels zeroed
    (module docstring); `g` itself when there are none."""
    from ..ops import impl_for
    from ..ops.conv import _requantize
    rw = Rewriter(g)
    edits = []
    for node in g.nodes:
        if node.op is not Op.CONV_2D or len(node.inputs) < 2 or g.t(node.outputs[0]).dtype != "int8":
            continue
        w = g.t(node.inputs[1])
        if w.data is None or len(w.shape) != 4:
            continue
        dead = np.flatnonzero(~w.data.reshape(w.shape[0], -1).any(axis=1))
        if not len(dead) or (path := _constant_path(rw, node.outputs[0])) is None:
            continue
        pools, consumer, x = path
        p = impl_for(Op.CONV_2D).prepare(node, g)
        values = _requantize(np.zeros(w.shape[0], np.int64), node, g, p).astype(np.int64)[dead]
        for pool in pools:   # an average or maximum of equal values is that value, then clamped
            pp = impl_for(pool.op).prepare(pool, g)
            values = np.clip(values, pp["act_min"], pp["act_max"])
        if _own_constants(rw, [consumer]):
            edits.append((consumer, x, dead, values))
    if not edits:
        return g
    g = copy_graph(g)
    rw = Rewriter(g)
    for consumer, x, dead, values in edits:
        w, b = rw.t(consumer.inputs[1]), rw.t(consumer.inputs[2])
        in_off = -int(rw.t(x).quant.zero_point[0])
        cols = w.data.reshape(w.shape[0], -1, w.shape[-1])[:, :, dead].astype(np.int64)  # [units, 1, dead]
        add = (cols[:, 0, :] * (values + in_off)).sum(axis=1)
        bias = ((b.data.astype(np.int64) + add + (1 << 31)) % (1 << 32) - (1 << 31)).astype(b.data.dtype)
        weights = w.data.copy()
        weights[..., dead] = 0
        rw.g.tensors[b.name] = type(b)(b.name, b.shape, b.dtype, b.quant, bias)
        rw.g.tensors[w.name] = type(w)(w.name, w.shape, w.dtype, w.quant, weights)
    return g


def prune_unused_channels(g: Graph) -> Graph:
    """A copy of `g` without the activation channels nothing downstream reads, constant channels
    folded into the dense layer they reach first (module docstring). The graph is returned as it
    is (no copy) when there is nothing to change."""
    g = fold_constant_channels(g)
    rw = Rewriter(g)
    plans = []
    for node in g.nodes:
        if node.op is not Op.CONV_2D or len(node.inputs) < 2:
            continue
        w, x = g.t(node.inputs[1]), g.t(node.inputs[0])
        if w.data is None or len(w.shape) != 4 or w.shape[3] != x.shape[3]:
            continue
        found = _chain(rw, node.outputs[0])
        if found is None or found[2] is None:
            continue
        carriers, consumers, unused = found
        channels = len(unused)
        drop = np.flatnonzero(unused)
        # keep a multiple of 4 channels, at least 4: the last unused ones stay to make it up
        short = -(channels - len(drop)) % 4
        drop = drop[:len(drop) - short] if short <= len(drop) else drop[:0]
        if len(drop) == 0 or channels - len(drop) < 4:
            continue
        keep = np.setdiff1d(np.arange(channels), drop)
        dense = [rw.readers(c.outputs[0])[0] for c, _ in consumers if c.op is Op.RESHAPE]
        if _own_constants(rw, [node, *carriers, *(c for c, _ in consumers), *dense]):
            plans.append((node, carriers, consumers, keep))
    if not plans:
        return g
    g = copy_graph(g)
    rw = Rewriter(g)
    kept_channels = g.meta.setdefault("kept_channels", {})
    for node, carriers, consumers, keep in plans:
        _slice_const(rw, node.inputs[1], keep, 0)          # [C_OUT, KH, KW, C_IN]
        _slice_const(rw, node.inputs[2] if len(node.inputs) > 2 else None, keep, 0)
        for t in [node.outputs[0]] + [c.outputs[0] for c in carriers]:
            _slice_activation(rw, t, keep)
            kept_channels[t] = keep.tolist()
        for c in carriers:
            if c.op is Op.DEPTHWISE_CONV_2D:
                _slice_const(rw, c.inputs[1], keep, 3)      # [1, KH, KW, C]
                _slice_const(rw, c.inputs[2] if len(c.inputs) > 2 else None, keep, 0)
        for consumer, x in consumers:
            if consumer.op is Op.CONV_2D:
                _slice_const(rw, consumer.inputs[1], keep, 3)
            else:   # RESHAPE to the dense layer's [1, C]: its shape operand says the new C
                y = consumer.outputs[0]
                dense = rw.readers(y)[0]
                t = rw.t(y)
                rw.g.tensors[y] = type(t)(t.name, (1, len(keep)), t.dtype, t.quant, None, t.variable)
                kept_channels[y] = keep.tolist()
                shape = rw.const(f"{y}_shape", np.array([1, len(keep)], np.int32))
                attrs = {**consumer.attrs, **({"new_shape": [1, len(keep)]} if "new_shape" in consumer.attrs else {})}
                rw.replace(consumer, consumer.replace(inputs=(consumer.inputs[0], shape)[:max(1, len(consumer.inputs))],
                                                      attrs=attrs))
                _slice_const(rw, dense.inputs[1], keep, 1)
    g.validate()
    return g
