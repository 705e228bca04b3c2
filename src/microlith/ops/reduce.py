"""Reductions and normalizations on int8, as TFLM computes them:
  ARG_MAX, ARG_MIN          micro/kernels/arg_min_max.cc, reference/arg_min_max.h
  REDUCE_MAX, REDUCE_MIN    micro/kernels/reduce_common.cc (EvalMinMaxHelper), reference/reduce.h
  SUM                       reduce_common.cc (EvalSumHelper), reference_ops::QuantizedMeanOrSum,
                            on MEAN's kernel ml_mean_s8
  LOG_SOFTMAX               micro/kernels/log_softmax.cc, reference/log_softmax.h (LogSoftmaxQuantized)
  L2_NORMALIZATION          micro/kernels/l2norm.cc, reference/integer_ops/l2normalization.h
  CUMSUM                    micro/kernels/cumsum.cc, reference/cumsum.h

MEAN (ops/pool.py), SUM, REDUCE_MAX and REDUCE_MIN share `reduction()`: TFLM's ResolveAxis, and
the kernel layout with size-1 dimensions dropped and neighbouring dimensions of the same kind
merged. LOG_SOFTMAX and L2_NORMALIZATION work along the last axis; their output quantization
is fixed by TFLM's algorithm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arith import gemmlowp as fp
from ..arith.fixedpoint import (INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier,
                                multiply_by_quantized_multiplier_smaller_than_one_exp, quantize_multiplier,
                                rounding_divide_by_pot, wrap32)
from ..arith.logarithm import log_x_for_x_greater_than_or_equal_to_1
from ..ir import MicrolithError, Op
from . import OpImpl, register, require_int8, requant_multiplier, where
from .shape import MAX_RANK, const_ints, require_nonempty, shape_nd
from .s16 import NP, QRANGE, act_dtype  # --- issue 10: extra ops (int16 SUM)


@dataclass(frozen=True)
class Reduction:
    axes: tuple[int, ...]      # resolved input axes, sorted, without duplicates
    count: int                 # input elements reduced into each output element
    in_shape: tuple[int, ...]  # the input with size-1 dims dropped and same-kind neighbours merged
    reduce_mask: int           # bit i set: in_shape[i] is reduced away
    out_shape: tuple[int, ...]  # the kept entries of in_shape


def reduction(node, g, what: str) -> Reduction:
    """The axes of a reduce op (input 0 over the constant int32 axes in input 1), checked
    against the output's size. reduce.h ResolveAxis: negative axes wrap, duplicates count once."""
    x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
    require_nonempty(node, g, [x.name, y.name])
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise MicrolithError(f"{where(node, g)}: input '{x.name}' has rank {rank}; {what} "
                             f"handles at most {MAX_RANK}")
    axes: list[int] = []
    for v in const_ints(node, g, 1, "axis").reshape(-1).tolist():
        a = v + rank if v < 0 else v
        if not 0 <= a < rank:
            raise MicrolithError(f"{where(node, g)}: axis {v} is out of range for rank {rank}")
        if a not in axes:
            axes.append(a)
    reduced = [d in axes for d in range(rank)]
    kept = [int(d) for d, r in zip(x.shape, reduced) if not r]
    if math.prod(kept) != y.size:
        raise MicrolithError(f"{where(node, g)}: output '{y.name}' {list(y.shape)} does not hold "
                             f"the {what} of {list(x.shape)} over axes {sorted(axes)}")
    dims: list[int] = []
    kinds: list[bool] = []
    for d, r in zip(x.shape, reduced):
        if d == 1:
            continue
        if kinds and kinds[-1] == r:
            dims[-1] *= int(d)
        else:
            dims.append(int(d))
            kinds.append(r)
    return Reduction(axes=tuple(sorted(axes)),
                     count=math.prod(int(d) for d, r in zip(x.shape, reduced) if r),
                     in_shape=tuple(dims), reduce_mask=sum(1 << i for i, r in enumerate(kinds) if r),
                     out_shape=tuple(d for d, r in zip(dims, kinds) if not r))


