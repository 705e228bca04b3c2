#include "ml_dsp_frame_f32.h"

ml_status ml_dsp_frame_f32(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out)
{
    const uint32_t len = params->frame_length;
    if (len > params->n_fft) {
        return ML_ARG_ERROR;
    }
    const float a = params->preemphasis;
    float before = (float)prev;
    for (uint32_t i = 0; i < len; ++i) {
        const float cur = (float)x[i];
        out[i] = params->scale * (cur - a * before) * params->window[i];
        before = cur;
    }
    for (uint32_t i = len; i < params->n_fft; ++i) {
        out[i] = 0.0f;
    }
    return ML_OK;
}
