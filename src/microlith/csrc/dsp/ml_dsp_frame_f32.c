#include "ml_dsp_frame_f32.h"

ml_status ml_dsp_frame_f32(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out)
{
    const uint32_t len = params->frame_length;
    const uint32_t n_fft = params->n_fft;
    if (len > n_fft) {
        return ML_ARG_ERROR;
    }
    /* locals, not params->..., in the loops: out may alias params as far as the compiler
     * knows, which would reload them at every sample */
    const float a = params->preemphasis;
    const float *w = params->window;
    if (a == 0.0f) {
        for (uint32_t i = 0; i < len; ++i) {
            out[i] = (float)x[i] * w[i];
        }
    } else {
        float before = (float)prev;
        for (uint32_t i = 0; i < len; ++i) {
            const float cur = (float)x[i];
            out[i] = (cur - a * before) * w[i];
            before = cur;
        }
    }
    for (uint32_t i = len; i < n_fft; ++i) {
        out[i] = 0.0f;
    }
    return ML_OK;
}
