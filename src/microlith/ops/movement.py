"""Data movement, issue 10: SLICE, GATHER, PACK, EXPAND_DIMS, BROADCAST_TO, DEPTH_TO_SPACE,
SPACE_TO_DEPTH, MIRROR_PAD, PADV2, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, BATCH_TO_SPACE_ND,
SPACE_TO_BATCH_ND, REVERSE_V2, ZEROS_LIKE, GATHER_ND (int8), and the TFLite
frontend's lowering of the multi-output SPLIT, SPLIT_V and UNPACK.

Like ops/shape.py, almost nothing here does arithmetic (RESIZE_BILINEAR interpolates, in TFLM's
integer arithmetic): TFLM copies bytes, and none of these kernels checks or changes
quantization (an output quantized differently from its input gets the same bytes, so we copy
them too). The work is reading the operands exactly as TFLM's Prepare and Eval do and refusing
what TFLM would only DCHECK (out-of-range begins, sizes, indices): a release build of TFLM
reads out of bounds there, so no result could be byte-exact with it.

The IR has one output per node. SPLIT and SPLIT_V become one SLICE per output and UNPACK one
GATHER of a scalar index per output; each lowered node keeps its original output tensor name
(so per-layer diagnosis still finds it) and the TFLite op's number in its name.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError, Node, Op, Tensor
from . import OpImpl, register, where
from .shape import (MAX_RANK, Pad, _Alias, c_array, canonical_transpose, const_ints, require_nonempty,
                    require_same_dtype, shape_nd)
from .shape import SUFFIX, emit_byte_concat, moved_dtype  # --- issue 10: extra ops (int16 copies)


def _moved(node, g, names) -> str:
    """--- issue 10: extra ops. The element type a byte-copying op moves: int8, or int16 through
    the *_s16 kernel (TFLM's SLICE, PACK, BROADCAST_TO and REVERSE_V2 take int16 too)."""
    dtype = moved_dtype(node, g, names)
    require_same_dtype(node, g, names, dtype)
    return dtype


def _axis(node, g, axis: int, rank: int, what: str = "axis") -> int:
    """A possibly negative axis into [0, rank), refusing what is out of range."""
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise MicrolithError(f"{where(node, g)}: {what} {axis} is out of range for rank {rank}")
    return a


def merged_slice(shape, begin, count) -> tuple[list[int], list[int], list[int]]:
    """A stride-1 slice on the fewest dimensions: a dimension taken whole joins the one before
    it (rows i*D .. i*D+D-1 of consecutive i are contiguous), so the kernel copies long rows."""
    ins, begins, counts = [int(shape[0])], [int(begin[0])], [int(count[0])]
    for d, b, n in zip(shape[1:], begin[1:], count[1:]):
        d, b, n = int(d), int(b), int(n)
        if b == 0 and n == d:
            ins[-1] *= d
            begins[-1] *= d
            counts[-1] *= d
        else:
            ins.append(d)
            begins.append(b)
            counts.append(n)
    return ins, begins, counts


def emit_slice(node, g, ctx, in_shape, begins, counts) -> str:
    """The strided-slice kernel with stride 1 (SLICE and the lowered SPLIT/SPLIT_V)."""
    params = ctx.struct("ml_strided_slice_params", "params",
                        dict(begin=c_array(begins), stride=c_array([1] * len(begins))))
    kernel = f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}"
    return (f"{kernel}({params}, {shape_nd(ctx, 'in_shape', in_shape)}, "
            f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', counts)}, "
            f"{ctx.tensor(node.outputs[0])})")


