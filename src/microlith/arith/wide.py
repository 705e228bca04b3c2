"""TFLite's 64-bit accumulator requantization (the int16x8 mode), bit for bit as TFLM.

Python twin of ml_nn_requantize_s64 in csrc/common/ml_nn_s16.h: TFLM's
MultiplyByQuantizedMultiplier(int64_t x, ...) in tensorflow/lite/kernels/internal/common.cc,
used by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED when int16 activations meet an int64
bias. It is neither of the int32 variants: the q31 multiplier is first rounded to 16 bits
(q15), then one rounding shift. The same formula serves TFLM's single- and double-rounding
builds.
"""
from __future__ import annotations

import numpy as np

from .fixedpoint import wrap32

# TFLM asserts -(2^47) <= x < 2^47 and -31 <= shift < 8 (the total shift 15 - shift must be
# positive and the product x * q15 must fit int64).
ACC64_LIMIT = 1 << 47
MAX_SHIFT64 = 7


def reduced_multiplier(multiplier) -> np.ndarray:
    """The q31 multiplier rounded to q15, saturated at 0x7FFF."""
    m = np.asarray(multiplier, dtype=np.int64)
    return np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)


def multiply_by_quantized_multiplier_64(x, multiplier, shift) -> np.ndarray:
    """round(x * q15 / 2^(15 - shift)) halves up, truncated to int32 as TFLM's cast does."""
    x = np.asarray(x, dtype=np.int64)
    total = 15 - np.asarray(shift, dtype=np.int64)
    r = (x * reduced_multiplier(multiplier) + (np.int64(1) << (total - 1))) >> total
    return wrap32(r)
