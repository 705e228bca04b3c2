#ifndef ML_DSP_RFFT_POWER_F32_H
#define ML_DSP_RFFT_POWER_F32_H

#include "ml_dsp_common.h"

/*
 * power[k] = |X_k|^2 for k = 0 .. n_bins - 1 (n_bins <= n/2 + 1), X the real FFT of the
 * params->n samples in data (n >= 4, a power of two). data is used as work and left holding
 * the n/2-point complex FFT of (x_2j + i x_2j+1). The same power as ml_dsp_rfft_f32 followed
 * by ml_dsp_power_f32, without the packed spectrum in between and without the bins past
 * n_bins (a mel filterbank that stops below Nyquist needs only its own).
 */
ml_status ml_dsp_rfft_power_f32(const ml_dsp_fft_f32_params *params, uint32_t n_bins, float *data, float *power);

#endif
