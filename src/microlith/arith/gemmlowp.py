"""gemmlowp's fixed-point math (fixedpoint/fixedpoint.h, scalar int32 path), bit for bit.

Python twin of csrc/ml_fixedpoint.h. TFLM's int8 SOFTMAX, LOGISTIC and TANH evaluate exp,
1/(1+x), logistic and tanh in this arithmetic, so the numpy reference must run the very same
int32 operations: saturating rounding doubling high multiplies, rounding shifts, and plain
adds that wrap in two's complement (gemmlowp's Add/Sub/Neg are unchecked int32 operations).

A raw int32 with m integer bits stands for raw / 2^(31 - m) ("Qm.(31-m)"). Every function takes
and returns numpy int64 arrays (or scalars) whose values fit int32; the integer-bit counts are
plain Python ints, as they are template arguments in gemmlowp.
"""
from __future__ import annotations

import numpy as np

from .fixedpoint import (INT32_MAX, INT32_MIN, rounding_divide_by_pot,
                         saturating_rounding_doubling_high_mul, wrap32)

# Raw int32 constants, copied from gemmlowp so that no float enters the arithmetic.
_EXP_MINUS_ONE_EIGHTH = 1895147668    # exp(-1/8) in Q0.31
_ONE_THIRD = 715827883                # 1/3 in Q0.31
_48_OVER_17 = 1515870810              # 48/17 in Q2.29
_MINUS_32_OVER_17 = -1010580540       # -32/17 in Q2.29
# exp(-2^k) in Q0.31 for the barrel shifter of exp_on_negative_values, k = -2..4.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))
ONE_Q0 = INT32_MAX                    # "1.0" with no integer bits saturates to the largest raw
ONE_Q2 = 1 << 29                      # 1.0 in Q2.29


def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def add(a, b) -> np.ndarray:
    """gemmlowp Add: plain int32 addition, wrapping."""
    return wrap32(_i64(a) + _i64(b))


def sub(a, b) -> np.ndarray:
    return wrap32(_i64(a) - _i64(b))


def neg(a) -> np.ndarray:
    return wrap32(-_i64(a))


def mul(a, b) -> np.ndarray:
    """FixedPoint product: integer bits add up, raw is SaturatingRoundingDoublingHighMul."""
    return saturating_rounding_doubling_high_mul(a, b)


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """x * 2^exponent: saturating left shift for exponent > 0, rounding right shift for < 0."""
    x = _i64(x)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX,
                    np.where(x < -threshold, INT32_MIN, x << exponent)).astype(np.int64)


def rescale(x, src_bits: int, dst_bits: int) -> np.ndarray:
    """gemmlowp Rescale<dst>(FixedPoint<int32, src>)."""
    return saturating_rounding_multiply_by_pot(x, src_bits - dst_bits)


def rounding_half_sum(a, b) -> np.ndarray:
    """(a + b) / 2 rounded half away from zero (VRHADD), computed in 64 bits."""
    s = _i64(a) + _i64(b)
    s = s + np.where(s >= 0, 1, -1)
    q = np.abs(s) // 2
    return np.where(s < 0, -q, q).astype(np.int64)  # C division truncates toward zero


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8."""
    x = add(a, 1 << 28)
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(add(mul(add(x4_over_4, x3), _ONE_THIRD), x2), -1)
    return add(_EXP_MINUS_ONE_EIGHTH, mul(_EXP_MINUS_ONE_EIGHTH, add(x, poly)))


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) for a <= 0 given with `integer_bits` integer bits; result in Q0.31."""
    a = _i64(a)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod_quarter_minus_one_quarter = sub(a & (one_quarter - 1), one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = sub(a_mod_quarter_minus_one_quarter, a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (frac_bits + exponent)
            result = np.where(remainder & bit, mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, ONE_Q0, result).astype(np.int64)


def _newton_reciprocal_of_half_denominator(a) -> tuple[np.ndarray, np.ndarray]:
    """Three Newton-Raphson steps towards 1 / ((1 + a) / 2), in Q2.29."""
    half_denominator = rounding_half_sum(a, ONE_Q0)
    x = add(_48_OVER_17, mul(half_denominator, _MINUS_32_OVER_17))
    for _ in range(3):
        one_minus_half_denominator_times_x = sub(ONE_Q2, mul(half_denominator, x))
        x = add(x, rescale(mul(x, one_minus_half_denominator_times_x), 4, 2))
    return x, half_denominator


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out."""
    x, _ = _newton_reciprocal_of_half_denominator(a)
    return rescale(x, 1, 0)  # ExactMulByPot<-1> turns Q2 into Q1 without touching the raw


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out."""
    x, _ = _newton_reciprocal_of_half_denominator(a)
    return rescale(sub(x, ONE_Q2), 2, 0)


def logistic(a, integer_bits: int) -> np.ndarray:
    """1 / (1 + exp(-a)) for any a; result in Q0.31."""
    a = _i64(a)
    positive = a > 0
    abs_input = np.where(positive, a, neg(a))
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(neg(abs_input), integer_bits))
    if_negative = sub(ONE_Q0, if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative)).astype(np.int64)


def tanh(a, integer_bits: int) -> np.ndarray:
    """tanh(a) for any a; result in Q0.31."""
    a = _i64(a)
    negative = a < 0
    n = np.where(negative, a, neg(a))
    # -tanh(n) for n <= 0 is (1 - exp(2n)) / (1 + exp(2n)); doubling n is a change of format only.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, neg(t), t)).astype(np.int64)


def count_leading_zeros32(x) -> np.ndarray:
    """Leading zero bits of x as uint32 (32 for 0)."""
    u = _i64(x) & 0xFFFFFFFF
    n = np.full(u.shape, 32, dtype=np.int64)
    for bit in range(31, -1, -1):
        n = np.where((n == 32) & ((u >> bit) & 1 == 1), 31 - bit, n)
    return n


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal: 1/x as (Q0.31 mantissa in [0.5, 1], num_bits_over_unit)."""
    x = _i64(x)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x & 0xFFFFFFFF) << headroom_plus_one) & 0xFFFFFFFF
    shifted_sum_minus_one = wrap32(shifted - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit
