/*
 * Float math without math.h (the library must not need libm on the target).
 *
 * ml_dsp_logf(x), x > 0 and normal (x >= FLT_MIN): x = 2^e * m with m in [sqrt(1/2), sqrt(2)),
 *   ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^9/9), s = (m - 1)/(m + 1), |s| <= 0.1716, so
 *   the series is truncated below 1e-9; what remains is float rounding. Max error, over
 *   2^20 log-spaced x in [1e-37, 1e37] and the 4000 floats around 1: 1.5e-7 absolute where
 *   |ln x| <= 1 and 1.5e-7 * |ln x| beyond (measured 7.6e-8 and 1.1e-7; tests/test_dsp.py).
 * ml_dsp_sqrtf(x), x >= 0: bit-level first guess, three Newton steps and a last correction
 *   of the square's residual; max relative error 1.2e-7 (measured 8.9e-8, one ulp).
 */
#ifndef ML_DSP_MATHF_H
#define ML_DSP_MATHF_H

#include "ml_dsp_common.h"

/* ln 2 split so that e * LN2_HI is exact for |e| < 2^9 (LN2_HI has 16 significant bits). */
#define ML_DSP_LN2_HI 0.693145751953125f
#define ML_DSP_LN2_LO 1.42860682030941723212e-6f
#define ML_DSP_SQRT2 1.41421356237309504880f

static inline uint32_t ml_dsp_float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float ml_dsp_bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ml_dsp_logf's body, for loops that take one log per element (no call per value) */
static inline float ml_dsp_logf_inline(float x)
{
    const uint32_t u = ml_dsp_float_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xFFU) - 127;
    float m = ml_dsp_bits_float((u & 0x007FFFFFU) | 0x3F800000U);  /* [1, 2) */
    if (m > ML_DSP_SQRT2) {
        m *= 0.5f;
        e += 1;
    }
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    const float series = s * (2.0f + s2 * (2.0f / 3.0f + s2 * (2.0f / 5.0f + s2 * (2.0f / 7.0f + s2 * (2.0f / 9.0f)))));
    const float ef = (float)e;
    return ef * ML_DSP_LN2_HI + (series + ef * ML_DSP_LN2_LO);
}

float ml_dsp_logf(float x);
float ml_dsp_sqrtf(float x);

#endif /* ML_DSP_MATHF_H */
