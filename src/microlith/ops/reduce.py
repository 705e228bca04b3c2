"""Reductions and normalizations on int8, as TFLM computes them:
  ARG_MAX, ARG_MIN          micro/kernels/arg_min_max.cc, reference/arg_min_max.h
  REDUCE_MAX, REDUCE_MIN    micro/kernels/reduce_common.cc (EvalMinMaxHelper), reference/reduce.h
  SUM                       reduce_common.cc (EvalSumHelper), reference_ops::QuantizedMeanOrSum,
                            on MEAN's kernel ml_mean_s8

MEAN (ops/pool.py) and SUM share `reduction()`: TFLM's ResolveAxis, and the kernel layout with
size-1 dimensions dropped and neighbouring dimensions of the same kind merged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arith.fixedpoint import multiply_by_quantized_multiplier
from ..ir import MicrolithError, Op
from . import OpImpl, register, require_int8, requant_multiplier, where
from .shape import MAX_RANK, const_ints, require_nonempty, shape_nd


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
    kernels = ("ml_mean_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        require_int8(node, g, [x.name, y.name])
        r = reduction(node, g, "sum")
        if r.count >= 1 << 23:  # |sum - count * zp| <= 255 * count must fit int32
            raise MicrolithError(f"{where(node, g)}: summing {r.count} values overflows int32 sums")
        # reduce_common.cc Prepare: the double ratio of the float32 scales.
        ratio = np.float64(x.quant.scale[0]) / np.float64(y.quant.scale[0])
        mult, shift = requant_multiplier(node, g, ratio, "input scale / output scale", x.name)
        return dict(axes=r.axes, count=r.count, input_zero_point=int(x.quant.zero_point[0]),
                    output_zero_point=int(y.quant.zero_point[0]), multiplier=mult, shift=shift,
                    in_shape=list(r.in_shape), reduce_mask=r.reduce_mask, out_shape=list(r.out_shape))

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64)
        total = x.sum(axis=p["axes"]) if p["axes"] else x
        v = multiply_by_quantized_multiplier(total - p["input_zero_point"] * p["count"],
                                             p["multiplier"], p["shift"]) + p["output_zero_point"]
        return [np.clip(v, -128, 127).astype(np.int8).reshape(g.t(node.outputs[0]).shape)]

    def emit(self, node, g, p, ctx):
        params = ctx.struct("ml_mean_params", "params", {
            k: p[k] for k in ("reduce_mask", "input_zero_point", "output_zero_point",
                              "multiplier", "shift")})
        return (f"ml_mean_s8({params}, {shape_nd(ctx, 'in_shape', p['in_shape'])}, "
                f"{ctx.tensor(node.inputs[0])}, {shape_nd(ctx, 'out_shape', p['out_shape'])}, "
                f"{ctx.tensor(node.outputs[0])})")
