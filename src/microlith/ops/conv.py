"""CONV_2D and DEPTHWISE_CONV_2D, int8 x int8 -> int8 with int32 bias and per-channel weights.

TFLM's reference_integer_ops::ConvPerChannel and DepthwiseConvPerChannel, prepared the way
conv_common.cc / depthwise_conv_common.cc do: output size and padding from padding.h
(ComputePaddingHeightWidth), multipliers from PopulateConvolutionQuantizationParams (the
effective scale input * filter / output in double, one per output channel; per-tensor weights
repeat their one scale). As in TFLM, the int8 kernels ignore the weights' zero point.
int16 activations (TFLite's 16x8 mode, int64 bias) run TFLM's int16 ConvPerChannel /
DepthwiseConvPerChannel: the same preparation, another accumulator and requantization (s16.py).
"""
from __future__ import annotations

import numpy as np

from ..ir import MicrolithError, Op
from ..arith.fixedpoint import activation_range, multiply_by_quantized_multiplier, wrap32
from . import OpImpl, register, requant_multiplier, where
from .s16 import NP, QRANGE, acc_mode, act_dtype, check_acc64, requantize_acc


def _out_size(padding: str, size: int, taps: int, stride: int, dilation: int) -> int:
    """padding.h ComputeOutSize (TensorFlow's GetWindowedOutputSize)."""
    effective = (taps - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - effective) // stride


def _pad_before(stride: int, dilation: int, size: int, taps: int, out: int) -> int:
    """padding.h ComputePaddingWithOffset: the smaller half of the total padding goes first."""
    effective = (taps - 1) * dilation + 1
    return max((out - 1) * stride + effective - size, 0) // 2


