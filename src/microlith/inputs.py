"""The one input-data contract of quantize --calibration/--eval, verify --inputs and the Python API.

A sample's shape equals the model input's shape, with or without its batch dimension (when that
is 1). A file holds a batch: one more leading axis than a sample, or exactly one sample with its
batch dimension. Anything else is refused with the expected and the given shape and, when a
transpose would fix it (channels-last data for a channels-first input and back), which one. Data
is never reshaped by element count: that is how channels-last windows silently became scrambled
channels-first ones.
"""
from __future__ import annotations

import numpy as np

from .ir import MicrolithError


def sample_shapes(shape) -> list[tuple[int, ...]]:
    """The shapes one sample may have: the input's, and without its batch axis when that is 1."""
    shape = tuple(int(d) for d in shape)
    return [shape] + ([shape[1:]] if len(shape) > 1 and shape[0] == 1 else [])


def _fmt(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def layout_hint(given, wanted) -> str:
    """How to turn per-sample axes `given` into `wanted` when they only differ in order."""
    given, wanted = tuple(given), tuple(wanted)
    if given == wanted or sorted(given) != sorted(wanted) or len(given) < 2:
        return ""
    n = len(given)
    # The channel axis moved between last and first, after a leading batch axis of 1 if any.
    for k in ([1, 0] if n > 2 and given[0] == wanted[0] == 1 else [0]):
        head, m = list(range(k)), n - k
        moves = {
            "channels-last data (NLC/NHWC) for a channels-first input (NCL/NCHW)":
                head + [k + m - 1] + [k + i for i in range(m - 1)],
            "channels-first data (NCL/NCHW) for a channels-last input (NLC/NHWC)":
                head + [k + i for i in range(1, m)] + [k],
        }
        for what, perm in moves.items():
            if tuple(given[p] for p in perm) == wanted:
                axes = ", ".join(str(p + 1) for p in perm)
                return f"; it looks like {what}: pass np.transpose(x, (0, {axes}))"
    return "; the axes are in another order: transpose them to match"


def as_batch(arr, shape, where: str, name: str) -> np.ndarray:
    """A file's array for input `name` as (N,) + shape, or a MicrolithError saying what is wrong."""
    a = np.asarray(arr)
    shape = tuple(int(d) for d in shape)
    options = sample_shapes(shape)
    if a.shape == shape:
        return a.reshape((1,) + shape)
    for s in options:
        if a.ndim == len(s) + 1 and a.shape[1:] == s:
            if a.shape[0] == 0:
                raise MicrolithError(f"{where}: the array for input '{name}' holds no samples (shape {_fmt(a.shape)})")
            return a.reshape((a.shape[0],) + shape)
    expected = " or ".join(_fmt(("N",) + s) for s in options)
    hint = ""
    if a.ndim >= 2:
        for s in options:
            if len(a.shape[1:]) == len(s):
                hint = layout_hint(a.shape[1:], s)
                if hint:
                    break
    if not hint and any(a.shape == s for s in options[1:]):
        hint = "; a single sample without its batch axis: add the batch axis (x[None]) or stack samples"
    if not hint and a.ndim >= 1 and a.shape[1:] and int(np.prod(a.shape[1:])) == int(np.prod(shape)):
        hint = (f"; each row has the right number of values ({int(np.prod(shape))}) but data is never "
                f"reshaped to fit: if that is its memory layout, reshape it yourself to {_fmt(('N',) + shape)}")
    raise MicrolithError(f"{where}: the array for input '{name}' has shape {_fmt(a.shape)}; expected a batch "
                         f"of samples {expected} for the model input {list(shape)}{hint}")


def as_sample(arr, shape, where: str, name: str) -> np.ndarray:
    """One sample (Python API) in the input's exact shape, or a MicrolithError."""
    a = np.asarray(arr)
    shape = tuple(int(d) for d in shape)
    options = sample_shapes(shape)
    if any(a.shape == s for s in options):
        return a.reshape(shape)
    hint = ""
    for s in options:
        hint = layout_hint(a.shape, s)
        if hint:
            break
    expected = " or ".join(_fmt(s) for s in options)
    raise MicrolithError(f"{where}: input '{name}' has shape {_fmt(a.shape)}; a sample must have shape "
                         f"{expected}{_per_sample(hint)}")


def _per_sample(hint: str) -> str:
    """The transpose of one sample has no batch axis: shift the axes of the batch hint down."""
    if "np.transpose(x, (" not in hint:
        return hint
    head, rest = hint.split("np.transpose(x, (", 1)
    axes, tail = rest.split("))", 1)
    nums = [int(v) for v in axes.split(", ")][1:]
    return f"{head}np.transpose(x, ({', '.join(str(v - 1) for v in nums)}){',' if len(nums) == 1 else ''}){tail}"


def quantize_like_tflm(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Float values as TFLM's QUANTIZE makes them: round half away from zero, add the zero
    point, saturate to the integer type."""
    info = np.iinfo(dtype)
    v = (np.asarray(x, np.float32) / np.float32(scale)).astype(np.float64)  # float32, as TFLM divides
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r + int(zero_point), info.min, info.max).astype(dtype)
