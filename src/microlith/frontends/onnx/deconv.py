"""ConvTranspose (2-D, and 1-D as height 1; group 1) -> TRANSPOSE_CONV.

ONNX scatters x[c, i] * W[c, o, k] onto output i * stride - pad_begin + k; TFLite's
TRANSPOSE_CONV scatters onto i * stride - pad_top + k with weights [C_OUT, KH, KW, C_IN] (no
flip), where the output size is the output tensor's and pad_top is ComputePaddingHeightWidth of
SAME or VALID on that output size. So an ONNX node is expressible exactly when, on every axis,
one of SAME / VALID (the same for both axes) gives pad_top == pad_begin: the end padding and
output_padding only set the output size, whose extra positions get the bias alone in both.
Otherwise (PyTorch's kernel 3, stride 2, padding 1, output_padding 1, say) a VALID
TRANSPOSE_CONV computes the whole scatter, pad_begin + output long at least (output_padding <
stride keeps its padding 0), and a STRIDED_SLICE crops ONNX's output from it."""
from __future__ import annotations

import numpy as np

from ...ir import Op
from .shape import strided_slice
from .values import Builder, Val
from .window import onnx_out, spatial_of


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def tflite_pad(padding: str, out: int, k: int, stride: int) -> int | None:
    """TFLM's pad_top / pad_left for a TRANSPOSE_CONV output size (None: TFLM refuses it)."""
    if padding == "SAME":
        conv_out = (out + stride - 1) // stride
    elif out < k:
        return None
    else:
        conv_out = (out + stride - k) // stride
    return max((conv_out - 1) * stride + k - out, 0) // 2


def _geometry(b: Builder, at: dict, nd: int, spatial: list[int], kernel: list[int]):
    """(strides, pad_begin, output sizes), all 2-D (height 1 for 1-D), from the ONNX attributes."""
    def attr(key, fill):
        vals = list(at.get(key, [fill] * nd))
        if len(vals) != nd:
            raise b.fail(f"{key} {vals} do not fit {nd} spatial dimension(s)")
        return [fill] + vals if nd == 1 else vals
    strides, dil, out_pad = attr("strides", 1), attr("dilations", 1), attr("output_padding", 0)
    pads = list(at.get("pads", [0] * (2 * nd)))
    if len(pads) != 2 * nd:
        raise b.fail(f"pads {pads} do not fit {nd} spatial dimension(s)")
    begin, end = (pads[:nd], pads[nd:]) if nd == 2 else ([0, pads[0]], [0, pads[1]])
    auto = _text(at.get("auto_pad", "NOTSET"))
    if auto == "VALID":
        begin, end = [0, 0], [0, 0]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):  # output = input * stride; the odd pad at the end for UPPER
        total = [s * (i - 1) + op + k - i * s for i, s, k, op in zip(spatial, strides, kernel, out_pad)]
        if min(total) < 0:
            raise b.fail(f"auto_pad {auto} with kernel {kernel} smaller than strides {strides} needs negative pads")
        small = [t // 2 for t in total]
        big = [t - t // 2 for t in total]
        begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
    elif auto != "NOTSET":
        raise b.fail(f"unknown auto_pad {auto}")
    if "output_shape" in at:
        raise b.fail("the output_shape attribute is not supported; give pads and output_padding instead")
    if any(d != 1 for d in dil):
        raise b.fail(f"dilations {list(at['dilations'])} are not supported: TFLite's TRANSPOSE_CONV has none")
    if min(strides) < 1 or min(begin + end + out_pad) < 0 or any(p >= s for p, s in zip(out_pad, strides)):
        raise b.fail(f"strides {strides} must be >= 1, pads {pads} >= 0 and output_padding {out_pad} "
                     "smaller than the strides")
    out = [(i - 1) * s + k + op - pb - pe for i, s, k, op, pb, pe in zip(spatial, strides, kernel, out_pad, begin, end)]
    if min(out) < 1:
        raise b.fail(f"pads {pads} leave an empty output")
    return strides, begin, out


def conv_transpose(b: Builder, node, ins, at) -> list:
    x = b.channels_last(b.need_act(ins[0]))
    w = b.need_const(ins[1], "weight").astype(np.float32)
    bias = ins[2] if len(ins) > 2 else None
    nd = x.rank - 2
    if w.ndim != x.rank:
        raise b.fail(f"weight of rank {w.ndim} does not fit input {list(x.shape)}")
    if int(at.get("group", 1)) != 1:
        raise b.fail(f"group={at['group']} is not supported: TFLite's TRANSPOSE_CONV has no groups")
    cin, cout = x.shape[1], w.shape[1]
    if w.shape[0] != cin:
        raise b.fail(f"weight {list(w.shape)} expects {w.shape[0]} input channels, the input has {cin}")
    if "kernel_shape" in at and list(at["kernel_shape"]) != list(w.shape[2:]):
        raise b.fail(f"kernel_shape {list(at['kernel_shape'])} does not match the weight shape {list(w.shape)}")
    if w.ndim == 3:  # 1-D: [Ci, Co, K] -> [Ci, Co, 1, K]
        w = w[:, :, None, :]
    bias = np.zeros(cout, np.float32) if bias is None else b.need_const(bias, "bias").astype(np.float32).reshape(-1)
    if bias.size != cout:
        raise b.fail(f"bias has {bias.size} values for {cout} output channels")
    kernel = list(w.shape[2:])
    strides, begin, out = _geometry(b, at, nd, spatial_of(x), kernel)
    padding = next((p for p in ("VALID", "SAME")
                    if all(tflite_pad(p, o, k, s) == pb for o, k, s, pb in zip(out, kernel, strides, begin))), None)
    full = out
    if padding is None:  # e.g. PyTorch's k=3, s=2, padding=1, output_padding=1: crop a VALID result
        padding, full = "VALID", [max((i - 1) * s + k, pb + o)
                                  for i, s, k, pb, o in zip(spatial_of(x), strides, kernel, begin, out)]
    shape = (x.shape[0], full[0], full[1], cout)
    sizes = b.const(f"{b.out_name()}_output_shape", list(shape))
    wt = b.const(f"{b.out_name()}_weights", w.transpose(1, 2, 3, 0))      # [Co, Kh, Kw, Ci]
    bt = b.const(f"{b.out_name()}_bias", bias)
    y = Val(b.emit(Op.TRANSPOSE_CONV, [sizes, wt, x.name, bt], shape, None if full != out else b.out_name(),
                   padding=padding, stride_h=strides[0], stride_w=strides[1]), onnx_out(x, cout, full), cl=True)
    if full == out:
        return [y]
    axes = {2: range(begin[0], begin[0] + out[0]), 3: range(begin[1], begin[1] + out[1])} if nd == 2 else \
        {2: range(begin[1], begin[1] + out[1])}
    return [strided_slice(b, y, axes, b.out_name())]
