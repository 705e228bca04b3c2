"""Shape and axis ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Pad."""
from __future__ import annotations

import math

import numpy as np

from ...ir import Op
from .values import CL_AXES, Builder, Val, cl_const, cl_shape, norm_axis


def reshape(b: Builder, node, ins, at) -> list:
    x = b.plain(b.need_act(ins[0]))
    spec = b.need_ints(ins[1], "shape")
    shape = []
    for k, d in enumerate(spec):
        if d == 0 and not at.get("allowzero", 0):
            if k >= x.rank:
                raise b.fail(f"shape {spec} copies dimension {k} of a rank-{x.rank} input")
            d = x.shape[k]
        shape.append(d)
    if shape.count(-1) > 1 or any(d < -1 for d in shape):
        raise b.fail(f"invalid target shape {spec}")
    known = math.prod(d for d in shape if d != -1)
    size = math.prod(x.shape)
    if -1 in shape:
        if known == 0 or size % known:
            raise b.fail(f"cannot reshape {list(x.shape)} to {spec}")
        shape[shape.index(-1)] = size // known
    if math.prod(shape) != size:
        raise b.fail(f"cannot reshape {list(x.shape)} ({size} values) to {shape}")
    return [Val(b.reshape(x, tuple(shape), b.out_name()), tuple(shape), nonneg=x.nonneg)]


def reshape_to(b: Builder, x: Val, shape: tuple) -> list:
    x = b.plain(x)
    return [Val(b.reshape(x, tuple(shape), b.out_name()), tuple(shape), nonneg=x.nonneg)]


def flatten(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axis = at.get("axis", 1)
    axis = axis if axis == x.rank else norm_axis(b, axis, x.rank)
    return reshape_to(b, x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


def axes_operand(b: Builder, ins, at, what: str = "axes") -> list[int] | None:
    if len(ins) > 1 and ins[1] is not None:
        return b.need_ints(ins[1], what)
    return list(at["axes"]) if "axes" in at else None


def squeeze(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = axes_operand(b, ins, at)
    axes = [k for k, d in enumerate(x.shape) if d == 1] if axes is None else \
        [norm_axis(b, a, x.rank) for a in axes]
    if any(x.shape[a] != 1 for a in axes):
        raise b.fail(f"cannot squeeze axes {axes} of shape {list(x.shape)}")
    return reshape_to(b, x, tuple(d for k, d in enumerate(x.shape) if k not in axes))


def unsqueeze(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = axes_operand(b, ins, at)
    if axes is None:
        raise b.fail("axes are missing")
    rank = x.rank + len(axes)
    axes = sorted(norm_axis(b, a, rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape_to(b, x, tuple(shape))


def transpose(b: Builder, node, ins, at) -> list:
    x = b.plain(b.need_act(ins[0]))
    perm = list(at.get("perm", range(x.rank)[::-1]))
    if sorted(perm) != list(range(x.rank)):
        raise b.fail(f"perm {perm} is not a permutation of {x.rank} axes")
    out = b.transpose(x.name, tuple(perm), x.shape, b.out_name())
    return [Val(out, tuple(x.shape[p] for p in perm), nonneg=x.nonneg)]


def concat(b: Builder, node, ins, at) -> list:
    acts = [v for v in ins if isinstance(v, Val)]
    if not acts:
        raise b.fail("has no computed input")
    rank = acts[0].rank
    if any(len(np.shape(v) if isinstance(v, np.ndarray) else v.shape) != rank for v in ins if v is not None):
        raise b.fail("inputs have different ranks")
    axis = norm_axis(b, int(at.get("axis", 0)), rank)
    cl = any(v.cl for v in acts) and rank in (3, 4)   # convs before or after: keep channels last
    names, shapes = [], []
    for v in ins:
        if v is None:
            continue
        if isinstance(v, np.ndarray):
            arr = cl_const(v.astype(np.float32), rank) if cl else v.astype(np.float32)
            names.append(b.const(f"{b.out_name()}_part", arr))
            shapes.append(tuple(v.shape))
        else:
            v = b.channels_last(v) if cl else v
            names.append(v.name)
            shapes.append(v.shape)
    for s in shapes:
        if s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
            raise b.fail(f"input shapes {[list(s) for s in shapes]} differ outside axis {axis}")
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    shape = tuple(shape)
    ir_axis = CL_AXES[rank][axis] if cl else axis
    out = b.emit(Op.CONCATENATION, names, cl_shape(shape) if cl else shape, b.out_name(), axis=ir_axis)
    return [Val(out, shape, cl=cl, nonneg=all(v.nonneg for v in acts) and len(acts) == len(names))]


def pad(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    mode = at.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise b.fail(f"mode '{mode}' is not supported (only 'constant')")
    pads = b.need_ints(ins[1], "pads") if len(ins) > 1 and ins[1] is not None else \
        list(at.get("pads", []))
    value = 0.0
    if len(ins) > 2 and ins[2] is not None:
        value = b.need_scalar(ins[2], "constant_value")
    elif "value" in at:
        value = float(at["value"])
    if value != 0.0:
        raise b.fail(f"padding with {value} is not supported (only with zeros)")
    axes = list(range(x.rank))
    if len(ins) > 3 and ins[3] is not None:
        axes = [norm_axis(b, a, x.rank) for a in b.need_ints(ins[3], "axes")]
    if len(pads) != 2 * len(axes):
        raise b.fail(f"pads {pads} do not fit {len(axes)} axes")
    per_axis = [(0, 0)] * x.rank
    for k, a in enumerate(axes):
        per_axis[a] = (pads[k], pads[k + len(axes)])
    if any(p < 0 for pair in per_axis for p in pair):
        raise b.fail(f"negative pads {pads} (cropping) are not supported")
    shape = tuple(d + p0 + p1 for d, (p0, p1) in zip(x.shape, per_axis))
    if x.cl:
        ir = [(0, 0)] * 4
        for a, pair in enumerate(per_axis):
            ir[CL_AXES[x.rank][a]] = pair
        per_axis = ir
    out = b.emit(Op.PAD, [x.name, b.const(f"{b.out_name()}_pads", per_axis)],
                 cl_shape(shape) if x.cl else shape, b.out_name())
    return [Val(out, shape, cl=x.cl, nonneg=x.nonneg)]


