/*
 * Fixed-point math on int32: gemmlowp's fixedpoint.h (scalar path), bit for bit.
 *
 * TFLite Micro evaluates exp, 1/(1+x), logistic and tanh of its int8 SOFTMAX, LOGISTIC and
 * TANH kernels with these routines, so byte-exact kernels must repeat every rounding step.
 * A raw int32 with m integer bits stands for raw / 2^(31 - m) ("Qm.(31-m)"); functions that
 * accept several formats take m as `integer_bits`.
 *
 * gemmlowp adds, subtracts and negates with plain int32 operators, which wrap on every target
 * TFLM runs on. The ml_fp_add/sub/neg below wrap the same way through uint32, so the results
 * agree without relying on signed overflow (undefined behaviour in C).
 *
 * Python twin: microlith/arith/gemmlowp.py.
 */
#ifndef ML_FIXEDPOINT_H
#define ML_FIXEDPOINT_H

#include "ml_common.h"

#define ML_FP_ONE_Q0 INT32_MAX          /* 1.0 with no integer bits saturates to the largest raw */
#define ML_FP_ONE_Q2 ((int32_t)1 << 29) /* 1.0 in Q2.29 */

static inline int32_t ml_fp_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t ml_fp_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static inline int32_t ml_fp_neg(int32_t a)
{
    return (int32_t)(0U - (uint32_t)a);
}

/* Product of two fixed-point values; the integer bits of the result are the sum of both. */
static inline int32_t ml_fp_mul(int32_t a, int32_t b)
{
    return ml_nn_doubling_high_mul(a, b);
}

/* x * 2^exponent: saturating left shift (exponent > 0) or rounding right shift (< 0).
 * exponent in [-31, 30]. */
static inline int32_t ml_fp_mul_pot(int32_t x, int32_t exponent)
{
    if (exponent > 0) {
        const int32_t threshold = (int32_t)((1U << (31 - exponent)) - 1U);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << exponent);
    }
    if (exponent < 0) {
        return ml_nn_divide_by_pot(x, -exponent);
    }
    return x;
}

/* Change of format from src_bits to dst_bits integer bits (gemmlowp's Rescale). */
static inline int32_t ml_fp_rescale(int32_t x, int32_t src_bits, int32_t dst_bits)
{
    return ml_fp_mul_pot(x, src_bits - dst_bits);
}

/* (a + b) / 2 rounded half away from zero (VRHADD); 64 bits, so it never overflows. */
static inline int32_t ml_fp_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* Leading zero bits of x (32 for 0). Called once per softmax row, so a loop is fine. */
static inline int32_t ml_fp_clz(uint32_t x)
{
    int32_t n = 0;
    if (x == 0U) {
        return 32;
    }
    while ((x & 0x80000000U) == 0U) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: 4th-order Taylor series around -1/8. */
static inline int32_t ml_fp_exp_on_interval_neg_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = ml_fp_add(a, (int32_t)1 << 28);
    const int32_t x2 = ml_fp_mul(x, x);
    const int32_t x3 = ml_fp_mul(x2, x);
    const int32_t x4 = ml_fp_mul(x2, x2);
    const int32_t x4_over_4 = ml_fp_mul_pot(x4, -2);
    const int32_t poly = ml_fp_mul_pot(ml_fp_add(ml_fp_mul(ml_fp_add(x4_over_4, x3), one_third), x2), -1);
    return ml_fp_add(exp_minus_one_eighth, ml_fp_mul(exp_minus_one_eighth, ml_fp_add(x, poly)));
}

/* exp(a) for a <= 0 with integer_bits in [1, 30]; result in Q0.31.
 * The fractional part modulo 1/4 goes through the Taylor series; each set bit of the rest
 * multiplies by a constant exp(-2^k) (k = -2..4, the barrel shifter). */