@register
class Slice(OpImpl):
    """TFLM slice.cc: constant begin and size (int32 or int64, same type), size -1 meaning "to
    the end", rank 1..5 (kMaxDim). TFLM checks none of the ranges (its reference Slice reads
    whatever begin + size points at), so out-of-range slices are refused here."""
    op = Op.SLICE
    kernels = ("ml_strided_slice_s8", "ml_strided_slice_s16")
    dtypes = ("int8", "int16")
    MAX_RANK = 5

    def kernels_for(self, node, g, p):
        return (f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _moved(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        if not 1 <= rank <= self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; TFLM slices "
                                 f"tensors of rank 1 to {self.MAX_RANK}")
        begin = const_ints(node, g, 1, "begin", ("int32", "int64"))
        size = const_ints(node, g, 2, "size", ("int32", "int64"))
        if g.t(node.inputs[1]).dtype != g.t(node.inputs[2]).dtype:
            raise MicrolithError(f"{where(node, g)}: begin is {g.t(node.inputs[1]).dtype} but size is "
                                 f"{g.t(node.inputs[2]).dtype}; TFLM needs both of one type")
        for what, v in (("begin", begin), ("size", size)):
            if v.shape != (rank,):
                raise MicrolithError(f"{where(node, g)}: {what} has shape {list(v.shape)}, expected "
                                     f"[{rank}] for input {list(x.shape)}")
        counts = []
        for d in range(rank):
            dim, b, n = int(x.shape[d]), int(begin[d]), int(size[d])
            n = dim - b if n == -1 else n
            if not (0 <= b <= dim and 0 <= n <= dim - b):
                raise MicrolithError(f"{where(node, g)}: begin {begin.tolist()} size {size.tolist()} "
                                     f"reach outside input '{x.name}' {list(x.shape)} along dimension {d}; "
                                     "TFLM does not clamp them")
            counts.append(n)
        if tuple(counts) != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"slicing {list(x.shape)} by begin {begin.tolist()} size "
                                 f"{size.tolist()} gives {counts}")
        in_shape, begins, kcounts = merged_slice(x.shape, begin, counts)
        return dict(begin=[int(b) for b in begin], counts=counts, in_shape=in_shape,
                    kbegin=begins, kcounts=kcounts)

    def reference(self, node, g, p, xs):
        index = tuple(slice(b, b + n) for b, n in zip(p["begin"], p["counts"]))
        return [np.asarray(xs[0])[index].astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        return emit_slice(node, g, ctx, p["in_shape"], p["kbegin"], p["kcounts"])


@register
class Gather(OpImpl):
    """TFLM gather.cc: int8 params, int32 indices (constant or computed at run time), axis and
    batch_dims (both may be negative). Output shape: params[:axis] + indices[batch_dims:] +
    params[axis+1:]. Constant indices are checked here, run-time ones by the kernel."""
    op = Op.GATHER
    kernels = ("ml_gather_s8",)

    def prepare(self, node, g):
        x, idx, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        if idx.dtype != "int32":
            raise MicrolithError(f"{where(node, g)}: indices '{idx.name}' are {idx.dtype}; TFLM's "
                                 "GATHER takes int32 positions only")
        rank, irank = len(x.shape), len(idx.shape)
        axis = _axis(node, g, int(node.attrs["axis"]), rank)
        bd = int(node.attrs["batch_dims"])
        bd = bd + irank if bd < 0 else bd
        if not (0 <= bd < rank and bd <= irank and bd <= axis):
            raise MicrolithError(f"{where(node, g)}: batch_dims {node.attrs['batch_dims']} does not fit "
                                 f"axis {node.attrs['axis']}, params of rank {rank} and indices of rank "
                                 f"{irank} (TFLM needs 0 <= batch_dims <= axis and batch_dims <= "
                                 "the indices' rank)")
        if tuple(x.shape[:bd]) != tuple(idx.shape[:bd]):
            raise MicrolithError(f"{where(node, g)}: the first {bd} (batch) dimensions of params "
                                 f"{list(x.shape)} and indices {list(idx.shape)} differ")
        want = tuple(x.shape[:axis]) + tuple(idx.shape[bd:]) + tuple(x.shape[axis + 1:])
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"gathering {list(idx.shape)} from {list(x.shape)} along axis {axis} "
                                 f"gives {list(want)}")
        axis_size = int(x.shape[axis])
        if idx.is_const:
            bad = (idx.data < 0) | (idx.data >= axis_size)
            if bad.any():
                raise MicrolithError(f"{where(node, g)}: index {int(idx.data[bad].reshape(-1)[0])} of "
                                     f"'{idx.name}' is outside [0, {axis_size}); TFLM does not check it")
        return dict(batch=math.prod(x.shape[:bd]), outer=math.prod(x.shape[bd:axis]),
                    axis_size=axis_size, coords=math.prod(idx.shape[bd:]),
                    inner=math.prod(x.shape[axis + 1:]))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0]).reshape(p["batch"], p["outer"], p["axis_size"], p["inner"])
        idx = np.asarray(xs[1]).astype(np.int64).reshape(p["batch"], p["coords"])
        if ((idx < 0) | (idx >= p["axis_size"])).any():
            raise MicrolithError(f"{where(node, g)}: an index in '{node.inputs[1]}' is outside "
                                 f"[0, {p['axis_size']}); the generated code returns an error there")
        y = x[np.arange(p["batch"])[:, None, None], np.arange(p["outer"])[None, :, None], idx[:, None, :]]
        return [y.astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_gather_params", "params",
                            {k: p[k] for k in ("batch", "outer", "axis_size", "coords", "inner")})
        return (f"ml_gather_s8({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.inputs[1])}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class Pack(OpImpl):
    """TFLM pack.cc (no Prepare): values_count inputs of input 0's shape stacked along a new
    axis of the output (negative axis counts from the output's rank). As a concatenation of
    [outer, copy] blocks it is exactly ml_concat_s8's copy."""
    op = Op.PACK
    kernels = ("ml_concat_s8",)  # a byte copy for every element type (shape.emit_byte_concat)
    dtypes = ("int8", "int16")

    def prepare(self, node, g):
        names, y = list(node.inputs), g.t(node.outputs[0])
        if any(n is None for n in names):
            raise MicrolithError(f"{where(node, g)}: an input is absent")
        dtype = _moved(node, g, names + [y.name])
        require_nonempty(node, g, [y.name])
        n = int(node.attrs["values_count"])
        if n != len(names):
            raise MicrolithError(f"{where(node, g)}: values_count is {n} but the op has {len(names)} "
                                 "inputs; TFLM reads values_count inputs")
        shape = tuple(g.t(names[0]).shape)
        for name in names[1:]:
            if tuple(g.t(name).shape) != shape:
                raise MicrolithError(f"{where(node, g)}: input '{name}' {list(g.t(name).shape)} differs "
                                     f"from input 0 {list(shape)}; TFLM sizes every copy by input 0")
        axis = _axis(node, g, int(node.attrs["axis"]), len(y.shape))
        want = shape[:axis] + (n,) + shape[axis:]
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"packing {n} x {list(shape)} along axis {axis} gives {list(want)}")
        return dict(axis=axis, outer=math.prod(shape[:axis]), copy=math.prod(shape[axis:]), dtype=dtype)

    def reference(self, node, g, p, xs):
        return [np.stack([np.asarray(x) for x in xs], axis=p["axis"]).astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        names = list(node.inputs)
        return emit_byte_concat(ctx, names, node.outputs[0], p["outer"], [p["copy"]] * len(names), p["dtype"])


@register
class ExpandDims(_Alias):
    """TFLM expand_dims.cc: a constant int32 axis of at most one dimension (its first value is
    read), in [-rank-1, rank]; the output is the input with a 1 inserted there. A byte copy,
    so the output may share the input's memory like RESHAPE."""
    op = Op.EXPAND_DIMS
    dtypes = ("int8", "int16")  # a shared buffer or a memcpy: any element size
    TYPES = ("int8", "int16", "float32")  # what TFLM's Eval copies; it fails on others

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if x.dtype not in self.TYPES:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' is {x.dtype}; TFLM's EXPAND_DIMS copies "
                                 f"{', '.join(self.TYPES)} only")
        a = g.t(node.inputs[1])
        axis = const_ints(node, g, 1, "axis")
        if len(a.shape) > 1 or axis.size < 1:
            raise MicrolithError(f"{where(node, g)}: axis '{a.name}' has shape {list(a.shape)}; TFLM "
                                 "needs one value")
        rank = len(x.shape)
        value = int(axis.reshape(-1)[0])
        pos = value + rank + 1 if value < 0 else value
        if not 0 <= pos <= rank:
            raise MicrolithError(f"{where(node, g)}: axis {value} is out of range for input rank {rank}")
        want = tuple(x.shape[:pos]) + (1,) + tuple(x.shape[pos:])
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, "
                                 f"expanding {list(x.shape)} at axis {value} gives {list(want)}")
        return super().prepare(node, g)


