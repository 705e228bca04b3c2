"""TFLite's fixed-point natural logarithm, log_x_for_x_greater_than_or_equal_to_1
(tensorflow/lite/kernels/internal/common.h), bit for bit, for int8 LOG_SOFTMAX.

Built from gemmlowp's operations (arith/gemmlowp.py) plus the two saturating helpers TFLite
adds next to it (SaturatingAddNonGemmlowp, SaturatingSub) and SaturatingRoundingMultiplyByPOTParam,
whose exponent is a run-time value. C twin: ml_fp_log_x_ge_1 in csrc/reduce/ml_log_softmax_s8.c.
"""
from __future__ import annotations

import numpy as np

from . import gemmlowp as fp
from .fixedpoint import INT32_MAX, INT32_MIN

# Raw Q0.31 constants, as TFLite spells them (GEMMLOWP_CHECKED_FIXEDPOINT_CONSTANT).
LOG_2 = 1488522236            # log(2)
SQRT_SQRT_HALF = 1805811301   # 0.5^(1/4)
SQRT_HALF = 1518500250        # 0.5^(1/2)
ONE_QUARTER = 536870912       # 1/4
ALPHA_N = 117049297           # 11/240 * 2^(1/4)
ALPHA_D = 127690142           # 1/20 * 2^(1/4)
ALPHA_I = 1057819769          # 2 / 2^(1/4) - 2^(1/4)
ALPHA_F = 638450708           # 1/4 * 2^(1/4)


def saturating_add(a, b) -> np.ndarray:
    return np.clip(np.asarray(a, np.int64) + np.asarray(b, np.int64), INT32_MIN, INT32_MAX)


def saturating_sub(a, b) -> np.ndarray:
    return np.clip(np.asarray(a, np.int64) - np.asarray(b, np.int64), INT32_MIN, INT32_MAX)


def multiply_by_pot_param(x, exponent) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOTParam for exponents in [0, 30] (arrays allowed): a left
    shift that saturates to the int32 limits. Exponent 0 leaves x as it is."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    assert ((exponent >= 0) & (exponent <= 30)).all(), exponent
    threshold = (np.int64(1) << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def log_x_for_x_greater_than_or_equal_to_1(x, output_integer_bits: int, input_integer_bits: int):
    """log(x) for x >= 1 given with `input_integer_bits`; result with `output_integer_bits`."""
    accum_bits = output_integer_bits + 1  # headroom: z_pow_2_adj * log_2 may saturate
    shifted_quarter = fp.rescale(ONE_QUARTER, 0, accum_bits)
    z_a = np.asarray(x, np.int64)
    z_a_headroom_plus_1 = fp.count_leading_zeros32(z_a)
    r_a_tmp = multiply_by_pot_param(z_a, z_a_headroom_plus_1 - 1)
    r_a_raw = multiply_by_pot_param(fp.mul(r_a_tmp, SQRT_HALF), 1)
    z_a_pow_2_adj = saturating_add(
        multiply_by_pot_param(input_integer_bits - z_a_headroom_plus_1, 31 - accum_bits), shifted_quarter)
    # z_b is z_a premultiplied by sqrt(1/2); the better-conditioned of the two is kept.
    z_b = fp.mul(z_a, SQRT_HALF)
    z_b_headroom = fp.count_leading_zeros32(z_b) - 1
    r_b_raw = multiply_by_pot_param(z_a, z_b_headroom)
    z_b_pow_2_adj = saturating_sub(
        multiply_by_pot_param(input_integer_bits - z_b_headroom, 31 - accum_bits), shifted_quarter)
    r = np.minimum(r_a_raw, r_b_raw)
    z_pow_2_adj = np.maximum(z_a_pow_2_adj, z_b_pow_2_adj)

    p = fp.rounding_half_sum(r, SQRT_SQRT_HALF)
    q = fp.sub(r, SQRT_SQRT_HALF)
    q = fp.add(q, q)
    common_sq = fp.mul(q, q)
    num = fp.add(fp.mul(q, r), fp.mul(fp.mul(q, common_sq), ALPHA_N))
    denom_minus_one_0 = fp.add(fp.mul(p, fp.add(fp.add(ALPHA_I, q), fp.mul(ALPHA_D, common_sq))),
                               fp.mul(ALPHA_F, q))
    recip_denom = fp.one_over_one_plus_x_for_x_in_0_1(denom_minus_one_0)
    num_scaled = fp.rescale(num, 0, accum_bits)
    return fp.rescale(fp.add(fp.mul(z_pow_2_adj, LOG_2), fp.mul(num_scaled, recip_denom)),
                      accum_bits, output_integer_bits)
