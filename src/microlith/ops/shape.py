"""Data movement: RESHAPE, SQUEEZE, PAD, CONCATENATION, STRIDED_SLICE, TRANSPOSE (int8, and
int16 through the *_s16 kernels; CONCATENATION and STRIDED_SLICE also int32, *_s32).

None of these does arithmetic: TFLM copies bytes (PAD fills with the output zero point), so
the work here is reading the constant operands exactly as TFLM's Prepare does, rejecting
what TFLM rejects, and handing the kernels the smallest equivalent shapes (dimensions of
size one dropped, dimensions that move together merged).
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError, Op
from . import OpImpl, register, where
from .s16 import NP, act_dtype

SUFFIX = {"int8": "s8", "int16": "s16", "int32": "s32"}
CTYPE = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t"}


def moved_dtype(node, g, names) -> str:
    """The dtype a pure data-movement op copies: int16 when the input is int16, else int8
    (require_same_dtype then refuses anything but these two)."""
    return "int16" if g.t(names[0]).dtype == "int16" else "int8"


def unquantized_int32(g, names) -> bool:
    """TFLM's CONCATENATION and STRIDED_SLICE also copy int32 data (the signal front ends'
    tensors), which they never rescale, so its quantization (usually none) does not matter."""
    return all(g.t(n).dtype == "int32" for n in names)

MAX_RANK = 6  # ML_MAX_RANK in csrc/ml_shape_nd.h


def shape_nd(ctx, hint: str, dims) -> str:
    """&ident of a static ml_shape_nd."""
    dims = [int(d) for d in dims]
    if len(dims) > MAX_RANK:
        raise AssertionError(f"rank {len(dims)} > {MAX_RANK}")
    return ctx.struct("ml_shape_nd", hint, dict(rank=len(dims), dims=c_array(dims)))


def c_array(values, length: int = MAX_RANK, fill: int = 0) -> str:
    """A brace initializer for a fixed-size int32 array field."""
    values = [int(v) for v in values]
    values += [fill] * (length - len(values))
    return "{ " + ", ".join(str(v) for v in values) + " }"


def const_ints(node, g, index: int, what: str, dtypes=("int32",)) -> np.ndarray:
    """A constant integer operand (axis, paddings, perm, begin/end/strides) as int64."""
    name = node.inputs[index] if index < len(node.inputs) else None
    if name is None:
        raise MicrolithError(f"{where(node, g)}: missing {what} input")
    t = g.t(name)
    if not t.is_const:
        raise MicrolithError(f"{where(node, g)}: {what} '{name}' is computed at run time; "
                             "microlith needs it constant")
    if t.dtype not in dtypes:
        raise MicrolithError(f"{where(node, g)}: {what} '{name}' is {t.dtype}; TFLM reads it as "
                             f"{' or '.join(dtypes)}")
    return t.data.astype(np.int64)


def require_same_dtype(node, g, names, dtype="int8") -> None:
    for name in names:
        t = g.t(name)
        if t.dtype != dtype:
            raise MicrolithError(f"{where(node, g)}: tensor '{name}' is {t.dtype}; this kernel "
                                 f"moves {dtype} data only")


def require_nonempty(node, g, names) -> None:
    for name in names:
        if g.t(name).size == 0:
            raise MicrolithError(f"{where(node, g)}: tensor '{name}' of shape "
                                 f"{list(g.t(name).shape)} has no elements")


class _Alias(OpImpl):
    """Reshape-like ops: the bytes do not change, only the shape. Codegen shares the input's
    memory or emits a memcpy, so there is no kernel and no emit()."""
    alias = True
    dtypes = ("int8", "int16")  # any dtype: the bytes are shared or copied

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if x.dtype != y.dtype:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' is {x.dtype} but output "
                                 f"'{y.name}' is {y.dtype}")
        if x.size != y.size:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' {list(x.shape)} has {x.size} "
                                 f"elements, output '{y.name}' {list(y.shape)} has {y.size}")
        return {}

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.asarray(xs[0]).astype(y.np_dtype).reshape(y.shape)]


@register
class Reshape(_Alias):
    op = Op.RESHAPE  # the optional shape operand (input 1) is implied by the output's shape


@register
class Squeeze(_Alias):
    op = Op.SQUEEZE


@register
class Pad(OpImpl):
    """TFLM pad.cc: paddings [rank, 2] constant int32, fill value the output zero point
    (or a third, constant scalar input with the output's quantization), rank <= 5."""
    op = Op.PAD
    kernels = ("ml_pad_s8", "ml_pad_s16")
    dtypes = ("int8", "int16")
    MAX_RANK = 5

    def kernels_for(self, node, g, p):
        return (f"ml_pad_{SUFFIX[p['dtype']]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name], int16_zero_point=False)
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        if not 1 <= rank <= self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; TFLM pads "
                                 f"tensors of rank 1 to {self.MAX_RANK}")
        pads = const_ints(node, g, 1, "paddings")
        if pads.size != 2 * rank or len(y.shape) != rank:
            raise MicrolithError(f"{where(node, g)}: paddings of shape {list(pads.shape)} do not fit "
                                 f"input {list(x.shape)} and output {list(y.shape)} (need [{rank}, 2])")
        pads = pads.reshape(rank, 2)
        if (pads < 0).any():
            raise MicrolithError(f"{where(node, g)}: negative paddings {pads.tolist()} are not supported")
        want = tuple(int(d + a + b) for d, (a, b) in zip(x.shape, pads))
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"padding {list(x.shape)} by {pads.tolist()} gives {list(want)}")
        # TFLM pads int16 with 0 whatever the zero point (pad.cc), int8 with the zero point.
        value = y.quant.zero_point[0] if dtype == "int8" else 0
        if len(node.inputs) > 2 and node.inputs[2] is not None:
            c = g.t(node.inputs[2])
            if (c.dtype != dtype or not c.is_const or c.size != 1 or c.quant is None
                    or c.quant.zero_point[0] != y.quant.zero_point[0]
                    or np.float32(c.quant.scale[0]) != np.float32(y.quant.scale[0])):
                raise MicrolithError(f"{where(node, g)}: constant_values '{c.name}' must be a constant "
                                     f"{dtype} scalar quantized like the output")
            value = int(c.data.reshape(-1)[0])
        # Merge each unpadded dimension into the one before it: the copy loops then run over
        # the longest contiguous rows.
        ins, befores, outs = [int(x.shape[0])], [int(pads[0, 0])], [int(y.shape[0])]
        for d in range(1, rank):
            if pads[d, 0] == 0 and pads[d, 1] == 0:
                ins[-1] *= int(x.shape[d])
                befores[-1] *= int(x.shape[d])
                outs[-1] *= int(x.shape[d])
            else:
                ins.append(int(x.shape[d]))
                befores.append(int(pads[d, 0]))
                outs.append(int(y.shape[d]))
        return dict(dtype=dtype, pads=pads, value=value, in_shape=ins, out_shape=outs, before=befores)

    def reference(self, node, g, p, xs):
        dt = NP[p["dtype"]]
        y = np.pad(np.asarray(xs[0], dt), p["pads"], mode="constant", constant_values=p["value"])
        return [y.astype(dt)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_pad_params", "params",
                            dict(before=c_array(p["before"]), pad_value=p["value"]))
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class Concatenation(OpImpl):
    """TFLM concatenation.cc: int8 inputs must share the output's scale and zero point (no
    rescaling), no fused activation, at most 10 inputs; the kernel is a byte copy. int32 is
    copied whatever its quantization, as TFLM does."""
    op = Op.CONCATENATION
    kernels = ("ml_concat_s8",)  # a byte copy for every element type (emit_byte_concat)
    dtypes = ("int8", "int16", "int32")
    MAX_INPUTS = 10
    MAX_RANK = 6  # RuntimeShape::kMaxSmallSize

    def prepare(self, node, g):
        names = [n for n in node.inputs if n is not None]
        y = g.t(node.outputs[0])
        if not names:
            raise MicrolithError(f"{where(node, g)}: no inputs")
        dtype = "int32" if unquantized_int32(g, names + [y.name]) else act_dtype(node, g, names + [y.name])
        require_nonempty(node, g, [y.name])
        if len(names) > self.MAX_INPUTS:
            raise MicrolithError(f"{where(node, g)}: {len(names)} inputs; TFLM concatenates at most "
                                 f"{self.MAX_INPUTS}")
        if node.attrs["activation"] != "NONE":
            raise MicrolithError(f"{where(node, g)}: fused activation {node.attrs['activation']} is "
                                 "not supported by TFLM's CONCATENATION")
        rank = len(y.shape)
        if rank > self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: rank {rank} > {self.MAX_RANK} is not supported")
        axis = int(node.attrs["axis"])
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise MicrolithError(f"{where(node, g)}: axis {node.attrs['axis']} is out of range for "
                                 f"rank {rank}")
        yq = y.quant
        for n in names:
            t = g.t(n)
            # TFLM compares the float32 scales exactly for int8; int16 (zero point 0) it copies
            # whatever the scales.
            if dtype == "int8" and (np.float32(t.quant.scale[0]) != np.float32(yq.scale[0]) or
                                    t.quant.zero_point[0] != yq.zero_point[0]):
                raise MicrolithError(
                    f"{where(node, g)}: input '{n}' (scale {t.quant.scale[0]:.9g}, zero point "
                    f"{t.quant.zero_point[0]}) is quantized differently from the output (scale "
                    f"{yq.scale[0]:.9g}, zero point {yq.zero_point[0]}); TFLM's int8 CONCATENATION "
                    "does not rescale")
            if len(t.shape) != rank or any(a != b for k, (a, b) in enumerate(zip(t.shape, y.shape))
                                           if k != axis):
                raise MicrolithError(f"{where(node, g)}: input '{n}' {list(t.shape)} does not fit "
                                     f"output {list(y.shape)} along axis {axis}")
        if sum(g.t(n).shape[axis] for n in names) != y.shape[axis]:
            raise MicrolithError(f"{where(node, g)}: inputs add up to "
                                 f"{sum(g.t(n).shape[axis] for n in names)} along axis {axis}, "
                                 f"output has {y.shape[axis]}")
        outer = math.prod(y.shape[:axis])
        blocks = [math.prod(g.t(n).shape[axis:]) for n in names]
        return dict(dtype=dtype, axis=axis, outer=outer, blocks=blocks)

    def reference(self, node, g, p, xs):
        dt = np.dtype(p["dtype"])
        arrays = [np.asarray(x, dt) for x, n in zip(xs, node.inputs) if n is not None]
        return [np.concatenate(arrays, axis=p["axis"]).astype(dt)]

    def emit(self, node, g, p, ctx):
        names = [n for n in node.inputs if n is not None]
        return emit_byte_concat(ctx, names, node.outputs[0], p["outer"], p["blocks"], p["dtype"])


