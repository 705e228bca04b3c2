#include "ml_dsp_frame_f32.h"

static void natural(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out)
{
    /* locals, not params->..., in the loops: out may alias params as far as the compiler
     * knows, which would reload them at every sample */
    const uint32_t len = params->frame_length;
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
    for (uint32_t i = len; i < params->n_fft; ++i) {
        out[i] = 0.0f;
    }
}

static void reordered(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out)
{
    const uint32_t len = params->frame_length;
    const uint32_t pairs = len / 2;
    const float a = params->preemphasis;
    const float *w = params->window;
    const uint16_t *order = params->order;
    uint32_t j = 0;
    if (a == 0.0f) {
        for (; j < pairs; ++j) {
            float *o = out + 2U * order[j];
            o[0] = (float)x[2 * j] * w[2 * j];
            o[1] = (float)x[2 * j + 1] * w[2 * j + 1];
        }
    } else {
        float before = (float)prev;
        for (; j < pairs; ++j) {
            const float c0 = (float)x[2 * j];
            const float c1 = (float)x[2 * j + 1];
            float *o = out + 2U * order[j];
            o[0] = (c0 - a * before) * w[2 * j];
            o[1] = (c1 - a * c0) * w[2 * j + 1];
            before = c1;
        }
    }
    if (len & 1U) {  /* an odd length: the last sample pairs with the zero padding */
        const float before = len > 1U ? (float)x[len - 2] : (float)prev;
        float *o = out + 2U * order[j];
        o[0] = ((float)x[len - 1] - a * before) * w[len - 1];
        o[1] = 0.0f;
        ++j;
    }
    for (; j < params->n_fft / 2; ++j) {
        float *o = out + 2U * order[j];
        o[0] = 0.0f;
        o[1] = 0.0f;
    }
}

ml_status ml_dsp_frame_f32(const ml_dsp_frame_f32_params *params, const int16_t *x, int16_t prev, float *out)
{
    if (params->frame_length > params->n_fft || (params->order != NULL && (params->n_fft & 1U))) {
        return ML_ARG_ERROR;
    }
    if (params->order == NULL) {
        natural(params, x, prev, out);
    } else {
        reordered(params, x, prev, out);
    }
    return ML_OK;
}