def _bias(node, g):
    return g.t(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None


def _prepare(node, g, depthwise: bool) -> dict:
    """The checks and integer parameters both ops share (TFLM's CalculateOpData*)."""
    here = where(node, g)
    a = node.attrs
    if len(node.inputs) < 2 or node.inputs[0] is None or node.inputs[1] is None:
        raise MicrolithError(f"{here}: needs an input and a filter (got inputs {list(node.inputs)})")
    if a["padding"] not in ("SAME", "VALID"):
        raise MicrolithError(f"{here}: padding {a['padding']!r} is neither SAME nor VALID")
    positive = ("stride_h", "stride_w", "dilation_h", "dilation_w") + (("depth_multiplier",) * depthwise)
    for key in positive:
        if a[key] < 1:
            raise MicrolithError(f"{here}: {key}={a[key]}; it must be >= 1")
    x, w, y, bias = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0]), _bias(node, g)
    dtype = act_dtype(node, g, [x.name, y.name])
    if w.dtype != "int8" or w.quant is None or not w.is_const or len(w.shape) != 4:
        got = f"{'constant' if w.is_const else 'non-constant'} {w.dtype} {list(w.shape)}" + \
            ("" if w.quant is not None else " without quantization")
        raise MicrolithError(f"{here}: filter '{w.name}' must be constant 4-D int8 with quantization "
                             f"(got {got})")
    for t in (x, y):
        if len(t.shape) != 4:
            raise MicrolithError(f"{here}: tensor '{t.name}' must be 4-D NHWC (got {list(t.shape)})")
    for t in (x, w, y):  # an empty dimension leaves nothing to convolve (and divides by zero below)
        if any(int(d) < 1 for d in t.shape):
            raise MicrolithError(f"{here}: tensor '{t.name}' has shape {list(t.shape)}; every dimension "
                                 "must be at least 1")
    batches, in_h, in_w, in_c = x.shape
    _, k_h, k_w, _ = w.shape
    if depthwise:
        out_c = w.shape[3]
        mult = a["depth_multiplier"]
        if w.shape[0] != 1:
            raise MicrolithError(f"{here}: filter '{w.name}' must have shape [1, KH, KW, C_OUT] "
                                 f"(got {list(w.shape)})")
        if out_c != in_c * mult:
            raise MicrolithError(f"{here}: filter '{w.name}' has {out_c} output channels, expected "
                                 f"input channels {in_c} x depth_multiplier {mult}")
        quant_axis = 3
    else:
        out_c, group_c = w.shape[0], w.shape[3]
        if group_c < 1 or in_c % group_c or out_c % (in_c // group_c):
            raise MicrolithError(f"{here}: input '{x.name}' has {in_c} channels but filter '{w.name}' "
                                 f"{list(w.shape)} expects {group_c}; grouped convolution needs the "
                                 f"input channels and the {out_c} output channels to be multiples of "
                                 "the group count")
        quant_axis = 0
    n_scale = len(w.quant.scale)
    if n_scale not in (1, out_c) or (n_scale > 1 and w.quant.axis != quant_axis):
        raise MicrolithError(f"{here}: filter '{w.name}' has {n_scale} scales along axis "
                             f"{w.quant.axis}; it needs 1 or {out_c} along axis {quant_axis}")
    # TFLM's int16 depthwise convolution reads the bias as int64 only.
    acc32 = acc_mode(node, g, bias, dtype, out_c, allow_int32=not depthwise)

    strides, dilations = (a["stride_h"], a["stride_w"]), (a["dilation_h"], a["dilation_w"])
    out_hw = tuple(_out_size(a["padding"], n, k, s, d)
                   for n, k, s, d in zip((in_h, in_w), (k_h, k_w), strides, dilations))
    if min(out_hw) < 1 or y.shape != (batches, *out_hw, out_c):
        raise MicrolithError(f"{here}: output '{y.name}' has shape {list(y.shape)}, but {a['padding']} "
                             f"padding with this filter, stride and dilation gives "
                             f"{[batches, *out_hw, out_c]}")
    pad_h, pad_w = (_pad_before(s, d, n, k, o) for s, d, n, k, o in
                    zip(strides, dilations, (in_h, in_w), (k_h, k_w), out_hw))

    # TFLM keeps scales as float and widens each to double before the product and quotient.
    in_scale, out_scale = (np.float64(np.float32(t.quant.scale[0])) for t in (x, y))
    scales = w.quant.scale if n_scale > 1 else w.quant.scale * out_c
    mult_shift = [requant_multiplier(node, g, float(in_scale * np.float64(np.float32(s)) / out_scale),
                                     f"input scale x filter scale / output scale of channel {c}",
                                     w.name)
                  for c, s in enumerate(scales)]
    act_min, act_max = activation_range(a["activation"], float(np.float32(y.quant.scale[0])),
                                        y.quant.zero_point[0], *QRANGE[dtype])
    # A bound on every channel's accumulator (bias plus products) over all inputs: below 2^30
    # the DSP paths requantize without a range check (ml_nn_dsp.h, ml_dsp_requantize).
    lo, hi = QRANGE[dtype]
    widest = max(abs(lo - x.quant.zero_point[0]), abs(hi - x.quant.zero_point[0]))
    w_abs = np.abs(w.data.astype(np.int64))
    per_out = w_abs.reshape(-1, out_c).sum(axis=0) if depthwise else w_abs.reshape(out_c, -1).sum(axis=1)
    bound = per_out * widest + (np.abs(bias.data.astype(np.int64)) if bias is not None else 0)
    if not acc32:
        check_acc64(node, g, bound, [s for _, s in mult_shift], "accumulator")
    return dict(dtype=dtype, acc32=acc32, stride_h=strides[0], stride_w=strides[1], dilation_h=dilations[0],
                dilation_w=dilations[1], pad_h=pad_h, pad_w=pad_w,
                acc_bounded=int(bound.max(initial=0) < (1 << 30)),
                input_offset=-x.quant.zero_point[0], output_offset=y.quant.zero_point[0],
                act_min=act_min, act_max=act_max,
                multiplier=np.array([m for m, _ in mult_shift], np.int32),
                shift=np.array([s for _, s in mult_shift], np.int32))


def conv_record_kinds(node, g, p) -> set[str]:
    """The kinds of requantization record the DSP routines build for this int8 convolution's
    channels (ml_conv_dsp_records, ml_conv2d_s8.c, by the same rules): "fast" (n = -shift in
    [1, 22], multiplier >= 0, |bias| inside the room the accumulator bound leaves; a zero
    multiplier counts as bias 0, n = 1), "wide" (n in [2, 31]) or "general" (the rest: left
    shifts). A build whose convolutions take no wide or no general channel leaves that path out
    (codegen/optimize.py)."""
    _, k_h, k_w, _ = g.t(node.inputs[1]).shape
    k = k_h * k_w * g.t(node.inputs[0]).shape[3]   # the kernel's K: all input channels
    worst = k * 128 * 255 if k < 32896 else 1 << 30
    room = 1 << 30 if p["acc_bounded"] else (1 << 30) - worst
    bias = _bias(node, g)
    kinds = set()
    for oc, (m, shift) in enumerate(zip(p["multiplier"].tolist(), p["shift"].tolist())):
        b = int(bias.data[oc]) if bias is not None else 0
        n = -shift
        if m == 0:   # a dead channel: its output is the offset, through the fast record
            b, n = 0, 1
        if -room < b < room and m >= 0 and 1 <= n <= 22:
            kinds.add("fast")
        elif m >= 0 and 2 <= n <= 31:
            kinds.add("wide")
        else:
            kinds.add("general")
    return kinds


def _tap_range(out: int, stride: int, offset: int, size: int) -> tuple[int, int]:
    """Outputs o in [lo, hi) whose tap reads input o * stride + offset inside [0, size)."""
    lo = (-offset + stride - 1) // stride if offset < 0 else 0
    hi = min(out, (size - 1 - offset) // stride + 1) if size - 1 - offset >= 0 else 0
    return lo, max(lo, hi)


def _windows(x: np.ndarray, p: dict, k_h: int, k_w: int, out_h: int, out_w: int):
    """Yield (ky, kx, the input under tap (ky, kx) of every output pixel, 0 in the padding) for
    every tap that reads the input at all; taps wholly in the padding add nothing and are left
    out, so a window far larger than the input (a huge dilation) costs no memory.

    `x` already has the input offset added, so a zero here is exactly a tap TFLM skips.
    """
    sh, sw, dh, dw = p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"]
    n, in_h, in_w, c = x.shape
    for ky in range(k_h):
        y_off = ky * dh - p["pad_h"]
        y0, y1 = _tap_range(out_h, sh, y_off, in_h)
        if y0 == y1:
            continue
        for kx in range(k_w):
            x_off = kx * dw - p["pad_w"]
            x0, x1 = _tap_range(out_w, sw, x_off, in_w)
            if x0 == x1:
                continue
            win = np.zeros((n, out_h, out_w, c), x.dtype)
            win[:, y0:y1, x0:x1, :] = x[:, y0 * sh + y_off: (y1 - 1) * sh + y_off + 1: sh,
                                          x0 * sw + x_off: (x1 - 1) * sw + x_off + 1: sw, :]
            yield ky, kx, win


def _requantize(acc: np.ndarray, node, g, p: dict) -> np.ndarray:
    """Bias, requantization, offset and clamp, with the int32 wrap-around of TFLM's accumulator."""
    bias = _bias(node, g)
    if bias is not None:
        acc = acc + bias.data.astype(np.int64)
    if p["dtype"] == "int16":  # TFLM's int16 kernels add no output offset (it is 0)
        acc = requantize_acc(acc, p["acc32"], p["multiplier"], p["shift"])
    else:
        acc = multiply_by_quantized_multiplier(wrap32(acc), p["multiplier"], p["shift"]) + p["output_offset"]
    return np.clip(acc, p["act_min"], p["act_max"]).astype(NP[p["dtype"]])


def pair_filter_layout(w: np.ndarray) -> np.ndarray:
    """The filter [C_OUT][KH][KW][C_IN] (C_OUT even) as the two-channel routine over int8 weights
    reads it (ML_CONV2D_S8_PAIRED8, ml_conv2d_s8.h): per channel pair and block of 4 values,
    channel 0's 4 weights then channel 1's, each channel padded with zeros to whole blocks."""
    out_c = w.shape[0]
    flat = np.asarray(w, dtype=np.int8).reshape(out_c, -1)
    blocks = -(-flat.shape[1] // 4)
    padded = np.zeros((out_c, 4 * blocks), dtype=np.int8)
    padded[:, :flat.shape[1]] = flat
    return padded.reshape(out_c // 2, 2, blocks, 4).transpose(0, 2, 1, 3).reshape(-1).copy()


def _emit(kernel: str, ctype: str, fields: dict, node, g, p: dict, ctx, scratch: str | None = None,
          m0_fold: bool = False, filter_ref: str | None = None) -> str:
    params = ctx.struct(ctype, "params", fields)
    quant = ctx.struct("ml_per_channel_quant", "quant", dict(
        multiplier=ctx.const("multiplier", p["multiplier"]), shift=ctx.const("shift", p["shift"])))
    bias = _bias(node, g)
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    if m0_fold:  # --- cortex-m0: bias + input_offset * sum(w), ML_CONV_M0_BIAS (ml_conv2d_s8.h)
        wt = g.t(w).data.astype(np.int64)
        folded = wt.reshape(wt.shape[0], -1).sum(axis=1) * p["input_offset"]
        if bias is not None:
            folded = folded + bias.data.astype(np.int64)
        plain = ctx.tensor(bias.name) if bias is not None else "NULL"
        bias_ref = f"ML_CONV_M0_BIAS({plain}, {ctx.const('m0_bias', wrap32(folded).astype(np.int32), layout='M0')})"
    elif bias is None:
        bias_ref = "NULL"
    elif p["dtype"] == "int16" and bias.dtype != "int64":  # the s16 kernels read int64: widen
        bias_ref = ctx.const("bias64", bias.data.astype(np.int64))
    else:
        bias_ref = ctx.tensor(bias.name)
    extra = f"{scratch}, " if scratch is not None else ""
    return (f"{kernel}({params}, {quant}, {extra}"
            f"{ctx.dims(g.t(x).shape)}, {ctx.tensor(x)}, "
            f"{ctx.dims(g.t(w).shape)}, {filter_ref or ctx.tensor(w)}, {bias_ref}, "
            f"{ctx.dims(g.t(y).shape)}, {ctx.tensor(y)})")


CONV2D_PIXELS = 6  # ML_CONV2D_S8_PIXELS in ml_conv2d_s8.h
_GEOMETRY = ("stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")
_QUANT = ("input_offset", "output_offset", "act_min", "act_max", "acc_bounded")
_QUANT_S16 = ("act_min", "act_max")


@register
class Conv2D(OpImpl):
    op = Op.CONV_2D
    kernels = ("ml_conv2d_s8", "ml_conv2d_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return self.kernels[1:] if p["dtype"] == "int16" else self.kernels[:1]

    def prepare(self, node, g):
        return _prepare(node, g, depthwise=False)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        w = g.t(node.inputs[1]).data
        out_c, k_h, k_w, group_c = w.shape
        groups = xs[0].shape[3] // group_c
        n, out_h, out_w, _ = y.shape
        x = xs[0].astype(np.float64) + p["input_offset"]
        # Filter as [tap][group][in][out] so each tap is one batched matrix product per group.
        wt = w.astype(np.float64).reshape(groups, out_c // groups, k_h, k_w, group_c)
        wt = wt.transpose(2, 3, 0, 4, 1)
        # Every product and partial sum is an integer far below 2^53, so float64 (and BLAS,
        # in any summation order) is exact.
        acc = np.zeros((groups, n * out_h * out_w, out_c // groups))
        for ky, kx, win in _windows(x, p, k_h, k_w, out_h, out_w):
            cols = win.reshape(-1, groups, group_c).transpose(1, 0, 2)
            acc += cols @ wt[ky, kx]
        acc = acc.transpose(1, 0, 2).reshape(y.shape).astype(np.int64)
        return [_requantize(acc, node, g, p)]

    def scratch_bytes(self, node, g, p):
        """ML_CONV2D_S8_SCRATCH_BYTES(_ANY): ML_CONV2D_S8_PIXELS int16 im2col columns of the
        window padded to a multiple of 4 values, plus the raw window when the input channels are
        not a multiple of 4; for layers the DSP assembly runs (the full clamp) also 16 bytes of
        constants per output channel, and a padded copy of the last channel's weights when K is
        not a multiple of 4 (DSP path; portable C ignores it)."""
        out_c, k_h, k_w, group_c = g.t(node.inputs[1]).shape
        if g.t(node.inputs[0]).shape[3] != group_c or p["dtype"] == "int16":
            return 0  # grouped, or int16: portable paths only
        staged = group_c % 4 != 0 and k_h * k_w > 1
        k = k_h * k_w * group_c
        blocks = (k + 3) // 4
        size = blocks * (4 * 2 * CONV2D_PIXELS + (4 if staged else 0))
        if p["act_min"] <= -128 and p["act_max"] >= 127:
            size += out_c * 16 + (4 * blocks if k % 4 else 0)
            # ML_CONV2D_S8_COL_GROUPS_BYTES: the columns of col_groups - 1 more groups
            size += max(p.get("col_groups", 1) - 1, 0) * blocks * 4 * 2 * CONV2D_PIXELS
        return size

    def m0_padded_filter(self, node, g, p) -> np.ndarray | None:
        """The filter as Cortex-M0/M0+ and M3 builds read it when K = KH * KW * C_IN is odd: each
        output channel's K weights and a zero (ML_CONV_M0_FILTER, ml_conv2d_s8.h), flat; None when
        K is even or the layer does not take the M0 path (int8, a scratch, no groups). The path's
        channel-pair routine takes tap pairs, so an odd K (a first layer's 3x3x3) otherwise went
        through C: VWW's first layer on Cortex-M0 3.79 -> 2.56 M instructions."""
        w = g.t(node.inputs[1])
        out_c, k = w.shape[0], int(np.prod(w.shape[1:]))
        if p["dtype"] != "int8" or k % 2 == 0 or out_c < 2 or not self.scratch_bytes(node, g, p):
            return None
        padded = np.zeros((out_c, k + 1), dtype=np.int8)
        padded[:, :k] = np.asarray(w.data, dtype=np.int8).reshape(out_c, k)
        return padded.reshape(-1)

    def prepare_dsp_in_place(self, node, g, p, stream):
        """A pointwise layer with C_OUT <= C_IN (its output at the input's offset) in one call over
        itself: the DSP path widens each group of pixels before it writes their outputs, and runs
        a last group that overlaps the one before first, into scratch it gets for that
        (ML_CONV2D_S8_IN_PLACE_SCRATCH_BYTES, ml_conv2d_s8_dsp_in_place). KWS's 1x1 layers:
        492.7 k instructions each instead of 511.8 k in chunks (cortex-m4), the 384 B it holds
        inside the chunks' window."""
        from ..codegen.optimize import layer_mode
        if layer_mode(g, node) == "size":
            return None  # the in-place path is about 0.7 KB of code (ML_CONV2D_S8_NO_IN_PLACE)
        x, w, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
        out_c, k_h, k_w, group_c = w.shape
        if not (stream.delta == 0 and (k_h, k_w) == (1, 1) and group_c == x.shape[3] >= out_c
                and p["stride_h"] == p["stride_w"] == 1 and p["pad_h"] == p["pad_w"] == 0
                and tuple(x.shape[:3]) == tuple(y.shape[:3])):
            return None
        chunk = self.scratch_bytes(node, g, p)
        if not chunk:
            return None  # int16: no DSP path
        return {**p, "chunk_scratch": chunk, "whole_scratch": chunk + CONV2D_PIXELS * out_c}

    def column_builder(self, node, g, p) -> str | None:
        """Which of the DSP path's column builders beyond the per-pixel im2col this layer takes
        (ml_conv_dsp_columns in ml_conv2d_s8.c): "SEGMENTS" (by output-row segments: C_IN % 8 == 0,
        stride_w <= 2, no horizontal dilation), "WINDOWS27" (3x3x3 windows straight from the
        input), "BLOCK_ROWS" (window rows of whole blocks with C_IN % 4 != 0, e.g. KWS's first
        layer: ml_conv_dsp_im2col_rows), or None (pixel by pixel; pointwise layers widen whole
        pixels). A model is built
        without the builders none of its layers takes (ML_CONV2D_S8_NO_<builder>,
        codegen/optimize.py)."""
        if p["dtype"] != "int8" or not self.scratch_bytes(node, g, p):
            return None
        _, h, w, c = g.t(node.inputs[0]).shape
        _, out_h, out_w, _ = g.t(node.outputs[0]).shape
        _, k_h, k_w, _ = g.t(node.inputs[1]).shape
        pointwise = (k_h, k_w) == (1, 1) and c % 4 == 0 and p["stride_h"] == p["stride_w"] == 1 \
            and p["pad_h"] == p["pad_w"] == 0 and (out_h, out_w) == (h, w)
        if pointwise or p["dilation_w"] != 1:
            return None
        if c % 8 == 0 and p["stride_w"] <= 2:
            return "SEGMENTS"
        if k_w * c == 9 and k_h == 3:
            return "WINDOWS27"
        return "BLOCK_ROWS" if c % 4 != 0 and (k_w * c) % 4 == 0 else None

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int16":
            return _emit("ml_conv2d_s16", "ml_conv_s16_params",
                         {k: p[k] for k in _GEOMETRY + _QUANT_S16 + ("acc32",)}, node, g, p, ctx)
        scratch = ctx.scratch() if self.scratch_bytes(node, g, p) else "NULL"
        fields = {k: p[k] for k in _GEOMETRY + _QUANT}
        # The M0 path runs every layer with a scratch (int8, no groups): it takes the folded bias.
        fields["m0_layout"] = "ML_CONV_M0_FOLDED" if scratch != "NULL" else 0
        if p.get("col_groups", 1) > 1:  # --- issue 11: codegen/c.py _col_groups_in_slack
            fields["col_groups"] = p["col_groups"]
        filter_ref = ctx.tensor(node.inputs[1])
        if node.inputs[1] in getattr(ctx, "staged_widened", ()):
            fields["filter_widened"] = 1  # --stage-weights: the copy ml_conv2d_s8_stage widened
        elif p.get("pair_filter"):  # --optimize speed (codegen/c.py _pair_filters)
            fields["filter_widened"] = "ML_CONV2D_S8_PAIRED8"
            paired = ctx.const("filter_pairs", pair_filter_layout(g.t(node.inputs[1]).data), layout="DSP")
            filter_ref = f"ML_CONV2D_S8_FILTER({paired}, {filter_ref})"
        if (padded := self.m0_padded_filter(node, g, p)) is not None:
            # --- issue 11: on Cortex-M0/M3 builds the filter with a zero weight after each
            # channel's odd K (ML_CONV_M0_FILTER); a staged copy is already that (codegen/c.py)
            if node.inputs[1] not in getattr(ctx, "staged", {}):
                filter_ref = f"ML_CONV_M0_FILTER({filter_ref}, {ctx.const('m0_filter', padded, layout='M0')})"
            fields["m0_layout"] = "ML_CONV_M0_FOLDED | ML_CONV_M0_PADDED"
        if fields["m0_layout"] and getattr(ctx, "m0_filter_cache", None) and (
                node.inputs[1] in getattr(ctx, "staged", {}) or getattr(ctx, "in_ram", False)):
            # a build tuned for a board's flash cache: this filter is read from RAM (staged, or
            # --weights-in-ram), so its channels need no chunks for that cache (ML_CONV_M0_IN_RAM)
            fields["m0_layout"] += " | ML_CONV_M0_IN_RAM"
        return _emit("ml_conv2d_s8", "ml_conv_params", fields, node, g, p, ctx, scratch,
                     m0_fold=scratch != "NULL", filter_ref=filter_ref)


@register
class DepthwiseConv2D(OpImpl):
    op = Op.DEPTHWISE_CONV_2D
    kernels = ("ml_depthwise_conv2d_s8", "ml_depthwise_conv2d_s16")
    dtypes = ("int8", "int16")

    def kernels_for(self, node, g, p):
        return self.kernels[1:] if p["dtype"] == "int16" else self.kernels[:1]

    mode_dependent = True   # prepare() depends on the layer's --optimize mode (its weight layout)

    def prepare(self, node, g, offline_groups: bool | None = None, whole: bool = False):
        """`whole`: the layer runs in one call over the whole image (the planner keeps it out of
        place, codegen/c.py), which lets a tall narrow image take the 3x3 path along its columns.
        Where the 3x3 path applies (_dw_3x3_lines) the layer takes it, along p["dsp_lines"].
        `offline_groups` (None: dw_offline_layout(g, node), on unless the layer is a "size" layer)
        lays the DSP paths' data out here, as const arrays in flash, instead of deriving it in
        scratch on every call: the 3x3 path's per-channel data (p["dsp_channels"]; without it
        the kernel derives a channel pair's at a time, ML_DW_LAYOUT_DERIVE) or the four-channel
        group data (p["dsp_groups"]); None when off or when no DSP path applies. Fewer
        instructions; on DSP builds about 19 (3x3) or 14 (groups) more flash bytes per channel,
        as the portable arrays are then dropped (_dw_emit_s8); no flash on other cores."""
        p = _prepare(node, g, depthwise=True)
        p["depth_multiplier"] = node.attrs["depth_multiplier"]
        if offline_groups is None:
            offline_groups = dw_offline_layout(g, node)
        lines = _dw_3x3_lines(node, g, p, whole) if offline_groups or dw_planes_derived(g) else None
        p["dsp_lines"] = lines
        p["dsp_transposed"] = lines == "columns"
        p["dsp_channels"] = _dw_3x3_channels(node, g, p, p["dsp_transposed"]) if lines and offline_groups else None
        p["dsp_groups"] = _dw_dsp_groups(node, g, p) \
            if offline_groups and lines is None and self._dsp_applies(node, g, p) else None
        return p

    def prepare_whole(self, node, g, p):
        return self.prepare(node, g, whole=True)  # a tall narrow image: the 3x3 path along its columns

    def prepare_dsp_in_place(self, node, g, p, stream):
        """The 3x3 path in one band (at most DW_3X3_BAND output lines) fills both planes of a channel
        pair from every input line before it writes that pair's outputs, and writes no other
        channel: with the output over the input (same shape, offset 0) it gives the same bytes.
        Along the columns that is KWS's 25x5 layers: 189 k instead of 277.5 k instructions each in
        chunks of rows through the four-channel groups (cortex-m4), in the same arena."""
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        if stream.delta != 0 or tuple(x.shape) != tuple(y.shape):
            return None
        pw = self.prepare(node, g, whole=True)
        if pw.get("dsp_lines") is None:
            return None
        _, out_h, out_w, _ = y.shape
        if (out_w if pw["dsp_transposed"] else out_h) > DW_3X3_BAND:
            return None  # a later band would read input lines an earlier band wrote over
        # the chunks (other builds) call the kernel with these params on fewer output rows: the
        # scratch the header's macro gives them (the Cortex-M0 path reads it), at most the whole's
        pw["chunk_scratch"] = _dw_3x3_scratch(pw, min(stream.rows, out_h), out_w)
        pw["whole_scratch"] = _dw_3x3_scratch(pw, out_h, out_w)
        return pw

    def m0_in_place_scratch(self, node, g, p, stream):
        """Cortex-M0/M0+ and M3 (ML_M0_PATHS) take a 3x3 layer at stride 1 through one of two
        paths (ml_dw_m0_takes), each of which copies an input row into its ring of buffer rows
        before an output row covers it, group of four channels by group: with the output over the
        input they give the same bytes in one call. The kernel allows that call
        (ml_dw_in_place_ok) only where one of them takes it, whose conditions are mirrored here:
        the scratch bytes the one call reads, or None. On KWS that saves the chunks' 13 calls per
        layer, each redoing every group's set-up and ring fills (cortex-m0: about 160 k
        instructions a layer)."""
        x, y = g.t(node.inputs[0]), g.t(node.outputs[0])
        _, k_h, k_w, out_c = g.t(node.inputs[1]).shape
        if (stream.delta != 0 or tuple(x.shape) != tuple(y.shape) or p.get("dtype", "int8") != "int8"
                or p["depth_multiplier"] != 1 or (k_h, k_w) != (3, 3) or out_c % 4
                or (p["stride_h"], p["stride_w"], p["dilation_h"], p["dilation_w"]) != (1, 1, 1, 1)
                or p["pad_h"] > 2):
            return None
        if not all(int(m) >= 0 and -22 <= int(sh) <= -1 for m, sh in zip(p["multiplier"], p["shift"])):
            return None   # ml_m0_rq_of: else portable C, which reads rows it has written over
        need = self.scratch_bytes(node, g, p)   # the header's macro for the whole image; 0: no scratch
        return need if need and 12 * (y.shape[2] + 2) <= need else None   # three buffer rows

    def dsp_path(self, node, g) -> str | None:
        """The DSP path the layer can take when it runs whole: "planes" (the 3x3 path), "groups"
        (the four-channel groups), or None (portable C)."""
        p = _prepare(node, g, depthwise=True)
        p["depth_multiplier"] = node.attrs["depth_multiplier"]
        if _dw_3x3_lines(node, g, p, whole=True):
            return "planes"
        return "groups" if self._dsp_applies(node, g, p) else None

    @staticmethod
    def _dsp_applies(node, g, p) -> bool:
        """The DSP path's conditions (ml_depthwise_conv2d_s8.c): int8, depth multiplier 1, proven
        accumulator bound, a whole group of four channels, at most 64 taps."""
        _, k_h, k_w, out_c = g.t(node.inputs[1]).shape
        return (p["dtype"] == "int8" and p["depth_multiplier"] == 1 and bool(p["acc_bounded"])
                and out_c >= 4 and k_h * k_w <= 64)

    def reference(self, node, g, p, xs):
        y = g.t(node.outputs[0])
        w = g.t(node.inputs[1]).data.astype(np.int64)
        _, k_h, k_w, _ = w.shape
        # Output channel i * depth_multiplier + m reads input channel i.
        x = np.repeat(xs[0].astype(np.int64) + p["input_offset"], p["depth_multiplier"], axis=3)
        acc = np.zeros(y.shape, np.int64)
        for ky, kx, win in _windows(x, p, k_h, k_w, y.shape[1], y.shape[2]):
            acc += win * w[0, ky, kx]
        return [_requantize(acc, node, g, p)]

    def scratch_bytes(self, node, g, p):
        """ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES: for up to four groups of four channels at a time
        their widened weights and requantization constants, and a padded copy of the input under
        clipped windows or under each output row (DSP path, depth multiplier 1; portable C
        ignores it)."""
        _, k_h, k_w, out_c = g.t(node.inputs[1]).shape
        if p.get("dsp_lines") is not None:  # 3x3 path: 2 channels' planes for a band, its sums
            _, out_h, out_w, _ = g.t(node.outputs[0]).shape
            return _dw_3x3_scratch(p, out_h, out_w)
        if not self._dsp_applies(node, g, p):
            return 0
        per_row = self._padded_row_cols(node, g, p) or k_w
        groups_data = 0 if p.get("dsp_groups") is not None else 16 + 2 * k_h * k_w
        return min(out_c // 4, 4) * 4 * (groups_data + k_h * per_row)

    @staticmethod
    def _padded_row_cols(node, g, p) -> int:
        """Columns of the padded input rows when the DSP path should copy whole rows, else 0:
        when more than a quarter of the pixels have a clipped window, one copy of each output
        row's input rows costs less than a copy of every clipped window."""
        _, in_h, in_w, _ = g.t(node.inputs[0]).shape
        _, out_h, out_w, _ = g.t(node.outputs[0]).shape
        _, k_h, k_w, _ = g.t(node.inputs[1]).shape

        def inside(n_out, n_in, k, stride, dilation, pad):
            span = (k - 1) * dilation + 1
            return sum(1 for o in range(n_out) if 0 <= o * stride - pad and o * stride - pad + span <= n_in)

        full = inside(out_h, in_h, k_h, p["stride_h"], p["dilation_h"], p["pad_h"]) * \
            inside(out_w, in_w, k_w, p["stride_w"], p["dilation_w"], p["pad_w"])
        if 4 * full >= 3 * out_h * out_w:
            return 0
        return (out_w - 1) * p["stride_w"] + (k_w - 1) * p["dilation_w"] + 1

    def emit(self, node, g, p, ctx):
        if p["dtype"] == "int16":
            return _emit("ml_depthwise_conv2d_s16", "ml_depthwise_conv_s16_params",
                         {k: p[k] for k in _GEOMETRY + ("depth_multiplier",) + _QUANT_S16}, node, g, p, ctx)
        fields = {k: p[k] for k in _GEOMETRY + ("depth_multiplier",) + _QUANT}
        fields["dsp_padded_rows"] = int(bool(self._padded_row_cols(node, g, p)))
        groups, chans = p.get("dsp_groups"), p.get("dsp_channels")
        fields["dsp_layout"] = ("ML_DW_LAYOUT_3X3_T" if p.get("dsp_transposed") else "ML_DW_LAYOUT_3X3") \
            if p.get("dsp_lines") else \
            "ML_DW_LAYOUT_GROUPS" if groups is not None else "ML_DW_LAYOUT_NONE"
        if p.get("dsp_lines") and chans is None:
            fields["dsp_layout"] += " + ML_DW_LAYOUT_DERIVE"
        scratch = ctx.scratch() if self.scratch_bytes(node, g, p) else "NULL"
        return _dw_emit_s8(node, g, p, ctx, fields, scratch)


def _dw_emit_s8(node, g, p, ctx, fields: dict, scratch: str) -> str:
    """The int8 kernel call. Its DSP data goes through ML_DW_DSP_DATA and, when that data covers
    every channel, the portable operands (weights, bias, quantization) through
    ML_DW_PORTABLE_DATA (ml_depthwise_conv2d_s8.h): each build keeps only the arrays its path
    reads, so the DSP layout costs no flash on cores without the DSP extension, and the portable
    arrays none on cores with it."""
    params = ctx.struct("ml_depthwise_conv_params", "params", fields)
    quant = ctx.struct("ml_per_channel_quant", "quant", dict(
        multiplier=ctx.const("multiplier", p["multiplier"]), shift=ctx.const("shift", p["shift"])))
    x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
    bias = _bias(node, g)
    bias_ref = ctx.tensor(bias.name) if bias is not None else "NULL"
    w_ref = ctx.tensor(w)
    groups, chans = p.get("dsp_groups"), p.get("dsp_channels")
    dsp = "NULL"
    if chans is not None:
        dsp = f"ML_DW_DSP_DATA({ctx.const('dsp_channels', chans, layout='DSP')})"
    elif groups is not None:
        dsp = f"ML_DW_DSP_DATA({ctx.const('dsp_groups', groups, layout='DSP')})"
    out_c = g.t(w).shape[3]
    if chans is not None or (groups is not None and out_c % 4 == 0):
        quant, w_ref = f"ML_DW_PORTABLE_DATA({quant})", f"ML_DW_PORTABLE_DATA({w_ref})"
        bias_ref = f"ML_DW_PORTABLE_DATA({bias_ref})" if bias is not None else "NULL"
    return (f"ml_depthwise_conv2d_s8({params}, {quant}, {scratch}, {dsp}, "
            f"{ctx.dims(g.t(x).shape)}, {ctx.tensor(x)}, "
            f"{ctx.dims(g.t(w).shape)}, {w_ref}, {bias_ref}, "
            f"{ctx.dims(g.t(y).shape)}, {ctx.tensor(y)})")


def _dw_dsp_groups(node, g, p) -> np.ndarray:
    """The DSP path's group data (per group a word saying whether its channels requantize on the
    fast path, then ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS int32 per four channels, the layout
    ml_depthwise_conv2d_s8.h gives), computed as ml_dw_dsp_setup would on every call:
    the starting values 2 * (bias + input_offset * sum(w)) modulo 2^32, the weights as doubled
    int16 pairs {c0, c2} {c1, c3} per tap, and each channel's {multiplier, round, n}."""
    w = g.t(node.inputs[1]).data.astype(np.int64)
    _, k_h, k_w, out_c = w.shape
    groups, taps = out_c // 4, k_h * k_w
    wt = w.reshape(taps, out_c)[:, :4 * groups]
    bias = _bias(node, g)
    b = bias.data.astype(np.int64)[:4 * groups] if bias is not None else np.zeros(4 * groups, np.int64)
    start = wrap32(2 * wrap32(b + p["input_offset"] * wt.sum(axis=0)))

    def pair(lo, hi):
        return wrap32(((2 * lo) & 0xFFFF) | (((2 * hi) & 0xFFFF) << 16))

    by_group = wt.reshape(taps, groups, 4)
    weights = np.stack([pair(by_group[:, :, 0], by_group[:, :, 2]),
                        pair(by_group[:, :, 1], by_group[:, :, 3])], axis=-1)  # taps, groups, 2
    quant, _ = _dw_fast_requant(p, 4 * groups)
    fast = (quant[:, 2] > 0).reshape(groups, 4).all(axis=1).astype(np.int64)
    data = np.concatenate([start.reshape(groups, 4), weights.transpose(1, 0, 2).reshape(groups, 2 * taps),
                           quant.reshape(groups, 12)], axis=1)
    return np.concatenate([fast, data.reshape(-1)]).astype(np.int32)


def dw_planes_derived(g) -> bool:
    """Whether a "size" layer takes the 3x3 path, its data derived per call (codegen/optimize.py)."""
    from ..codegen.optimize import dw_planes_derived as derived
    return derived(g)


def dw_offline_layout(g, node) -> bool:
    """Whether DEPTHWISE_CONV_2D lays its DSP data out at code generation (flash) rather than per
    call (scratch): the size switch, off for a layer --optimize makes a "size" layer."""
    from ..codegen.optimize import layer_mode
    return layer_mode(g, node) != "size"


DW_3X3_BAND = 8  # ML_DW_3X3_BAND in ml_depthwise_conv2d_s8.c: output rows per band of the 3x3 path
DW_3X3_WORDS = 10  # ML_DEPTHWISE_CONV2D_S8_3X3_WORDS: int32 of the 3x3 path's data per channel


def _dw_3x3_scratch(p: dict, out_h: int, out_w: int) -> int:
    """ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES of a 3x3-layout layer called with an output of
    out_h x out_w: two channels' planes for a band of lines; without the data laid out
    (ML_DW_LAYOUT_DERIVE) also the channel pair's, which the kernel derives."""
    lines, length = (out_w, out_h) if p.get("dsp_transposed") else (out_h, out_w)
    band = min(lines, DW_3X3_BAND)
    derived = 2 * DW_3X3_WORDS if p.get("dsp_channels") is None else 0
    return 4 * (2 * (band + 2) * ((length - 1) // 2 + 2) + derived)


def _dw_fast_requant(p: dict, n_ch: int):
    """Each channel's {multiplier, round, n} of the DSP requantization (ml_nn_dsp.h,
    ml_dsp_requantize): n = -shift when 1 <= n <= 22 and the multiplier is >= 0, else
    {multiplier, shift, 0} (the reference requantization); and whether every channel is fast."""
    mult = p["multiplier"][:n_ch].astype(np.int64)
    shift = p["shift"][:n_ch].astype(np.int64)
    # n <= 22 keeps |round| = |2^(n-1) + output_offset * 2^n| below 2^29, so SMMLAR's high word
    # (below 2^30 from the product, doubled sums under 2^31) cannot wrap.
    fast = (shift > -23) & (shift < 0) & (mult >= 0)
    n = np.where(fast, -shift, 0)
    round_ = wrap32((np.int64(1) << np.maximum(n - 1, 0)) + (np.int64(p["output_offset"]) << n))
    return np.stack([mult, np.where(fast, round_, shift), n], axis=-1), bool(fast.all())


# The 3x3 path pays per output line and per input value copied; measured on cortex-m4 it beats
# the four-channel group path from 6 pixels per line on (VWW's 6x6x128 layers: 140 k against
# 159 k instructions; KWS's 25x5x64 run along its rows: 363 k against 306 k; along its columns,
# 25 pixels per line: 189 k against 251 k, when the layer runs whole, _dw_3x3_lines).
DW_3X3_MIN_WIDTH = 6


def _dw_3x3_lines(node, g, p, whole: bool = False) -> str | None:
    """Whether ml_depthwise_conv2d_s8's 3x3 path applies (its conditions,
    ml_depthwise_conv2d_s8.h) and along what: "rows" when the output rows are wide enough for it
    to pay, else, for a layer run `whole`, "columns" (the path on the transposed image,
    ML_DW_LAYOUT_3X3_T) when the columns are; None when neither. Along its columns a call needs
    every row, which a layer run in place in chunks of rows (codegen/inplace.py) never has."""
    _, k_h, k_w, out_c = g.t(node.inputs[1]).shape
    _, out_h, out_w, _ = g.t(node.outputs[0]).shape
    if not (p["dtype"] == "int8" and p["depth_multiplier"] == 1 and bool(p["acc_bounded"])
            and (k_h, k_w) == (3, 3) and p["dilation_h"] == p["dilation_w"] == 1
            and p["stride_h"] == p["stride_w"] == 1 and out_c % 2 == 0
            and p["act_min"] <= -128 and p["act_max"] >= 127 and _dw_fast_requant(p, out_c)[1]):
        return None
    if out_w >= DW_3X3_MIN_WIDTH:
        return "rows"
    return "columns" if whole and out_h >= DW_3X3_MIN_WIDTH else None


def _dw_3x3_channels(node, g, p, transposed: bool = False) -> np.ndarray:
    """The 3x3 path's per-channel data (ML_DEPTHWISE_CONV2D_S8_3X3_WORDS int32 each): 2 * bias,
    per window row the doubled int16 pairs {w0, w1} and {w1, w2}, then {multiplier, round, n}.
    The input offset is not folded here: that path adds it to the input values. `transposed`
    (ML_DW_LAYOUT_3X3_T): the path runs along the columns, so its window rows are the filter's
    columns."""
    w = g.t(node.inputs[1]).data.astype(np.int64)[0]  # kh, kw, c
    if transposed:
        w = w.transpose(1, 0, 2)
    out_c = w.shape[2]
    bias = _bias(node, g)
    b = bias.data.astype(np.int64) if bias is not None else np.zeros(out_c, np.int64)

    def pair(lo, hi):
        return wrap32(((2 * lo) & 0xFFFF) | (((2 * hi) & 0xFFFF) << 16))

    rows = np.stack([np.stack([pair(w[r, 0], w[r, 1]), pair(w[r, 1], w[r, 2])], axis=-1) for r in range(3)],
                    axis=0)  # 3, c, 2
    quant, _ = _dw_fast_requant(p, out_c)
    data = np.concatenate([wrap32(2 * b)[:, None], rows.transpose(1, 0, 2).reshape(out_c, 6), quant], axis=1)
    return data.reshape(-1).astype(np.int32)
