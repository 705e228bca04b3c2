#ifndef ML_DSP_RFFT_F32_H
#define ML_DSP_RFFT_F32_H

#include "ml_dsp_common.h"

/*
 * In-place real FFT of params->n samples (n >= 4, a power of two) through an n/2-point
 * complex FFT. Output packing (CMSIS-DSP's): data[0] = X_0, data[1] = X_{n/2} (both real),
 * data[2k], data[2k+1] = Re, Im of X_k for 0 < k < n/2. The twiddle table must cover n
 * points (params->stride = N / n).
 */
ml_status ml_dsp_rfft_f32(const ml_dsp_fft_f32_params *params, float *data);

#endif
