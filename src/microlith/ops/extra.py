"""Issue 10, the last int8 ops TFLM registers: EMBEDDING_LOOKUP, FILL, DYNAMIC_UPDATE_SLICE, and
SHAPE and BROADCAST_ARGS, whose int32 shape arithmetic is done while compiling.

Like ops/movement.py these move bytes and do no arithmetic, except EMBEDDING_LOOKUP's hybrid
path (an int8 table read into a float32 output, dequantized with one float multiply as TFLM
does). None of them checks or changes quantization: TFLM copies the bytes whatever the
output's scale and zero point, so we copy them too.
"""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Op
from . import OpImpl, register, where
from .movement import _per_sample
from .shape import MAX_RANK, c_array, require_nonempty, shape_nd

F32 = np.float32


def _dtype_of(node, g, names, allowed: tuple[str, ...], what: str) -> str:
    """The one dtype of tensors `names`, refused unless it is one of `allowed`."""
    dtypes = {g.t(n).dtype for n in names}
    if len(dtypes) != 1:
        listed = ", ".join(f"'{n}' {g.t(n).dtype}" for n in names)
        raise MicrolithError(f"{where(node, g)}: {listed}; TFLM's {node.op.value} needs one type for them")
    dtype = dtypes.pop()
    if dtype not in allowed:
        raise MicrolithError(f"{where(node, g)}: {what} '{names[0]}' is {dtype}; microlith compiles "
                             f"{node.op.value} on {' or '.join(allowed)} only")
    return dtype


# -- EMBEDDING_LOOKUP ------------------------------------------------------------------------