def emit_byte_concat(ctx, names, output, outer: int, blocks, dtype: str) -> str:
    """ml_concat_s8 on [outer][block] views, blocks given in elements of `dtype`: the kernel
    copies bytes, so wider types pass their blocks in bytes and their pointers as bytes."""
    size = np.dtype(dtype).itemsize
    bblocks = [int(b) * size for b in blocks]
    params = ctx.struct("ml_concat_params", "params", dict(num_inputs=len(names)))
    dims = ", ".join(ctx.dims((outer, b)) for b in bblocks)
    cast = "" if size == 1 else "(const int8_t *)"
    data = ", ".join(f"{cast}{ctx.tensor(n)}" for n in names)
    out = ctx.tensor(output) if size == 1 else f"(int8_t *){ctx.tensor(output)}"
    # Compound literals: the input pointers live in the arena, known only inside invoke().
    return (f"ml_concat_s8({params}, (const ml_dims *const[]){{ {dims} }}, "
            f"(const int8_t *const[]){{ {data} }}, {ctx.dims((outer, sum(bblocks)))}, {out})")


def _slice_start(start: int, stride: int, size: int, begin_masked: bool) -> int:
    """TFLM strided_slice::StridedSliceStartForAxis."""
    if start < 0:
        start += size
    start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    return start


