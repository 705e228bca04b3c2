#include "ml_dsp_mathf.h"

float ml_dsp_logf(float x)
{
    return ml_dsp_logf_inline(x);
}

float ml_dsp_sqrtf(float x)
{
    if (!(x > 0.0f)) {
        return 0.0f;
    }
    float y = ml_dsp_bits_float(0x1FBD1DF5U + (ml_dsp_float_bits(x) >> 1));  /* within 4 % */
    y = 0.5f * (y + x / y);
    y = 0.5f * (y + x / y);
    y = 0.5f * (y + x / y);
    /* Newton leaves y off by an ulp in either direction; one residual step rounds it. */
    return y + (x - y * y) / (2.0f * y);
}
