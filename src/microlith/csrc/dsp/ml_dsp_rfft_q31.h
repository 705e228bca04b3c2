#ifndef ML_DSP_RFFT_Q31_H
#define ML_DSP_RFFT_Q31_H

#include "ml_dsp_common.h"

/*
 * In-place real FFT of params->n int32 samples (n >= 4, a power of two), unscaled, packed
 * like ml_dsp_rfft_f32: data[0] = X_0, data[1] = X_{n/2}, (Re, Im) of X_k at 2k, 2k+1.
 * Headroom: |x| < 2^(30 - log2 n) (log2(n) + 1 bits free); then |X_k| < 2^30.
 */
ml_status ml_dsp_rfft_q31(const ml_dsp_fft_q31_params *params, int32_t *data);

#endif