def _require_dtype(node, g, name: str, dtypes: tuple[str, ...], why: str) -> None:
    t = g.t(name)
    if t.dtype not in dtypes:
        raise MicrolithError(f"{where(node, g)}: tensor '{name}' is {t.dtype}; {why}")


class _ArgMinMax(OpImpl):
    """TFLM's ArgMinMax: the index of the first maximum (minimum) along one axis, compared as
    raw int8 (quantization does not change the order). Ties keep the lowest index because the
    comparison is strict. TFLM's kernel writes int32 only (int64 output stops the interpreter)."""
    kernels = ("ml_arg_min_max_s8",)
    is_max = True

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _require_dtype(node, g, x.name, ("int8",), f"microlith's {node.op.value} reads int8 input")
        _require_dtype(node, g, y.name, ("int32",),
                       f"TFLM's {node.op.value} writes int32 indices only (set output_type=int32)")
        require_nonempty(node, g, [x.name, y.name])
        rank = len(x.shape)
        axis_values = const_ints(node, g, 1, "axis").reshape(-1)
        if rank < 1 or axis_values.size < 1:
            raise MicrolithError(f"{where(node, g)}: needs an input of rank >= 1 and one axis value")
        # arg_min_max.h reads only the first axis value.
        axis = int(axis_values[0]) + (rank if axis_values[0] < 0 else 0)
        if not 0 <= axis < rank:
            raise MicrolithError(f"{where(node, g)}: axis {int(axis_values[0])} is out of range for "
                                 f"rank {rank}")
        want = tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:])
        if tuple(y.shape) != want:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; "
                                 f"{node.op.value} over axis {axis} of {list(x.shape)} gives {list(want)}")
        outer = math.prod(int(d) for d in x.shape[:axis])
        inner = math.prod(int(d) for d in x.shape[axis + 1:])
        return dict(outer=outer, axis_size=int(x.shape[axis]), inner=inner)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int8).reshape(p["outer"], p["axis_size"], p["inner"])
        # numpy's argmax/argmin also return the first of equal extremes, as TFLM's strict compare.
        idx = x.argmax(axis=1) if self.is_max else x.argmin(axis=1)
        return [idx.astype(np.int32).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_arg_min_max_params", "params", dict(is_max=int(self.is_max)))
        return (f"ml_arg_min_max_s8({params}, "
                f"{shape_nd(ctx, 'in_shape', (p['outer'], p['axis_size'], p['inner']))}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', (p['outer'], p['inner']))}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class ArgMax(_ArgMinMax):
    op = Op.ARG_MAX
    is_max = True


@register
class ArgMin(_ArgMinMax):
    op = Op.ARG_MIN
    is_max = False


class _ReduceMinMax(OpImpl):
    """TFLM's EvalMinMaxHelper for int8: ReduceGeneric with outputs starting at -128 (max) or
    127 (min). No requantization: TFLM requires input and output to share scale and zero point."""
    kernels = ("ml_reduce_min_max_s8",)
    is_max = True

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_int8(node, g, [x.name, y.name])
        xq, yq = x.quant, y.quant
        # reduce_common.cc compares the float scales widened to double: exact equality.
        if np.float32(xq.scale[0]) != np.float32(yq.scale[0]) or xq.zero_point[0] != yq.zero_point[0]:
            raise MicrolithError(
                f"{where(node, g)}: input scale {xq.scale[0]:.9g} / zero point {xq.zero_point[0]} differ "
                f"from the output's {yq.scale[0]:.9g} / {yq.zero_point[0]}; TFLM's int8 {node.op.value} "
                "requires them equal")
        r = reduction(node, g, node.op.value)
        return dict(axes=r.axes, in_shape=list(r.in_shape), reduce_mask=r.reduce_mask,
                    out_shape=list(r.out_shape))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int8)
        v = (x.max if self.is_max else x.min)(axis=p["axes"]) if p["axes"] else x
        return [np.asarray(v, np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_reduce_min_max_params", "params",
                            dict(reduce_mask=p["reduce_mask"], is_max=int(self.is_max)))
        return (f"ml_reduce_min_max_s8({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")


@register
class ReduceMax(_ReduceMinMax):
    op = Op.REDUCE_MAX
    is_max = True


@register
class ReduceMin(_ReduceMinMax):
    op = Op.REDUCE_MIN
    is_max = False


@register
class Sum(OpImpl):
    """int8 SUM: TFLM's QuantizedMeanOrSum with compute_sum, i.e. MEAN's kernel (ml_mean_s8)
    with the plain input/output scale ratio, without MEAN's 1/count folded in:
      clamp(MultiplyByQuantizedMultiplier(sum - count * input_zp) + output_zp)."""
    op = Op.SUM
    # --- issue 10: extra ops. int16 too: TFLM's EvalSumHelper runs QuantizedMeanOrSum<int16_t>
    # (int32 sums, any zero point), MEAN's int16 kernel.
    kernels = ("ml_mean_s8", "ml_mean_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return ("ml_mean_s16",) if p["dtype"] == "int16" else ("ml_mean_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name], int16_zero_point=False)
        r = reduction(node, g, "sum")
        # |sum - count * zp| <= 255 * count (65535 * count for int16) must fit int32
        if r.count >= (1 << 23 if dtype == "int8" else 1 << 15):
            raise MicrolithError(f"{where(node, g)}: summing {r.count} values overflows int32 sums")
        # reduce_common.cc Prepare: the double ratio of the float32 scales.
        ratio = np.float64(x.quant.scale[0]) / np.float64(y.quant.scale[0])
        mult, shift = requant_multiplier(node, g, ratio, "input scale / output scale", x.name)
        return dict(axes=r.axes, count=r.count, input_zero_point=int(x.quant.zero_point[0]),
                    output_zero_point=int(y.quant.zero_point[0]), multiplier=mult, shift=shift,
                    in_shape=list(r.in_shape), reduce_mask=r.reduce_mask, out_shape=list(r.out_shape),
                    dtype=dtype)

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64)
        total = x.sum(axis=p["axes"]) if p["axes"] else x
        v = multiply_by_quantized_multiplier(total - p["input_zero_point"] * p["count"],
                                             p["multiplier"], p["shift"]) + p["output_zero_point"]
        return [np.clip(v, *QRANGE[p["dtype"]]).astype(NP[p["dtype"]]).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_mean_params", "params", {
            k: p[k] for k in ("reduce_mask", "input_zero_point", "output_zero_point",
                              "multiplier", "shift")})
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")


