#include "ml_dsp_mathq.h"

/* log2((u + 3) / 2) for u in [-1, 1), power-basis coefficients in q31, lowest order first
 * (a Chebyshev fit; microlith.dsp.fixedmath.LOG2_POLY_Q31 holds the same numbers). */
static const int32_t ml_dsp_log2_poly_q31[10] = {
    1256197392, 1032721359, -172119561, 38248487, -9567445,
    2552414, -694101, 196853, -74447, 22708,
};

/* round(ln(2) * 2^52): the exponent's share of ln needs more than Q30 precision because
 * it is multiplied by up to a few hundred. */
#define ML_DSP_LN2_Q52 3121657384082680LL

int32_t ml_dsp_bitlen_u64(uint64_t v)
{
    /* binary search on 32-bit halves: a handful of steps, not one 64-bit shift per bit */
    uint32_t x = (uint32_t)(v >> 32);
    int32_t n = 32;
    if (x == 0U) {
        x = (uint32_t)v;
        n = 0;
    }
    if (x == 0U) {
        return 0;
    }
    if (x >> 16) {
        x >>= 16;
        n += 16;
    }
    if (x >> 8) {
        x >>= 8;
        n += 8;
    }
    if (x >> 4) {
        x >>= 4;
        n += 4;
    }
    if (x >> 2) {
        x >>= 2;
        n += 2;
    }
    if (x >> 1) {
        x >>= 1;
        n += 1;
    }
    return n + (int32_t)x;
}

uint32_t ml_dsp_isqrt_u64(uint64_t v)
{
    /* Bit-by-bit square root: exact floor, no division. */
    uint64_t rem = v;
    uint64_t root = 0;
    uint64_t bit = 1ULL << 62;
    while (bit > rem) {
        bit >>= 2;
    }
    while (bit != 0U) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)root;
}

int32_t ml_dsp_sat_i32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : (int32_t)v);
}

ml_dsp_xq ml_dsp_xq_from_u64(uint64_t v, int32_t e)
{
    ml_dsp_xq r;
    const int32_t bits = ml_dsp_bitlen_u64(v);
    if (bits == 0) {
        r.m = 0U;
        r.e = 0;
        return r;
    }
    const int32_t s = bits - 31;  /* bring the top bit to bit 30 */
    uint64_t m;
    if (s > 0) {
        m = (v >> s) + ((v >> (s - 1)) & 1U);  /* rounded; v + 2^(s-1) could overflow */
        if (m >> 31) {  /* rounding carried into bit 31 */
            m >>= 1;
            r.e = e + s + 1;
        } else {
            r.e = e + s;
        }
    } else {
        m = v << (uint32_t)(-s);
        r.e = e + s;
    }
    r.m = (uint32_t)m;
    return r;
}

ml_dsp_xq ml_dsp_xq_mul(ml_dsp_xq a, ml_dsp_xq b)
{
    if (a.m == 0U || b.m == 0U) {
        return ml_dsp_xq_from_u64(0U, 0);
    }
    return ml_dsp_xq_from_u64((uint64_t)a.m * b.m, a.e + b.e);
}

ml_dsp_xq ml_dsp_xq_div(ml_dsp_xq a, ml_dsp_xq b)
{
    if (a.m == 0U || b.m == 0U) {
        return ml_dsp_xq_from_u64(0U, 0);
    }
    /* a.m < 2^31, so a.m << 32 < 2^63; the quotient lies in (2^31, 2^33). */
    const uint64_t q = (((uint64_t)a.m << 32) + (b.m >> 1)) / b.m;
    return ml_dsp_xq_from_u64(q, a.e - b.e - 32);
}

ml_dsp_xq ml_dsp_xq_sqrt(ml_dsp_xq a)
{
    if (a.m == 0U) {
        return a;
    }
    uint64_t m = a.m;
    int32_t e = a.e;
    if (e & 1) {
        m <<= 1;
        e -= 1;
    }
    /* sqrt(m * 2^32) = sqrt(m) * 2^16 keeps 31 or 32 significant bits. */
    return ml_dsp_xq_from_u64(ml_dsp_isqrt_u64(m << 32), (e - 32) / 2);
}

int32_t ml_dsp_xq_to_q(ml_dsp_xq a, int32_t frac_bits)
{
    const int32_t s = a.e + frac_bits;
    if (a.m == 0U) {
        return 0;
    }
    if (s >= 1) {
        return INT32_MAX;  /* m >= 2^30 times 2 or more */
    }
    return ml_dsp_sat_i32(ml_dsp_shift_round_i64((int64_t)a.m, -s));
}

int64_t ml_dsp_xq_ln_q30(ml_dsp_xq a)
{
    /* a = (m / 2^30) * 2^(e + 30) with m / 2^30 = 1 + t, t in [0, 1); u = 2 t - 1. */
    /* u = 4 m - 3 2^31 in [-2^31, 2^31): int32. Every Horner step but the last stays below
     * 0.59 * 2^31 in magnitude (fixedmath.LOG2_POLY_Q31 over the whole range of u), so the
     * steps are q31 products, (acc u + 2^30) >> 31 exactly as before, without the 64 x 64
     * multiply ARMv6-M would call a library routine for. */
    const uint32_t x = a.m * 4U;  /* 4 m - 2^32, modulo 2^32 */
    const int32_t u = x >= 0x80000000U ? (int32_t)(x - 0x80000000U) : (int32_t)x - INT32_MAX - 1;
    int32_t acc = ml_dsp_log2_poly_q31[9];
    for (int k = 8; k >= 1; --k) {
        acc = ml_dsp_log2_poly_q31[k] + ml_dsp_mul_q31(acc, u);
    }
    /* log2(1 + t) in q31, about [0, 1]: the fit can pass 2^31 by a little near t = 1, which
     * does not fit int32; there (2^31 + d) L rounds as L + (d L rounded) */
    const int64_t log2_q31 = (int64_t)ml_dsp_log2_poly_q31[0] + ml_dsp_mul_q31(acc, u);
    const int64_t frac = log2_q31 > INT32_MAX
        ? ML_DSP_LN2_Q30 + ml_dsp_mul_q31((int32_t)(log2_q31 - 2147483648LL), (int32_t)ML_DSP_LN2_Q30)
        : ml_dsp_mul_q31((int32_t)log2_q31, (int32_t)ML_DSP_LN2_Q30);
    /* (e + 30) ln2 in Q52 from 32-bit products: LN2_Q52 = H 2^32 + M 2^16 + L, |e + 30| < 2^10 */
    const int32_t e30 = a.e + 30;
    const int64_t e_ln2 = (int64_t)(e30 * (int32_t)(ML_DSP_LN2_Q52 >> 32)) * 4294967296LL
                          + (int64_t)(e30 * (int32_t)((ML_DSP_LN2_Q52 >> 16) & 0xFFFF)) * 65536LL
                          + (int64_t)(e30 * (int32_t)(ML_DSP_LN2_Q52 & 0xFFFF));
    const int64_t whole = (e_ln2 + (1LL << 21)) >> 22;
    return whole + frac;
}
