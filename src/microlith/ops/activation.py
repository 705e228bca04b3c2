"""SOFTMAX, LOGISTIC and TANH on int8, in TFLM's fixed-point arithmetic.

All three evaluate a transcendental function with gemmlowp's int32 fixed-point routines
(arith/gemmlowp.py here, csrc/common/ml_fixedpoint.h in C), after rescaling the input into a
fixed-point format with a multiplier and shift computed in double, as TFLM's Prepare does:
  SOFTMAX   micro/kernels/softmax_common.cc + reference/softmax.h (int8 -> int8 or int16)
  LOGISTIC  micro/kernels/logistic_common.cc + reference/integer_ops/logistic.h
  TANH      micro/kernels/tanh.cc + reference/integer_ops/tanh.h
Their output quantization is fixed by the algorithm, so other output scales are rejected.
LOGISTIC and TANH on tensors of LUT_MIN_ELEMENTS values or more run as a 256-entry table
filled from their reference (elementwise.py, ml_lut_s8).

int16 (TFLite's 16x8 mode) runs TFLM's int16 kernels instead, which are table based too:
LOGISTIC and TANH interpolate TFLM's sigmoid table (arith/sigmoid16.py), SOFTMAX the exp and
1/(1+x) tables TFLM's Prepare fills in float32 (arith/lut16.py); all outputs are Q0.15.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir import MicrolithError, Op
from ..arith import gemmlowp as fp
from ..arith import lut16, sigmoid16
from ..arith.fixedpoint import (multiply_by_quantized_multiplier, quantize_multiplier,
                                   rounding_divide_by_pot, saturating_rounding_doubling_high_mul,
                                   tf_round, wrap32)
from . import OpImpl, register, require_int8, requant_multiplier, where
from .elementwise import LUT_KERNEL, emit_lut, use_lut
from .s16 import act_dtype

_SCALED_DIFF_INTEGER_BITS = 5   # softmax: input differences in Q5.26
_ACCUM_INTEGER_BITS = 12        # softmax: sum of exponentials in Q12.19
_SIGMOID_INPUT_INTEGER_BITS = 4  # logistic and tanh: inputs in Q4.27


def _f32(x) -> float:
    """A float as TFLM holds it (float32 in the flatbuffer), widened to double."""
    return float(np.float32(x))


def _same_size(node, g) -> None:
    x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
    if x.size != y.size:
        raise MicrolithError(f"{where(node, g)}: output '{y.name}' {list(y.shape)} does not match "
                             f"input '{x.name}' {list(x.shape)}")


def _require_output_quant(node, g, scale: float, zero_point: int, why: str) -> None:
    y = g.t(node.outputs[0])
    got_scale, got_zp = y.quant.scale[0], y.quant.zero_point[0]
    if got_zp != zero_point or np.float32(got_scale) != np.float32(scale):
        raise MicrolithError(f"{where(node, g)}: output '{y.name}' has scale {got_scale:g} and zero point "
                             f"{got_zp}; {why} needs scale {scale:g} (1/{round(1 / scale)}) and zero point "
                             f"{zero_point}. Requantize the model with the standard int8 converter")


def _sigmoid_input_scaling(node, g) -> dict:
    """Input multiplier, shift and saturation radius shared by LOGISTIC and TANH (int8)."""
    x = g.t(node.inputs[0])
    real = _f32(x.quant.scale[0]) * float(1 << (31 - _SIGMOID_INPUT_INTEGER_BITS))
    q, shift = math.frexp(real)
    if real <= 0.0 or not 0 <= shift <= 62:
        raise MicrolithError(f"{where(node, g)}: input '{x.name}' scale {x.quant.scale[0]:g} is outside "
                             "the range TFLM's int8 kernel handles (2^-28 to 2^35)")
    multiplier = int(tf_round(q * float(1 << 31)))
    # CalculateInputRadius: largest |input - zero point| whose Q4.27 rescaling stays below 2^4 - 1.
    radius = math.floor(1.0 * ((1 << _SIGMOID_INPUT_INTEGER_BITS) - 1) *
                        float(1 << (31 - _SIGMOID_INPUT_INTEGER_BITS)) / float(1 << shift))
    return dict(input_zero_point=int(x.quant.zero_point[0]), input_range_radius=int(radius),
                input_multiplier=multiplier, input_left_shift=shift)


def _sigmoid_input_q4(x: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (saturates low, saturates high, input in Q4.27 where neither)."""
    d = x.astype(np.int64).reshape(-1) - p["input_zero_point"]
    radius = p["input_range_radius"]
    low, high = d <= -radius, d >= radius
    inside = ~(low | high)
    if radius > 0:  # else every input saturates and the shift may exceed 31
        q4 = multiply_by_quantized_multiplier(np.where(inside, d, 0), p["input_multiplier"],
                                              p["input_left_shift"])
    else:
        q4 = np.zeros_like(d)
    return low, high, q4