def _slice_end(stop: int, start: int, stride: int, size: int, end_masked: bool, shrink: bool) -> int:
    """TFLM strided_slice::StridedSliceEndForAxis (TFLM never sets its `offset`)."""
    if shrink:
        return start if start >= size else start + 1
    end = stop
    if end < 0:
        end += size
    end = min(max(end, 0), size) if stride > 0 else min(max(end, -1), size - 1)
    if end_masked:
        end = size if stride > 0 else -1
    return end


def _legacy_dim(start: int, stop: int, stride: int, size: int, begin_masked: bool,
                end_masked: bool) -> int:
    """The size TFLM's Prepare checks for a kept (not shrunk) axis
    (strided_slice::StartForAxis/StopForAxis, then a float32 ceil)."""
    if size == 0:
        return 0
    if begin_masked:
        start = -(1 << 31) if stride > 0 else (1 << 31) - 1
    if start < 0:
        start += size
    start = min(max(start, 0), size) if stride > 0 else min(max(start, -1), size - 1)
    if end_masked:
        stop = (1 << 31) - 1 if stride > 0 else -(1 << 31)
    if stop < 0:
        stop += size
    stop = min(max(stop, 0), size) if stride > 0 else min(max(stop, -1), size - 1)
    dim = math.ceil(float(np.float32(stop - start) / np.float32(stride)))
    return max(dim, 0)


