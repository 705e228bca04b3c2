"""Elementwise math ops with TFLM int8 kernels: MAXIMUM, MINIMUM, PRELU, SQUARED_DIFFERENCE,
ELU, ABS, RSQRT, DIV, ADD_N, the comparisons (EQUAL ... GREATER_EQUAL, bool output),
SELECT_V2, LOGICAL_AND/OR/NOT (bool) and CAST between int8, int16, int32 and uint32 (and from
bool).

TFLM has no int8 kernel for EXP, LOG, SQRT, SQUARE, NEG, FLOOR_DIV or FLOOR_MOD (they are
float32 only in tensorflow/lite/micro/kernels), so they are not here: a model using them with
int8 tensors does not run in TFLM either.

Binary ops broadcast the way ADD and MUL do (elementwise.collapse_broadcast, ml_nn_broadcast.h).
Each prepare() follows the TFLM Prepare of its op, including float-versus-double details that
are noted where they matter. bool tensors hold one byte per element, 0 or 1, as TFLM's do.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..arith import gemmlowp as gl
from ..arith.fixedpoint import (INT32_MAX, INT32_MIN, activation_range, multiply_by_quantized_multiplier,
                                multiply_by_quantized_multiplier_smaller_than_one_exp,
                                quantize_multiplier, saturating_rounding_doubling_high_mul,
                                tf_round, wrap32)
from ..ir import MicrolithError, Op
from . import OpImpl, register, require_int8, requant_multiplier, where
from .elementwise import (_broadcast_inputs, _broadcast_prepare, _emit_binary, _flat_dims,
                          _multiplier_below_one, _per_tensor, _quant, _require_inputs,
                          _require_same_size, collapse_broadcast)

F32 = np.float32


def _require_dtype(node, g, names, dtypes: tuple[str, ...]) -> None:
    for name in names:
        t = g.t(name)
        if t.dtype not in dtypes:
            raise MicrolithError(f"{where(node, g)}: tensor '{name}' is {t.dtype}; TFLM's "
                                 f"{node.op.value} kernel here takes {' or '.join(dtypes)}")


def _plan(node, g) -> dict:
    """Broadcast plan for two inputs into the output, whatever their dtypes."""
    _require_inputs(node, g, 2)
    a, b, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
    plan = collapse_broadcast(a.shape, b.shape, y.shape)
    if plan is None:
        raise MicrolithError(f"{where(node, g)}: inputs {list(a.shape)} and {list(b.shape)} do not "
                             f"broadcast to the output shape {list(y.shape)}")
    if len(plan[2]) > 4:
        raise MicrolithError(f"{where(node, g)}: broadcasting {list(a.shape)} with {list(b.shape)} "
                             f"needs {len(plan[2])} runs of dimensions that broadcast differently; "
                             "the kernels handle at most 4")
    return dict(dims1=plan[0], dims2=plan[1], dims_out=plan[2])


# -- MAXIMUM / MINIMUM ----------------------------------------------------------------------

_INT_KERNEL_SUFFIX = {"int8": "s8", "int16": "s16", "int32": "s32"}


class _MaxMin(OpImpl):
    """TFLM maximum_minimum.cc: max/min of the raw values (int8, int16, int32). TFLM has no
    Prepare for these ops and never looks at the quantization (the converter gives all three
    tensors the same), so neither do we: with differing quantizations both compute the same
    raw values."""
    kernels = ("ml_maximum_s8", "ml_maximum_s16", "ml_maximum_s32")
    dtypes = ("int8", "int16", "int32")

    def prepare(self, node, g):
        p = _plan(node, g)
        dtype = g.t(node.outputs[0]).dtype
        _require_dtype(node, g, node.outputs, tuple(_INT_KERNEL_SUFFIX))
        _require_dtype(node, g, node.inputs, (dtype,))
        p.update(minimum=int(self.op is Op.MINIMUM), kernel=f"ml_maximum_{_INT_KERNEL_SUFFIX[dtype]}")
        return p

    def kernels_for(self, node, g, p):
        return (p["kernel"],)

    def reference(self, node, g, p, xs):
        a, b = _broadcast_inputs(node, g, xs)
        out = np.minimum(a, b) if p["minimum"] else np.maximum(a, b)
        y = g.t(node.outputs[0])
        return [out.astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_maximum_params", "params", dict(minimum=p["minimum"]))
        return _emit_binary(p["kernel"], node, p, ctx, params)


@register
class Maximum(_MaxMin):
    op = Op.MAXIMUM


@register
class Minimum(_MaxMin):
    op = Op.MINIMUM


# -- PRELU ----------------------------------------------------------------------------------

@register
class Prelu(OpImpl):
    """TFLM prelu_common.cc + reference_ops::BroadcastPrelu4DSlow, int8, or int16 input and
    output with an int8 alpha (16x8). Alpha (a constant or an activation) broadcasts against
    the input; both ratios are derived in double."""
    op = Op.PRELU
    kernels = ("ml_prelu_s8", "ml_prelu_s16")
    dtypes = ("int8", "int16")
    FIELDS = ("input_offset", "alpha_offset", "output_offset", "multiplier_1", "shift_1",
              "multiplier_2", "shift_2")

    def kernels_for(self, node, g, p):
        return (p["kernel"],)

    def prepare(self, node, g):
        p = _plan(node, g)
        dtype = g.t(node.inputs[0]).dtype
        if dtype == "int16":  # TFLM: int16 input and output, int8 alpha
            for name, want in zip((*node.inputs, node.outputs[0]), ("int16", "int8", "int16")):
                _per_tensor(node, g, name, (want,))
        else:
            require_int8(node, g, [*node.inputs, node.outputs[0]])
        (si, zi), (sa, za) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        so, zo = _quant(g, node.outputs[0])
        m1, s1 = requant_multiplier(node, g, si / so, "input-to-output ratio", node.inputs[0])
        m2, s2 = requant_multiplier(node, g, si * sa / so, "input-times-alpha-to-output ratio",
                                    node.inputs[1])
        p.update(input_offset=-zi, alpha_offset=-za, output_offset=zo, multiplier_1=m1, shift_1=s1,
                 multiplier_2=m2, shift_2=s2, kernel=f"ml_prelu_{_INT_KERNEL_SUFFIX[dtype]}")
        return p

    def reference(self, node, g, p, xs):
        x, alpha = _broadcast_inputs(node, g, xs)
        x = x + p["input_offset"]
        pos = multiply_by_quantized_multiplier(x, p["multiplier_1"], p["shift_1"])
        neg = multiply_by_quantized_multiplier(x * (alpha + p["alpha_offset"]), p["multiplier_2"],
                                               p["shift_2"])
        y = g.t(node.outputs[0])
        info = np.iinfo(y.np_dtype)
        out = np.clip(np.where(x >= 0, pos, neg) + p["output_offset"], info.min, info.max)
        return [out.astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_prelu_params", "params", {k: p[k] for k in self.FIELDS})
        return _emit_binary(p["kernel"], node, p, ctx, params)


# -- SQUARED_DIFFERENCE ---------------------------------------------------------------------

@register
class SquaredDifference(OpImpl):
    """TFLM squared_difference.cc: ADD's rescaling to a shared scale with a left shift of 7
    (int8; int16: 0, with zero points 0), then the square of the difference requantized by
    QuantizeMultiplier (which, unlike ADD's output multiplier, may exceed one)."""
    op = Op.SQUARED_DIFFERENCE
    kernels = ("ml_squared_difference_s8", "ml_squared_difference_s16")
    dtypes = ("int8", "int16")
    LEFT_SHIFT = {"int8": 7, "int16": 0}
    FIELDS = ("input1_offset", "input2_offset", "left_shift", "input1_multiplier", "input1_shift",
              "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "output_offset")

    def kernels_for(self, node, g, p):
        return (p["kernel"],)

    def prepare(self, node, g):
        dtype = g.t(node.inputs[0]).dtype
        if dtype == "int16":
            p = _plan(node, g)
            for name in (*node.inputs, node.outputs[0]):
                _per_tensor(node, g, name, ("int16",))
                if _quant(g, name)[1] != 0:  # TF_LITE_ENSURE in TFLM's Prepare
                    raise MicrolithError(f"{where(node, g)}: int16 tensor '{name}' has zero point "
                                         f"{_quant(g, name)[1]}; TFLM's int16 SQUARED_DIFFERENCE needs 0")
        else:
            p = _broadcast_prepare(node, g)
        left_shift = self.LEFT_SHIFT[dtype]
        (s1, z1), (s2, z2) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        so, zo = _quant(g, node.outputs[0])
        twice_max = 2.0 * max(s1, s2)  # double, from the float scales
        # (1 << 2 * left_shift) * output scale is an int times a float: float32 (exact, a power of two).
        with np.errstate(over="ignore"):
            denominator = float(F32(1 << (2 * left_shift)) * F32(so))
        m1, sh1 = _multiplier_below_one(node, g, s1 / twice_max, "input1")
        m2, sh2 = _multiplier_below_one(node, g, s2 / twice_max, "input2")
        mo, sho = requant_multiplier(node, g, twice_max * twice_max / denominator,
                                     "squared-input-to-output ratio", node.outputs[0])
        p.update(kernel=f"ml_squared_difference_{_INT_KERNEL_SUFFIX[dtype]}",
                 input1_offset=-z1, input2_offset=-z2, left_shift=left_shift,
                 input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
                 output_multiplier=mo, output_shift=sho, output_offset=zo)
        return p

    def reference(self, node, g, p, xs):
        a, b = _broadcast_inputs(node, g, xs)
        scale = multiply_by_quantized_multiplier_smaller_than_one_exp
        sa = scale((a + p["input1_offset"]) << p["left_shift"], p["input1_multiplier"], p["input1_shift"])
        sb = scale((b + p["input2_offset"]) << p["left_shift"], p["input2_multiplier"], p["input2_shift"])
        diff = sa - sb
        out = multiply_by_quantized_multiplier(diff * diff, p["output_multiplier"], p["output_shift"])
        y = g.t(node.outputs[0])
        info = np.iinfo(y.np_dtype)
        out = np.clip(out + p["output_offset"], info.min, info.max)
        return [out.astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_squared_difference_params", "params", {k: p[k] for k in self.FIELDS})
        return _emit_binary(p["kernel"], node, p, ctx, params)


# -- int8 -> int8 functions of one element: ELU, ABS, RSQRT as 256-entry tables ---------------

class _TableOp(OpImpl):
    """A unary int8 op whose output depends on one input value only. prepare() builds the
    256-entry table exactly as TFLM computes each value (ELU: TFLM itself builds this table in
    float; ABS, RSQRT: TFLM's per-element integer arithmetic, run here on every int8 input),
    and the kernel is ml_lut_s8."""
    kernels = ("ml_lut_s8",)

    def check(self, node, g) -> None:
        _require_inputs(node, g, 1)
        require_int8(node, g, [node.inputs[0], node.outputs[0]])
        _require_same_size(node, g, node.inputs[0], node.outputs[0])

    def table(self, node, g) -> np.ndarray:
        """Output for inputs -128..127 (int64)."""
        raise NotImplementedError

    def prepare(self, node, g):
        self.check(node, g)
        table = np.asarray(self.table(node, g), dtype=np.int64)
        assert table.shape == (256,) and table.min() >= -128 and table.max() <= 127
        return dict(table=table.astype(np.int8))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], dtype=np.int64)
        return [p["table"][x + 128].reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_lut_params", "params", dict(table=ctx.const("lut", p["table"])))
        x, y = node.inputs[0], node.outputs[0]
        return (f"ml_lut_s8({params}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


def _expf(x: F32) -> F32:
    """expf of a float32, correctly rounded (through double). glibc's expf (the oracle's) agrees
    with this on all but about 1 in 2000 arguments, each off by one float32 ulp, which moves a
    quantized ELU output only if it lands within that ulp of a rounding boundary."""
    return F32(np.exp(np.float64(x)))


@register
class Elu(_TableOp):
    """TFLM elu.cc PopulateLookupTable: every step in float32, as TFLM computes it:
    dequantize, exp(x) - 1 for x < 0, multiply by 1 / output scale, roundf, add the zero
    point, convert to int32 and clamp."""
    op = Op.ELU

    def table(self, node, g):
        (si, zi), (so, zo) = _quant(g, node.inputs[0]), _quant(g, node.outputs[0])
        out = []
        with np.errstate(over="ignore"):
            inverse_scale = F32(1) / F32(so)
            for v in range(-128, 128):
                x = F32(si) * F32(v - zi)
                fx = _expf(x) - F32(1) if x < 0 else x
                rescaled = F32(tf_round(float(fx * inverse_scale)))  # roundf: exact in double
                q = rescaled + F32(zo)
                if not abs(float(q)) < 2 ** 31:  # static_cast<int32_t> of it is undefined
                    raise MicrolithError(f"{where(node, g)}: input scale {si:.6g} and output scale "
                                         f"{so:.6g} put ELU outputs beyond the int32 range, where "
                                         "TFLM's table conversion is undefined; check the scales")
                out.append(min(127, max(-128, int(q))))
        return out


@register
class Abs(_TableOp):
    """TFLM elementwise.cc AbsEvalQuantized: |input - zero point|, requantized only when the
    float scales differ (by QuantizeMultiplier of their ratio), then clamped. int8 runs as a
    table; int16 (zero points 0, or no quantization at all: plain std::abs) has ml_abs_s16."""
    op = Op.ABS
    kernels = ("ml_lut_s8", "ml_abs_s16")
    dtypes = ("int8", "int16")

    def multiplier(self, node, g) -> tuple[int, int] | None:
        """QuantizeMultiplier of input scale / output scale, or None when the scales are equal."""
        si, so = _quant(g, node.inputs[0])[0], _quant(g, node.outputs[0])[0]
        if F32(si) == F32(so):
            return None
        # In double: the TFLM tree we read divides in float32, but the tflite-micro oracle's
        # outputs follow the double ratio (pinned in test_math.test_elu_abs_every_value).
        return requant_multiplier(node, g, si / so, "input-to-output ratio", node.inputs[0])

    def table(self, node, g):
        zi, zo = _quant(g, node.inputs[0])[1], _quant(g, node.outputs[0])[1]
        value = np.abs(np.arange(-128, 128) - zi)
        m = self.multiplier(node, g)
        if m is not None:
            value = multiply_by_quantized_multiplier(value, *m)
        return np.clip(value + zo, -128, 127)

    def kernels_for(self, node, g, p):
        return ("ml_abs_s16",) if "quantized" in p else ("ml_lut_s8",)

    def prepare(self, node, g):
        if g.t(node.inputs[0]).dtype != "int16":
            return super().prepare(node, g)
        _require_inputs(node, g, 1)
        _require_dtype(node, g, [node.inputs[0], node.outputs[0]], ("int16",))
        _require_same_size(node, g, node.inputs[0], node.outputs[0])
        if g.t(node.inputs[0]).quant is None:
            return dict(quantized=0, rescale=0, multiplier=0, shift=0)
        for name in (node.inputs[0], node.outputs[0]):
            _per_tensor(node, g, name, ("int16",))
            if _quant(g, name)[1] != 0:  # TF_LITE_ENSURE in TFLM's Prepare
                raise MicrolithError(f"{where(node, g)}: int16 tensor '{name}' has zero point "
                                     f"{_quant(g, name)[1]}; TFLM's int16 ABS needs 0")
        m = self.multiplier(node, g)
        return dict(quantized=1, rescale=int(m is not None), multiplier=m[0] if m else 0,
                    shift=m[1] if m else 0)

    def reference(self, node, g, p, xs):
        if "quantized" not in p:
            return super().reference(node, g, p, xs)
        v = np.abs(np.asarray(xs[0], dtype=np.int64))
        if not p["quantized"]:
            out = v.astype(np.int16)  # static_cast<int16_t>(std::abs(x)): 32768 wraps
        else:
            if p["rescale"]:
                v = multiply_by_quantized_multiplier(v, p["multiplier"], p["shift"])
            out = np.clip(v, -32768, 32767).astype(np.int16)
        return [out.reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        if "quantized" not in p:
            return super().emit(node, g, p, ctx)
        params = ctx.struct("ml_abs_s16_params", "params",
                            {k: p[k] for k in ("quantized", "rescale", "multiplier", "shift")})
        x, y = node.inputs[0], node.outputs[0]
        return (f"ml_abs_s16({params}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


def inv_sqrt_multiplier_exp(x: int, reverse_shift: int) -> tuple[int, int]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp for one x >= 0: 1/sqrt(x) as a q31 multiplier
    and a shift, by five Newton-Raphson steps in gemmlowp's Q3.28 arithmetic."""
    if x <= 1:
        return INT32_MAX, 0
    shift = 11
    while x >= 1 << 29:
        x //= 4
        shift += 1
    left_shift_bit_pairs = (int(gl.count_leading_zeros32(x)) - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    x <<= 2 * left_shift_bit_pairs
    half_input = gl.saturating_rounding_multiply_by_pot(x >> 1, -1)  # F3
    half_three = (1 << 28) + (1 << 27)                                # 1.5 in F3
    r = 1 << 28                                                       # F3 one
    for _ in range(5):
        r3 = gl.rescale(gl.mul(gl.mul(r, r), r), 9, 3)
        r = gl.rescale(gl.sub(gl.mul(half_three, r), gl.mul(half_input, r3)), 6, 3)
    r = int(gl.mul(r, 1518500250))                                    # times sqrt(2)/2 (F0)
    if shift < 0:
        r = int(wrap32(r << -shift))  # int32 shift in TFLM
        shift = 0
    return r, shift * reverse_shift


@functools.lru_cache(maxsize=None)
def _inv_sqrt_data(v: int) -> int:
    """TFLM's first RSQRT step for v > 0, MultiplyByQuantizedMultiplier(1, 1/sqrt(v) multiplier,
    its shift + kShift); it does not depend on the scales."""
    m, s = inv_sqrt_multiplier_exp(v, -1)
    return int(multiply_by_quantized_multiplier(1, m, s + Rsqrt.SHIFT))


@register
class Rsqrt(_TableOp):
    """TFLM elementwise.cc RsqrtEvalQuantized: 1/sqrt(input - zero point) in fixed point, then
    requantized by 1 / (sqrt(input scale) * output scale), derived in double; an input at the
    zero point gives the largest output. int8 runs as a table; int16 (zero points 0) computes
    the fixed-point 1/sqrt per element in ml_rsqrt_s16. An input below the zero point makes
    TFLM's Eval fail; both kernels return ML_ARG_ERROR for it."""
    op = Op.RSQRT
    kernels = ("ml_rsqrt_s8", "ml_rsqrt_s16")
    dtypes = ("int8", "int16")
    SHIFT = 20  # TFLM's kShift

    def multiplier(self, node, g) -> tuple[int, int]:
        si, so = _quant(g, node.inputs[0])[0], _quant(g, node.outputs[0])[0]
        # In double: the TFLM tree we read takes sqrtf and a float32 product, but the oracle's
        # outputs follow this double formula (pinned in test_math.test_rsqrt_every_valid_value).
        real = 1.0 / (math.sqrt(si) * so)
        mult, shift = requant_multiplier(node, g, real, "1 / (sqrt(input scale) * output scale)",
                                         node.inputs[0])
        if shift - self.SHIFT < -31:
            raise MicrolithError(f"{where(node, g)}: 1 / (sqrt(input scale) * output scale) = {real:.6g} "
                                 f"is below 2^{shift - 1}; TFLM's RSQRT then shifts right by "
                                 f"{self.SHIFT - shift} bits, more than its 31-bit arithmetic defines")
        return mult, shift

    def compute(self, value: np.ndarray, mult: int, shift: int, zo: int, qmax: int) -> np.ndarray:
        """Outputs for values (input - zero point) >= 0, before the clamp's lower bound."""
        data = np.asarray([_inv_sqrt_data(int(v)) if v > 0 else 0 for v in value.reshape(-1)],
                          dtype=np.int64).reshape(value.shape)
        y = np.minimum(multiply_by_quantized_multiplier(data, mult, shift - self.SHIFT) + zo, qmax)
        # TFLM: "any value close to 0 represents the max output value"
        return np.where(value == 0, qmax, y)

    def table(self, node, g):
        zi, zo = _quant(g, node.inputs[0])[1], _quant(g, node.outputs[0])[1]
        value = np.arange(-128, 128) - zi
        y = np.maximum(self.compute(np.maximum(value, 0), *self.multiplier(node, g), zo, 127), -128)
        return np.where(value < 0, 0, y)  # never read: the kernel fails on such inputs

    def kernels_for(self, node, g, p):
        return ("ml_rsqrt_s16",) if p["int16"] else ("ml_rsqrt_s8",)

    def prepare(self, node, g):
        if g.t(node.inputs[0]).dtype != "int16":
            p = super().prepare(node, g)
            p.update(int16=False, input_zero_point=_quant(g, node.inputs[0])[1])
            return p
        _require_inputs(node, g, 1)
        _require_same_size(node, g, node.inputs[0], node.outputs[0])
        for name in (node.inputs[0], node.outputs[0]):
            _per_tensor(node, g, name, ("int16",))
            if _quant(g, name)[1] != 0:  # TF_LITE_ENSURE in TFLM's Prepare
                raise MicrolithError(f"{where(node, g)}: int16 tensor '{name}' has zero point "
                                     f"{_quant(g, name)[1]}; TFLM's int16 RSQRT needs 0")
        mult, shift = self.multiplier(node, g)
        return dict(int16=True, input_zero_point=0, multiplier=mult, shift=shift)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], dtype=np.int64)
        if np.any(x < p["input_zero_point"]):
            raise MicrolithError(f"{where(node, g)}: RSQRT of a value below the input zero point "
                                 "(a negative number); TFLM's Eval fails on it")
        if not p["int16"]:
            return super().reference(node, g, p, xs)
        y = np.maximum(self.compute(x, p["multiplier"], p["shift"], 0, 32767), -32768)
        return [y.astype(np.int16).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        x, y = node.inputs[0], node.outputs[0]
        dims = (f"{_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)}")
        if p["int16"]:
            params = ctx.struct("ml_rsqrt_s16_params", "params",
                                dict(multiplier=p["multiplier"], shift=p["shift"]))
            return f"ml_rsqrt_s16({params}, {dims})"
        params = ctx.struct("ml_rsqrt_params", "params", dict(table=ctx.const("lut", p["table"]),
                                                             input_zero_point=p["input_zero_point"]))
        return f"ml_rsqrt_s8({params}, {dims})"


# -- EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL -------------------------------

_COMPARISONS = {Op.EQUAL: (0, np.equal), Op.NOT_EQUAL: (1, np.not_equal), Op.LESS: (2, np.less),
                Op.LESS_EQUAL: (3, np.less_equal), Op.GREATER: (4, np.greater),
                Op.GREATER_EQUAL: (5, np.greater_equal)}


class _Comparison(OpImpl):
    """TFLM comparisons.cc, int8 inputs: each input is brought to a common fixed-point scale
    by QuantizeMultiplierSmallerThanOneExp of its own scale (in double; TFLM aborts for a scale
    of 1 or more) after a left shift of 8, and the scaled values are compared. bool output."""
    kernels = ("ml_compare_s8",)
    LEFT_SHIFT = 8
    FIELDS = ("input1_offset", "input2_offset", "left_shift", "input1_multiplier", "input1_shift",
              "input2_multiplier", "input2_shift", "comparison")

    def prepare(self, node, g):
        p = _plan(node, g)
        require_int8(node, g, node.inputs)
        _require_dtype(node, g, node.outputs, ("bool",))
        (s1, z1), (s2, z2) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        m1, sh1 = _multiplier_below_one(node, g, s1, "input1 scale as a")
        m2, sh2 = _multiplier_below_one(node, g, s2, "input2 scale as a")
        p.update(input1_offset=-z1, input2_offset=-z2, left_shift=self.LEFT_SHIFT,
                 input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
                 comparison=_COMPARISONS[self.op][0])
        return p

    def reference(self, node, g, p, xs):
        a, b = _broadcast_inputs(node, g, xs)
        scale = multiply_by_quantized_multiplier_smaller_than_one_exp
        sa = scale((a + p["input1_offset"]) << p["left_shift"], p["input1_multiplier"], p["input1_shift"])
        sb = scale((b + p["input2_offset"]) << p["left_shift"], p["input2_multiplier"], p["input2_shift"])
        return [_COMPARISONS[self.op][1](sa, sb).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_compare_params", "params", {k: p[k] for k in self.FIELDS})
        return _emit_binary("ml_compare_s8", node, p, ctx, params)


for _op in _COMPARISONS:
    register(type(_op.value.title().replace("_", ""), (_Comparison,), {"op": _op}))


# -- SELECT_V2 ------------------------------------------------------------------------------

def collapse_broadcast_n(shapes, out_shape) -> tuple[tuple, ...] | None:
    """elementwise.collapse_broadcast for any number of inputs: their shapes and the output's,
    collapsed alike to as few dimensions as possible (last entry: the output), or None when
    they do not broadcast to out_shape."""
    rank = max([len(s) for s in shapes] + [len(out_shape)])
    ext = [(1,) * (rank - len(s)) + tuple(int(d) for d in s) for s in list(shapes) + [out_shape]]
    groups: list[list] = []  # [full flags..., extent]
    for dims in zip(*ext):
        *ins, do = dims
        if do != max(ins) or any(d not in (1, do) for d in ins):
            return None
        if do == 1:
            continue
        key = [d == do for d in ins]
        if groups and groups[-1][:-1] == key:
            groups[-1][-1] *= do
        else:
            groups.append(key + [do])
    if not groups:
        groups = [[True] * len(shapes) + [1]]
    collapsed = [tuple(grp[-1] if grp[k] else 1 for grp in groups) for k in range(len(shapes))]
    return (*collapsed, tuple(grp[-1] for grp in groups))


@register
class SelectV2(OpImpl):
    """TFLM select.cc (SELECT_V2): condition ? x : y with broadcasting of all three operands.
    TFLM copies the values without looking at the quantization, and so do we."""
    op = Op.SELECT_V2
    kernels = ("ml_select_s8", "ml_select_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return (p["kernel"],)

    def prepare(self, node, g):
        _require_inputs(node, g, 3)
        _require_dtype(node, g, node.inputs[:1], ("bool",))
        dtype = g.t(node.outputs[0]).dtype
        _require_dtype(node, g, node.outputs, ("int8", "int16"))
        _require_dtype(node, g, node.inputs[1:], (dtype,))
        shapes = [g.t(n).shape for n in node.inputs]
        plan = collapse_broadcast_n(shapes, g.t(node.outputs[0]).shape)
        if plan is None:
            raise MicrolithError(f"{where(node, g)}: condition {list(shapes[0])}, x {list(shapes[1])} and "
                                 f"y {list(shapes[2])} do not broadcast to the output shape "
                                 f"{list(g.t(node.outputs[0]).shape)}")
        if len(plan[-1]) > 4:
            raise MicrolithError(f"{where(node, g)}: broadcasting condition, x and y needs "
                                 f"{len(plan[-1])} runs of dimensions that broadcast differently; "
                                 "the kernel handles at most 4")
        return dict(dims=plan, kernel=f"ml_select_{_INT_KERNEL_SUFFIX[dtype]}")

    def reference(self, node, g, p, xs):
        shape = g.t(node.outputs[0]).shape
        c, x, y = (np.asarray(v).reshape((1,) * (len(shape) - np.ndim(v)) + np.shape(v)) for v in xs)
        return [np.where(c, x, y).astype(g.t(node.outputs[0]).np_dtype).reshape(shape)]

    def emit(self, node, g, p, ctx):
        args = [f"{ctx.dims(d)}, {ctx.tensor(n)}" for d, n in zip(p["dims"], [*node.inputs, node.outputs[0]])]
        return f"{p['kernel']}({', '.join(args)})"


# -- LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT -------------------------------------------------

class _Logical(OpImpl):
    """TFLM logical.cc / logical_common.cc: && or || of bool tensors, with broadcasting."""
    kernels = ("ml_logical_bool",)
    dtypes = ("bool",)

    def prepare(self, node, g):
        p = _plan(node, g)
        _require_dtype(node, g, [*node.inputs, node.outputs[0]], ("bool",))
        p["logical_or"] = int(self.op is Op.LOGICAL_OR)
        return p

    def reference(self, node, g, p, xs):
        a, b = _broadcast_inputs(node, g, xs)
        out = np.logical_or(a, b) if p["logical_or"] else np.logical_and(a, b)
        return [out.reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_logical_params", "params", dict(logical_or=p["logical_or"]))
        return _emit_binary("ml_logical_bool", node, p, ctx, params)


@register
class LogicalAnd(_Logical):
    op = Op.LOGICAL_AND


@register
class LogicalOr(_Logical):
    op = Op.LOGICAL_OR


@register
class LogicalNot(OpImpl):
    """TFLM elementwise.cc LogicalNotEval: !x on a bool tensor."""
    op = Op.LOGICAL_NOT
    kernels = ("ml_logical_not_bool",)
    dtypes = ("bool",)

    def prepare(self, node, g):
        _require_inputs(node, g, 1)
        _require_dtype(node, g, [node.inputs[0], node.outputs[0]], ("bool",))
        _require_same_size(node, g, node.inputs[0], node.outputs[0])
        return {}

    def reference(self, node, g, p, xs):
        return [np.logical_not(xs[0]).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        x, y = node.inputs[0], node.outputs[0]
        return (f"ml_logical_not_bool({_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


# -- CAST -----------------------------------------------------------------------------------

_CAST_TYPES = {"bool": 0, "int8": 1, "int16": 2, "int32": 3, "uint32": 4}


@register
class Cast(OpImpl):
    """TFLM cast.cc: a static_cast of every element between int8, int16, int32 and uint32 (and
    from bool). Narrowing and int32 <-> uint32 keep the low bits; quantization is ignored, as TFLM ignores it. The float
    casts TFLM also has are outside microlith's integer models."""
    op = Op.CAST
    kernels = ("ml_cast_int",)
    dtypes = ("int8", "int16", "int32", "uint32", "bool")

    def prepare(self, node, g):
        _require_inputs(node, g, 1)
        _require_dtype(node, g, node.inputs, tuple(_CAST_TYPES))
        _require_dtype(node, g, node.outputs, ("int8", "int16", "int32", "uint32"))
        _require_same_size(node, g, node.inputs[0], node.outputs[0])
        return dict(input_type=_CAST_TYPES[g.t(node.inputs[0]).dtype],
                    output_type=_CAST_TYPES[g.t(node.outputs[0]).dtype])

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        return [np.asarray(xs[0]).astype(np.int64).astype(y.np_dtype).reshape(y.shape)]  # wraps

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_cast_params", "params", dict(input_type=p["input_type"],
                                                             output_type=p["output_type"]))
        x, y = node.inputs[0], node.outputs[0]
        return (f"ml_cast_int({params}, {_flat_dims(ctx, g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{_flat_dims(ctx, g.t(y).shape)}, {ctx.tensor(y)})")


# -- ADD_N ----------------------------------------------------------------------------------

@register
class AddN(OpImpl):
    """TFLM add_n.cc: every input shares one scale and zero point (TFLM's Prepare checks it),
    each is rescaled as ADD rescales with a left shift of 20, the terms are summed in int32 and
    the sum requantized. TFLM's sum starts from the rescaled input offset instead of 0 (an extra
    -zero point term); we add it too."""
    op = Op.ADD_N
    kernels = ("ml_add_n_s8",)
    LEFT_SHIFT = 20
    MAX_INPUTS = 15  # 16 terms of up to 255 * 2^19 still fit int32
    FIELDS = ("num_inputs", "input_offset", "left_shift", "input_multiplier", "input_shift",
              "output_multiplier", "output_shift", "output_offset")

    def prepare(self, node, g):
        if len(node.inputs) < 2 or any(x is None for x in node.inputs):
            raise MicrolithError(f"{where(node, g)}: ADD_N needs at least 2 input tensors")
        if len(node.inputs) > self.MAX_INPUTS:
            raise MicrolithError(f"{where(node, g)}: ADD_N of {len(node.inputs)} inputs; TFLM sums the "
                                 f"rescaled terms in int32, which can overflow beyond {self.MAX_INPUTS} "
                                 "inputs. Split the sum into several ADD_N")
        require_int8(node, g, [*node.inputs, node.outputs[0]])
        first = g.t(node.inputs[0])
        for name in node.inputs[1:]:
            t = g.t(name)
            if t.shape != first.shape or _quant(g, name) != _quant(g, first.name):
                raise MicrolithError(f"{where(node, g)}: input '{name}' {list(t.shape)} differs from input "
                                     f"'{first.name}' {list(first.shape)} in shape or quantization; TFLM's "
                                     "ADD_N needs every input alike")
        _require_same_size(node, g, first.name, node.outputs[0])
        (s, z), (so, zo) = _quant(g, first.name), _quant(g, node.outputs[0])
        twice = 2.0 * s  # double
        mi, shi = _multiplier_below_one(node, g, s / twice, "input")
        mo, sho = _multiplier_below_one(node, g, twice / ((1 << self.LEFT_SHIFT) * so), "output")
        return dict(num_inputs=len(node.inputs), input_offset=-z, left_shift=self.LEFT_SHIFT,
                    input_multiplier=mi, input_shift=shi, output_multiplier=mo, output_shift=sho,
                    output_offset=zo)

    def reference(self, node, g, p, xs):
        scale = lambda v: multiply_by_quantized_multiplier_smaller_than_one_exp(  # noqa: E731
            np.asarray(v, dtype=np.int64) << p["left_shift"], p["input_multiplier"], p["input_shift"])
        total = scale(p["input_offset"])
        for x in xs:
            total = total + scale(np.asarray(x, dtype=np.int64) + p["input_offset"])
        out = multiply_by_quantized_multiplier_smaller_than_one_exp(total, p["output_multiplier"],
                                                                    p["output_shift"])
        out = np.clip(out + p["output_offset"], -128, 127)
        return [out.astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_add_n_params", "params", {k: p[k] for k in self.FIELDS})
        data = ", ".join(ctx.tensor(n) for n in node.inputs)
        return (f"ml_add_n_s8({params}, {_flat_dims(ctx, g.t(node.inputs[0]).shape)}, "
                f"(const int8_t *const[]){{ {data} }}, {_flat_dims(ctx, g.t(node.outputs[0]).shape)}, "
                f"{ctx.tensor(node.outputs[0])})")


# -- DIV ------------------------------------------------------------------------------------

def _sign_bits(x) -> np.ndarray:
    """TFLM's CountLeadingSignBits for int32 values (31 for 0 and -1)."""
    x = np.asarray(x, dtype=np.int64)
    return gl.count_leading_zeros32(np.where(x < 0, ~x, x)) - 1


def _divide_by_pot_x86(x, exponent) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT for exponents in [0, 63] as TFLM's x86 build evaluates
    it (undefined C++ beyond 31): the mask is the low 32 bits of 2^e - 1 and the shift count
    is taken modulo 32. ml_div_s8 does the same; see its header."""
    x, e = np.asarray(x, dtype=np.int64), np.asarray(exponent, dtype=np.int64)
    mask = np.where(e >= 32, -1, (np.int64(1) << np.minimum(e, 31)) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> (e & 31)) + (remainder > threshold)


@register
class Div(OpImpl):
    """TFLM div.cc + reference_ops::DivElementwise (int8): the multiplier comes from
    input1 scale / (input2 scale * output scale), in double; each element divides by
    a Newton-Raphson reciprocal of the divisor. For small quotients TFLM's final rounding shift
    exceeds 31 bits, which is undefined C++; we reproduce what the tflite-micro oracle (an x86
    build) computes there, and a zero divisor too (see ml_div_s8.h).

    int32 DIV (unquantized tensors, as TFLM's signal front ends use) is C division truncating
    toward zero, clamped to the fused activation's int32 range."""
    op = Op.DIV
    kernels = ("ml_div_s8", "ml_div_s32")
    dtypes = ("int8", "int32")
    FIELDS = ("input1_offset", "input2_offset", "output_offset", "output_multiplier", "output_shift",
              "act_min", "act_max")

    def kernels_for(self, node, g, p):
        return ("ml_div_s32",) if p["int32"] else ("ml_div_s8",)

    def prepare(self, node, g):
        if g.t(node.outputs[0]).dtype == "int32":
            return self.prepare_int32(node, g)
        p = _broadcast_prepare(node, g)
        (s1, z1), (s2, z2) = _quant(g, node.inputs[0]), _quant(g, node.inputs[1])
        so, zo = _quant(g, node.outputs[0])
        # In double: the tflite-micro oracle's outputs follow the double ratio (the TFLM tree we
        # read divides in float32 and widens; test_math.test_div_every_pair pins it).
        real = s1 / (s2 * so)
        if not np.isfinite(real) or real == 0.0:
            raise MicrolithError(f"{where(node, g)}: input1 scale / (input2 scale * output scale) is "
                                 f"{real}; check the quantization scales")
        mult, shift = quantize_multiplier(real)
        if not -25 <= shift <= 22:
            raise MicrolithError(f"{where(node, g)}: input1 scale / (input2 scale * output scale) = "
                                 f"{real:.6g} needs a shift of {shift}; TFLM's DIV then shifts by a "
                                 "negative or 64-bit-overflowing amount, which has no defined result")
        act_min, act_max = activation_range(node.attrs["activation"], so, zo)
        p.update(int32=False, input1_offset=-z1, input2_offset=-z2, output_offset=zo, output_multiplier=mult,
                 output_shift=shift, act_min=act_min, act_max=act_max)
        return p

    def prepare_int32(self, node, g):
        p = _plan(node, g)
        _require_dtype(node, g, [*node.inputs, node.outputs[0]], ("int32",))
        for name in node.inputs:
            if g.t(name).quant is not None:  # TFLM's Prepare insists on it
                raise MicrolithError(f"{where(node, g)}: int32 input '{name}' is quantized; TFLM's "
                                     "int32 DIV only divides unquantized integers")
        # TFLM's CalculateActivationRange<int32_t>: plain integer bounds, no quantization.
        lo, hi = {"NONE": (INT32_MIN, INT32_MAX), "RELU": (0, INT32_MAX), "RELU6": (0, 6),
                  "RELU_N1_TO_1": (-1, 1)}[node.attrs["activation"]]
        p.update(int32=True, act_min=lo, act_max=hi)
        return p

    def reference(self, node, g, p, xs):
        a, b = _broadcast_inputs(node, g, xs)
        if p["int32"]:
            if np.any(b == 0) or np.any((a == INT32_MIN) & (b == -1)):
                raise MicrolithError(f"{where(node, g)}: int32 division by zero (or INT32_MIN / -1), "
                                     "which TFLM does not define")
            q = np.abs(a) // np.abs(b) * np.sign(a) * np.sign(b)  # C truncates toward zero
            q = np.clip(q, p["act_min"], p["act_max"])
            return [q.astype(np.int32).reshape(g.t(node.outputs[0]).shape)]
        x, y = a + p["input1_offset"], b + p["input2_offset"]
        x, y = np.where(y < 0, -x, x), np.abs(y)
        recip, recip_shift = gl.get_reciprocal(y, 31)
        headroom = _sign_bits(x)
        quotient = saturating_rounding_doubling_high_mul(wrap32(x << headroom), recip)
        scaled = saturating_rounding_doubling_high_mul(quotient, p["output_multiplier"])
        out = _divide_by_pot_x86(scaled, headroom + recip_shift - p["output_shift"]) + p["output_offset"]
        out = np.clip(out, p["act_min"], p["act_max"])
        return [out.astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        if p["int32"]:
            params = ctx.struct("ml_div_s32_params", "params",
                                dict(act_min=p["act_min"], act_max=p["act_max"]))
            return _emit_binary("ml_div_s32", node, p, ctx, params)
        params = ctx.struct("ml_div_params", "params", {k: p[k] for k in self.FIELDS})
        return _emit_binary("ml_div_s8", node, p, ctx, params)