@register
class BroadcastTo(OpImpl):
    """TFLM broadcast_to.cc: a constant int32/int64 shape of the output's rank (1..5); every
    input dimension (aligned to the right) is 1 or the output's. The strided-slice kernel does
    it with stride 0 along the broadcast dimensions (it rereads the one input element)."""
    op = Op.BROADCAST_TO
    kernels = ("ml_strided_slice_s8", "ml_strided_slice_s16")
    dtypes = ("int8", "int16")
    MAX_RANK = 5

    def kernels_for(self, node, g, p):
        return (f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _moved(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        shape = const_ints(node, g, 1, "shape", ("int32", "int64"))
        rank = len(y.shape)
        if shape.ndim != 1 or shape.size != rank or not len(x.shape) <= rank <= self.MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: shape {shape.tolist()}, input {list(x.shape)} and "
                                 f"output {list(y.shape)} do not fit TFLM's BROADCAST_TO (ranks up to "
                                 f"{self.MAX_RANK}, the output's rank equal to the shape's length)")
        ext = (1,) * (rank - len(x.shape)) + tuple(int(d) for d in x.shape)
        if tuple(shape.tolist()) != tuple(y.shape) or any(i not in (1, o) for i, o in zip(ext, y.shape)):
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' {list(x.shape)} does not broadcast "
                                 f"to shape {shape.tolist()} (output '{y.name}' {list(y.shape)})")
        # Fewest dimensions: size-1 output dimensions go, neighbours of one kind (copied or
        # repeated) merge.
        ins, outs = [], []
        for i, o in zip(ext, y.shape):
            if o == 1:
                continue
            if outs and (ins[-1] == 1) == (i == 1):
                ins[-1] *= i
                outs[-1] *= int(o)
            else:
                ins.append(i)
                outs.append(int(o))
        if not outs:
            ins, outs = [1], [1]
        return dict(ext=ext, in_shape=ins, out_shape=outs,
                    stride=[1 if i == o else 0 for i, o in zip(ins, outs)])

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.broadcast_to(np.asarray(xs[0]).reshape(p["ext"]), y.shape).astype(y.np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_strided_slice_params", "params",
                            dict(begin=c_array([0] * len(p["in_shape"])), stride=c_array(p["stride"])))
        return (f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}({params}, "
                f"{shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")


class _BlockTranspose(OpImpl):
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH are one transpose of a 6-D view: with block b,
    [N, H, W, b, b, C'] <-> [N, H, b, W, b, C'] (perm 0 1 3 2 4 5 either way round), done by
    the transpose kernel on the canonical (merged) shape. TFLM: 4-D int8 (or float) only."""
    kernels = ("ml_transpose_s8",)

    def view(self, node, g, shape, b):  # -> (6-D input view, 4-D output shape)
        raise NotImplementedError

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        b = int(node.attrs["block_size"])
        if len(x.shape) != 4 or b < 1:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' {list(x.shape)} with block_size {b}; "
                                 f"TFLM's {node.op.value} needs a 4-D input and block_size >= 1")
        view, want = self.view(node, g, tuple(int(d) for d in x.shape), b)
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; "
                                 f"{node.op.value} of {list(x.shape)} with block_size {b} gives {list(want)}")
        perm = [0, 1, 3, 2, 4, 5]
        in_shape, kperm = canonical_transpose(view, perm)
        return dict(view=view, perm=perm, in_shape=in_shape, kperm=kperm)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.transpose(np.asarray(xs[0]).reshape(p["view"]), p["perm"]).reshape(y.shape).astype(y.np_dtype)]

    def emit(self, node, g, p, ctx):
        out_shape = [p["in_shape"][q] for q in p["kperm"]]
        params = ctx.struct("ml_transpose_params", "params", dict(perm=c_array(p["kperm"])))
        return (f"ml_transpose_s8({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', out_shape)}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class DepthToSpace(_BlockTranspose):
    """TFLM depth_to_space.cc: channels divisible by block_size^2."""
    op = Op.DEPTH_TO_SPACE

    def view(self, node, g, shape, b):
        n, h, w, c = shape
        if c % (b * b):
            raise MicrolithError(f"{where(node, g)}: {c} channels do not divide by block_size^2 = {b * b}")
        return (n, h, w, b, b, c // (b * b)), (n, h * b, w * b, c // (b * b))


@register
class SpaceToDepth(_BlockTranspose):
    """TFLM space_to_depth.cc: height and width divisible by block_size (TFLM does not check
    block_size >= 1 and would divide by zero)."""
    op = Op.SPACE_TO_DEPTH

    def view(self, node, g, shape, b):
        n, h, w, c = shape
        if h % b or w % b:
            raise MicrolithError(f"{where(node, g)}: height {h} and width {w} do not divide by "
                                 f"block_size {b}")
        return (n, h // b, b, w // b, b, c), (n, h // b, w // b, c * b * b)


@register
class MirrorPad(OpImpl):
    """TFLM mirror_pad.cc: paddings [rank, 2] constant int32/int64, mode REFLECT (edge not
    repeated) or SYMMETRIC. TFLM does not bound the paddings and reads outside the input for
    large ones, so each side is refused beyond dim - 1 (REFLECT) or dim (SYMMETRIC), the
    limits TensorFlow's MirrorPad documents."""
    op = Op.MIRROR_PAD
    kernels = ("ml_mirror_pad_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        if not 1 <= rank <= MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; microlith mirror-pads "
                                 f"tensors of rank 1 to {MAX_RANK}")
        pads = const_ints(node, g, 1, "paddings", ("int32", "int64"))
        if pads.shape != (rank, 2) or len(y.shape) != rank:
            raise MicrolithError(f"{where(node, g)}: paddings of shape {list(pads.shape)} do not fit input "
                                 f"{list(x.shape)} and output {list(y.shape)} (need [{rank}, 2])")
        offset = 1 if node.attrs["mode"] == "REFLECT" else 0
        for d in range(rank):
            limit = int(x.shape[d]) - offset
            if not (0 <= pads[d, 0] <= limit and 0 <= pads[d, 1] <= limit):
                raise MicrolithError(f"{where(node, g)}: paddings {pads[d].tolist()} of dimension {d} (size "
                                     f"{x.shape[d]}) are outside [0, {limit}], the most {node.attrs['mode']} "
                                     "mode can mirror")
        want = tuple(int(s + a + b) for s, (a, b) in zip(x.shape, pads))
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}, padding "
                                 f"{list(x.shape)} by {pads.tolist()} gives {list(want)}")
        # Trailing unpadded dimensions move as one block of bytes.
        padded = [d for d in range(rank) if pads[d].any()]
        last = padded[-1] if padded else -1
        block = math.prod(x.shape[last + 1:])
        keep = max(last + 1, 1)
        in_shape = [int(d) for d in x.shape[:last + 1]] or [1]
        out_shape = [int(d) for d in y.shape[:last + 1]] or [1]
        return dict(pads=pads.tolist(), offset=offset, block=block, in_shape=in_shape, out_shape=out_shape,
                    before=[int(v) for v in pads[:keep, 0]])

    def reference(self, node, g, p, xs):
        mode = "reflect" if p["offset"] else "symmetric"
        return [np.pad(np.asarray(xs[0]), p["pads"], mode=mode).astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_mirror_pad_params", "params",
                            dict(before=c_array(p["before"]), offset=p["offset"], block=p["block"]))
        return (f"ml_mirror_pad_s8({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class PadV2(Pad):
    """TFLM registers its PAD kernel as PADV2 too: the same Prepare and Eval."""
    op = Op.PADV2


def _resize_checks(node, g, dtype: str = "int8") -> tuple[Tensor, Tensor, int, int]:
    """TFLM resize_*.cc Prepare: 4-D input, size a constant int32 [2] (new height, width). TFLM
    loops to the size operand's values, so the output must have exactly that shape."""
    x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
    require_same_dtype(node, g, [x.name, y.name], dtype)
    require_nonempty(node, g, [x.name, y.name])
    size = const_ints(node, g, 1, "size")
    if len(x.shape) != 4 or size.shape != (2,):
        raise MicrolithError(f"{where(node, g)}: input '{x.name}' {list(x.shape)} and size of shape "
                             f"{list(size.shape)}; TFLM resizes 4-D inputs to a size of 2 values")
    want = (x.shape[0], int(size[0]), int(size[1]), x.shape[3])
    if tuple(y.shape) != want:
        raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; resizing "
                             f"{list(x.shape)} to size {size.tolist()} gives {list(want)}")
    return x, y, int(size[0]), int(size[1])


