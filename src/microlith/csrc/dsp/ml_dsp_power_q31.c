#include "ml_dsp_power_q31.h"

ml_status ml_dsp_power_q31(const ml_dsp_fft_q31_params *params, const int32_t *spectrum, uint64_t *power)
{
    const uint32_t n = params->n;
    if (n < 4U || (n & 1U)) {
        return ML_ARG_ERROR;
    }
    power[0] = (uint64_t)ml_dsp_mul_s64(spectrum[0], spectrum[0]);
    power[n / 2] = (uint64_t)ml_dsp_mul_s64(spectrum[1], spectrum[1]);
    for (uint32_t k = 1; k < n / 2; ++k) {
        const int32_t re = spectrum[2 * k];
        const int32_t im = spectrum[2 * k + 1];
        power[k] = (uint64_t)ml_dsp_mul_s64(re, re) + (uint64_t)ml_dsp_mul_s64(im, im);
    }
    return ML_OK;
}