static inline int32_t ml_fp_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = ml_fp_sub(a & (one_quarter - 1), one_quarter);
    const int32_t remainder = ml_fp_sub(a_mod_quarter_minus_one_quarter, a);
    int32_t result = ml_fp_exp_on_interval_neg_quarter(
        ml_fp_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    int32_t k;
    for (k = -2; k <= 4 && k < integer_bits; ++k) {
        if ((uint32_t)remainder & (1U << (frac_bits + k))) {
            result = ml_fp_mul(result, barrel[k + 2]);
        }
    }
    /* exp(-32) is below one Q0.31 step: formats that can express it clamp to 0. */
    if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) {
        result = 0;
    }
    return a == 0 ? ML_FP_ONE_Q0 : result;
}

/* Three Newton-Raphson steps towards 1 / half_denominator, in Q2.29 (gemmlowp's 48/17, 32/17
 * starting point). half_denominator is Q0.31 in [1/2, 1]. */
static inline int32_t ml_fp_newton_reciprocal(int32_t half_denominator)
{
    int32_t x = ml_fp_add(1515870810, ml_fp_mul(half_denominator, -1010580540));
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus_hd_x = ml_fp_sub(ML_FP_ONE_Q2, ml_fp_mul(half_denominator, x));
        x = ml_fp_add(x, ml_fp_rescale(ml_fp_mul(x, one_minus_hd_x), 4, 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
static inline int32_t ml_fp_one_over_one_plus_x(int32_t a)
{
    const int32_t x = ml_fp_newton_reciprocal(ml_fp_rounding_half_sum(a, ML_FP_ONE_Q0));
    return ml_fp_rescale(x, 1, 0); /* halving x is a change of format: Q2 raw read as Q1 */
}

/* (1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out. */
static inline int32_t ml_fp_one_minus_x_over_one_plus_x(int32_t a)
{
    const int32_t x = ml_fp_newton_reciprocal(ml_fp_rounding_half_sum(a, ML_FP_ONE_Q0));
    return ml_fp_rescale(ml_fp_sub(x, ML_FP_ONE_Q2), 2, 0);
}

/* 1 / (1 + exp(-a)), a with integer_bits in [1, 30]; result in Q0.31. */
static inline int32_t ml_fp_logistic(int32_t a, int32_t integer_bits)
{
    int32_t if_positive;
    if (a == 0) {
        return (int32_t)1 << 30;
    }
    if_positive = ml_fp_one_over_one_plus_x(
        ml_fp_exp_on_negative_values(a > 0 ? ml_fp_neg(a) : a, integer_bits));
    return a > 0 ? if_positive : ml_fp_sub(ML_FP_ONE_Q0, if_positive);
}

/* tanh(a), a with integer_bits in [1, 29]; result in Q0.31. */
static inline int32_t ml_fp_tanh(int32_t a, int32_t integer_bits)
{
    int32_t t;
    if (a == 0) {
        return 0;
    }
    /* -tanh(n) = (1 - exp(2n)) / (1 + exp(2n)) for n < 0; doubling n only changes the format. */
    t = ml_fp_one_minus_x_over_one_plus_x(
        ml_fp_exp_on_negative_values(a < 0 ? a : ml_fp_neg(a), integer_bits + 1));
    return a < 0 ? ml_fp_neg(t) : t;
}

/* 1 / x for x > 0 with x_integer_digits integer bits (TFLite's GetReciprocal): returns a
 * Q0.31 mantissa in [1/2, 1] and sets *num_bits_over_unit so that
 * 1/x = mantissa / 2^num_bits_over_unit. */
static inline int32_t ml_fp_reciprocal(int32_t x, int32_t x_integer_digits, int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = ml_fp_clz((uint32_t)x);
    const uint32_t shifted = (uint32_t)((uint64_t)(uint32_t)x << headroom_plus_one);
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    return ml_fp_one_over_one_plus_x((int32_t)(shifted - 0x80000000U));
}

#endif /* ML_FIXEDPOINT_H */
