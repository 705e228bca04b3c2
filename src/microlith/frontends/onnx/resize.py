"""Resize (4-D NCHW, nearest or linear, constant scales or sizes) -> RESIZE_NEAREST_NEIGHBOR /
RESIZE_BILINEAR on the channels-last value.

TFLite has two flags, align_corners and half_pixel_centers, and computes its scale from the
sizes (in / out); ONNX computes positions from its coordinate_transformation_mode and, when
scales are given, from those scales. A node is lowered only where the two agree exactly:
- linear: asymmetric = no flag, align_corners = align_corners, half_pixel (and
  pytorch_half_pixel when no output size is 1) = half_pixel_centers, and scales (if given) must
  equal out / in exactly;
- nearest: the source index of every output row and column is computed as ONNX defines it
  (exact rationals, with the node's nearest_mode) and as TFLM does (ops.movement.nearest_sources,
  its float32 arithmetic) for each flag choice; the first choice that gives the same tables wins.
Anything else is refused: no TFLite op computes it."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ...ir import Op
from ...ops.movement import nearest_sources
from .values import Builder, Val

FLAGS = ((False, False), (True, False), (False, True))   # (align_corners, half_pixel_centers)
LINEAR_FLAGS = {"asymmetric": FLAGS[0], "align_corners": FLAGS[1], "half_pixel": FLAGS[2],
                "pytorch_half_pixel": FLAGS[2]}


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _out_sizes(b: Builder, x: Val, ins) -> tuple[list[int], list]:
    """Output H, W and the ONNX scale (Fraction) of each, from the scales or sizes input."""
    scales = ins[2] if len(ins) > 2 else None
    sizes = ins[3] if len(ins) > 3 else None
    if isinstance(scales, np.ndarray) and scales.size == 0:
        scales = None
    if (scales is None) == (sizes is None):
        raise b.fail("needs exactly one of scales and sizes")
    n, c, h, w = x.shape
    if sizes is not None:
        out = b.need_ints(sizes, "sizes")
        if len(out) != 4 or out[:2] != [n, c]:
            raise b.fail(f"sizes {out} must keep the batch and channels of input {list(x.shape)}")
        return out[2:], [Fraction(o, i) for o, i in zip(out[2:], (h, w))]
    s = [float(v) for v in np.asarray(b.need_const(scales, "scales"), np.float32).reshape(-1)]
    if len(s) != 4 or s[:2] != [1.0, 1.0] or min(s) <= 0:
        raise b.fail(f"scales {s} must be 4 positive values with 1 for the batch and channels")
    out = [math.floor(i * v) for i, v in zip((h, w), s[2:])]
    return out, [Fraction(v) for v in s[2:]]


def _onnx_nearest(in_size: int, out_size: int, scale: Fraction, mode: str, nearest: str) -> list[int] | None:
    """ONNX's source index per output index, exactly; None for a mode we do not evaluate."""
    res = []
    for v in range(out_size):
        if mode == "asymmetric":
            t = v / scale
        elif mode == "align_corners":
            t = Fraction(0) if out_size == 1 else Fraction(v * (in_size - 1), out_size - 1)
        elif mode == "half_pixel" or (mode == "pytorch_half_pixel" and out_size > 1):
            t = (v + Fraction(1, 2)) / scale - Fraction(1, 2)
        elif mode == "pytorch_half_pixel":
            t = Fraction(0)
        else:
            return None
        r = {"floor": math.floor(t), "ceil": math.ceil(t),
             "round_prefer_floor": math.ceil(t - Fraction(1, 2)),
             "round_prefer_ceil": math.floor(t + Fraction(1, 2))}.get(nearest)
        if r is None:
            return None
        res.append(min(max(r, 0), in_size - 1))
    return res


def resize(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    if x.rank != 4:
        raise b.fail(f"only 4-D NCHW inputs are supported, got {list(x.shape)}")
    mode = _text(at.get("mode", "nearest"))
    ctm = _text(at.get("coordinate_transformation_mode", "half_pixel"))
    nearest = _text(at.get("nearest_mode", "round_prefer_floor"))
    if int(at.get("antialias", 0)) or "axes" in at or _text(at.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise b.fail("antialias, axes and keep_aspect_ratio_policy are not supported")
    out, scales = _out_sizes(b, x, ins)
    if min(out) < 1:
        raise b.fail(f"the output size {out} is empty")
    spatial = list(x.shape[2:])
    if mode == "nearest":
        want = [_onnx_nearest(i, o, s, ctm, nearest) for i, o, s in zip(spatial, out, scales)]
        flags = None if None in want else next(
            (f for f in FLAGS if all(nearest_sources(i, o, *f) == t for i, o, t in zip(spatial, out, want))), None)
        if flags is None:
            raise b.fail(f"nearest resize of {spatial} to {out} with coordinate_transformation_mode {ctm} and "
                         f"nearest_mode {nearest} picks source pixels no TFLite RESIZE_NEAREST_NEIGHBOR flags pick")
        op = Op.RESIZE_NEAREST_NEIGHBOR
    elif mode == "linear":
        flags = LINEAR_FLAGS.get(ctm)
        if ctm == "pytorch_half_pixel" and min(out) == 1:
            flags = None
        if flags is None:
            raise b.fail(f"linear resize with coordinate_transformation_mode {ctm} (output {out}) has no TFLite "
                         "RESIZE_BILINEAR equivalent; asymmetric, align_corners, half_pixel and "
                         "pytorch_half_pixel do")
        if ctm != "align_corners" and any(s != Fraction(o, i) for s, o, i in zip(scales, out, spatial)):
            raise b.fail(f"scales {[float(s) for s in scales]} differ from output / input size {out} / {spatial}; "
                         "TFLite interpolates with the latter")
        op = Op.RESIZE_BILINEAR
    else:
        raise b.fail(f"mode {mode} is not supported; nearest and linear are")
    xc = b.channels_last(x)
    shape = (x.shape[0], out[0], out[1], x.shape[1])
    size = b.const(f"{b.out_name()}_size", list(out))
    y = b.emit(op, [xc.name, size], shape, b.out_name(), align_corners=flags[0], half_pixel_centers=flags[1])
    return [Val(y, (x.shape[0], x.shape[1], out[0], out[1]), cl=True, nonneg=x.nonneg)]
