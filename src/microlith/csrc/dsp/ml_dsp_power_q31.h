#ifndef ML_DSP_POWER_Q31_H
#define ML_DSP_POWER_Q31_H

#include "ml_dsp_common.h"

/* power[k] = Re^2 + Im^2 of X_k, k = 0 .. n/2 (n = params->n), exact in uint64, from a packed ml_dsp_rfft_q31
 * output (the block exponent doubles). */
ml_status ml_dsp_power_q31(const ml_dsp_fft_q31_params *params, const int32_t *spectrum, uint64_t *power);

#endif
