"""TRANSPOSE_CONV and BATCH_MATMUL, int8 and 16x8 (int16 activations; int8 weights).

TRANSPOSE_CONV follows TFLM's transpose_conv.cc with reference_integer_ops::TransposeConv:
inputs are (output shape, weights [C_OUT, KH, KW, C_IN], input, optional bias). TFLM never
reads the output-shape tensor: the output tensor's static shape decides, and the padding is
ComputePaddingHeightWidth run on the OUTPUT's height and width (a transposed convolution is
the gradient of the convolution that maps the output back onto the input). Each input pixel
scatters (input + input_offset) * weight into an accumulator per output element; then bias,
the per-channel requantization of PopulateConvolutionQuantizationParams, offset and clamp.
The int8 accumulator is int32 and wraps like TFLM's; the 16x8 kernel accumulates in int64,
ignores the zero points (the int16 spec makes them 0, we refuse others), widens an int16 bias
to int64 as TFLM's Eval does, and requantizes with the int64 MultiplyByQuantizedMultiplier.

Our C kernels gather instead of scatter: each output pixel sums the taps that reach it. Integer
sums are the same modulo 2^32 (int8) or exactly (int16, |sum| < 2^47 checked here) in any
order, so the results are TFLM's, with scratch for one int32 (int64) sum per output channel
where TFLM's holds one per output element. The numpy reference keeps TFLM's scatter, so the
two check each other.

BATCH_MATMUL follows batch_matmul.cc with reference_ops::BatchMatMul<int8_t, int32_t> (int16:
<int16_t, int64_t>, zero points 0, the int64 requantization):
out[..., i, j] = requantize(sum_k (lhs[..., i, k] - lhs_zp) * (rhs[..., k, j] - rhs_zp)),
adj_x / adj_y transposing the last two dimensions of lhs / rhs, numpy broadcasting over the
batch dimensions (ranks 2 to 5), per-tensor scales, one multiplier in double from the float
scales, no fused activation. TFLM transposes a non-adjoint rhs into row-per-column form before
multiplying (once when it is constant); we do that at compile time for a constant operand, and
the int8 kernel does it in K x N bytes of scratch for an activation (the 16x8 kernel, and an
adjoint lhs, read with strides: the sum is the same in any order).
"""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Op
from ..arith.fixedpoint import activation_range, multiply_by_quantized_multiplier, wrap32
from . import OpImpl, register, require_int8, requant_multiplier, where
from .shape import shape_nd

INT16_MAX = (1 << 15) - 1
# TFLM's int64 MultiplyByQuantizedMultiplier assumes |x| < 2^47 and shift < 8 (its DCHECKs):
# beyond them its product or its rounding shift overflows.
S64_ACC_LIMIT = 1 << 47
S64_MAX_SHIFT = 7


def _f64(scale) -> np.float64:
    """TFLM keeps scales as float and widens each to double before multiplying and dividing."""
    return np.float64(np.float32(scale))


def _require_int16_zero_zp(node, g, names) -> None:
    """TFLM's 16x8 kernels take int16 activations with per-tensor scales and zero point 0."""
    for name in names:
        t = g.t(name)
        if t.dtype != "int16" or t.quant is None or t.quant.per_axis or t.quant.zero_point[0] != 0:
            got = t.dtype if t.quant is None or t.quant.per_axis else f"{t.dtype} with zero point " \
                f"{t.quant.zero_point[0]}"
            raise MicrolithError(f"{where(node, g)}: tensor '{name}' is {got}; TFLM's 16x8 kernels need int16 "
                                 "activations with per-tensor quantization and zero point 0")


# -- TRANSPOSE_CONV -------------------------------------------------------------------------

def _tconv_padding(node, g, padding: str, out_size: int, k: int, stride: int, axis: str) -> int:
    """padding.h ComputePaddingHeightWidth on the output size (dilation 1), as TFLM calls it."""
    if padding == "SAME":
        conv_out = (out_size + stride - 1) // stride
    else:
        if out_size < k:
            # TFLM's ComputeOutSize fails here and older trees compute a different padding from a
            # negative size: no converter writes this (VALID gives (in - 1) * stride + filter).
            raise MicrolithError(f"{where(node, g)}: output {axis} {out_size} is smaller than the filter "
                                 f"{axis} {k}, which VALID padding cannot produce")
        conv_out = (out_size + stride - k) // stride
    pad = max((conv_out - 1) * stride + k - out_size, 0) // 2
    if pad > INT16_MAX:
        raise MicrolithError(f"{where(node, g)}: the {axis} padding {pad} exceeds TFLM's int16 padding values")
    return pad


