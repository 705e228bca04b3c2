#ifndef ML_DSP_CFFT_Q31_H
#define ML_DSP_CFFT_Q31_H

#include "ml_dsp_common.h"

/*
 * In-place complex FFT (radix-2 stages fused in pairs) of params->n points on int32 (re, im) pairs, unscaled
 * (no 1/2 per stage): the caller leaves log2(n) + 1 bits of headroom, |re|, |im| <
 * 2^(30 - log2 n), and keeps the block exponent itself. Then no sum overflows: every
 * stage output stays below 2^30 in magnitude. Each twiddle product rounds to nearest (q31) on its own (ml_dsp_mul_q31).
 * inverse = 0: exp(-2 pi i jk / n); inverse = 1: exp(+2 pi i jk / n), no 1/n.
 */
ml_status ml_dsp_cfft_q31(const ml_dsp_fft_q31_params *params, int32_t inverse, int32_t *data);

#endif