@register
class Softmax(OpImpl):
    op = Op.SOFTMAX
    kernels = ("ml_softmax_s8", "ml_softmax_s8_s16", "ml_softmax_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        if p["in_bits"] == 16:
            return ("ml_softmax_s16",)
        return ("ml_softmax_s8",) if p["out_bits"] == 8 else ("ml_softmax_s8_s16",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if x.dtype == "int16":
            return self._prepare_s16(node, g)
        require_int8(node, g, [x.name])
        if y.dtype == "int8":
            require_int8(node, g, [y.name])
            _require_output_quant(node, g, 1.0 / 256, -128, "int8 SOFTMAX")
        elif y.dtype == "int16" and y.quant is not None and not y.quant.per_axis:
            # TFLM: TF_LITE_ENSURE_NEAR(scale, 1.f / 65536, 0.001f * 1.f / 65536), in float.
            want = np.float32(1.0) / np.float32(65536)
            got = np.float32(y.quant.scale[0])
            delta = got - want if got > want else want - got
            if y.quant.zero_point[0] != -32768 or delta > np.float32(0.001) * want:
                raise MicrolithError(f"{where(node, g)}: int16 output '{y.name}' has scale "
                                     f"{y.quant.scale[0]:g} and zero point {y.quant.zero_point[0]}; "
                                     "SOFTMAX int8 -> int16 needs scale 1/65536 and zero point -32768")
        else:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' is {y.dtype}; SOFTMAX with int8 "
                                 "input writes int8 (or int16) with per-tensor quantization")
        if len(x.shape) < 1 or x.shape != y.shape:
            raise MicrolithError(f"{where(node, g)}: SOFTMAX needs input and output of the same shape "
                                 f"with at least one dimension (got {list(x.shape)} -> {list(y.shape)})")
        depth = int(x.shape[-1])
        outer = x.size // depth if depth else 0
        beta = _f32(node.attrs["beta"])
        # PreprocessSoftmaxScaling: beta * input_scale as Q5.26 per input step, capped.
        real = min(beta * _f32(x.quant.scale[0]) * float(1 << (31 - _SCALED_DIFF_INTEGER_BITS)),
                   float((1 << 31) - 1))
        if not real > 1.0:
            # TFLM's QuantizeMultiplierGreaterThanOne stops the interpreter (TFLITE_CHECK) here.
            raise MicrolithError(f"{where(node, g)}: beta {beta:g} x input scale {x.quant.scale[0]:g} is "
                                 "too small for TFLM's int8 SOFTMAX (it must exceed 2^-26)")
        multiplier, shift = quantize_multiplier(real)
        diff_min = -math.floor(1.0 * ((1 << _SCALED_DIFF_INTEGER_BITS) - 1) *
                               float(1 << (31 - _SCALED_DIFF_INTEGER_BITS)) / float(1 << shift))
        return dict(outer=outer, depth=depth, input_multiplier=multiplier, input_left_shift=shift,
                    diff_min=int(diff_min), in_bits=8, out_bits=8 if y.dtype == "int8" else 16)

    def _prepare_s16(self, node, g) -> dict:
        """softmax_common.cc for int16 -> int16: zero points 0, output scale 2^-15 (within
        0.1%, compared in float), input rescaled so that [-65535, 0] spans [-10, 0]."""
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        act_dtype(node, g, [x.name, y.name])
        want = np.float32(1.0) / np.float32(32768)
        got = np.float32(y.quant.scale[0])
        if (got - want if got > want else want - got) > np.float32(0.001) * want:
            raise MicrolithError(f"{where(node, g)}: int16 output '{y.name}' has scale {y.quant.scale[0]:g}; "
                                 "TFLM's int16 SOFTMAX needs 1/32768")
        if len(x.shape) < 1 or x.shape != y.shape:
            raise MicrolithError(f"{where(node, g)}: SOFTMAX needs input and output of the same shape "
                                 f"with at least one dimension (got {list(x.shape)} -> {list(y.shape)})")
        depth = int(x.shape[-1])
        if depth * 32767 >= 1 << 31:
            raise MicrolithError(f"{where(node, g)}: {depth} values per row overflow TFLM's int32 sum of exps")
        real = _f32(x.quant.scale[0]) * _f32(node.attrs["beta"]) / (10.0 / 65535.0)
        # Differences reach -65535: a left shift above 15 would overflow TFLM's int32 product.
        multiplier, shift = requant_multiplier(node, g, real, "input scale x beta / (10 / 65535)",
                                               x.name, max_shift=15)
        return dict(outer=x.size // depth, depth=depth, input_multiplier=multiplier,
                    input_left_shift=shift, in_bits=16, out_bits=16)

    def _reference_s16(self, p, x) -> np.ndarray:
        exp_lut, recip_lut = lut16.softmax_tables()
        x = x.astype(np.int64).reshape(p["outer"], p["depth"])
        scaled = multiply_by_quantized_multiplier(x - x.max(axis=1, keepdims=True),
                                                  p["input_multiplier"], p["input_left_shift"])
        exps = lut16.lookup(np.clip(scaled + 32767, -32768, 32767), exp_lut)
        total = exps.sum(axis=1, keepdims=True)
        headroom_plus_one = 32 - np.frexp(total.astype(np.float64))[1].astype(np.int64)  # leading zeros
        shifted = ((total << (headroom_plus_one - 1)) + (1 << 13)) >> 14
        recip = lut16.lookup(np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), recip_lut)
        right = 31 - headroom_plus_one
        return np.clip((exps * recip + (np.int64(1) << (right - 1))) >> right, 0, 32767)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        if p["in_bits"] == 16:
            return [self._reference_s16(p, xs[0]).astype(np.int16).reshape(y.shape)]
        x = xs[0].astype(np.int64).reshape(p["outer"], p["depth"])
        diff = x - x.max(axis=1, keepdims=True)
        used = diff >= p["diff_min"]
        scaled = saturating_rounding_doubling_high_mul(wrap32(diff << p["input_left_shift"]),
                                                       p["input_multiplier"])
        exp = fp.exp_on_negative_values(scaled, _SCALED_DIFF_INTEGER_BITS)
        terms = np.where(used, fp.rescale(exp, 0, _ACCUM_INTEGER_BITS), 0)
        sum_of_exps = wrap32(terms.sum(axis=1, keepdims=True))  # wraps like TFLM's int32 sum
        scale, num_bits_over_unit = fp.get_reciprocal(sum_of_exps, _ACCUM_INTEGER_BITS)
        exponent = num_bits_over_unit + 31 - p["out_bits"]
        # TFLM aborts (TFLITE_CHECK) when exponent leaves [0, 31] (int8 output and a sum of
        # exponentials of 512 or more); every quotient then rounds to 0, which we write.
        in_range = (exponent >= 0) & (exponent <= 31)
        unsat = np.where(in_range, rounding_divide_by_pot(fp.mul(scale, exp), np.clip(exponent, 0, 31)), 0)
        info = np.iinfo(y.np_dtype)
        out = np.clip(unsat + info.min, info.min, info.max)
        return [np.where(used, out, info.min).astype(y.np_dtype).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        if p["in_bits"] == 16:
            exp_lut, recip_lut = lut16.softmax_tables()
            params = ctx.struct("ml_softmax_s16_params", "params", dict(
                input_multiplier=p["input_multiplier"], input_left_shift=p["input_left_shift"],
                exp_lut=ctx.const("exp_lut", exp_lut.astype(np.int16)),
                recip_lut=ctx.const("recip_lut", recip_lut.astype(np.int16))))
            dims = ctx.dims((p["outer"], p["depth"]))
            return (f"ml_softmax_s16({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                    f"{dims}, {ctx.tensor(node.outputs[0])})")
        params = ctx.struct("ml_softmax_params", "params", dict(
            input_multiplier=p["input_multiplier"], input_left_shift=p["input_left_shift"],
            diff_min=p["diff_min"]))
        dims = ctx.dims((p["outer"], p["depth"]))
        fn = "ml_softmax_s8" if p["out_bits"] == 8 else "ml_softmax_s8_s16"
        return (f"{fn}({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                f"{dims}, {ctx.tensor(node.outputs[0])})")


class _Sigmoidal(OpImpl):
    """LOGISTIC and TANH: the same input scaling to Q4.27, gemmlowp's function, then a shift to
    the fixed output quantization TFLM requires (1/256 zp -128, or 1/128 zp 0)."""
    name: str           # "logistic" | "tanh"
    out_scale: float
    out_zero_point: int
    out_shift: int      # Q0.31 -> output steps

    pot_shifts: tuple[int, ...]  # int16: input shifts TFLM treats as power-of-two scales
    dtypes = ("int8", "int16")

    @property
    def kernels(self):
        return (f"ml_{self.name}_s8", LUT_KERNEL, f"ml_{self.name}_s16")

    def kernels_for(self, node, g, p):
        if p["dtype"] == "int16":
            return self.kernels[2:]
        return (LUT_KERNEL,) if use_lut(node, g) else self.kernels[:1]

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name])
        _same_size(node, g)
        if dtype == "int16":
            # TFLM's int16 kernels: zero points 0 (act_dtype), output scale 2^-15 (Q0.15).
            _require_output_quant(node, g, 1.0 / 32768, 0, f"int16 {self.op.value}")
            mult, shift = sigmoid16.input_scaling(_f32(x.quant.scale[0]), self.pot_shifts)
            return dict(dtype=dtype, size=x.size, input_multiplier=mult, input_left_shift=shift)
        _require_output_quant(node, g, self.out_scale, self.out_zero_point, f"int8 {self.op.value}")
        return dict(dtype=dtype, size=x.size, **_sigmoid_input_scaling(node, g))

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        if p["dtype"] == "int16":
            f = getattr(sigmoid16, self.name)
            return [f(xs[0], p["input_multiplier"], p["input_left_shift"]).astype(np.int16).reshape(y.shape)]
        low, high, q4 = _sigmoid_input_q4(xs[0], p)
        q0 = getattr(fp, self.name)(q4, _SIGMOID_INPUT_INTEGER_BITS)
        out = np.clip(rounding_divide_by_pot(q0, self.out_shift) + self.out_zero_point, -128, 127)
        out = np.where(low, -128, np.where(high, 127, out))
        return [out.astype(np.int8).reshape(y.shape)]

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int16":
            params = ctx.struct("ml_sigmoid_s16_params", "params", {
                k: p[k] for k in ("input_multiplier", "input_left_shift")})
            dims = ctx.dims((p["size"],))
            return (f"ml_{self.name}_s16({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                    f"{dims}, {ctx.tensor(node.outputs[0])})")
        if use_lut(node, g):
            return emit_lut(self, node, g, ctx)
        params = ctx.struct(f"ml_{self.name}_params", "params", {
            k: p[k] for k in ("input_zero_point", "input_range_radius", "input_multiplier",
                              "input_left_shift")})
        dims = ctx.dims((p["size"],))
        return (f"ml_{self.name}_s8({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                f"{dims}, {ctx.tensor(node.outputs[0])})")


@register
class Logistic(_Sigmoidal):
    op, name = Op.LOGISTIC, "logistic"
    out_scale, out_zero_point, out_shift = 1.0 / 256, -128, 23
    pot_shifts = (0,)


@register
class Tanh(_Sigmoidal):
    op, name = Op.TANH, "tanh"
    out_scale, out_zero_point, out_shift = 1.0 / 128, 0, 24
    pot_shifts = (0, 1)