def nearest_sources(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for each output index, in its float32 arithmetic."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel else f32(0.0)
    out = []
    for v in range(out_size):
        t = (f32(v) + offset) * scale  # float32 throughout, as in C++
        r = math.floor(t)
        if align_corners and t - f32(r) >= f32(0.5):  # TfLiteRound: half away from zero (t >= 0)
            r += 1
        r = min(int(r), in_size - 1)
        out.append(max(0, r) if half_pixel else r)
    return out


@register
class ResizeNearestNeighbor(OpImpl):
    """TFLM resize_nearest_neighbor.cc: align_corners and half_pixel_centers (both allowed).
    The float index arithmetic is evaluated here, once, into row and column tables."""
    op = Op.RESIZE_NEAREST_NEIGHBOR
    kernels = ("ml_resize_nearest_s8",)
    # --- issue 10: extra ops. TFLM resizes int16 too; the kernel copies whole pixels, so an
    # int16 [N, H, W, C] is passed as int8 [N, H, W, 2C].
    dtypes = ("int8", "int16")

    def prepare(self, node, g):
        dtype = moved_dtype(node, g, [node.inputs[0], node.outputs[0]])
        x, y, h, w = _resize_checks(node, g, dtype)
        a = node.attrs
        ys = nearest_sources(int(x.shape[1]), h, a["align_corners"], a["half_pixel_centers"])
        xs = nearest_sources(int(x.shape[2]), w, a["align_corners"], a["half_pixel_centers"])
        return dict(ys=ys, xs=xs, bytes=g.t(node.inputs[0]).np_dtype.itemsize)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0])
        return [x[:, p["ys"]][:, :, p["xs"]].astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_resize_nearest_params", "params",
                            dict(y_source=ctx.const("y_source", np.array(p["ys"], np.int32)),
                                 x_source=ctx.const("x_source", np.array(p["xs"], np.int32))))
        (n, h, w, c), (_, oh, ow, _) = g.t(node.inputs[0]).shape, g.t(node.outputs[0]).shape
        k = p["bytes"]
        return (f"ml_resize_nearest_s8({params}, {ctx.dims((n, h, w, c * k))}, "
                f"(const int8_t *){ctx.tensor(node.inputs[0])}, {ctx.dims((n, oh, ow, c * k))}, "
                f"(int8_t *){ctx.tensor(node.outputs[0])})")