_LOG_SOFTMAX_INPUT_BITS = 5    # scaled differences and their log: Q5.26
_LOG_SOFTMAX_ACCUM_BITS = 12   # sum of exponentials: Q12.19
_LOG_SOFTMAX_OUTPUT_BITS = 4   # output steps: 2^4 / 2^8
_LOG_SOFTMAX_MAX_DEPTH = 4095  # 4096 terms of up to 2^19 would wrap the Q12.19 sum


@register
class LogSoftmax(OpImpl):
    """int8 LOG_SOFTMAX: TFLM's log_softmax.cc Prepare (PreprocessLogSoftmaxScalingExp with
    beta 1, CalculateInputRadius) and reference_ops::LogSoftmaxQuantized. The output
    quantization is fixed (scale 16/256, zero point 127), as TFLM requires."""
    op = Op.LOG_SOFTMAX
    kernels = ("ml_log_softmax_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_int8(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name])
        if len(x.shape) < 1 or tuple(x.shape) != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: LOG_SOFTMAX needs input and output of the same shape "
                                 f"with at least one dimension (got {list(x.shape)} -> {list(y.shape)})")
        # log_softmax.cc compares the float32 scale for equality with 16.0 / 256.
        if np.float32(y.quant.scale[0]) != np.float32(16.0 / 256) or y.quant.zero_point[0] != 127:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has scale {y.quant.scale[0]:g} and zero "
                                 f"point {y.quant.zero_point[0]}; TFLM's int8 LOG_SOFTMAX needs scale 16/256 "
                                 "and zero point 127. Requantize the model with the standard int8 converter")
        depth = int(x.shape[-1])
        if depth > _LOG_SOFTMAX_MAX_DEPTH:
            raise MicrolithError(f"{where(node, g)}: rows of {depth} values; TFLM's Q12.19 sum of "
                                 f"exponentials wraps past {_LOG_SOFTMAX_MAX_DEPTH} (its kernel does not "
                                 "guard this), so microlith refuses it")
        # PreprocessSoftmaxScaling (double rounding build): beta * input_scale as Q5.26, capped.
        real = min(float(np.float32(x.quant.scale[0])) * float(1 << (31 - _LOG_SOFTMAX_INPUT_BITS)),
                   float((1 << 31) - 1))
        if not real > 1.0:  # QuantizeMultiplierGreaterThanOne stops TFLM (TFLITE_CHECK) here
            raise MicrolithError(f"{where(node, g)}: input scale {x.quant.scale[0]:g} is too small for "
                                 "TFLM's int8 LOG_SOFTMAX (it must exceed 2^-26)")
        multiplier, left_shift = quantize_multiplier(real)
        reverse = float(1 << (31 - left_shift)) / float(multiplier)
        # In (0, 1) as QuantizeMultiplierSmallerThanOneExp CHECKs: real > 1 makes left_shift >= 1,
        # and multiplier > 2^30 whenever left_shift is 1.
        assert 0.0 < reverse < 1.0, reverse
        reverse_multiplier, reverse_shift = quantize_multiplier(reverse)
        # CalculateInputRadius(5, left_shift): larger differences would overflow Q5.26.
        diff_min = -math.floor(1.0 * ((1 << _LOG_SOFTMAX_INPUT_BITS) - 1) *
                               float(1 << (31 - _LOG_SOFTMAX_INPUT_BITS)) / float(1 << left_shift))
        return dict(outer=x.size // depth, depth=depth, input_multiplier=multiplier,
                    input_left_shift=left_shift, reverse_scaling_divisor=reverse_multiplier,
                    reverse_scaling_left_shift=reverse_shift, diff_min=int(diff_min))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64).reshape(p["outer"], p["depth"])
        diff = x - x.max(axis=1, keepdims=True)
        # Differences below diff_min are never rescaled (the shift could overflow int32).
        scaled = multiply_by_quantized_multiplier(np.where(diff >= p["diff_min"], diff, 0),
                                                  p["input_multiplier"], p["input_left_shift"])
        exp = fp.exp_on_negative_values(scaled, _LOG_SOFTMAX_INPUT_BITS)
        terms = np.where(diff >= p["diff_min"], fp.rescale(exp, 0, _LOG_SOFTMAX_ACCUM_BITS), 0)
        sum_of_exps = wrap32(terms.sum(axis=1, keepdims=True))
        log_sum = log_x_for_x_greater_than_or_equal_to_1(sum_of_exps, _LOG_SOFTMAX_INPUT_BITS,
                                                          _LOG_SOFTMAX_ACCUM_BITS)
        adjusted_diff_min = np.maximum(p["diff_min"] - 1, multiply_by_quantized_multiplier(
            fp.add(log_sum, INT32_MIN), p["reverse_scaling_divisor"], p["reverse_scaling_left_shift"]))
        out = rounding_divide_by_pot(fp.sub(scaled, log_sum),
                                     31 - _LOG_SOFTMAX_INPUT_BITS - _LOG_SOFTMAX_OUTPUT_BITS) + 127
        out = np.where(diff > adjusted_diff_min, np.clip(out, -128, 127), -128)
        return [out.astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_log_softmax_params", "params", {
            k: p[k] for k in ("input_multiplier", "input_left_shift", "reverse_scaling_divisor",
                              "reverse_scaling_left_shift", "diff_min")})
        dims = ctx.dims((p["outer"], p["depth"]))
        return (f"ml_log_softmax_s8({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                f"{dims}, {ctx.tensor(node.outputs[0])})")


