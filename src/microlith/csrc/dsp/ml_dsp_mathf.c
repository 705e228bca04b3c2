#include "ml_dsp_mathf.h"

/* ln 2 split so that e * LN2_HI is exact for |e| < 2^9 (LN2_HI has 16 significant bits). */
#define ML_DSP_LN2_HI 0.693145751953125f
#define ML_DSP_LN2_LO 1.42860682030941723212e-6f
#define ML_DSP_SQRT2 1.41421356237309504880f

static uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

float ml_dsp_logf(float x)
{
    const uint32_t u = float_bits(x);
    int32_t e = (int32_t)((u >> 23) & 0xFFU) - 127;
    float m = bits_float((u & 0x007FFFFFU) | 0x3F800000U);  /* [1, 2) */
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

float ml_dsp_sqrtf(float x)
{
    if (!(x > 0.0f)) {
        return 0.0f;
    }
    float y = bits_float(0x1FBD1DF5U + (float_bits(x) >> 1));  /* within 4 % */
    y = 0.5f * (y + x / y);
    y = 0.5f * (y + x / y);
    y = 0.5f * (y + x / y);
    /* Newton leaves y off by an ulp in either direction; one residual step rounds it. */
    return y + (x - y * y) / (2.0f * y);
}