@register
class StridedSlice(OpImpl):
    """TFLM strided_slice.cc: constant int32 begin/end/strides, begin/end/shrink masks,
    negative indices and strides. TFLM ignores ellipsis_mask and new_axis_mask (it zeroes
    them) and the `offset` option, so a model that sets them is rejected rather than
    silently misread. Rank 1..4, as TFLM's kMaxDim."""
    op = Op.STRIDED_SLICE
    kernels = ("ml_strided_slice_s8", "ml_strided_slice_s16", "ml_strided_slice_s32")
    dtypes = ("int8", "int16", "int32")
    MAX_RANK = 4

    def kernels_for(self, node, g, p):
        return (f"ml_strided_slice_{SUFFIX[p['dtype']]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = "int32" if x.dtype == "int32" else moved_dtype(node, g, [x.name, y.name])
        require_same_dtype(node, g, [x.name, y.name], dtype)
        require_nonempty(node, g, [x.name, y.name])
        a = node.attrs
        rank = len(x.shape)
        if not 1 <= rank <= self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; TFLM slices "
                                 f"tensors of rank 1 to {self.MAX_RANK}")
        if a["ellipsis_mask"] or a["new_axis_mask"] or a["offset"]:
            raise MicrolithError(f"{where(node, g)}: ellipsis_mask={a['ellipsis_mask']} "
                                 f"new_axis_mask={a['new_axis_mask']} offset={a['offset']}: TFLM "
                                 "ignores these options and would compute a different slice, so "
                                 "microlith rejects them")
        begin = const_ints(node, g, 1, "begin")
        end = const_ints(node, g, 2, "end")
        strides = const_ints(node, g, 3, "strides")
        for what, v in (("begin", begin), ("end", end), ("strides", strides)):
            if v.shape != (rank,):
                raise MicrolithError(f"{where(node, g)}: {what} has shape {list(v.shape)}, "
                                     f"expected [{rank}] for input {list(x.shape)}")
        if (strides == 0).any():
            raise MicrolithError(f"{where(node, g)}: strides {strides.tolist()} contain 0")
        starts, counts, legacy = [], [], []
        for d in range(rank):
            size, stride = int(x.shape[d]), int(strides[d])
            bm, em = bool(a["begin_mask"] >> d & 1), bool(a["end_mask"] >> d & 1)
            shrink = bool(a["shrink_axis_mask"] >> d & 1)
            s = _slice_start(int(begin[d]), stride, size, bm)
            e = _slice_end(int(end[d]), s, stride, size, em, shrink)
            n = max(0, -(-(e - s) // stride)) if stride > 0 else max(0, -(-(s - e) // -stride))
            starts.append(s)
            counts.append(n)
            if not shrink:
                legacy.append(_legacy_dim(int(begin[d]), int(end[d]), stride, size, bm, em))
        if tuple(legacy) != tuple(y.shape) or math.prod(counts) != y.size:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"but slicing {list(x.shape)} with begin {begin.tolist()} end "
                                 f"{end.tolist()} strides {strides.tolist()} gives {legacy}")
        # An axis that keeps one element never moves by its stride: 1 there keeps the kernel's
        # stride x row-length step within int32 however large the model's stride is.
        return dict(dtype=dtype, starts=starts, counts=counts,
                    strides=[int(s) if n > 1 else 1 for s, n in zip(strides, counts)])

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0])
        index = np.ix_(*[s + k * np.arange(n) for s, k, n in zip(p["starts"], p["strides"], p["counts"])])
        return [x[index].astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_strided_slice_params", "params",
                            dict(begin=c_array(p["starts"]), stride=c_array(p["strides"])))
        x = g.t(node.inputs[0])
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {shape_nd(ctx, 'in_shape', x.shape)}, "
                f"{ctx.tensor(x.name)}, {shape_nd(ctx, 'out_shape', p['counts'])}, "
                f"{ctx.tensor(node.outputs[0])})")


