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

float ml_dsp_logf(float x);
float ml_dsp_sqrtf(float x);

#endif /* ML_DSP_MATHF_H */