@register
class EmbeddingLookup(OpImpl):
    """TFLM embedding_lookup.cc: ids a 1-D int32 tensor (constant or run time), the table of
    rank >= 2; output[i] = table[ids[i]]. An int8 table goes to an int8 output by copying rows
    (EvalSimple: ml_gather_s8 along axis 0) or to a float32 output by dequantizing them
    (EvalHybrid: zero point 0, per-tensor scale). A float32 table is a float model: refused.
    An id outside the table fails the invoke in TFLM; the generated code returns an error."""
    op = Op.EMBEDDING_LOOKUP
    kernels = ("ml_gather_s8", "ml_embedding_lookup_s8_f32")

    def kernels_for(self, node, g, p):
        return ("ml_embedding_lookup_s8_f32",) if p["hybrid"] else ("ml_gather_s8",)

    def prepare(self, node, g):
        ids, table, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        if ids.dtype != "int32" or len(ids.shape) != 1:
            raise MicrolithError(f"{where(node, g)}: ids '{ids.name}' are {ids.dtype} of shape "
                                 f"{list(ids.shape)}; TFLM's EMBEDDING_LOOKUP takes a 1-D int32 tensor")
        if table.dtype != "int8":
            raise MicrolithError(f"{where(node, g)}: table '{table.name}' is {table.dtype}; microlith "
                                 "compiles int8 tables (a float32 table is a float model: quantize it)")
        if len(table.shape) < 2:
            raise MicrolithError(f"{where(node, g)}: table '{table.name}' has shape {list(table.shape)}; "
                                 "TFLM needs rank 2 or more")
        if y.dtype not in ("int8", "float32"):
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' is {y.dtype}; TFLM reads an int8 "
                                 "table into int8 or float32")
        require_nonempty(node, g, [ids.name, table.name, y.name])
        want = (int(ids.shape[0]),) + tuple(int(d) for d in table.shape[1:])
        if tuple(y.shape) != want:  # TFLM rewrites the output's shape to this
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; looking "
                                 f"up {ids.shape[0]} ids in {list(table.shape)} gives {list(want)}")
        rows = int(table.shape[0])
        if ids.is_const:
            bad = (ids.data < 0) | (ids.data >= rows)
            if bad.any():
                raise MicrolithError(f"{where(node, g)}: id {int(ids.data[bad][0])} of '{ids.name}' is "
                                     f"outside [0, {rows}); TFLM fails the invoke there")
        p = dict(rows=rows, columns=table.size // rows, lookups=int(ids.shape[0]), hybrid=y.dtype == "float32")
        if p["hybrid"]:
            q = table.quant
            if q is None or q.per_axis or q.zero_point[0] != 0:
                got = "no quantization" if q is None else (
                    f"{len(q.scale)} scales" if q.per_axis else f"zero point {q.zero_point[0]}")
                raise MicrolithError(f"{where(node, g)}: table '{table.name}' has {got}; TFLM dequantizes an "
                                     "int8 table into float32 with one scale and zero point 0")
            p["scale"] = F32(q.scale[0])
        return p

    def reference(self, node, g, p, xs):
        ids = np.asarray(xs[0]).astype(np.int64).reshape(-1)
        if ((ids < 0) | (ids >= p["rows"])).any():
            raise MicrolithError(f"{where(node, g)}: an id in '{node.inputs[0]}' is outside "
                                 f"[0, {p['rows']}); the generated code returns an error there")
        rows = np.asarray(xs[1]).reshape(p["rows"], p["columns"])[ids]
        y = g.t(node.outputs[0])
        if p["hybrid"]:  # micro_utils.h Dequantize: (q - 0) * scale, a float32 multiply
            return [(rows.astype(F32) * p["scale"]).astype(F32).reshape(y.shape)]
        return [rows.astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        ids, table, out = (ctx.tensor(n) for n in (node.inputs[0], node.inputs[1], node.outputs[0]))
        if p["hybrid"]:
            params = ctx.struct("ml_embedding_lookup_f32_params", "params",
                                dict(rows=p["rows"], columns=p["columns"], lookups=p["lookups"],
                                     scale=p["scale"]))
            return f"ml_embedding_lookup_s8_f32({params}, {ids}, {table}, {out})"
        params = ctx.struct("ml_gather_params", "params",
                            dict(batch=1, outer=1, axis_size=p["rows"], coords=p["lookups"], inner=p["columns"]))
        return f"ml_gather_s8({params}, {table}, {ids}, {out})"


# -- FILL ------------------------------------------------------------------------------------

_FILL_KERNELS = {"int8": "ml_fill_s8", "int32": "ml_fill_s32"}


@register
class Fill(OpImpl):
    """TFLM fill.cc: dims a constant 1-D integer tensor equal to the output's shape, value a
    scalar of the output's type (constant or run time). TFLM's Eval fills float32, int32 and
    int8; it fails on int16 (and so is refused here, as is float32, a float model)."""
    op = Op.FILL
    kernels = tuple(_FILL_KERNELS.values())

    def kernels_for(self, node, g, p):
        return (_FILL_KERNELS[p["dtype"]],)

    def prepare(self, node, g):
        dims, value, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        if value.shape != ():
            raise MicrolithError(f"{where(node, g)}: value '{value.name}' has shape {list(value.shape)}; "
                                 "TFLM's FILL needs a scalar")
        dtype = _dtype_of(node, g, [value.name, y.name], tuple(_FILL_KERNELS), "value")
        if not dims.is_const:
            raise MicrolithError(f"{where(node, g)}: dims '{dims.name}' is computed at run time; TFLM "
                                 "(and a static memory plan) needs it constant")
        if dims.dtype not in ("int8", "int16", "int32", "int64") or len(dims.shape) != 1:
            raise MicrolithError(f"{where(node, g)}: dims '{dims.name}' is {dims.dtype} of shape "
                                 f"{list(dims.shape)}; TFLM needs a 1-D integer tensor")
        if [int(v) for v in dims.data] != [int(d) for d in y.shape]:
            raise MicrolithError(f"{where(node, g)}: dims {dims.data.tolist()} differ from output "
                                 f"'{y.name}' {list(y.shape)}; TFLM needs them equal")
        require_nonempty(node, g, [y.name])
        return dict(dtype=dtype, size=y.size)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.full(y.shape, np.asarray(xs[1]).reshape(-1)[0], dtype=y.np_dtype)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_fill_params", "params", dict(size=p["size"]))
        return (f"{_FILL_KERNELS[p['dtype']]}({params}, {ctx.tensor(node.inputs[1])}, "
                f"{ctx.tensor(node.outputs[0])})")


# -- DYNAMIC_UPDATE_SLICE --------------------------------------------------------------------

_DUS_KERNELS = {"int8": "ml_dynamic_update_slice_s8", "int16": "ml_dynamic_update_slice_s16",
                "int32": "ml_dynamic_update_slice_s32"}


def dynamic_update_slice(operand: np.ndarray, update: np.ndarray, start) -> np.ndarray:
    """TFLM's EvalImpl: the operand with update written at start, each start clamped to
    [0, operand dim - update dim] (CalculateClampedStartIndices)."""
    out = np.array(operand, copy=True)
    begin = [min(max(0, int(s)), int(d) - int(u))
             for s, d, u in zip(np.asarray(start).reshape(-1), operand.shape, update.shape)]
    out[tuple(slice(b, b + int(u)) for b, u in zip(begin, update.shape))] = update
    return out


@register
class DynamicUpdateSlice(OpImpl):
    """TFLM dynamic_update_slice.cc: operand and update of one type (int8, int16 or int32 here;
    float32 is a float model) and rank (1..6, TFLM's kMaxDimensions), every update dimension at
    most the operand's; start_indices a 1-D int32 or int64 tensor of one value per dimension,
    constant or computed at run time, clamped at run time as TFLM clamps them."""
    op = Op.DYNAMIC_UPDATE_SLICE
    kernels = tuple(_DUS_KERNELS.values())
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return (_DUS_KERNELS[p["dtype"]],)

    def prepare(self, node, g):
        x, u, s, y = (g.t(n) for n in (*node.inputs, node.outputs[0]))
        dtype = _dtype_of(node, g, [x.name, u.name, y.name], tuple(_DUS_KERNELS), "operand")
        require_nonempty(node, g, [x.name, u.name, y.name])
        rank = len(x.shape)
        if not 1 <= rank <= MAX_RANK or len(u.shape) != rank:
            raise MicrolithError(f"{where(node, g)}: operand '{x.name}' {list(x.shape)} and update "
                                 f"'{u.name}' {list(u.shape)}; TFLM needs one rank, 1 to {MAX_RANK}")
        if any(int(a) > int(b) for a, b in zip(u.shape, x.shape)):
            raise MicrolithError(f"{where(node, g)}: update '{u.name}' {list(u.shape)} is larger than "
                                 f"operand '{x.name}' {list(x.shape)} along a dimension")
        if s.dtype not in ("int32", "int64") or tuple(s.shape) != (rank,):
            raise MicrolithError(f"{where(node, g)}: start_indices '{s.name}' is {s.dtype} of shape "
                                 f"{list(s.shape)}; TFLM needs int32 or int64 of shape [{rank}]")
        if tuple(y.shape) != tuple(x.shape):  # TFLM writes the operand's element count
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' {list(y.shape)} differs from "
                                 f"operand '{x.name}' {list(x.shape)}")
        return dict(dtype=dtype, start_is_int64=int(s.dtype == "int64"))

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [dynamic_update_slice(np.asarray(xs[0]), np.asarray(xs[1]), xs[2]).astype(y.np_dtype)]

    def emit(self, node, g, p, ctx):
        x, u, s = node.inputs
        params = ctx.struct("ml_dynamic_update_slice_params", "params",
                            dict(start_is_int64=p["start_is_int64"]))
        return (f"{_DUS_KERNELS[p['dtype']]}({params}, {shape_nd(ctx, 'operand_shape', g.t(x).shape)}, "
                f"{ctx.tensor(x)}, {shape_nd(ctx, 'update_shape', g.t(u).shape)}, {ctx.tensor(u)}, "
                f"{ctx.tensor(s)}, {ctx.tensor(node.outputs[0])})")


# -- SHAPE and BROADCAST_ARGS: int32 shape arithmetic, done while compiling ----------------

def _wrap_int32(v: int) -> int:
    """C++'s conversion of an integer to int (two's complement, 32 bits)."""
    return (int(v) + (1 << 31)) % (1 << 32) - (1 << 31)


def broadcast_args(a, b, n: int | None = None, at: str = "BROADCAST_ARGS") -> list[int]:
    """TFLite's reference BroadcastArgs for an output of n values (default: the longer input):
    shapes aligned at their ends, missing dimensions 1, each value read as a C++ int. Two
    values that differ and are not 1 fail TFLITE_CHECK_EQ (an abort): refused."""
    a = [int(v) for v in np.asarray(a).reshape(-1)]
    b = [int(v) for v in np.asarray(b).reshape(-1)]
    n = max(len(a), len(b)) if n is None else n
    out = [0] * n
    for i in range(n):  # i counts from the end
        x = _wrap_int32(a[len(a) - 1 - i]) if i < len(a) else 1
        y = _wrap_int32(b[len(b) - 1 - i]) if i < len(b) else 1
        if x != 1 and y != 1 and x != y:
            raise MicrolithError(f"{at}: shapes {a} and {b} do not broadcast ({x} against {y}); TFLM aborts there")
        out[n - 1 - i] = y if x == 1 else x
    return out


def static_ints(g, name: str) -> np.ndarray | None:
    """The value of integer tensor `name` if it is known while compiling: a constant, or the
    output of SHAPE (of a tensor's static shape) or of BROADCAST_ARGS of known values."""
    t = g.t(name)
    if t.is_const:
        return t.data.astype(np.int64)
    producer = g.producers().get(name)
    if producer is None:
        return None
    node = g.nodes[producer]
    if node.op is Op.SHAPE:
        return np.array(g.t(node.inputs[0]).shape, np.int64)
    if node.op is Op.BROADCAST_ARGS:
        ins = [static_ints(g, n) for n in node.inputs]
        if any(v is None for v in ins):
            return None
        return np.array(broadcast_args(ins[0], ins[1], t.size, where(node, g)), np.int64)
    return None


class _ShapeConstant(OpImpl):
    """An op whose output microlith knows while compiling: the kernel copies that constant into
    the output (ml_strided_slice_s8 on the bytes, a stride-1 slice of everything)."""
    kernels = ("ml_strided_slice_s8",)

    def value(self, node, g) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, node, g):
        y = g.t(node.outputs[0])
        value = self.value(node, g).astype(y.np_dtype)
        if value.size != y.size or len(y.shape) != 1:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; the op "
                                 f"gives {value.size} values in a vector")
        return dict(value=value)

    def reference(self, node, g, p, xs):
        return [p["value"].copy()]

    def emit(self, node, g, p, ctx):
        nbytes = p["value"].nbytes
        data = ctx.const("value", p["value"])
        params = ctx.struct("ml_strided_slice_params", "params", dict(begin=c_array([0]), stride=c_array([1])))
        shape = shape_nd(ctx, "bytes", [nbytes])
        return (f"ml_strided_slice_s8({params}, {shape}, (const int8_t *){data}, {shape}, "
                f"(int8_t *){ctx.tensor(node.outputs[0])})")