_L2NORM_MAX_DEPTH = 33025  # depth * 255^2, the sum of squares, must fit int32


def inv_sqrt_multiplier(acc) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetInvSqrtQuantizedMultiplierExp(acc, kReverseShift = -1) for arrays of acc in
    [0, 2^31): (multiplier, left shift <= 0) with multiplier * 2^shift ~ 1 / sqrt(acc)."""
    acc = np.asarray(acc, np.int64)
    small = acc <= 1  # 0 and 1 take the largest multiplier, shift 0
    x_in = np.where(small, 1 << 28, acc)
    big = x_in >= 1 << 29  # acc < 2^31: one division by 4 always suffices
    x_in = np.where(big, x_in // 4, x_in)
    shift = 11 + big.astype(np.int64)
    pairs = (fp.count_leading_zeros32(x_in) - 1) // 2 - 1
    shift = shift - pairs
    x_in = x_in << (2 * pairs)
    half_input = fp.saturating_rounding_multiply_by_pot(x_in >> 1, -1)
    x = np.full(acc.shape, 1 << 28, np.int64)  # 1.0 in Q3.28
    half_three = (1 << 28) + (1 << 27)
    for _ in range(5):  # Newton-Raphson on 1 / sqrt
        x3 = fp.rescale(fp.mul(fp.mul(x, x), x), 9, 3)
        x = fp.rescale(fp.sub(fp.mul(half_three, x), fp.mul(half_input, x3)), 6, 3)
    x = fp.mul(x, 1518500250)  # sqrt(2) / 2
    x = np.where(shift < 0, wrap32(x << np.maximum(-shift, 0)), x)
    shift = np.maximum(shift, 0)
    return np.where(small, INT32_MAX, x), np.where(small, 0, -shift)


@register
class L2Normalization(OpImpl):
    """int8 L2_NORMALIZATION over the last axis: TFLM's l2norm.cc and
    reference_integer_ops::L2Normalization. TFLM writes in steps of 1/128 with zero point 0
    whatever the output tensor says (it does not check); microlith requires the output to
    declare that quantization, as TFLite's converter writes it and LiteRT checks it."""
    op = Op.L2_NORMALIZATION
    kernels = ("ml_l2_normalization_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_int8(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name])
        if not 1 <= len(x.shape) <= 4 or tuple(x.shape) != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: L2_NORMALIZATION needs input and output of the same "
                                 f"shape, rank 1 to 4 (got {list(x.shape)} -> {list(y.shape)})")
        if node.attrs["activation"] != "NONE":
            raise MicrolithError(f"{where(node, g)}: fused activation {node.attrs['activation']}; TFLM's "
                                 "L2_NORMALIZATION supports none")
        if np.float32(y.quant.scale[0]) != np.float32(1.0 / 128) or y.quant.zero_point[0] != 0:
            raise MicrolithError(f"{where(node, g)}: output '{y.name}' has scale {y.quant.scale[0]:g} and zero "
                                 f"point {y.quant.zero_point[0]}; TFLM's int8 L2_NORMALIZATION always writes "
                                 "scale 1/128, zero point 0. Requantize the model with the standard converter")
        depth = int(x.shape[-1])
        if depth > _L2NORM_MAX_DEPTH:
            raise MicrolithError(f"{where(node, g)}: rows of {depth} values; the int32 sum of squares in "
                                 f"TFLM's kernel overflows past {_L2NORM_MAX_DEPTH}")
        return dict(outer=x.size // depth, depth=depth, input_zero_point=int(x.quant.zero_point[0]))

    def reference(self, node, g, p, xs):
        v = np.asarray(xs[0], np.int64).reshape(p["outer"], p["depth"]) - p["input_zero_point"]
        multiplier, shift = inv_sqrt_multiplier((v * v).sum(axis=1, keepdims=True))
        out = multiply_by_quantized_multiplier(v, multiplier, shift + 7)  # 7: steps of 1/128
        return [np.clip(out, -128, 127).astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_l2_normalization_params", "params",
                            dict(input_zero_point=p["input_zero_point"]))
        dims = ctx.dims((p["outer"], p["depth"]))
        return (f"ml_l2_normalization_s8({params}, {dims}, {ctx.tensor(node.inputs[0])}, "
                f"{dims}, {ctx.tensor(node.outputs[0])})")


_CUMSUM_LEFT_SHIFT = 20  # TFLM's kCumSumIntegerShift


@register
class CumSum(OpImpl):
    """int8 CUMSUM: TFLM's cumsum.cc Prepare (the ADD-style rescaling with a left shift of 20)
    and the quantized reference_ops::CumSum. TFLM starts each line's accumulator at the scaled
    input offset (-input zero point) rather than at 0, so every output carries an extra
    -input_zero_point * input_scale; microlith reproduces that byte for byte."""
    op = Op.CUMSUM
    kernels = ("ml_cumsum_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_int8(node, g, [x.name, y.name])
        require_nonempty(node, g, [x.name])
        rank = len(x.shape)
        if rank < 1 or tuple(x.shape) != tuple(y.shape):
            raise MicrolithError(f"{where(node, g)}: CUMSUM needs input and output of the same shape with "
                                 f"at least one dimension (got {list(x.shape)} -> {list(y.shape)})")
        axis_values = const_ints(node, g, 1, "axis").reshape(-1)
        if axis_values.size != 1:
            raise MicrolithError(f"{where(node, g)}: axis holds {axis_values.size} values; TFLM's CUMSUM "
                                 "takes exactly one")
        axis = int(axis_values[0]) + (rank if axis_values[0] < 0 else 0)
        if not 0 <= axis < rank:
            raise MicrolithError(f"{where(node, g)}: axis {int(axis_values[0])} is out of range for rank {rank}")
        in_scale = float(np.float32(x.quant.scale[0]))
        twice = 2 * in_scale
        in_mult, in_shift = quantize_multiplier(in_scale / twice)
        real_out = twice / (float(1 << _CUMSUM_LEFT_SHIFT) * float(np.float32(y.quant.scale[0])))
        out_mult, out_shift = quantize_multiplier(real_out)
        # QuantizeMultiplierSmallerThanOneExp stops TFLM (TFLITE_CHECK) outside (0, 1).
        if not 0.0 < real_out < 1.0 or out_shift > 0:
            raise MicrolithError(f"{where(node, g)}: input scale {x.quant.scale[0]:g} / output scale "
                                 f"{y.quant.scale[0]:g} is 2^19 or more; TFLM's int8 CUMSUM stops on it")
        return dict(exclusive=int(bool(node.attrs["exclusive"])), reverse=int(bool(node.attrs["reverse"])),
                    shape3=(math.prod(int(d) for d in x.shape[:axis]), int(x.shape[axis]),
                            math.prod(int(d) for d in x.shape[axis + 1:])),
                    input_offset=-int(x.quant.zero_point[0]), input_multiplier=in_mult,
                    input_shift=in_shift, output_offset=int(y.quant.zero_point[0]),
                    output_multiplier=out_mult, output_shift=out_shift)

    def reference(self, node, g, p, xs):
        def scale(v):
            return multiply_by_quantized_multiplier_smaller_than_one_exp(
                np.asarray(v, np.int64) << _CUMSUM_LEFT_SHIFT, p["input_multiplier"], p["input_shift"])

        x = np.asarray(xs[0], np.int64).reshape(p["shape3"])
        terms = scale(x + p["input_offset"])
        if p["reverse"]:
            terms = terms[:, ::-1, :]
        sums = scale(p["input_offset"]) + np.cumsum(terms, axis=1)  # int32 wrapping: wrap once below
        if p["exclusive"]:
            sums = sums - terms
        if p["reverse"]:
            sums = sums[:, ::-1, :]
        out = multiply_by_quantized_multiplier_smaller_than_one_exp(
            wrap32(sums), p["output_multiplier"], p["output_shift"]) + p["output_offset"]
        return [np.clip(out, -128, 127).astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_cumsum_params", "params", {
            k: p[k] for k in ("exclusive", "reverse", "input_offset", "input_multiplier", "input_shift",
                              "output_offset", "output_multiplier", "output_shift")})
        shape = shape_nd(ctx, "shape", p["shape3"])
        return (f"ml_cumsum_s8({params}, {shape}, {ctx.tensor(node.inputs[0])}, {shape}, "
                f"{ctx.tensor(node.outputs[0])})")
