#include "ml_dsp_power_f32.h"

ml_status ml_dsp_power_f32(const ml_dsp_fft_f32_params *params, const float *spectrum, float *power)
{
    const uint32_t n = params->n;
    if (n < 4U || (n & 1U)) {
        return ML_ARG_ERROR;
    }
    power[0] = spectrum[0] * spectrum[0];
    power[n / 2] = spectrum[1] * spectrum[1];
    for (uint32_t k = 1; k < n / 2; ++k) {
        const float re = spectrum[2 * k];
        const float im = spectrum[2 * k + 1];
        power[k] = re * re + im * im;
    }
    return ML_OK;
}