@register
class Shape(_ShapeConstant):
    """TFLM shape.cc: the input's shape as int32 (TFLM fails on any other output type). Shapes
    are static in microlith, so the values are known while compiling whatever the input holds."""
    op = Op.SHAPE
    dtypes = ("int8", "int16")

    def value(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if y.dtype != "int32":
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' is {y.dtype}; TFLM's SHAPE writes "
                                 "int32 only")
        return np.array(x.shape, np.int64)


@register
class BroadcastArgs(_ShapeConstant):
    """TFLM broadcast_args.cc: two 1-D shapes of one type (int32 or int64, the output's too),
    computed while compiling, so both must be known then: constants or SHAPE/BROADCAST_ARGS
    outputs (see static_ints)."""
    op = Op.BROADCAST_ARGS
    dtypes = ("int8", "int16")

    def value(self, node, g):
        names = [*node.inputs, node.outputs[0]]
        _dtype_of(node, g, names, ("int32", "int64"), "shape")
        if any(len(g.t(n).shape) != 1 for n in names):
            raise MicrolithError(f"{where(node, g)}: shapes {[list(g.t(n).shape) for n in names]}; TFLM needs "
                                 "1-D inputs and output")
        ins = [static_ints(g, n) for n in node.inputs]
        for n, v in zip(node.inputs, ins):
            if v is None:
                raise MicrolithError(f"{where(node, g)}: shape '{n}' is computed at run time; microlith "
                                     "computes BROADCAST_ARGS while compiling (from constants or SHAPE outputs)")
        return np.array(broadcast_args(ins[0], ins[1], g.t(node.outputs[0]).size, where(node, g)), np.int64)


