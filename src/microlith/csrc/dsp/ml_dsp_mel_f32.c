#include "ml_dsp_mel_f32.h"

ml_status ml_dsp_mel_f32(const ml_dsp_filterbank_f32_params *params, const float *power, float *out)
{
    const float *w = params->weights;
    for (uint32_t m = 0; m < params->n_filters; ++m) {
        const float *p = power + params->start[m];
        float acc = 0.0f;
        for (uint32_t j = 0; j < params->count[m]; ++j) {
            acc += w[j] * p[j];
        }
        out[m] = acc;
        w += params->count[m];
    }
    return ML_OK;
}
