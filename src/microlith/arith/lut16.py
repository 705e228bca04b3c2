"""TFLM's int16 lookup tables: LUTPopulate<int16_t> and LUTLookup (kernels/internal/common.h).

A table holds 513 int16 values over the whole int16 input range: the top 9 bits of an input
pick an entry, the low 7 interpolate to the next. LUTPopulate fills it in float32 arithmetic,
each operation rounded to float32 as TFLM's float build does (x86-64 SSE, no FMA), and nudges
each entry by half the interpolation error at the step's midpoint. The transforms TFLM's
SOFTMAX uses are exp and 1 / (1 + x); float32 exp is taken as the correctly rounded one
(double exp rounded to float32), which is what the oracle's expf returns on these inputs
(test_int16_ops checks the tables through SOFTMAX outputs).
"""
from __future__ import annotations

import functools
import math

import numpy as np

F = np.float32
LUT_SIZE = 513
I16_MIN, I16_MAX = -32768, 32767


def _round(x: np.float32) -> np.float32:
    """TfLiteRound on a float: halves away from zero."""
    return F(math.copysign(math.floor(abs(float(x)) + 0.5), float(x)))


def _expf(x: np.float32) -> np.float32:
    return F(math.exp(float(x)))


def _one_over_one_plus_x(x: np.float32) -> np.float32:
    return F(1.0) / (F(1.0) + x)


def populate(input_scale: np.float32, input_zero_point: int, output_scale: np.float32,
             output_zero_point: int, transform) -> np.ndarray:
    """detail::LUTPopulateInt16<float>."""
    input_min = F(input_scale * F(I16_MIN - input_zero_point))
    input_max = F(input_scale * F(I16_MAX - input_zero_point))
    output_min = F(output_scale * F(I16_MIN - output_zero_point))
    output_max = F(output_scale * F(I16_MAX - output_zero_point))
    steps = LUT_SIZE - 1
    step = F((input_max - input_min) / F(steps))
    half_step = F(step / F(2))
    inv = F(F(I16_MAX - I16_MIN + 1) / F(output_max - output_min))
    lut = np.zeros(LUT_SIZE, np.int64)
    for i in range(steps):
        val = transform(F(input_min + F(F(i) * step)))
        val_mid = transform(F(F(input_min + F(F(i) * step)) + half_step))
        val_next = transform(F(input_min + F(F(i + 1) * step)))
        sample = _round(F(val * inv))
        interp = _round(F(F(F(val_next * inv) + sample) / F(2)))
        mid = _round(F(val_mid * inv))
        bias = _round(F(F(interp - mid) / F(2)))
        lut[i] = int(min(max(float(F(sample - bias)), I16_MIN), I16_MAX))
    lut[steps] = int(min(max(float(_round(F(transform(input_max) * inv))), I16_MIN), I16_MAX))
    return lut


@functools.cache
def softmax_tables() -> tuple[np.ndarray, np.ndarray]:
    """The exp and 1/(1+x) tables TFLM's SOFTMAX Prepare builds for int16 input (constants:
    they depend on no tensor's quantization)."""
    span = I16_MAX - I16_MIN  # 65535, converted to float in the divisions below
    exp_lut = populate(F(F(10.0) / F(span)), I16_MAX, F(F(2.0) / F(span)), 0, _expf)
    recip_lut = populate(F(F(1.0) / F(span)), I16_MIN, F(F(2.0) / F(span)), 0, _one_over_one_plus_x)
    exp_lut.setflags(write=False)
    recip_lut.setflags(write=False)
    return exp_lut, recip_lut


def _wrap16(v) -> np.ndarray:
    return ((np.asarray(v, np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def lookup(value, lut: np.ndarray) -> np.ndarray:
    """LUTLookup(int16_t, const int16_t *): the entry and a rounded linear step to the next."""
    v = np.asarray(value, np.int64)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = lut[index]
    slope = _wrap16(lut[index + 1] - base)
    return _wrap16(base + ((slope * offset + 64) >> 7))
