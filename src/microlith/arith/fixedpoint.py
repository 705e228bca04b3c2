"""Integer arithmetic of the TFLite int8 spec, bit for bit as TFLM computes it.

Python twins of the C helpers in csrc/common/ml_common.h. Everything works on numpy int64 arrays
and returns values that fit int32, so the numpy reference and the C kernels run the same
algorithm. Names follow TFLM's (tensorflow/lite/kernels/internal/common.h) so a reader can
put them side by side.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A real multiplier as (q31 mantissa, power-of-two exponent), TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):  # callers refuse such scales first (ops.requant_multiplier)
        raise ValueError(f"quantize_multiplier({real}): not a finite number")
    q, shift = math.frexp(real)
    q_fixed = int(math.copysign(math.floor(abs(q) * (1 << 31) + 0.5), q))  # std::round
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: same mantissa, exponent <= 0."""
    assert 0.0 <= real < 1.0, real
    return quantize_multiplier(real)


def _trunc_div(x: np.ndarray, d: int) -> np.ndarray:
    """C integer division (rounds toward zero)."""
    q = np.abs(x) // d
    return np.where(x < 0, -q, q)


def wrap32(x) -> np.ndarray:
    """Two's complement wrap to int32, as an int32 multiply overflows on every target we build."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    res = _trunc_div(ab + nudge, 1 << 31)
    return np.where(overflow, INT32_MAX, res).astype(np.int64)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLM's MultiplyByQuantizedMultiplier (double rounding), elementwise and broadcasting."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = wrap32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, shift) -> np.ndarray:
    """TFLM's MultiplyByQuantizedMultiplierSmallerThanOneExp (used by int8 ADD/SUB)."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier),
                                  -np.asarray(shift, dtype=np.int64))


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = -128, qmax: int = 127) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for a fused activation."""
    def q(real: float) -> int:  # TFLM divides in float32
        return zero_point + int(_tf_round(float(np.float32(real) / np.float32(scale))))
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(activation)


def _tf_round(x: float) -> float:
    """std::round: halves away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def tf_round(x):
    """Elementwise std::round for arrays or scalars."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)
