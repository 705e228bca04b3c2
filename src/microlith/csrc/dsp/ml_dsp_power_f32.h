#ifndef ML_DSP_POWER_F32_H
#define ML_DSP_POWER_F32_H

#include "ml_dsp_common.h"

/* power[k] = |X_k|^2, k = 0 .. n/2 (n = params->n), from a packed real FFT of n points (see ml_dsp_rfft_f32). */
ml_status ml_dsp_power_f32(const ml_dsp_fft_f32_params *params, const float *spectrum, float *power);

#endif
