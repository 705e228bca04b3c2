"""Elementwise int8 ops: ADD, SUB, MUL (with broadcasting), RELU, RELU6, LEAKY_RELU,
HARD_SWISH, QUANTIZE and DEQUANTIZE; all but HARD_SWISH (which TFLM has only for int8) also
on int16 (TFLite's 16x8 mode) through the *_s16 kernels. ADD and MUL also run on unquantized
int32 (TFLM's raw int32 path, used by its signal front ends): the result wraps modulo 2^32 as
in TFLM; MUL then clamps to its fused activation, ADD ignores it (TFLM's int32 ADD does).

The int8 -> int8 unary ops (here and LOGISTIC/TANH in activation.py) run as a 256-entry
lookup table (ml_lut_s8) once their tensor is large enough to pay for it; the table is their
own numpy reference evaluated on every int8 input, so it is exact by construction. Their
arithmetic kernels stay for the small tensors.

Each prepare() mirrors TFLM's Prepare for the op, including whether it derives the
multipliers in double (ADD, SUB, MUL, RELU, QUANTIZE) or in float (LEAKY_RELU, HARD_SWISH):
a float32 division can land on a different q31 multiplier than the double one, and then the
outputs differ. Scales are the float32 values the model stores.
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace

from ..ir import Graph, MicrolithError, Op
from ..arith.fixedpoint import (activation_range, multiply_by_quantized_multiplier, wrap32,
                                   multiply_by_quantized_multiplier_smaller_than_one_exp,
                                   quantize_multiplier, tf_round)
from . import OpImpl, register, require_int8, requant_multiplier, where
from .s16 import NP, QRANGE, act_dtype

F32 = np.float32


def _quant(g, name) -> tuple[float, int]:
    t = g.t(name)
    return float(F32(t.quant.scale[0])), int(t.quant.zero_point[0])


def _multiplier(node, g, real: float, what: str, max_shift: int = 30) -> tuple[int, int]:
    """QuantizeMultiplier, refusing exponents our shifts (and TFLM's) cannot apply."""
    return requant_multiplier(node, g, real, f"{what} rescale factor", node.inputs[0], max_shift)


def _multiplier_below_one(node, g, real: float, what: str) -> tuple[int, int]:
    """TFLM's QuantizeMultiplierSmallerThanOneExp, whose CHECKs abort outside (0, 1)."""
    mult, shift = quantize_multiplier(float(real)) if 0.0 < real < 1.0 else (0, 1)
    if shift > 0:
        raise MicrolithError(f"{where(node, g)}: the {what} rescale factor {real:.6g} is not in "
                             "(0, 1), which TFLM's int8 kernel requires; check the quantization scales")
    return mult, shift


def _flat_dims(ctx, shape) -> str:
    """Unary kernels only need the element count; keep the real shape when it fits 4-D."""
    shape = tuple(int(d) for d in shape)
    return ctx.dims(shape if len(shape) <= 4 else (int(np.prod(shape)),))


def _require_same_size(node, g, a: str, b: str) -> None:
    if g.t(a).size != g.t(b).size:
        raise MicrolithError(f"{where(node, g)}: input '{a}' has {g.t(a).size} elements but output "
                             f"'{b}' has {g.t(b).size}")


def _require_inputs(node, g, n: int) -> None:
    if len(node.inputs) != n or any(x is None for x in node.inputs):
        raise MicrolithError(f"{where(node, g)}: expected {n} input tensor(s), got {len(node.inputs)}")


# -- broadcasting ---------------------------------------------------------------------------

def collapse_broadcast(a_shape, b_shape, out_shape) -> tuple[tuple, tuple, tuple] | None:
    """Numpy broadcasting of a and b into out, collapsed to as few dimensions as possible.

    Adjacent dimensions merge when both inputs treat them alike (both full, or the same one
    repeated); dimensions of extent 1 disappear. Returns (a, b, out) shapes of equal rank
    >= 1, or None when a and b do not broadcast to out.
    """
    rank = max(len(a_shape), len(b_shape), len(out_shape))
    ext = [(1,) * (rank - len(s)) + tuple(int(d) for d in s) for s in (a_shape, b_shape, out_shape)]
    groups: list[list] = []  # [a_full, b_full, extent]
    for da, db, do in zip(*ext):
        if do != max(da, db) or da not in (1, do) or db not in (1, do):
            return None
        if do == 1:
            continue
        key = (da == do, db == do)
        if groups and tuple(groups[-1][:2]) == key:
            groups[-1][2] *= do
        else:
            groups.append([key[0], key[1], do])
    if not groups:
        groups = [[True, True, 1]]
    a = tuple(n if fa else 1 for fa, _, n in groups)
    b = tuple(n if fb else 1 for _, fb, n in groups)
    out = tuple(n for _, _, n in groups)
    return a, b, out


def _broadcast_prepare(node, g, int16_zero_point: bool = True) -> dict:
    _require_inputs(node, g, 2)
    dtype = act_dtype(node, g, [node.inputs[0], node.inputs[1], node.outputs[0]], int16_zero_point)
    return dict(dtype=dtype, **_broadcast_prepare_plan(node, g))


def _broadcast_prepare_plan(node, g) -> dict:
    """dims1, dims2, dims_out: the broadcast collapsed to at most 4 dimensions."""
    _require_inputs(node, g, 2)
    a, b = g.t(node.inputs[0]), g.t(node.inputs[1])
    y = g.t(node.outputs[0])
    plan = collapse_broadcast(a.shape, b.shape, y.shape)
    if plan is None:
        raise MicrolithError(f"{where(node, g)}: inputs {list(a.shape)} and {list(b.shape)} do not "
                             f"broadcast to the output shape {list(y.shape)}")
    if len(plan[2]) > 4:
        raise MicrolithError(f"{where(node, g)}: broadcasting {list(a.shape)} with {list(b.shape)} "
                             f"needs {len(plan[2])} runs of dimensions that broadcast differently; "
                             "the kernels handle at most 4")
    return dict(dims1=plan[0], dims2=plan[1], dims_out=plan[2])


def _broadcast_inputs(node, g, xs) -> tuple[np.ndarray, np.ndarray]:
    """The two inputs as int64, broadcast to the output's shape."""
    shape = g.t(node.outputs[0]).shape
    rank = len(shape)
    out = []
    for x in xs[:2]:
        x = np.asarray(x, dtype=np.int64)
        x = x.reshape((1,) * max(rank - x.ndim, 0) + x.shape)
        out.append(np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)))
    return out[0], out[1]


