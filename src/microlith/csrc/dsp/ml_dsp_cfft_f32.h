#ifndef ML_DSP_CFFT_F32_H
#define ML_DSP_CFFT_F32_H

#include "ml_dsp_common.h"

/*
 * In-place complex FFT of params->n points, data interleaved (re, im), 2 n floats: radix-2
 * stages fused in pairs (radix-2^2), about 62 instructions per 4-point butterfly on a
 * Cortex-M4F; the bit-reversal permutation from params->bitrev when given.
 * inverse = 0: X_k = sum_j x_j exp(-2 pi i j k / n); inverse = 1: the same with +i and
 * without the 1/n (callers fold it into their own scale).
 */
ml_status ml_dsp_cfft_f32(const ml_dsp_fft_f32_params *params, int32_t inverse, float *data);

#endif