def canonical_transpose(shape, perm) -> tuple[list[int], list[int]]:
    """The same permutation on the fewest dimensions: size-1 dimensions dropped, input
    dimensions that stay neighbours in the output merged."""
    keep = [i for i, d in enumerate(shape) if d != 1]
    renum = {old: new for new, old in enumerate(keep)}
    shape = [int(shape[i]) for i in keep]
    perm = [renum[q] for q in perm if q in renum]
    if not perm:
        return [1], [0]
    runs = [[perm[0]]]
    for q in perm[1:]:
        if q == runs[-1][-1] + 1:
            runs[-1].append(q)
        else:
            runs.append([q])
    by_input = sorted(range(len(runs)), key=lambda k: runs[k][0])
    merged = [math.prod(shape[q] for q in runs[k]) for k in by_input]
    position = {k: i for i, k in enumerate(by_input)}
    return merged, [position[k] for k in range(len(runs))]


@register
class Transpose(OpImpl):
    """TFLM transpose.cc: constant int32 perm, rank 1..5 (TFLM's limit)."""
    op = Op.TRANSPOSE
    kernels = ("ml_transpose_s8", "ml_transpose_s16")
    dtypes = ("int8", "int16")
    MAX_RANK = 5

    def kernels_for(self, node, g, p):
        return (f"ml_transpose_{SUFFIX[p['dtype']]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = moved_dtype(node, g, [x.name, y.name])
        require_same_dtype(node, g, [x.name, y.name], dtype)
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        if not 1 <= rank <= self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; TFLM "
                                 f"transposes tensors of rank 1 to {self.MAX_RANK}")
        perm = const_ints(node, g, 1, "perm")
        if perm.shape != (rank,) or sorted(perm.tolist()) != list(range(rank)):
            raise MicrolithError(f"{where(node, g)}: perm {perm.tolist()} is not a permutation of "
                                 f"the {rank} input dimensions")
        want = tuple(x.shape[q] for q in perm)
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"transposing {list(x.shape)} by {perm.tolist()} gives {list(want)}")
        in_shape, kperm = canonical_transpose(x.shape, perm.tolist())
        return dict(dtype=dtype, perm=perm.tolist(), in_shape=in_shape, kperm=kperm)

    def reference(self, node, g, p, xs):
        return [np.transpose(np.asarray(xs[0]), p["perm"]).astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        out_shape = [p["in_shape"][q] for q in p["kperm"]]
        params = ctx.struct("ml_transpose_params", "params", dict(perm=c_array(p["kperm"])))
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', out_shape)}, "
                f"{ctx.tensor(node.outputs[0])})")