def scatter_range(size: int, stride: int, offset: int, out: int) -> tuple[int, int, slice] | None:
    """Input positions [lo, hi) whose tap lands on output i * stride + offset inside [0, out), and
    the output slice they land on; None when there are none."""
    lo = max(0, -(offset // stride))  # smallest i with i * stride + offset >= 0
    hi = min(size, (out - 1 - offset) // stride + 1) if out - 1 - offset >= 0 else 0
    if hi <= lo:
        return None
    return lo, hi, slice(lo * stride + offset, (hi - 1) * stride + offset + 1, stride)


def _tconv_bias(node, g):
    return g.t(node.inputs[3]) if len(node.inputs) > 3 and node.inputs[3] else None


def _tconv_check_output_shape(node, g, y) -> None:
    """TFLM sizes the output from the output tensor and never reads input 0. A constant output
    shape that disagrees makes the model ambiguous (LiteRT would follow input 0), so refuse it;
    a runtime one (seanet's models feed it as a graph input) is ignored, as TFLM ignores it."""
    s = g.t(node.inputs[0])
    if s.dtype != "int32" or s.size != 4:
        raise MicrolithError(f"{where(node, g)}: output shape '{s.name}' must be 4 int32 values "
                             f"(got {s.dtype} {list(s.shape)})")
    if s.is_const and [int(v) for v in s.data.reshape(-1)] != list(y.shape):
        raise MicrolithError(f"{where(node, g)}: output shape '{s.name}' holds "
                             f"{[int(v) for v in s.data.reshape(-1)]} but output '{y.name}' has shape "
                             f"{list(y.shape)}; they must agree")


def _tconv_check_tensors(node, g):
    here = where(node, g)
    if len(node.inputs) < 3 or any(n is None for n in node.inputs[:3]):
        raise MicrolithError(f"{here}: needs an output shape, weights and an input (got inputs "
                             f"{list(node.inputs)})")
    w, x, y, bias = g.t(node.inputs[1]), g.t(node.inputs[2]), g.t(node.outputs[0]), _tconv_bias(node, g)
    if x.dtype == "int16":  # TFLM's kernel ignores the zero points: refuse any but 0
        _require_int16_zero_zp(node, g, [x.name, y.name])
    else:
        require_int8(node, g, [x.name, y.name])
    if w.dtype != "int8" or w.quant is None or not w.is_const or len(w.shape) != 4:
        got = f"{'constant' if w.is_const else 'non-constant'} {w.dtype} {list(w.shape)}" + \
            ("" if w.quant is not None else " without quantization")
        raise MicrolithError(f"{here}: weights '{w.name}' must be constant 4-D int8 with quantization "
                             f"(got {got})")
    for t in (x, y):
        if len(t.shape) != 4:
            raise MicrolithError(f"{here}: tensor '{t.name}' must be 4-D NHWC (got {list(t.shape)})")
    out_c, _, _, in_c = w.shape
    if x.shape[0] != y.shape[0] or x.shape[3] != in_c or y.shape[3] != out_c:
        raise MicrolithError(f"{here}: input {list(x.shape)}, weights {list(w.shape)} [C_OUT, KH, KW, C_IN] "
                             f"and output {list(y.shape)} do not fit together (batches, input channels "
                             "and output channels must match)")
    n_scale = len(w.quant.scale)
    if n_scale not in (1, out_c) or (n_scale > 1 and w.quant.axis != 0):
        raise MicrolithError(f"{here}: weights '{w.name}' have {n_scale} scales along axis {w.quant.axis}; "
                             f"they need 1 or {out_c} along axis 0")
    want_bias = ("int32",) if x.dtype == "int8" else ("int64", "int16")
    if bias is not None and (bias.dtype not in want_bias or bias.size != out_c or not bias.is_const):
        raise MicrolithError(f"{here}: bias '{bias.name}' must be constant {' or '.join(want_bias)} of "
                             f"{out_c} values for {x.dtype} activations (got "
                             f"{'constant' if bias.is_const else 'non-constant'} {bias.dtype} {list(bias.shape)})")
    _tconv_check_output_shape(node, g, y)
    return x, w, y, bias


@register
class TransposeConv(OpImpl):
    op = Op.TRANSPOSE_CONV
    kernels = ("ml_transpose_conv_s8", "ml_transpose_conv_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return ("ml_transpose_conv_s16",) if p["wide"] else ("ml_transpose_conv_s8",)

    def prepare(self, node, g):
        here = where(node, g)
        a = node.attrs
        if a["padding"] not in ("SAME", "VALID"):
            raise MicrolithError(f"{here}: padding {a['padding']!r} is neither SAME nor VALID")
        for key in ("stride_h", "stride_w"):
            if not 1 <= a[key] <= INT16_MAX:  # TFLM's ConvParams hold strides in int16
                raise MicrolithError(f"{here}: {key}={a[key]}; it must be in [1, {INT16_MAX}]")
        x, w, y, bias = _tconv_check_tensors(node, g)
        wide = x.dtype == "int16"
        out_c, k_h, k_w, _ = w.shape
        pad_h = _tconv_padding(node, g, a["padding"], y.shape[1], k_h, a["stride_h"], "height")
        pad_w = _tconv_padding(node, g, a["padding"], y.shape[2], k_w, a["stride_w"], "width")

        in_scale, out_scale = _f64(x.quant.scale[0]), _f64(y.quant.scale[0])
        scales = w.quant.scale if len(w.quant.scale) > 1 else w.quant.scale * out_c
        max_shift = S64_MAX_SHIFT if wide else 30
        mult_shift = [requant_multiplier(node, g, float(in_scale * _f64(s) / out_scale),
                                         f"input scale x weight scale / output scale of channel {c}",
                                         w.name, max_shift)
                      for c, s in enumerate(scales)]
        zo = int(y.quant.zero_point[0])
        qmin, qmax = (-32768, 32767) if wide else (-128, 127)
        act_min, act_max = activation_range(a["activation"], float(np.float32(y.quant.scale[0])), zo,
                                            qmin, qmax)
        p = dict(wide=int(wide), stride_h=a["stride_h"], stride_w=a["stride_w"], pad_h=pad_h, pad_w=pad_w,
                 input_offset=-int(x.quant.zero_point[0]), output_offset=zo, act_min=act_min,
                 act_max=act_max, multiplier=np.array([m for m, _ in mult_shift], np.int32),
                 shift=np.array([s for _, s in mult_shift], np.int32))
        if wide:
            # Every output sums at most all KH * KW * C_IN products of one channel's weights.
            per_out = np.abs(w.data.astype(np.int64)).reshape(out_c, -1).sum(axis=1) * 32768
            if bias is not None:
                per_out = per_out + np.abs(bias.data.astype(np.int64))
            if int(per_out.max(initial=0)) >= S64_ACC_LIMIT:
                raise MicrolithError(f"{here}: weights '{w.name}' and the bias can make an accumulator reach "
                                     f"{int(per_out.max())}; TFLM's 16x8 requantization assumes less than 2^47")
        return p

    def scratch_bytes(self, node, g, p):
        """ML_TRANSPOSE_CONV_S{8,16}_SCRATCH_BYTES: one int32 (int64) sum per output channel of
        the pixel being computed, where TFLM holds one per output element."""
        return g.t(node.outputs[0]).shape[3] * (8 if p["wide"] else 4)

    def reference(self, node, g, p, xs):
        """TFLM's scatter: input pixel (iy, ix) adds its products to output rows iy * stride - pad + ky."""
        y = g.t(node.outputs[0])
        w = g.t(node.inputs[1]).data.astype(np.int64)
        x = np.asarray(xs[2], dtype=np.int64)
        if not p["wide"]:
            x = x + p["input_offset"]
        _, in_h, in_w, _ = x.shape
        _, k_h, k_w, _ = w.shape
        n, out_h, out_w, out_c = y.shape
        acc = np.zeros((n, out_h, out_w, out_c), np.int64)
        for ky in range(k_h):
            rows = scatter_range(in_h, p["stride_h"], ky - p["pad_h"], out_h)
            for kx in range(k_w):
                cols = scatter_range(in_w, p["stride_w"], kx - p["pad_w"], out_w)
                if rows is None or cols is None:
                    continue  # this tap lands outside the output for every input pixel
                (i0, i1, o_rows), (j0, j1, o_cols) = rows, cols
                # |products| < 2^23 and their count < 2^30: int64 sums are exact.
                acc[:, o_rows, o_cols, :] += x[:, i0:i1, j0:j1, :] @ w[:, ky, kx, :].T
        bias = _tconv_bias(node, g)
        if p["wide"]:
            if bias is not None:
                acc = acc + bias.data.astype(np.int64)
            out = _requantize_s64(acc, p["multiplier"], p["shift"])
            return [np.clip(out, p["act_min"], p["act_max"]).astype(np.int16)]
        acc = wrap32(acc)  # TFLM's int32 scratch wraps
        if bias is not None:
            acc = wrap32(acc + bias.data.astype(np.int64))
        out = multiply_by_quantized_multiplier(acc, p["multiplier"], p["shift"]) + p["output_offset"]
        return [np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)]

    def emit(self, node, g, p, ctx):
        quant = ctx.struct("ml_per_channel_quant", "quant", dict(
            multiplier=ctx.const("multiplier", p["multiplier"]), shift=ctx.const("shift", p["shift"])))
        geometry = {k: p[k] for k in ("stride_h", "stride_w", "pad_h", "pad_w")}
        bias = _tconv_bias(node, g)
        w, x, y = node.inputs[1], node.inputs[2], node.outputs[0]
        if p["wide"]:
            params = ctx.struct("ml_transpose_conv_s16_params", "params",
                                dict(geometry, act_min=p["act_min"], act_max=p["act_max"]))
            # TFLM widens an int16 bias to int64 in Eval; we do it once here.
            bias_c = "NULL" if bias is None else (
                ctx.tensor(bias.name) if bias.dtype == "int64" else ctx.const("bias64", bias.data.astype(np.int64)))
            kernel = "ml_transpose_conv_s16"
        else:
            params = ctx.struct("ml_transpose_conv_params", "params", dict(
                geometry, input_offset=p["input_offset"], output_offset=p["output_offset"],
                act_min=p["act_min"], act_max=p["act_max"]))
            bias_c = "NULL" if bias is None else ctx.tensor(bias.name)
            kernel = "ml_transpose_conv_s8"
        return (f"{kernel}({params}, {quant}, {ctx.scratch()}, "
                f"{ctx.dims(g.t(x).shape)}, {ctx.tensor(x)}, "
                f"{ctx.dims(g.t(w).shape)}, {ctx.tensor(w)}, {bias_c}, "
                f"{ctx.dims(g.t(y).shape)}, {ctx.tensor(y)})")


def _requantize_s64(x, multiplier, shift) -> np.ndarray:
    """TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...): the multiplier rounded to 16 bits,
    one rounding shift, and the int64 result narrowed to int32 (it wraps)."""
    x = np.asarray(x, dtype=np.int64)
    m = np.asarray(multiplier, dtype=np.int64)
    reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - np.asarray(shift, dtype=np.int64)
    return wrap32((x * reduced + (np.int64(1) << (total - 1))) >> total)


# -- BATCH_MATMUL ---------------------------------------------------------------------------

def _swap_last(shape) -> tuple:
    return tuple(shape[:-2]) + (shape[-1], shape[-2])


@register
class BatchMatMul(OpImpl):
    op = Op.BATCH_MATMUL
    kernels = ("ml_batch_matmul_s8", "ml_batch_matmul_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return ("ml_batch_matmul_s16",) if p["wide"] else ("ml_batch_matmul_s8",)

    def prepare(self, node, g):
        here = where(node, g)
        if len(node.inputs) != 2 or any(n is None for n in node.inputs):
            raise MicrolithError(f"{here}: needs two inputs (got {list(node.inputs)})")
        lhs, rhs, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        wide = lhs.dtype == "int16"
        if wide:
            _require_int16_zero_zp(node, g, [lhs.name, rhs.name, y.name])
        else:
            require_int8(node, g, [lhs.name, rhs.name, y.name])
        for t in (lhs, rhs):
            if not 2 <= len(t.shape) <= 5:
                raise MicrolithError(f"{here}: tensor '{t.name}' has rank {len(t.shape)}; TFLM's BATCH_MATMUL "
                                     "takes ranks 2 to 5")
        adj_x, adj_y = bool(node.attrs["adj_x"]), bool(node.attrs["adj_y"])
        rank = max(len(lhs.shape), len(rhs.shape))
        ls = (1,) * (rank - len(lhs.shape)) + tuple(int(d) for d in lhs.shape)
        rs = (1,) * (rank - len(rhs.shape)) + tuple(int(d) for d in rhs.shape)
        batch = []
        for a_, b_ in zip(ls[:-2], rs[:-2]):
            if a_ != b_ and 1 not in (a_, b_):
                raise MicrolithError(f"{here}: the batch dimensions of {list(lhs.shape)} and {list(rhs.shape)} "
                                     "do not broadcast")
            batch.append(max(a_, b_) if min(a_, b_) else 0)
        rows, depth = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
        depth_r, cols = (rs[-1], rs[-2]) if adj_y else (rs[-2], rs[-1])
        if depth != depth_r:
            raise MicrolithError(f"{here}: lhs {list(lhs.shape)} (adj_x={adj_x}) and rhs {list(rhs.shape)} "
                                 f"(adj_y={adj_y}) do not multiply: {depth} vs {depth_r} accumulated values")
        want = tuple(batch) + (rows, cols)
        if tuple(y.shape) != want:
            raise MicrolithError(f"{here}: output '{y.name}' has shape {list(y.shape)}; the product is "
                                 f"{list(want)}")
        if wide and depth * (1 << 30) >= S64_ACC_LIMIT:
            raise MicrolithError(f"{here}: {depth} int16 products can sum past 2^47, which TFLM's 16x8 "
                                 "requantization assumes they do not")
        mult, shift = requant_multiplier(node, g, float(_f64(lhs.quant.scale[0]) * _f64(rhs.quant.scale[0])
                                                        / _f64(y.quant.scale[0])),
                                         "lhs scale x rhs scale / output scale", rhs.name,
                                         S64_MAX_SHIFT if wide else 30)
        return dict(wide=int(wide), lhs_shape=ls, rhs_shape=rs, out_shape=want, adj_x=int(adj_x),
                    adj_y=int(adj_y), lhs_offset=-int(lhs.quant.zero_point[0]),
                    rhs_offset=-int(rhs.quant.zero_point[0]), output_offset=int(y.quant.zero_point[0]),
                    multiplier=mult, shift=shift)

    def scratch_bytes(self, node, g, p):
        """ML_BATCH_MATMUL_S8_SCRATCH_BYTES: one rhs matrix, transposed, when rhs is an activation
        read column by column (adj_y = 0); a constant rhs is transposed at compile time."""
        if p["wide"] or p["adj_y"] or g.t(node.inputs[1]).is_const:
            return 0
        rs = p["rhs_shape"]
        return rs[-2] * rs[-1]

    def reference(self, node, g, p, xs):
        a = np.asarray(xs[0], dtype=np.int64).reshape(p["lhs_shape"]) + p["lhs_offset"]
        b = np.asarray(xs[1], dtype=np.int64).reshape(p["rhs_shape"]) + p["rhs_offset"]
        if p["adj_x"]:
            a = np.swapaxes(a, -1, -2)
        if p["adj_y"]:
            b = np.swapaxes(b, -1, -2)
        acc = np.matmul(a, b)  # int64, exact: |sum| < 2^47 (16x8, checked) or K * 255^2 (int8)
        shape = g.t(node.outputs[0]).shape
        if p["wide"]:
            out = _requantize_s64(acc, p["multiplier"], p["shift"])
            return [np.clip(out, -32768, 32767).astype(np.int16).reshape(shape)]
        acc = wrap32(acc)  # TFLM's int32 accumulator wraps
        out = multiply_by_quantized_multiplier(acc, p["multiplier"], p["shift"]) + p["output_offset"]
        return [np.clip(out, -128, 127).astype(np.int8).reshape(shape)]

    def emit(self, node, g, p, ctx):
        adj = dict(adj_x=p["adj_x"], adj_y=p["adj_y"])
        operands = []
        # A constant operand is stored the way the inner loop reads it contiguously (lhs one row
        # per output row, rhs one row per output column), as TFLM transposes a constant rhs once.
        for name, shape, key, hint, contiguous in ((node.inputs[0], p["lhs_shape"], "adj_x", "lhs", 0),
                                                   (node.inputs[1], p["rhs_shape"], "adj_y", "rhs", 1)):
            t = g.t(name)
            if t.is_const and adj[key] != contiguous:
                data = np.swapaxes(t.data.reshape(shape), -1, -2)
                operands.append((_swap_last(shape), ctx.const(f"{hint}_t", np.ascontiguousarray(data))))
                adj[key] = contiguous
            else:
                operands.append((shape, ctx.tensor(name)))
        if p["wide"]:
            kernel = "ml_batch_matmul_s16"
            params = ctx.struct("ml_batch_matmul_s16_params", "params", dict(
                multiplier=p["multiplier"], shift=p["shift"], **adj))
            scratch = ""
        else:
            kernel = "ml_batch_matmul_s8"
            params = ctx.struct("ml_batch_matmul_params", "params", dict(
                lhs_offset=p["lhs_offset"], rhs_offset=p["rhs_offset"], output_offset=p["output_offset"],
                multiplier=p["multiplier"], shift=p["shift"], **adj))
            scratch = f"{ctx.scratch() if self.scratch_bytes(node, g, p) else 'NULL'}, "
        (ls, lhs), (rs, rhs) = operands
        return (f"{kernel}({params}, {scratch}{shape_nd(ctx, 'lhs_shape', ls)}, {lhs}, "
                f"{shape_nd(ctx, 'rhs_shape', rs)}, {rhs}, "
                f"{shape_nd(ctx, 'out_shape', p['out_shape'])}, {ctx.tensor(node.outputs[0])})")
