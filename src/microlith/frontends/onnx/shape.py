"""Shape and axis ops: Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Pad."""
from __future__ import annotations

import math

import numpy as np

from ...ir import Op
from .values import CL_AXES, Builder, Val, cl_const, cl_shape, ir_shape_of, norm_axis


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
    ir_shapes = [cl_shape(s) if cl else s for s in shapes]
    out = concat_tree(b, names, ir_shapes, ir_axis, b.out_name())
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




# TFLM's CONCATENATION takes at most 10 inputs (concatenation.cc kMaxInputNum).
MAX_CONCAT_INPUTS = 10
# A Gather at scattered indices is one STRIDED_SLICE per index: bounded, as a file is untrusted.
MAX_GATHER_SLICES = 1024


def concat_tree(b: Builder, names: list[str], ir_shapes: list[tuple], axis: int, name: str | None) -> str:
    """CONCATENATION of any number of IR tensors along IR `axis`: more than TFLM's 10 inputs
    are joined in groups of 10 first (a byte copy each, so the result is the same)."""
    names, ir_shapes = list(names), [tuple(s) for s in ir_shapes]

    def joined(shapes):
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    while len(names) > MAX_CONCAT_INPUTS:
        grouped, grouped_shapes = [], []
        for k in range(0, len(names), MAX_CONCAT_INPUTS):
            part, part_shapes = names[k:k + MAX_CONCAT_INPUTS], ir_shapes[k:k + MAX_CONCAT_INPUTS]
            if len(part) > 1:
                part = [b.emit(Op.CONCATENATION, part, joined(part_shapes), None, axis=axis)]
                part_shapes = [joined(part_shapes)]
            grouped += part
            grouped_shapes += part_shapes
        names, ir_shapes = grouped, grouped_shapes
    return b.emit(Op.CONCATENATION, names, joined(ir_shapes), name, axis=axis)


def strided_slice(b: Builder, x: Val, ranges: dict[int, range], name: str | None) -> Val:
    """x with ONNX axis a restricted to the indices ranges[a] (a Python range, step != 0):
    one STRIDED_SLICE, in x's layout (a channels-last value is sliced in place)."""
    if all(r == range(x.shape[a]) for a, r in ranges.items()):
        return x
    shape = tuple(len(ranges.get(a, range(d))) for a, d in enumerate(x.shape))
    if min(shape) < 1:
        raise b.fail(f"takes no element along an axis of shape {list(x.shape)} (result {list(shape)})")
    ir_in = ir_shape_of(x)
    begin, end, strides = [0] * len(ir_in), list(ir_in), [1] * len(ir_in)
    end_mask = 0
    for a, r in ranges.items():
        ir_axis = CL_AXES[x.rank][a] if x.cl else a
        begin[ir_axis], end[ir_axis], strides[ir_axis] = r.start, r.stop, r.step
        if r.stop < 0:  # a negative step down to index 0: "to the end" is only expressible as a mask
            end[ir_axis] = 0
            end_mask |= 1 << ir_axis
    ir_out = cl_shape(shape) if x.cl else shape
    out = b.emit(Op.STRIDED_SLICE, [x.name, b.const(f"{x.name}_begin", begin), b.const(f"{x.name}_end", end),
                                    b.const(f"{x.name}_strides", strides)], ir_out, name,
                 begin_mask=0, end_mask=end_mask, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0,
                 offset=False)
    return Val(out, shape, cl=x.cl, nonneg=x.nonneg)


def _drop_axis(b: Builder, v: Val, axis: int, name: str | None) -> Val:
    shape = v.shape[:axis] + v.shape[axis + 1:]
    v = b.plain(v)
    return Val(b.reshape(v, shape, name), shape, nonneg=v.nonneg)


