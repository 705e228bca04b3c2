/*
 * Integer math for the fixed-point DSP kernels: no float anywhere, so cores without an FPU
 * run them without soft-float code.
 *
 * ml_dsp_xq is an unsigned value with its own binary exponent, value = m * 2^e with m in
 * [2^30, 2^31) or m = 0 (block floating point: the kernels keep q31 mantissas and track
 * the exponent instead of dropping bits when a feature spans many octaves). Products,
 * quotients and square roots round the mantissa to 31 bits: relative error <= 2^-30 each.
 *
 * ml_dsp_xq_ln_q30(a) = ln(a) in Q30 (int64), a > 0: a degree-9 polynomial in
 * u = 2 t - 1 for log2(1 + t), t in [0, 1), evaluated by Horner in q31; error of ln,
 * polynomial plus roundings, below 1e-8 (measured 6.7e-9; tests/test_dsp.py sweeps it).
 */
#ifndef ML_DSP_MATHQ_H
#define ML_DSP_MATHQ_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t m;
    int32_t e;
} ml_dsp_xq;

/* round(ln(2) * 2^30) */
#define ML_DSP_LN2_Q30 744261118LL

/* Number of significant bits of v (0 for 0). */
int32_t ml_dsp_bitlen_u64(uint64_t v);
/* floor(sqrt(v)) */
uint32_t ml_dsp_isqrt_u64(uint64_t v);
/* v * 2^-s rounded half up (s > 0) or v * 2^-s exactly (s <= 0; the caller ensures it fits). */
static inline int64_t ml_dsp_shift_round_i64(int64_t v, int32_t s)
{
    if (s <= 0) {
        return (int64_t)((uint64_t)v << (uint32_t)(-s));
    }
    if (s >= 63) {
        return 0;
    }
    return (v >> s) + ((v >> (s - 1)) & 1);  /* (v + 2^(s-1)) >> s without overflow */
}
int32_t ml_dsp_sat_i32(int64_t v);

ml_dsp_xq ml_dsp_xq_from_u64(uint64_t v, int32_t e);
ml_dsp_xq ml_dsp_xq_mul(ml_dsp_xq a, ml_dsp_xq b);
/* a / b; b must not be zero (returns 0 if it is). */
ml_dsp_xq ml_dsp_xq_div(ml_dsp_xq a, ml_dsp_xq b);
ml_dsp_xq ml_dsp_xq_sqrt(ml_dsp_xq a);
/* round(a * 2^frac_bits), saturated to INT32_MAX. */
int32_t ml_dsp_xq_to_q(ml_dsp_xq a, int32_t frac_bits);
/* ln(a) in Q30; a.m must not be zero. */
int64_t ml_dsp_xq_ln_q30(ml_dsp_xq a);

#endif /* ML_DSP_MATHQ_H */
