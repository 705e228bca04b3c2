#include "ml_dsp_band_power_f32.h"

#include "ml_dsp_mathf.h"
#include "ml_dsp_rfft_f32.h"

ml_status ml_dsp_band_power_f32(const ml_dsp_band_power_f32_params *params, const int16_t *x, float *out,
                                float *work)
{
    const uint32_t n_fft = params->fft->n;
    const uint32_t len = params->frame_length;
    if (len == 0U || len > n_fft || len > 65536U) {
        return ML_ARG_ERROR;
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < len; ++i) {
        sum += x[i];
    }
    for (uint32_t i = 0; i < len; ++i) {
        work[i] = (float)((int64_t)len * x[i] - sum) * params->window[i];
    }
    for (uint32_t i = len; i < n_fft; ++i) {
        work[i] = 0.0f;
    }
    const ml_status st = ml_dsp_rfft_f32(params->fft, work);
    if (st != ML_OK) {
        return st;
    }
    for (uint32_t b = 0; b < params->n_bands; ++b) {
        float acc = 0.0f;
        for (uint32_t k = params->band_start[b]; k < params->band_end[b]; ++k) {
            if (k == 0U) {
                acc += work[0] * work[0];
            } else if (k == n_fft / 2) {
                acc += work[1] * work[1];
            } else {
                acc += 2.0f * (work[2 * k] * work[2 * k] + work[2 * k + 1] * work[2 * k + 1]);
            }
        }
        const float p = acc * params->norm;
        out[b] = ml_dsp_logf(p > params->floor ? p : params->floor);
    }
    return ML_OK;
}