def slice_(b: Builder, node, ins, at) -> list:
    """ONNX Slice (opset >= 10: starts, ends, axes, steps as constant inputs)."""
    x = b.need_act(ins[0])
    starts, ends = b.need_ints(ins[1], "starts"), b.need_ints(ins[2], "ends")
    axes = b.need_ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = b.need_ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise b.fail(f"starts {starts}, ends {ends}, axes {axes} and steps {steps} differ in length")
    axes = [norm_axis(b, a, x.rank) for a in axes]
    if len(set(axes)) != len(axes) or 0 in steps:
        raise b.fail(f"axes {axes} repeat an axis, or steps {steps} hold a 0")
    # Python's slice.indices clamps exactly as the ONNX spec does (negative indices count from
    # the end; a negative step runs down to index 0 at most).
    ranges = {a: range(*slice(s, e, st).indices(x.shape[a])) for a, s, e, st in zip(axes, starts, ends, steps)}
    return [strided_slice(b, x, ranges, b.out_name())]


def gather(b: Builder, node, ins, at) -> list:
    """Gather of a computed tensor at constant indices (a scalar or a 1-D list): STRIDED_SLICEs,
    then a RESHAPE dropping the axis (scalar) or a CONCATENATION (scattered indices)."""
    x = b.need_act(ins[0], "data")
    if isinstance(ins[1], Val):
        raise b.fail("indices computed at run time are not supported (only constant indices)")
    arr = np.asarray(ins[1])
    if arr.ndim > 1:
        raise b.fail(f"indices of shape {list(arr.shape)} are not supported (only a scalar or a 1-D list)")
    axis = norm_axis(b, int(at.get("axis", 0)), x.rank)
    dim = x.shape[axis]
    idx = [i + dim if i < 0 else i for i in b.need_ints(arr, "indices")]
    if not idx or any(not 0 <= i < dim for i in idx):
        raise b.fail(f"indices {b.need_ints(arr, 'indices')} are out of range for axis {axis} of "
                     f"size {dim}")
    if arr.ndim == 0:
        one = strided_slice(b, x, {axis: range(idx[0], idx[0] + 1)}, None)
        return [_drop_axis(b, one, axis, b.out_name())]
    step = idx[1] - idx[0] if len(idx) > 1 else 1
    if step != 0 and idx == list(range(idx[0], idx[-1] + step, step)):
        return [strided_slice(b, x, {axis: range(idx[0], idx[-1] + step, step)}, b.out_name())]
    if len(idx) > MAX_GATHER_SLICES:
        raise b.fail(f"{len(idx)} scattered indices would need as many slices; at most {MAX_GATHER_SLICES} "
                     "are supported")
    parts = [strided_slice(b, x, {axis: range(i, i + 1)}, None) for i in idx]
    ir_axis = CL_AXES[x.rank][axis] if x.cl else axis
    shape = x.shape[:axis] + (len(idx),) + x.shape[axis + 1:]
    out = concat_tree(b, [p.name for p in parts], [ir_shape_of(p) for p in parts], ir_axis, b.out_name())
    return [Val(out, shape, cl=x.cl, nonneg=x.nonneg)]


def split(b: Builder, node, ins, at) -> list:
    """Split into STRIDED_SLICEs, one per output."""
    x = b.need_act(ins[0])
    axis = norm_axis(b, int(at.get("axis", 0)), x.rank)
    dim, n = x.shape[axis], len(node.output)
    if len(ins) > 1 and ins[1] is not None:
        sizes = b.need_ints(ins[1], "split")
    elif "split" in at:
        sizes = list(at["split"])
    else:
        n = int(at.get("num_outputs", n))
        if n != len(node.output):
            raise b.fail(f"num_outputs {n} differs from the {len(node.output)} outputs")
        chunk = -(-dim // n)
        if dim % n and b.opset < 18:
            raise b.fail(f"axis {axis} of size {dim} does not split into {n} equal parts")
        sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
    if len(sizes) != len(node.output) or sum(sizes) != dim or min(sizes) < 1:
        raise b.fail(f"split sizes {sizes} do not cut axis {axis} of size {dim} into {len(node.output)} "
                     "non-empty parts")
    outs, start = [], 0
    for k, size in enumerate(sizes):
        name = node.output[k] or None
        outs.append(strided_slice(b, x, {axis: range(start, start + size)}, name))
        start += size
    return outs
