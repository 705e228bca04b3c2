"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN on int8 (TFLM pooling.cc, pooling_common.cc,
reduce.cc, reduce_common.cc; reference_integer_ops::AveragePool/MaxPool,
reference_ops::Mean/QuantizedMeanOrSum)."""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Op
from ..arith.fixedpoint import activation_range, multiply_by_quantized_multiplier, quantize_multiplier
from . import MAX_LEFT_SHIFT, OpImpl, register, where
from .reduce import reduction
from .s16 import NP, QRANGE, act_dtype
from .shape import require_nonempty, shape_nd


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def out_size(padding: str, size: int, filt: int, stride: int) -> int:
    """TFLM ComputeOutSize (padding.h), dilation 1."""
    return _c_div(size + stride - 1, stride) if padding == "SAME" else _c_div(size + stride - filt, stride)


def pad_before(size: int, filt: int, stride: int, out: int) -> int:
    """TFLM ComputePaddingWithOffset: the top/left padding; an odd total puts the extra cell
    at the bottom/right."""
    return max(0, (out - 1) * stride + filt - size) // 2


def avgpool_reciprocal(count: int) -> tuple[int, int]:
    """(mult, shift) that turn TFLM's rounded division of a window sum by `count` into a
    multiply, or (0, 0) when none fits (the kernel then divides). The kernel biases each sum a
    in [-128 count, 127 count] to a' = a + 128 count + count // 2 - [a < 0 and count even] >= 0,
    so that (a' * mult) >> shift - 128 is TFLM's (a +- count // 2) / count truncated; that
    identity is checked here for every a, along with a' < 2^15 (SMULWB/SMULWT read a' as a
    signed halfword) and a' * mult < 2^32 (the portable path multiplies in uint32)."""
    a = np.arange(-128 * count, 127 * count + 1, dtype=np.int64)
    half = count // 2
    want = np.where(a > 0, (a + half) // count, -((half - a) // count))  # C truncation
    biased = a + 128 * count + half - ((a < 0) & (count % 2 == 0))
    if biased.min() < 0 or biased.max() >= 1 << 15:
        return 0, 0
    for shift in range(16, 32):
        mult = -(-(1 << shift) // count)
        if mult * int(biased.max()) >= 1 << 32:
            break
        if np.array_equal((biased * mult) >> shift, want + 128):
            return mult, shift
    return 0, 0


def maxpool_tile(p: dict, in_shape, out_shape) -> dict | None:
    """ml_maxpool_tile (ml_maxpool_s8.h) for an int8 max pool whose every window is two cells side
    by side at stride 2, one or two rows, wholly inside the input, over channels in multiples of
    16, with no clamp: the Cortex-M DSP routine's description of the layer, decided here once
    instead of by the kernel's checks on every call (about 90 instructions, issue 11: a 2x2/2
    pool over 16x16x32 inputs at 0.50 instructions per input instead of 0.51). These are the
    conditions ml_maxpool_tile2_all checks at run time; None when any fails (the layer's tile is
    then n = -1, and the kernel skips those checks)."""
    _, h, w, c = in_shape
    _, oh, ow, _ = out_shape
    if not (p["dtype"] == "int8" and p["act_min"] <= -128 and p["act_max"] >= 127
            and p["filter_w"] == 2 and p["stride_w"] == 2 and p["filter_h"] <= 2 and c % 16 == 0
            and p["pad_h"] == 0 and p["pad_w"] == 0 and 2 * ow <= w
            and (oh - 1) * p["stride_h"] + p["filter_h"] <= h):
        return None
    return dict(n=ow, depth=c, dy=w * c, rows=p["filter_h"], in_row=p["stride_h"] * w * c,
                out_row=ow * c, rows_out=oh)


def maxpool_s2w3(p: dict, in_shape, out_shape) -> bool:
    """Whether the Cortex-M DSP kernel runs an int8 max pool through ml_maxpool_dsp_s2w3 (windows
    three cells wide at stride 2 and two or three tall, at most one padding column at each end of
    a row, channels in eights, no clamp): ml_maxpool_s2w3_all's run-time conditions, but for the
    tensors' alignment, which the arena gives. codegen/optimize.py leaves the routine out of a
    model none of whose layers take it."""
    _, h, w, c = in_shape
    _, oh, ow, _ = out_shape
    return (p["dtype"] == "int8" and p["act_min"] <= -128 and p["act_max"] >= 127
            and p["filter_w"] == 3 and p["stride_w"] == 2 and 2 <= p["filter_h"] <= 3 and c % 8 == 0
            and p["pad_w"] <= 1 and 2 * ow - p["pad_w"] <= w and p["pad_h"] < p["filter_h"]
            and (oh - 1) * p["stride_h"] - p["pad_h"] < h)


class _Pool(OpImpl):
    kind = ""
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return (f"ml_{self.kind}_{'s16' if p['dtype'] == 'int16' else 's8'}",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name], int16_zero_point=False)
        require_nonempty(node, g, [x.name, y.name])
        if len(x.shape) != 4 or len(y.shape) != 4:
            raise MicrolithError(f"{where(node, g)}: input {list(x.shape)} and output {list(y.shape)} "
                                 "must be 4-D NHWC")
        a = node.attrs
        n, h, w, c = x.shape
        oh = out_size(a["padding"], h, a["filter_h"], a["stride_h"])
        ow = out_size(a["padding"], w, a["filter_w"], a["stride_w"])
        if (n, oh, ow, c) != tuple(y.shape) or oh < 1 or ow < 1:
            raise MicrolithError(
                f"{where(node, g)}: output '{y.name}' has shape {list(y.shape)}; a {a['filter_h']}x"
                f"{a['filter_w']} {a['padding']} pool with strides {a['stride_h']}x{a['stride_w']} "
                f"over {list(x.shape)} gives {[n, oh, ow, c]}")
        # pooling_common.cc: no requantization, so both sides must share quantization.
        xq, yq = x.quant, y.quant
        if abs(float(xq.scale[0]) - float(yq.scale[0])) > 1e-6 or xq.zero_point[0] != yq.zero_point[0]:
            raise MicrolithError(
                f"{where(node, g)}: input scale {xq.scale[0]:.9g} / zero point {xq.zero_point[0]} "
                f"differ from the output's {yq.scale[0]:.9g} / {yq.zero_point[0]}; TFLM's {dtype} "
                "pooling requires them equal")
        if dtype == "int16" and a["filter_h"] * a["filter_w"] * 32768 >= 1 << 31:
            raise MicrolithError(f"{where(node, g)}: a {a['filter_h']}x{a['filter_w']} window of int16 "
                                 "values can overflow TFLM's int32 sum")
        act_min, act_max = activation_range(a["activation"], yq.scale[0], yq.zero_point[0], *QRANGE[dtype])
        # With one output along an axis its stride never applies; 1 keeps the kernel's
        # stride x row-length products within int32 whatever the model says (TFLM's are int).
        return dict(dtype=dtype, stride_h=a["stride_h"] if oh > 1 else 1, stride_w=a["stride_w"] if ow > 1 else 1,
                    filter_h=a["filter_h"],
                    filter_w=a["filter_w"], pad_h=pad_before(h, a["filter_h"], a["stride_h"], oh),
                    pad_w=pad_before(w, a["filter_w"], a["stride_w"], ow),
                    act_min=act_min, act_max=act_max)

    def _windows(self, p, x, out_shape):
        """Yields (oy, ox, window) with the window clipped to the input, as TFLM clips it."""
        _, h, w, _ = x.shape
        _, oh, ow, _ = out_shape
        for oy in range(oh):
            y0 = oy * p["stride_h"] - p["pad_h"]
            ys, ye = max(0, -y0), min(p["filter_h"], h - y0)
            for ox in range(ow):
                x0 = ox * p["stride_w"] - p["pad_w"]
                xs_, xe = max(0, -x0), min(p["filter_w"], w - x0)
                yield oy, ox, x[:, y0 + ys:y0 + ye, x0 + xs_:x0 + xe, :]

    def emit(self, node, g, p, ctx):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        fields = {k: p[k] for k in ("stride_h", "stride_w", "filter_h", "filter_w", "pad_h", "pad_w",
                                    "act_min", "act_max")}
        if self.kind == "maxpool" and p["dtype"] == "int8":
            tile = maxpool_tile(p, x.shape, y.shape) or {"n": -1}
            fields["tile"] = "{ " + ", ".join(f".{k} = {v}" for k, v in tile.items()) + " }"
        if self.kind == "avgpool":
            div = avgpool_reciprocal(p["filter_h"] * p["filter_w"]) if p["dtype"] == "int8" else (0, 0)
            fields.update(div_mult=div[0], div_shift=div[1])
        params = ctx.struct(f"ml_{self.kind}_params", "params", fields)
        return (f"{self.kernels_for(node, g, p)[0]}({params}, {ctx.dims(x.shape)}, {ctx.tensor(x.name)}, "
                f"{ctx.dims(y.shape)}, {ctx.tensor(y.name)})")


@register
class AveragePool(_Pool):
    op = Op.AVERAGE_POOL_2D
    kind = "avgpool"
    kernels = ("ml_avgpool_s8", "ml_avgpool_s16")

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64)
        y = g.t(node.outputs[0])
        out = np.zeros(y.shape, np.int64)
        for oy, ox, win in self._windows(p, x, y.shape):
            count = win.shape[1] * win.shape[2]
            if count == 0:
                raise MicrolithError(f"{where(node, g)}: a pooling window lies outside the input")
            acc = win.sum(axis=(1, 2))
            # Rounds halves away from zero through C's truncating division.
            out[:, oy, ox, :] = np.where(acc > 0, (acc + count // 2) // count,
                                         -((count // 2 - acc) // count))
        return [np.clip(out, p["act_min"], p["act_max"]).astype(NP[p["dtype"]])]


@register
class MaxPool(_Pool):
    op = Op.MAX_POOL_2D
    kind = "maxpool"
    kernels = ("ml_maxpool_s8", "ml_maxpool_s16")

    def reference(self, node, g, p, xs):
        x = np.asarray(xs[0], np.int64)
        y = g.t(node.outputs[0])
        out = np.full(y.shape, QRANGE[p["dtype"]][0], np.int64)
        for oy, ox, win in self._windows(p, x, y.shape):
            if win.size:
                out[:, oy, ox, :] = win.max(axis=(1, 2))
        return [np.clip(out, p["act_min"], p["act_max"]).astype(NP[p["dtype"]])]


@register
class Mean(OpImpl):
    """int8 MEAN as the TFLM oracle runs it: reference_ops::QuantizedMeanOrSum for every
    axis set (also when input and output share quantization, and also for 4-D axes {1, 2}),
    whose 1/count factor is folded into the requantization multiplier. TFLM folds it on
    every call; here it is done once, with the same integer steps."""
    op = Op.MEAN
    kernels = ("ml_mean_s8", "ml_mean_s16")
    dtypes = ("int8", "int16")
    MAX_RANK = 6  # ML_MAX_RANK; TFLM accepts up to 6 too

    def kernels_for(self, node, g, p):
        return ("ml_mean_s16",) if p["dtype"] == "int16" else ("ml_mean_s8",)

    def prepare(self, node, g):
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        dtype = act_dtype(node, g, [x.name, y.name], int16_zero_point=False)
        require_nonempty(node, g, [x.name, y.name])
        r = reduction(node, g, "mean")  # ops/reduce.py: TFLM's ResolveAxis and the kernel layout
        count = r.count
        if count >= (1 << 23 if dtype == "int8" else 1 << 15):
            raise MicrolithError(f"{where(node, g)}: averaging {count} {dtype} values overflows int32 sums")
        xq, yq = x.quant, y.quant
        # reduce_common.cc Prepare: the double ratio of the float32 scales.
        mult, shift = quantize_multiplier(float(np.float64(xq.scale[0]) / np.float64(yq.scale[0])))
        # QuantizedMeanOrSum: multiplier * 2^s / count with s = floor(log2(count)), s capped
        # so the result keeps 32 bits and the final shift stays >= -31.
        s = max(0, min(count.bit_length() - 1, 32, 31 + shift))
        mult, shift = (mult << s) // count, shift - s
        if shift > MAX_LEFT_SHIFT:  # MultiplyByQuantizedMultiplier cannot shift that far
            raise MicrolithError(f"{where(node, g)}: input scale / output scale of tensor '{x.name}' is "
                                 f"{float(xq.scale[0]) / float(yq.scale[0]):.6g}; averaging {count} values "
                                 f"needs a left shift of {shift} bits, TFLM's requantization shifts by at "
                                 f"most {MAX_LEFT_SHIFT}. Check the quantization scales")
        return dict(dtype=dtype, axes=r.axes, count=count,
                    input_zero_point=xq.zero_point[0], output_zero_point=yq.zero_point[0],
                    multiplier=int(mult), shift=int(shift), in_shape=list(r.in_shape),
                    reduce_mask=r.reduce_mask, out_shape=list(r.out_shape))

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