def _emit_binary(kernel: str, node, p: dict, ctx, params: str) -> str:
    return (f"{kernel}({params}, "
            f"{ctx.dims(p['dims1'])}, {ctx.tensor(node.inputs[0])}, "
            f"{ctx.dims(p['dims2'])}, {ctx.tensor(node.inputs[1])}, "
            f"{ctx.dims(p['dims_out'])}, {ctx.tensor(node.outputs[0])})")


# TFLM's CalculateActivationRange on int32 tensors (kernel_util.h): no scale, raw bounds.
INT32_ACTIVATION = {"NONE": (-(1 << 31), (1 << 31) - 1), "RELU": (0, (1 << 31) - 1),
                    "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}


def int32_binary(node, g) -> bool:
    """True when both inputs and the output are int32: TFLM's raw int32 ADD / MUL path (the
    signal front ends), which ignores any quantization."""
    return len(node.inputs) == 2 and all(n is not None and g.t(n).dtype == "int32"
                                         for n in node.inputs + node.outputs)


def int32_prepare(node, g, activation: str) -> dict:
    """Broadcast plan and clamp of a raw int32 binary op."""
    p = _broadcast_prepare_plan(node, g)
    if activation not in INT32_ACTIVATION:
        raise MicrolithError(f"{where(node, g)}: fused activation {activation} is not supported "
                             "by TFLM on int32")
    act_min, act_max = INT32_ACTIVATION[activation]
    p.update(dtype="int32", act_min=act_min, act_max=act_max)
    return p


def int32_reference(node, g, p, xs, combine) -> list[np.ndarray]:
    """combine(a, b) in int64, wrapped to int32 as TFLM's kernels do, then clamped."""
    a, b = _broadcast_inputs(node, g, xs)
    out = np.clip(wrap32(combine(a, b)), p["act_min"], p["act_max"])
    return [out.astype(np.int32).reshape(g.t(node.outputs[0]).shape)]


def int32_emit(kernel: str, ctype: str, node, p, ctx) -> str:
    params = ctx.struct(ctype, "params", dict(act_min=p["act_min"], act_max=p["act_max"]))
    return _emit_binary(kernel, node, p, ctx, params)


# -- ADD / SUB ------------------------------------------------------------------------------

class _AddSub(OpImpl):
    """TFLM add_common.cc / sub_common.cc: both inputs are rescaled to a shared scale
    (twice the larger input scale, with 20 bits of headroom, 15 for int16), combined, and
    rescaled. TFLM's int16 path is the same algorithm and takes any zero points."""
    kernels = ("ml_add_s8", "ml_add_s16", "ml_add_s32")
    dtypes = ("int8", "int16")  # and int32 for ADD (Add.dtypes)
    LEFT_SHIFT = {"int8": 20, "int16": 15}

    def kernels_for(self, node, g, p):
        if p["dtype"] == "int32":
            return ("ml_add_s32",)
        return self.kernels[1:] if p["dtype"] == "int16" else self.kernels[:1]

    def real_multipliers(self, s1: float, s2: float, so: float, left_shift: int) -> tuple[float, float, float]:
        # In double, from the float scales. Some TFLM trees compute SUB's ratios in float
        # instead; the tflite-micro oracle we verify against does double for both (a float
        # variant differs by one on some outputs), and test_elementwise pins this.
        twice_max = 2.0 * max(s1, s2)
        return s1 / twice_max, s2 / twice_max, twice_max / ((1 << left_shift) * so)

    def prepare(self, node, g):
        if self.op is Op.ADD and int32_binary(node, g):
            # TFLM's int32 ADD clamps to the whole int32 range whatever the fused activation.
            return int32_prepare(node, g, "NONE")
        p = _broadcast_prepare(node, g, int16_zero_point=False)
        (s1, z1), (s2, z2) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        so, zo = _quant(g, node.outputs[0])
        left_shift = self.LEFT_SHIFT[p["dtype"]]
        r1, r2, ro = self.real_multipliers(s1, s2, so, left_shift)
        m1, sh1 = _multiplier_below_one(node, g, r1, "input1")
        m2, sh2 = _multiplier_below_one(node, g, r2, "input2")
        mo, sho = _multiplier_below_one(node, g, ro, "output")
        act_min, act_max = activation_range(node.attrs["activation"], so, zo, *QRANGE[p["dtype"]])
        p.update(input1_offset=-z1, input2_offset=-z2, left_shift=left_shift,
                 input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
                 output_multiplier=mo, output_shift=sho, output_offset=zo,
                 act_min=act_min, act_max=act_max, subtract=int(self.op is Op.SUB))
        return p

    def reference(self, node, g, p, xs):
        if p["dtype"] == "int32":
            return int32_reference(node, g, p, xs, np.add)
        a, b = _broadcast_inputs(node, g, xs)
        scale = multiply_by_quantized_multiplier_smaller_than_one_exp
        sa = scale((a + p["input1_offset"]) << p["left_shift"], p["input1_multiplier"], p["input1_shift"])
        sb = scale((b + p["input2_offset"]) << p["left_shift"], p["input2_multiplier"], p["input2_shift"])
        raw = sa - sb if p["subtract"] else sa + sb
        out = scale(raw, p["output_multiplier"], p["output_shift"]) + p["output_offset"]
        out = np.clip(out, p["act_min"], p["act_max"])
        return [out.astype(NP[p["dtype"]]).reshape(g.t(node.outputs[0]).shape)]

    # An int8 layer with operands of the output's shape this large gets ML_ADD_S8_SCRATCH_BYTES of
    # scratch for its input tables: filling them costs about 8 k instructions on cortex-m4 and
    # each element then saves about 21 (12.5 instead of 34; ResNet-8's adds: 16 k, 8 k and 4 k
    # elements).
    TABLE_MIN_ELEMENTS = 1024
    TABLE_BYTES = 2 * 256 * 4   # ML_ADD_S8_SCRATCH_BYTES in ml_add_s8.h

    def scratch_bytes(self, node, g, p):
        if p["dtype"] != "int8" or not (p["dims1"] == p["dims2"] == p["dims_out"]):
            return 0
        return self.TABLE_BYTES if int(np.prod(p["dims_out"])) >= self.TABLE_MIN_ELEMENTS else 0

    def inplace_inputs(self, node, g, p):
        # ml_add_s8 on operands of the output's shape reads element i of both inputs before it
        # writes element i (every path: the block buffer, the tables, the per-element loops)
        if p["dtype"] == "int8" and p["dims1"] == p["dims2"] == p["dims_out"]:
            return (0, 1)
        return ()

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int32":
            return int32_emit("ml_add_s32", "ml_add_params", node, p, ctx)
        keys = ("input1_offset", "input2_offset", "left_shift", "input1_multiplier", "input1_shift",
                "input2_multiplier", "input2_shift", "output_multiplier", "output_shift",
                "output_offset", "act_min", "act_max", "subtract")
        params = ctx.struct("ml_add_params", "params", {k: p[k] for k in keys})
        if p["dtype"] == "int8":
            params += ", " + (ctx.scratch() if self.scratch_bytes(node, g, p) else "NULL")
        return _emit_binary(self.kernels_for(node, g, p)[0], node, p, ctx, params)


@register
class Add(_AddSub):
    op = Op.ADD
    dtypes = ("int8", "int16", "int32")


@register
class Sub(_AddSub):
    op = Op.SUB


# -- MUL ------------------------------------------------------------------------------------

@register
class Mul(OpImpl):
    """TFLM mul_common.cc + reference_integer_ops::Mul / BroadcastMul6DSlow; int16 the same
    (MulElementwise<int16_t, int16_t>), with the zero points 0 that TFLM requires there."""
    op = Op.MUL
    kernels = ("ml_mul_s8", "ml_mul_s16", "ml_mul_s32")
    dtypes = ("int8", "int16", "int32")

    def kernels_for(self, node, g, p):
        return (self.kernels[self.dtypes.index(p["dtype"])],)

    def prepare(self, node, g):
        if int32_binary(node, g):
            return int32_prepare(node, g, node.attrs["activation"])
        p = _broadcast_prepare(node, g)
        (s1, z1), (s2, z2) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        so, zo = _quant(g, node.outputs[0])
        mult, shift = _multiplier(node, g, s1 * s2 / so, "output")  # double, as TFLM
        act_min, act_max = activation_range(node.attrs["activation"], so, zo, *QRANGE[p["dtype"]])
        p.update(input1_offset=-z1, input2_offset=-z2, output_offset=zo, output_multiplier=mult,
                 output_shift=shift, act_min=act_min, act_max=act_max)
        return p

    def reference(self, node, g, p, xs):
        if p["dtype"] == "int32":
            return int32_reference(node, g, p, xs, np.multiply)  # int64 holds the product
        a, b = _broadcast_inputs(node, g, xs)
        prod = (a + p["input1_offset"]) * (b + p["input2_offset"])
        out = multiply_by_quantized_multiplier(prod, p["output_multiplier"], p["output_shift"])
        out = np.clip(out + p["output_offset"], p["act_min"], p["act_max"])
        return [out.astype(NP[p["dtype"]]).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int32":
            return int32_emit("ml_mul_s32", "ml_mul_params", node, p, ctx)
        keys = ("input1_offset", "input2_offset", "output_offset", "output_multiplier",
                "output_shift", "act_min", "act_max")
        params = ctx.struct("ml_mul_params", "params", {k: p[k] for k in keys})
        return _emit_binary(self.kernels_for(node, g, p)[0], node, p, ctx, params)


# -- RELU / RELU6 / QUANTIZE int8 -> int8: one requantize-and-clamp kernel --------------------

def _requantize_reference(p: dict, x: np.ndarray) -> np.ndarray:
    v = np.asarray(x, dtype=np.int64) + p["input_offset"]
    y = multiply_by_quantized_multiplier(v, p["multiplier"], p["shift"]) + p["output_offset"]
    return np.clip(y, p["act_min"], p["act_max"]).astype(np.int8)


def _requantize_s16_reference(p: dict, x: np.ndarray) -> np.ndarray:
    """ml_requantize_s16: int32 arithmetic wraps, as TFLM's does."""
    v = wrap32(np.asarray(x, dtype=np.int64) + p["input_offset"])
    v = wrap32(multiply_by_quantized_multiplier(v, p["multiplier"], p["shift"]) + p["output_offset"])
    return np.clip(v, p["act_min"], p["act_max"])


_REQUANT_S16_FIELDS = ("input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max",
                       "input_bytes", "output_bytes")


# -- int8 lookup tables --------------------------------------------------------------------

LUT_MIN_ELEMENTS = 64
LUT_KERNEL = "ml_lut_s8"


def use_lut(node, g) -> bool:
    """True when an int8 -> int8 unary op should run as a table: a few instructions per element
    instead of 15 (RELU) to 150 (LOGISTIC) for the arithmetic kernels, for 256 bytes of flash,
    which pays once the tensor has LUT_MIN_ELEMENTS values."""
    x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
    return x.dtype == "int8" and y.dtype == "int8" and x.size >= LUT_MIN_ELEMENTS


def lut_table(impl: OpImpl, node, g) -> np.ndarray:
    """The op's output for the inputs -128..127, from its own prepare() and reference() run on
    a copy of the layer with 256-element tensors (the parameters depend only on quantization)."""
    x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
    tensors = dict(g.tensors)
    tensors[x.name] = replace(x, shape=(256,))
    tensors[y.name] = replace(y, shape=(256,))
    g256 = Graph(g.name, tensors, [node], [x.name], [y.name], g.source)
    p = impl.prepare(node, g256)
    out = impl.reference(node, g256, p, [np.arange(-128, 128).astype(np.int8)])[0]
    return np.asarray(out).astype(np.int8).reshape(256)


def emit_lut(impl: OpImpl, node, g, ctx) -> str:
    table = ctx.const("lut", lut_table(impl, node, g))
    params = ctx.struct("ml_lut_params", "params", dict(table=table))
    x, y = node.inputs[0], node.outputs[0]
    return (f"ml_lut_s8({params}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
            f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


def _unary_call(kernel: str, ctype: str, fields, node, g, p: dict, ctx) -> str:
    params = ctx.struct(ctype, "params", {k: p[k] for k in fields})
    x, y = node.inputs[0], node.outputs[0]
    return (f"{kernel}({params}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
            f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


class _Unary(OpImpl):
    # The int16 kernel, for the ops that set dtypes = ("int8", "int16"), and whether TFLM
    # requires int16 zero points 0 for the op.
    KERNEL_S16: str | None = None
    INT16_ZERO_POINT = False

    def check(self, node, g) -> str:
        """The op's activation dtype, after checking its operands."""
        _require_inputs(node, g, 1)
        if "int16" in self.dtypes:
            dtype = act_dtype(node, g, [node.inputs[0], node.outputs[0]], self.INT16_ZERO_POINT)
        else:
            require_int8(node, g, [node.inputs[0], node.outputs[0]])
            dtype = "int8"
        _require_same_size(node, g, node.inputs[0], node.outputs[0])
        return dtype

    def kernels_for(self, node, g, p):
        if p.get("dtype") == "int16":
            return (self.KERNEL_S16,)
        return (LUT_KERNEL,) if use_lut(node, g) else self.kernels[:1]


_REQUANT_FIELDS = ("input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max")


@register
class Relu(_Unary):
    """TFLM ReluQuantized: rescale to the output's quantization, clamp below at its zero."""
    op = Op.RELU
    kernels = ("ml_requantize_s8", LUT_KERNEL, "ml_requantize_s16")
    KERNEL_S16 = "ml_requantize_s16"
    INT16_ZERO_POINT = True  # TFLM's ReluPrepare ensures it for int16
    dtypes = ("int8", "int16")

    def prepare(self, node, g):
        dtype = self.check(node, g)
        (si, zi), (so, zo) = _quant(g, node.inputs[0]), _quant(g, node.outputs[0])
        mult, shift = _multiplier(node, g, si / so, "input-to-output")  # double
        # roundf(0 / scale) is 0: the lower bound is the output zero point.
        lo, hi = QRANGE[dtype]
        return dict(dtype=dtype, input_offset=-zi, output_offset=zo, multiplier=mult, shift=shift,
                    act_min=max(lo, zo), act_max=hi, input_bytes=2, output_bytes=2)

    def reference(self, node, g, p, xs):
        shape = g.t(node.outputs[0]).shape
        if p["dtype"] == "int16":
            return [_requantize_s16_reference(p, xs[0]).astype(np.int16).reshape(shape)]
        return [_requantize_reference(p, xs[0]).reshape(shape)]

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int16":
            return _unary_call("ml_requantize_s16", "ml_requantize_s16_params", _REQUANT_S16_FIELDS,
                               node, g, p, ctx)
        if use_lut(node, g):
            return emit_lut(self, node, g, ctx)
        return _unary_call("ml_requantize_s8", "ml_requantize_params", _REQUANT_FIELDS, node, g, p, ctx)


@register
class Relu6(Relu):
    """TFLM Relu6Quantized: a plain clamp to [zero, six] in the INPUT's quantization; TFLM
    ignores the output tensor's scale and zero point (the converter makes them equal)."""
    op = Op.RELU6
    INT16_ZERO_POINT = False  # TFLM's Relu6Prepare does not check it

    def prepare(self, node, g):
        dtype = self.check(node, g)
        si, zi = _quant(g, node.inputs[0])
        # FloatToQuantizedType<T>(6.0f, scale, zero_point): float division, round(), clamp.
        six = int(np.clip(tf_round(F32(6.0) / F32(si)) + zi, *QRANGE[dtype]))
        # 2^30 with shift 1 is the exact identity of MultiplyByQuantizedMultiplier.
        return dict(dtype=dtype, input_offset=-zi, output_offset=zi, multiplier=1 << 30, shift=1,
                    act_min=zi, act_max=six, input_bytes=2, output_bytes=2)


# -- LEAKY_RELU -----------------------------------------------------------------------------

@register
class LeakyRelu(_Unary):
    """TFLM leaky_relu_common.cc + reference_ops::QuantizeLeakyRelu."""
    op = Op.LEAKY_RELU
    kernels = ("ml_leaky_relu_s8", LUT_KERNEL, "ml_leaky_relu_s16")
    KERNEL_S16 = "ml_leaky_relu_s16"
    dtypes = ("int8", "int16")
    FIELDS = ("input_offset", "output_offset", "identity_multiplier", "identity_shift",
              "alpha_multiplier", "alpha_shift", "alpha_negative")

    def prepare(self, node, g):
        dtype = self.check(node, g)
        (si, zi), (so, zo) = _quant(g, node.inputs[0]), _quant(g, node.outputs[0])
        with np.errstate(all="ignore"):  # an overflow to inf or NaN is refused just below
            alpha = F32(node.attrs["alpha"])
            # Both ratios in double from the float32 scales and alpha: TFLM's HEAD source divides
            # in float, but the tflite-micro oracle divides in double; int16 inputs (up to 2^15
            # times the rounding error of the ratio) tell the two apart (test_int16_ops pins it).
            ma, sa = _multiplier(node, g, float(si) * float(alpha) / float(so), "alpha")
            mi, shi = _multiplier(node, g, float(si) / float(so), "identity")
        if ma == -(1 << 31):  # the kernel applies |multiplier|, which int32 cannot hold here
            raise MicrolithError(f"{where(node, g)}: alpha {float(alpha):g} gives the multiplier -2^31, "
                                 "whose magnitude the int8 kernel cannot hold; use an alpha a little "
                                 "closer to zero")
        return dict(dtype=dtype, input_offset=-zi, output_offset=zo, identity_multiplier=mi,
                    identity_shift=shi, alpha_multiplier=abs(ma), alpha_shift=sa, alpha_negative=int(ma < 0))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], dtype=np.int64) + p["input_offset"]
        pos = multiply_by_quantized_multiplier(x, p["identity_multiplier"], p["identity_shift"])
        neg = multiply_by_quantized_multiplier(x, p["alpha_multiplier"], p["alpha_shift"])
        neg = -neg if p["alpha_negative"] else neg
        y = np.clip(np.where(x >= 0, pos, neg) + p["output_offset"], *QRANGE[p["dtype"]])
        return [y.astype(NP[p["dtype"]]).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        if use_lut(node, g):
            return emit_lut(self, node, g, ctx)
        return _unary_call(self.kernels_for(node, g, p)[0], "ml_leaky_relu_params", self.FIELDS, node, g, p, ctx)


# -- HARD_SWISH -----------------------------------------------------------------------------

def _wrap16(x) -> np.ndarray:
    """Conversion to int16_t as every supported compiler does it (two's complement wrap)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a, b) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul for int16."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    q = np.abs(ab + nudge) // (1 << 15) * np.sign(ab + nudge)  # C division truncates
    return np.where((a == b) & (a == -(1 << 15)), (1 << 15) - 1, _wrap16(q))


def _sdhm16(a, b) -> np.ndarray:
    """TFLM's truncating SaturatingDoublingHighMul for int16."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    q = np.abs(ab) // (1 << 15) * np.sign(ab)
    return np.where((a == b) & (a == -(1 << 15)), (1 << 15) - 1, _wrap16(q))


def _rdbpot16(x, exponent: int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT with the mask and threshold held in int16."""
    x = np.asarray(x, np.int64)
    mask = int(_wrap16((1 << exponent) - 1))
    remainder = _wrap16(x & mask)
    threshold = _wrap16((mask >> 1) + (x < 0))
    return _wrap16((x >> exponent) + (remainder > threshold))


def _saturating_left_shift16(x, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, np.int64) * (1 << amount), -(1 << 15), (1 << 15) - 1)


def downscale_int32_to_int16_multiplier(m: int) -> int:
    """TFLM's DownScaleInt32ToInt16Multiplier: round a q31 multiplier to q15."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (m + (1 << 15)) >> 16


@register
class HardSwish(_Unary):
    """TFLM hard_swish_common.cc + reference_ops::HardSwish (int8 in 16-bit fixed point)."""
    op = Op.HARD_SWISH
    kernels = ("ml_hard_swish_s8", LUT_KERNEL)
    FIELDS = ("input_zero_point", "output_zero_point", "output_multiplier", "output_exponent",
              "reluish_multiplier", "reluish_exponent")

    def prepare(self, node, g):
        self.check(node, g)
        (si, zi), (so, zo) = _quant(g, node.inputs[0]), _quant(g, node.outputs[0])
        hires_input_scale = F32(1.0 / 128.0) * F32(si)
        reluish_scale = F32(3.0) / F32(32768.0)
        with np.errstate(all="ignore"):  # float32 overflow to inf is refused below
            ratio_o, ratio_r = float(hires_input_scale / F32(so)), float(hires_input_scale / reluish_scale)
        if not (np.isfinite(ratio_o) and np.isfinite(ratio_r)):
            raise MicrolithError(f"{where(node, g)}: input scale {si:.6g} and output scale {so:.6g} "
                                 "are too far apart for the 16-bit fixed-point HARD_SWISH")
        mo, eo = quantize_multiplier(ratio_o)
        mr, er = quantize_multiplier(ratio_r)
        if eo > 0:  # TF_LITE_ENSURE in TFLM's Prepare
            raise MicrolithError(f"{where(node, g)}: output scale {so:.6g} is below input scale "
                                 f"{si:.6g} / 128; TFLM's int8 HARD_SWISH does not support that")
        if eo < -31 or not -31 <= er <= 30:
            raise MicrolithError(f"{where(node, g)}: input scale {si:.6g} and output scale {so:.6g} "
                                 "are too far apart for the 16-bit fixed-point HARD_SWISH")
        return dict(input_zero_point=zi, output_zero_point=zo,
                    output_multiplier=downscale_int32_to_int16_multiplier(mo), output_exponent=eo,
                    reluish_multiplier=downscale_int32_to_int16_multiplier(mr), reluish_exponent=er)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], dtype=np.int64)
        hires = (x - p["input_zero_point"]) * 128  # |.| <= 32640: no wrap
        preshift_output = _srdhm16(hires, p["output_multiplier"])
        er = p["reluish_exponent"]
        reluish = hires
        if er > 0:
            reluish = _saturating_left_shift16(reluish, er - 1)
        reluish = _srdhm16(reluish, p["reluish_multiplier"])
        if er > 0:
            reluish = _saturating_left_shift16(reluish, 1)
        if er < 0:
            reluish = _rdbpot16(reluish, -er)
        reluish = (reluish + (1 << 15)) >> 1
        preshift = _sdhm16(reluish, preshift_output)
        y = _wrap16(_rdbpot16(preshift, -p["output_exponent"]) + p["output_zero_point"])
        return [np.clip(y, -128, 127).astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        if use_lut(node, g):
            return emit_lut(self, node, g, ctx)
        return _unary_call("ml_hard_swish_s8", "ml_hard_swish_params", self.FIELDS, node, g, p, ctx)


# -- QUANTIZE / DEQUANTIZE ------------------------------------------------------------------

def _per_tensor(node, g, name: str, dtypes: tuple[str, ...]) -> None:
    t = g.t(name)
    if t.dtype not in dtypes or t.quant is None or t.quant.per_axis:
        got = t.dtype if t.quant is not None else f"{t.dtype} without quantization"
        if t.quant is not None and t.quant.per_axis:
            got += " with per-channel quantization"
        raise MicrolithError(f"{where(node, g)}: tensor '{name}' is {got}; this kernel needs "
                             f"{' or '.join(dtypes)} with per-tensor quantization")


_FLOAT_KERNELS = {("float32", "int8"): "ml_quantize_f32_s8", ("float32", "int16"): "ml_quantize_f32_s16",
                  ("int8", "float32"): "ml_dequantize_s8_f32", ("int16", "float32"): "ml_dequantize_s16_f32"}


def _emit_float(node, g, p, ctx) -> str:
    x, y = node.inputs[0], node.outputs[0]
    kernel = _FLOAT_KERNELS[(g.t(x).dtype, g.t(y).dtype)]
    quant = ctx.struct("ml_float_quant", "quant", dict(scale=F32(p["scale"]), zero_point=p["zero_point"]))
    return (f"{kernel}({quant}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
            f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


@register
class Quantize(OpImpl):
    """TFLM quantize_common.cc: float32 -> int8/int16 by AffineQuantize, int8 -> int8 by Requantize,
    and Requantize between the other integer pairs TFLM's Prepare lists (int16 <-> int8/int16/int32,
    int8 -> int32, int32 -> int8) by ml_requantize_s16."""
    op = Op.QUANTIZE
    kernels = ("ml_quantize_f32_s8", "ml_quantize_f32_s16", "ml_requantize_s8", LUT_KERNEL, "ml_requantize_s16")
    dtypes = ("int8", "int16")
    # (input, output) integer pairs of TFLM's EvalQuantizeReference besides int8 -> int8.
    WIDE_PAIRS = {("int16", "int8"), ("int8", "int16"), ("int16", "int16"), ("int16", "int32"),
                  ("int8", "int32"), ("int32", "int8"), ("int32", "int16")}
    BYTES = {"int8": 1, "int16": 2, "int32": 4}

    def kernels_for(self, node, g, p):
        if p["kind"] == "int8":
            return (LUT_KERNEL,) if use_lut(node, g) else ("ml_requantize_s8",)
        if p["kind"] == "wide":
            return ("ml_requantize_s16",)
        return (_FLOAT_KERNELS[(g.t(node.inputs[0]).dtype, g.t(node.outputs[0]).dtype)],)

    def prepare(self, node, g):
        _require_inputs(node, g, 1)
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if x.dtype == "float32":
            _per_tensor(node, g, y.name, ("int8", "int16"))
        elif (x.dtype, y.dtype) in self.WIDE_PAIRS:
            _per_tensor(node, g, x.name, (x.dtype,))
            _per_tensor(node, g, y.name, (y.dtype,))
        else:
            _per_tensor(node, g, x.name, ("int8",))
            _per_tensor(node, g, y.name, ("int8",))
        _require_same_size(node, g, x.name, y.name)
        so, zo = _quant(g, y.name)
        if x.dtype == "float32":
            return dict(kind="float", scale=so, zero_point=zo)
        si, zi = _quant(g, x.name)
        mult, shift = _multiplier(node, g, si / so, "input-to-output")  # double
        if x.dtype != "int8" or y.dtype != "int8":
            info = np.iinfo(y.np_dtype)
            return dict(kind="wide", input_offset=-zi, output_offset=zo, multiplier=mult, shift=shift,
                        act_min=int(info.min), act_max=int(info.max),
                        input_bytes=self.BYTES[x.dtype], output_bytes=self.BYTES[y.dtype])
        return dict(kind="int8", input_offset=-zi, output_offset=zo, multiplier=mult, shift=shift,
                    act_min=-128, act_max=127)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        if p["kind"] == "int8":
            return [_requantize_reference(p, xs[0]).reshape(y.shape)]
        if p["kind"] == "wide":
            return [_requantize_s16_reference(p, xs[0]).astype(y.np_dtype).reshape(y.shape)]
        info = np.iinfo(y.np_dtype)
        q = np.asarray(xs[0], dtype=F32) / F32(p["scale"])  # float division, as TFLM
        # Far enough out, the result saturates whatever the zero point; NaN maps to the zero point.
        limit = 2.0 * (int(info.max) + 1)
        r = np.where(np.isnan(q), 0.0, tf_round(np.clip(np.nan_to_num(q), -limit, limit)))
        out = np.clip(r.astype(np.int64) + p["zero_point"], info.min, info.max)
        return [out.astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        if p["kind"] == "float":
            return _emit_float(node, g, p, ctx)
        if p["kind"] == "wide":
            return _unary_call("ml_requantize_s16", "ml_requantize_s16_params", _REQUANT_S16_FIELDS,
                               node, g, p, ctx)
        if use_lut(node, g):
            return emit_lut(self, node, g, ctx)
        return _unary_call("ml_requantize_s8", "ml_requantize_params", _REQUANT_FIELDS, node, g, p, ctx)


@register
class Dequantize(OpImpl):
    """TFLM dequantize: int8/int16 -> float32, scale * (q - zero_point)."""
    op = Op.DEQUANTIZE
    kernels = ("ml_dequantize_s8_f32", "ml_dequantize_s16_f32")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return (_FLOAT_KERNELS[(g.t(node.inputs[0]).dtype, g.t(node.outputs[0]).dtype)],)

    def prepare(self, node, g):
        _require_inputs(node, g, 1)
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _per_tensor(node, g, x.name, ("int8", "int16"))
        if y.dtype != "float32":
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' is {y.dtype}; DEQUANTIZE "
                                 "produces float32")
        _require_same_size(node, g, x.name, y.name)
        si, zi = _quant(g, x.name)
        return dict(scale=si, zero_point=zi)

    def reference(self, node, g, p, xs):
        # TFLM: static_cast<float>(double(scale) * (q - zero_point)).
        v = np.asarray(xs[0], dtype=np.int64) - p["zero_point"]
        y = (np.float64(p["scale"]) * v).astype(F32)
        return [y.reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        return _emit_float(node, g, p, ctx)