def _tdiv(a: int, b: int) -> int:
    """C/C++ integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def bilinear_scale_10(in_size: int, out_size: int, align_corners: bool) -> int:
    """TFLM ResizeBilinearInteger's Q10 scale, rounded as it does."""
    if align_corners and out_size > 1:
        return _tdiv((1 << 10) * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    return _tdiv((1 << 10) * in_size + out_size // 2, out_size)


def bilinear_sources(in_size: int, out_size: int, scale_10: int, half_pixel: bool):
    """TFLM's ComputeInterpolationValuesInteger per output index: (lower, upper, Q10 weight of
    upper); the lower neighbour's weight is 1024 minus it."""
    lo, hi, w = [], [], []
    for v in range(out_size):
        scaled = v * scale_10 + _tdiv(scale_10, 2) - (1 << 9) if half_pixel else v * scale_10
        low = max(_tdiv(scaled, 1 << 10), 0)
        lo.append(low)
        hi.append(min(_tdiv(scaled + (1 << 10) - 1, 1 << 10), in_size - 1))
        w.append(scaled - (1 << 10) * low)
    return np.array(lo), np.array(hi), np.array(w, np.int64)


@register
class ResizeBilinear(OpImpl):
    """TFLM resize_bilinear.cc on int8: ResizeBilinearInteger (Q10 positions and weights, Q20
    sums rounded half away from zero); align_corners and half_pixel_centers not both."""
    op = Op.RESIZE_BILINEAR
    kernels = ("ml_resize_bilinear_s8",)

    def prepare(self, node, g):
        x, y, h, w = _resize_checks(node, g)
        a = node.attrs
        if a["align_corners"] and a["half_pixel_centers"]:
            raise MicrolithError(f"{where(node, g)}: align_corners and half_pixel_centers are both set; "
                                 "TFLM refuses that")
        hs = bilinear_scale_10(int(x.shape[1]), h, a["align_corners"])
        ws = bilinear_scale_10(int(x.shape[2]), w, a["align_corners"])
        ys = bilinear_sources(int(x.shape[1]), h, hs, a["half_pixel_centers"])
        xs = bilinear_sources(int(x.shape[2]), w, ws, a["half_pixel_centers"])
        if ys[0].max() >= x.shape[1] or xs[0].max() >= x.shape[2]:
            raise MicrolithError(f"{where(node, g)}: resizing {list(x.shape[1:3])} to {[h, w]} rounds a "
                                 "source position past the input's edge, where TFLM reads out of bounds")
        return dict(height_scale_10=hs, width_scale_10=ws, ys=ys, xs=xs,
                    half_pixel_centers=int(bool(a["half_pixel_centers"])))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0]).astype(np.int64)
        y0, y1, wy = p["ys"]
        x0, x1, wx = p["xs"]
        wy, wx = wy[None, :, None, None], wx[None, None, :, None]
        total = (x[:, y0][:, :, x0] * ((1 << 10) - wy) * ((1 << 10) - wx) + x[:, y1][:, :, x0] * wy * ((1 << 10) - wx)
                 + x[:, y0][:, :, x1] * ((1 << 10) - wy) * wx + x[:, y1][:, :, x1] * wy * wx)
        rounded = np.where(total > 0, total + (1 << 19), total - (1 << 19))
        out = np.sign(rounded) * (np.abs(rounded) // (1 << 20))  # C++ division truncates
        return [out.astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_resize_bilinear_params", "params",
                            {k: p[k] for k in ("height_scale_10", "width_scale_10", "half_pixel_centers")})
        return (f"ml_resize_bilinear_s8({params}, {ctx.dims(g.t(node.inputs[0]).shape)}, "
                f"{ctx.tensor(node.inputs[0])}, {ctx.dims(g.t(node.outputs[0]).shape)}, "
                f"{ctx.tensor(node.outputs[0])})")


def batch_to_space(x: np.ndarray, block, crops) -> np.ndarray:
    """TF's BatchToSpaceND on a 3-D [B, H, C] or 4-D [B, H, W, C] array."""
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    bh, bw = (int(block[0]), int(block[1])) if x.ndim == 4 else (int(block[0]), 1)
    (ct, cb), (cl, cr) = (crops[0], crops[1]) if x.ndim == 4 else (crops[0], (0, 0))
    b, h, w, c = x4.shape
    y = x4.reshape(bh, bw, b // (bh * bw), h, w, c).transpose(2, 3, 0, 4, 1, 5)
    y = y.reshape(b // (bh * bw), h * bh, w * bw, c)[:, ct:h * bh - cb, cl:w * bw - cr]
    return y if x.ndim == 4 else y[:, :, 0, :]


def space_to_batch(x: np.ndarray, block, pads, value) -> np.ndarray:
    """TF's SpaceToBatchND on a 3-D or 4-D array, padding with `value`."""
    x4 = x if x.ndim == 4 else x[:, :, None, :]
    bh, bw = (int(block[0]), int(block[1])) if x.ndim == 4 else (int(block[0]), 1)
    pads4 = [(0, 0), tuple(int(v) for v in pads[0]),
             tuple(int(v) for v in pads[1]) if x.ndim == 4 else (0, 0), (0, 0)]
    p = np.pad(x4, pads4, constant_values=value)
    b, h, w, c = p.shape
    y = p.reshape(b, h // bh, bh, w // bw, bw, c).transpose(2, 4, 0, 1, 3, 5).reshape(b * bh * bw, h // bh, w // bw, c)
    return y if x.ndim == 4 else y[:, :, 0, :]


class _SpaceBatch(OpImpl):
    """BATCH_TO_SPACE_ND / SPACE_TO_BATCH_ND (TFLM batch_to_space_nd.cc, space_to_batch_nd.cc):
    3-D [B, H, C] or 4-D [B, H, W, C] int8, block_shape [1 or 2] and crops/paddings [1 or 2, 2]
    constant int32 (TFLM reads them at Eval; microlith needs them when compiling). TFLM loops
    over the output's shape and ignores the bottom/right amounts, so the output must be exactly
    what the operands describe."""

    def operands(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        if rank not in (3, 4) or len(y.shape) != rank:
            raise MicrolithError(f"{where(node, g)}: input '{x.name}' {list(x.shape)} and output "
                                 f"{list(y.shape)}; TFLM's {node.op.value} takes 3-D or 4-D tensors of one rank")
        spatial = rank - 2
        block = const_ints(node, g, 1, "block_shape")
        amounts = const_ints(node, g, 2, "crops" if node.op is Op.BATCH_TO_SPACE_ND else "paddings")
        if block.shape != (spatial,) or amounts.shape != (spatial, 2):
            raise MicrolithError(f"{where(node, g)}: block_shape {list(block.shape)} and crops/paddings "
                                 f"{list(amounts.shape)} do not fit a {rank}-D input (need [{spatial}] and "
                                 f"[{spatial}, 2])")
        if (block < 1).any() or (amounts < 0).any():
            raise MicrolithError(f"{where(node, g)}: block_shape {block.tolist()} must be >= 1 and crops/"
                                 f"paddings {amounts.tolist()} >= 0")
        return x, y, block, amounts

    def kernel_view(self, x, y, block, amounts):
        """4-D shapes, 2 block sizes and (top, left) amounts, 3-D extended as TFLM does (NHC -> NH1C)."""
        def four(shape):
            return tuple(int(d) for d in shape) if len(shape) == 4 else (int(shape[0]), int(shape[1]), 1, int(shape[2]))
        bw, left = (int(block[1]), int(amounts[1, 0])) if len(x.shape) == 4 else (1, 0)
        return four(x.shape), four(y.shape), (int(block[0]), bw), (int(amounts[0, 0]), left)


@register
class BatchToSpaceND(_SpaceBatch):
    """Crops make it more than a transpose: ml_batch_to_space_nd_s8 skips cropped pixels."""
    op = Op.BATCH_TO_SPACE_ND
    kernels = ("ml_batch_to_space_nd_s8",)

    def prepare(self, node, g):
        x, y, block, crops = self.operands(node, g)
        blocks = int(np.prod(block))
        want = None
        if x.shape[0] % blocks == 0:
            want = batch_to_space(np.zeros(x.shape, np.int8), block, crops).shape
        if want is None or want != tuple(y.shape) or 0 in want:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; input "
                                 f"{list(x.shape)} with block_shape {block.tolist()} and crops {crops.tolist()} "
                                 f"gives {list(want) if want is not None else 'no whole batch'}")
        in4, out4, blk, start = self.kernel_view(x, y, block, crops)
        return dict(block=blk, start=start, in4=in4, out4=out4, block_list=block.tolist(), amounts=crops.tolist())

    def reference(self, node, g, p, xs):
        return [batch_to_space(np.asarray(xs[0]), p["block_list"], p["amounts"]).astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_batch_to_space_nd_params", "params",
                            dict(block_h=p["block"][0], block_w=p["block"][1], top=p["start"][0],
                                 left=p["start"][1]))
        return (f"ml_batch_to_space_nd_s8({params}, {ctx.dims(p['in4'])}, {ctx.tensor(node.inputs[0])}, "
                f"{ctx.dims(p['out4'])}, {ctx.tensor(node.outputs[0])})")


@register
class SpaceToBatchND(_SpaceBatch):
    """TFLM fills the padding with SpaceToBatchParams.output_offset, which its micro kernel
    never initializes: the padding bytes are whatever its persistent buffer held (0 in a fresh
    arena, other bytes after earlier models ran; tests saw both). So only paddings of zero are
    compiled, and then the op is a transpose of a 6-D view:
    [N, H/bh, bh, W/bw, bw, C] -> [bh, bw, N, H/bh, W/bw, C]."""
    op = Op.SPACE_TO_BATCH_ND
    kernels = ("ml_transpose_s8",)

    def prepare(self, node, g):
        x, y, block, pads = self.operands(node, g)
        if pads.any():
            raise MicrolithError(f"{where(node, g)}: paddings {pads.tolist()}: TFLM fills SPACE_TO_BATCH_ND's "
                                 "padding with an uninitialized value (SpaceToBatchParams.output_offset), so "
                                 "no result can match it; only zero paddings are supported (pad with PAD first)")
        in4, out4, (bh, bw), _ = self.kernel_view(x, y, block, pads)
        n, h, w, c = in4
        if h % bh or w % bw:
            raise MicrolithError(f"{where(node, g)}: spatial sizes {list(x.shape[1:-1])} do not divide by "
                                 f"block_shape {block.tolist()}")
        view, perm = (n, h // bh, bh, w // bw, bw, c), [2, 4, 0, 1, 3, 5]
        want = space_to_batch(np.zeros(x.shape, np.int8), block, pads, 0).shape
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; input "
                                 f"{list(x.shape)} with block_shape {block.tolist()} gives {list(want)}")
        in_shape, kperm = canonical_transpose(view, perm)
        return dict(view=view, perm=perm, in_shape=in_shape, kperm=kperm)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.transpose(np.asarray(xs[0]).reshape(p["view"]), p["perm"]).reshape(y.shape).astype(y.np_dtype)]

    emit = _BlockTranspose.emit


@register
class ReverseV2(OpImpl):
    """TFLM reverse.cc: axis a constant int32 vector of distinct axes that are contiguous once
    sorted (TFLM refuses others), rank up to 6. Reversing contiguous axes is reversing their
    flattened run, which the strided-slice kernel does with stride -1 on [outer, run, inner]."""
    op = Op.REVERSE_V2
    kernels = ("ml_strided_slice_s8", "ml_strided_slice_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return (f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _moved(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        axes = const_ints(node, g, 1, "axis")
        if axes.ndim != 1 or not 1 <= axes.size <= rank or not 1 <= rank <= MAX_RANK:
            raise MicrolithError(f"{where(node, g)}: axis {axes.tolist()} for input '{x.name}' "
                                 f"{list(x.shape)}; TFLM needs 1 to rank axes in a vector, rank 1 to {MAX_RANK}")
        if tuple(y.shape) != tuple(x.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' {list(y.shape)} differs from input "
                                 f"{list(x.shape)}")
        norm = sorted(_axis(node, g, int(a), rank) for a in axes)
        if norm != list(range(norm[0], norm[0] + len(norm))):
            raise MicrolithError(f"{where(node, g)}: axes {axes.tolist()} are not distinct and contiguous; "
                                 "TFLM reverses contiguous axes only")
        outer = math.prod(x.shape[:norm[0]])
        run = math.prod(x.shape[norm[0]:norm[-1] + 1])
        inner = math.prod(x.shape[norm[-1] + 1:])
        dims = [(outer, 0, 1), (run, run - 1, -1), (inner, 0, 1)]
        dims = [d for d in dims if d[0] > 1] or [(1, 0, 1)]
        return dict(axes=norm, in_shape=[d[0] for d in dims], begin=[d[1] for d in dims],
                    stride=[d[2] if d[0] > 1 else 1 for d in dims])

    def reference(self, node, g, p, xs):
        return [np.flip(np.asarray(xs[0]), axis=tuple(p["axes"])).astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_strided_slice_params", "params",
                            dict(begin=c_array(p["begin"]), stride=c_array(p["stride"])))
        shape = shape_nd(ctx, "shape", p["in_shape"])
        kernel = f"ml_strided_slice_{SUFFIX[g.t(node.inputs[0]).dtype]}"
        return (f"{kernel}({params}, {shape}, {ctx.tensor(node.inputs[0])}, {shape}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class ZerosLike(OpImpl):
    """TFLM zeros_like.cc: the output, of the input's size and type, is all integer zeros (the
    byte 0, not the zero point: TFLM ignores quantization)."""
    op = Op.ZEROS_LIKE
    kernels = ("ml_zeros_like_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [y.name])
        if tuple(x.shape) != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' {list(y.shape)} differs from input "
                                 f"'{x.name}' {list(x.shape)}")
        return dict(size=y.size)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.zeros(y.shape, y.np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_zeros_like_params", "params", dict(size=p["size"]))
        return f"ml_zeros_like_s8({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.outputs[0])})"


def gather_nd(x: np.ndarray, idx: np.ndarray, where_: str = "GATHER_ND") -> np.ndarray:
    """TFLM's GatherNd: each index tuple picks the slice at flat position sum(index * stride);
    only that position is bounds-checked, as TFLM does."""
    depth = idx.shape[-1]
    strides = [math.prod(x.shape[j + 1:]) for j in range(depth)]
    slice_size = math.prod(x.shape[depth:])
    tuples = idx.reshape(-1, depth).astype(np.int64)
    start = tuples @ np.array(strides, np.int64)
    if ((start < 0) | (start + slice_size > x.size)).any():
        raise MicrolithError(f"{where_}: an index tuple points outside params; TFLM fails there and so "
                             "does the generated code")
    flat = x.reshape(-1)
    out = flat[start[:, None] + np.arange(slice_size)[None, :]]
    return out.reshape(idx.shape[:-1] + x.shape[depth:])


@register
class GatherNd(OpImpl):
    """TFLM gather_nd.cc: int8 params, int32 indices (constant or run-time) whose last dimension
    (1..5, at most the params' rank) indexes the leading params dimensions."""
    op = Op.GATHER_ND
    kernels = ("ml_gather_nd_s8",)
    MAX_DEPTH = 5

    def prepare(self, node, g):
        x, idx, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        require_same_dtype(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name, idx.name, y.name])
        if idx.dtype != "int32":
            raise MicrolithError(f"{where(node, g)}: indices '{idx.name}' are {idx.dtype}; TFLM's GATHER_ND "
                                 "takes int32 indices only")
        if not x.shape or not idx.shape:
            raise MicrolithError(f"{where(node, g)}: params {list(x.shape)} and indices {list(idx.shape)} "
                                 "must be at least vectors")
        depth = int(idx.shape[-1])
        if depth > min(len(x.shape), self.MAX_DEPTH):
            raise MicrolithError(f"{where(node, g)}: index tuples of {depth} values for params of rank "
                                 f"{len(x.shape)}; TFLM allows at most the rank and at most {self.MAX_DEPTH}")
        want = tuple(idx.shape[:-1]) + tuple(x.shape[depth:])
        if want != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; gathering "
                                 f"{list(idx.shape)} from {list(x.shape)} gives {list(want)}")
        if idx.is_const:
            gather_nd(np.zeros(x.shape, np.int8), idx.data, where(node, g))  # refuses what TFLM fails on
        return dict(slices=math.prod(idx.shape[:-1]), depth=depth, slice_size=math.prod(x.shape[depth:]),
                    params_size=x.size, stride=[math.prod(x.shape[j + 1:]) for j in range(depth)])

    def reference(self, node, g, p, xs):
        y = gather_nd(np.asarray(xs[0]), np.asarray(xs[1]), where(node, g))
        return [y.astype(g.t(node.outputs[0]).np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_gather_nd_params", "params",
                            dict(slices=p["slices"], depth=p["depth"], slice_size=p["slice_size"],
                                 params_size=p["params_size"], stride=c_array(p["stride"], 5)))
        return (f"ml_gather_nd_s8({params}, {ctx.tensor(node.inputs[0])}, {ctx.tensor(node.inputs[1])}, "
                f"{ctx.tensor(node.outputs[0])})")


# -- lowering of the multi-output ops (called by frontends/tflite.py) ---------------------

def _const_axis(node: Node, tensors: dict, index: int, at: str) -> int:
    """SPLIT/SPLIT_V's axis operand: TFLM refuses a non-constant one and reads int32 [0]."""
    t = tensors[node.inputs[index]]
    if not t.is_const or t.dtype != "int32" or t.size != 1:
        raise MicrolithError(f"{at}: axis '{t.name}' must be a constant int32 with one value "
                             f"(it is {'a constant' if t.is_const else 'computed at run time'}, "
                             f"{t.dtype}, shape {list(t.shape)})")
    return int(t.data.reshape(-1)[0])


def _new_const(tensors: dict, base: str, data: np.ndarray) -> str:
    name, k = base, 1
    while name in tensors:
        name, k = f"{base}#{k}", k + 1
    tensors[name] = Tensor(name, tuple(data.shape), str(data.dtype), None, data)
    return name


def _split_axis(at: str, x: Tensor, axis: int, outs: list[Tensor]) -> int:
    """The split axis in [0, rank), every output shaped like the input off the axis."""
    rank = len(x.shape)
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise MicrolithError(f"{at}: axis {axis} is out of range for input '{x.name}' of rank {rank}")
    for y in outs:
        if len(y.shape) != rank or any(p != q for d, (p, q) in enumerate(zip(x.shape, y.shape)) if d != a):
            raise MicrolithError(f"{at}: output '{y.name}' {list(y.shape)} does not fit input "
                                 f"'{x.name}' {list(x.shape)} split along axis {a}")
    return a


def _lower_to_slices(node: Node, tensors: dict, at: str, x: Tensor, axis: int, sizes: list[int]) -> list[Node]:
    if len(x.shape) > Slice.MAX_RANK:  # said here: the SLICE's own message would puzzle
        raise MicrolithError(f"{at}: input '{x.name}' has rank {len(x.shape)}; microlith splits tensors of "
                             f"rank 1 to {Slice.MAX_RANK} (each piece becomes a SLICE)")
    begin, nodes = 0, []
    for out, n in zip(node.outputs, sizes):
        start = [0] * len(x.shape)
        start[axis] = begin
        size = list(x.shape)
        size[axis] = n
        b = _new_const(tensors, f"{out}/begin", np.array(start, np.int32))
        s = _new_const(tensors, f"{out}/size", np.array(size, np.int32))
        nodes.append(Node(Op.SLICE, (x.name, b, s), (out,), {}, name=node.name))
        begin += n
    return nodes


def lower_split(node: Node, tensors: dict, at: str) -> list[Node]:
    """TFLM split.cc: inputs (axis, input); every output gets output 0's share of the axis,
    which must divide it evenly. num_splits is ignored, as TFLM does."""
    x = tensors[node.inputs[1]]
    outs = [tensors[n] for n in node.outputs]
    axis = _split_axis(at, x, _const_axis(node, tensors, 0, at), outs)
    share = int(outs[0].shape[axis])
    if any(int(y.shape[axis]) != share for y in outs) or share * len(outs) != int(x.shape[axis]):
        raise MicrolithError(f"{at}: {len(outs)} outputs of {[int(y.shape[axis]) for y in outs]} along "
                             f"axis {axis} do not split input '{x.name}' {list(x.shape)} evenly")
    return _lower_to_slices(node, tensors, at, x, axis, [share] * len(outs))


def lower_split_v(node: Node, tensors: dict, at: str) -> list[Node]:
    """TFLM split_v.cc: inputs (input, size_splits, axis); the outputs' own sizes along the axis
    decide (TFLM never reads size_splits) and must add up to the input's."""
    x = tensors[node.inputs[0]]
    outs = [tensors[n] for n in node.outputs]
    axis = _split_axis(at, x, _const_axis(node, tensors, 2, at), outs)
    sizes = [int(y.shape[axis]) for y in outs]
    if sum(sizes) != int(x.shape[axis]):
        raise MicrolithError(f"{at}: outputs of {sizes} along axis {axis} add up to {sum(sizes)}, "
                             f"input '{x.name}' has {x.shape[axis]}")
    return _lower_to_slices(node, tensors, at, x, axis, sizes)


def lower_unpack(node: Node, tensors: dict, at: str) -> list[Node]:
    """TFLM unpack.cc: num outputs, output i the input at index i of the axis, the axis dropped.
    TFLM steps through the input by num, so num must be the axis' size and the output count."""
    x = tensors[node.inputs[0]]
    rank, num = len(x.shape), int(node.attrs["num"])
    axis = int(node.attrs["axis"])
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise MicrolithError(f"{at}: axis {axis} is out of range for input '{x.name}' of rank {rank}")
    if not num == len(node.outputs) == int(x.shape[a]):
        raise MicrolithError(f"{at}: num is {num}, the op has {len(node.outputs)} outputs and input "
                             f"'{x.name}' {list(x.shape)} has {x.shape[a]} along axis {a}; TFLM needs "
                             "all three equal")
    nodes = []
    for k, out in enumerate(node.outputs):
        index = _new_const(tensors, f"{out}/index", np.array(k, np.int32))
        nodes.append(Node(Op.GATHER, (x.name, index), (out,), dict(axis=a, batch_dims=0), name=node.name))
    return nodes


MULTI_OUTPUT = {Op.SPLIT: lower_split, Op.SPLIT_V: lower_split_v, Op.UNPACK: lower_unpack}
# The op each lowered op becomes (what `microlith ops` reports their support from).
LOWERED_TO = {Op.SPLIT: Op.SLICE, Op.SPLIT_V: Op.SLICE, Op.UNPACK: Op.GATHER}


# -- float32 references (reference_float.py: calibration of float models) -----------------

def _float_slice(node, g, ins, out_shape):
    x = ins[0]
    begin = np.asarray(ins[1]).reshape(-1).astype(np.int64)
    size = np.asarray(ins[2]).reshape(-1).astype(np.int64)
    index = tuple(slice(int(b), x.shape[d] if n == -1 else int(b + n)) for d, (b, n) in enumerate(zip(begin, size)))
    return [x[index]]


def _float_gather(node, g, ins, out_shape):
    x, idx = ins[0], np.asarray(ins[1]).astype(np.int64)
    axis = int(node.attrs["axis"]) % x.ndim
    bd = int(node.attrs["batch_dims"])
    bd = bd + idx.ndim if bd < 0 else bd
    batch = math.prod(x.shape[:bd])
    xs = x.reshape(batch, math.prod(x.shape[bd:axis]), x.shape[axis], -1)
    ids = idx.reshape(batch, -1)
    y = xs[np.arange(batch)[:, None, None], np.arange(xs.shape[1])[None, :, None], ids[:, None, :]]
    return [y.reshape(out_shape)]


def _float_pack(node, g, ins, out_shape):
    return [np.stack(ins, axis=int(node.attrs["axis"]) % len(out_shape))]


def _float_expand_dims(node, g, ins, out_shape):
    return [ins[0].reshape(out_shape)]


def _float_broadcast_to(node, g, ins, out_shape):
    x = ins[0]
    return [np.broadcast_to(x.reshape((1,) * (len(out_shape) - x.ndim) + x.shape), out_shape).copy()]


def _float_depth_to_space(node, g, ins, out_shape):
    n, h, w, c = ins[0].shape
    b = int(node.attrs["block_size"])
    return [ins[0].reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5).reshape(out_shape)]


def _float_space_to_depth(node, g, ins, out_shape):
    n, h, w, c = ins[0].shape
    b = int(node.attrs["block_size"])
    return [ins[0].reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(out_shape)]


def _float_mirror_pad(node, g, ins, out_shape):
    pads = np.asarray(ins[1]).reshape(-1, 2).astype(np.int64).tolist()
    return [np.pad(ins[0], pads, mode="reflect" if node.attrs["mode"] == "REFLECT" else "symmetric")]


def _float_padv2(node, g, ins, out_shape):
    value = 0.0 if len(ins) < 3 or ins[2] is None else float(np.asarray(ins[2]).reshape(-1)[0])
    return [np.pad(ins[0], np.asarray(ins[1]).reshape(-1, 2).astype(np.int64).tolist(), constant_values=value)]


def _float_resize_nearest(node, g, ins, out_shape):
    a, x = node.attrs, ins[0]
    ys = nearest_sources(x.shape[1], out_shape[1], a["align_corners"], a["half_pixel_centers"])
    xs = nearest_sources(x.shape[2], out_shape[2], a["align_corners"], a["half_pixel_centers"])
    return [x[:, ys][:, :, xs]]


def _float_resize_bilinear(node, g, ins, out_shape):
    """TFLite's float ResizeBilinear (float32 positions, no rounding offset)."""
    a, x, f32 = node.attrs, ins[0].astype(np.float32), np.float32

    def axis(in_size, out_size):
        scale = f32(in_size) / f32(out_size)
        if a["align_corners"] and out_size > 1:
            scale = f32(in_size - 1) / f32(out_size - 1)
        v = np.arange(out_size, dtype=np.float32)
        pos = (v + f32(0.5)) * scale - f32(0.5) if a["half_pixel_centers"] else v * scale
        lo = np.maximum(np.floor(pos).astype(np.int64), 0)
        hi = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, dy = axis(x.shape[1], out_shape[1])
    x0, x1, dx = axis(x.shape[2], out_shape[2])
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    one = f32(1)
    return [(x[:, y0][:, :, x0] * (one - dy) * (one - dx) + x[:, y1][:, :, x0] * dy * (one - dx)
             + x[:, y0][:, :, x1] * (one - dy) * dx + x[:, y1][:, :, x1] * dy * dx).astype(np.float32)]


def _float_batch_to_space(node, g, ins, out_shape):
    return [batch_to_space(ins[0], np.asarray(ins[1]).reshape(-1), np.asarray(ins[2]).reshape(-1, 2))]


def _float_space_to_batch(node, g, ins, out_shape):
    return [space_to_batch(ins[0], np.asarray(ins[1]).reshape(-1), np.asarray(ins[2]).reshape(-1, 2), 0)]


def _float_reverse(node, g, ins, out_shape):
    return [np.flip(ins[0], axis=tuple(int(a) % ins[0].ndim for a in np.asarray(ins[1]).reshape(-1)))]


def _float_zeros_like(node, g, ins, out_shape):
    return [np.zeros(out_shape, np.float32)]


def _float_gather_nd(node, g, ins, out_shape):
    return [gather_nd(ins[0], np.asarray(ins[1]).astype(np.int64))]


def _float_lowered(node, g, ins, out_shape):
    raise MicrolithError(f"{where(node, g)}: {node.op.value} should have been lowered by the frontend")


def _per_sample(fn):
    """Run a single-sample float reference on a batch (reference_float's leading N) one sample
    at a time: these ops may move data across axis 0, so they cannot see the batch whole."""
    def run(node, g, ins, out_shape):
        n = out_shape[0] if out_shape else 1
        one = tuple(g.t(node.outputs[0]).shape)
        if tuple(out_shape) == one or not one or one[0] != 1:
            return fn(node, g, ins, out_shape)
        acts = [name is not None and not g.t(name).is_const for name in node.inputs]
        outs = [fn(node, g, [x[k:k + 1] if a else x for x, a in zip(ins, acts)], one)[0] for k in range(n)]
        return [np.concatenate([np.asarray(o).reshape(one) for o in outs], axis=0)]
    return run


FLOAT_RUN = {Op.SLICE: _per_sample(_float_slice), Op.GATHER: _per_sample(_float_gather),
             Op.PACK: _per_sample(_float_pack), Op.EXPAND_DIMS: _per_sample(_float_expand_dims),
             Op.BROADCAST_TO: _per_sample(_float_broadcast_to),
             Op.DEPTH_TO_SPACE: _per_sample(_float_depth_to_space),
             Op.SPACE_TO_DEPTH: _per_sample(_float_space_to_depth),
             Op.MIRROR_PAD: _per_sample(_float_mirror_pad), Op.PADV2: _per_sample(_float_padv2),
             Op.RESIZE_NEAREST_NEIGHBOR: _per_sample(_float_resize_nearest),
             Op.RESIZE_BILINEAR: _per_sample(_float_resize_bilinear),
             Op.BATCH_TO_SPACE_ND: _per_sample(_float_batch_to_space),
             Op.SPACE_TO_BATCH_ND: _per_sample(_float_space_to_batch),
             Op.REVERSE_V2: _per_sample(_float_reverse), Op.ZEROS_LIKE: _float_zeros_like,
             Op.GATHER_ND: _per_sample(_float_gather_nd),
             Op.SPLIT: _float_lowered, Op.SPLIT_V: _float_lowered, Op.UNPACK: _float_lowered}