# -- float32 references (reference_float.py: calibration of float models) -----------------

def _float_embedding_lookup(node, g, ins, out_shape):
    ids = np.asarray(ins[0]).reshape(-1).astype(np.int64)
    return [np.asarray(ins[1])[ids]]


def _float_fill(node, g, ins, out_shape):
    return [np.full(out_shape, np.asarray(ins[1]).reshape(-1)[0])]


def _float_dynamic_update_slice(node, g, ins, out_shape):
    return [dynamic_update_slice(np.asarray(ins[0]), np.asarray(ins[1]), ins[2])]


def _float_broadcast_args(node, g, ins, out_shape):
    y = g.t(node.outputs[0])  # a batch of samples shares the one static value
    return [np.broadcast_to(np.array(broadcast_args(ins[0], ins[1], y.size), y.np_dtype), out_shape)]


def _float_shape(node, g, ins, out_shape):
    return [np.broadcast_to(np.array(g.t(node.inputs[0]).shape, np.int32), out_shape)]


FLOAT_RUN = {Op.EMBEDDING_LOOKUP: _float_embedding_lookup, Op.FILL: _float_fill,
             Op.DYNAMIC_UPDATE_SLICE: _per_sample(_float_dynamic_update_slice),
             Op.BROADCAST_ARGS: _float_broadcast_args, Op.SHAPE: _float_shape}
