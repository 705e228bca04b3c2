#include "ml_dsp_envelope_f32.h"

#include "ml_dsp_cfft_f32.h"
#include "ml_dsp_mathf.h"
#include "ml_dsp_rfft_f32.h"

ml_status ml_dsp_envelope_f32(const ml_dsp_envelope_f32_params *params, const int16_t *x, float *out,
                              float *work)
{
    const uint32_t n = params->fft->n;
    const uint32_t m = params->m;
    const uint32_t width = params->k_hi - params->k_lo + 1U;
    if (!ml_dsp_is_pow2(m) || m > n || params->k_lo == 0U || params->k_hi < params->k_lo ||
        params->k_hi >= n / 2 || width > m || 2U * (params->n_out + 1U) > m) {
        return ML_ARG_ERROR;
    }
    for (uint32_t i = 0; i < n; ++i) {
        work[i] = (float)x[i];
    }
    ml_status st = ml_dsp_rfft_f32(params->fft, work);
    if (st != ML_OK) {
        return st;
    }
    /* Source bins sit above their destination (k_lo >= 1), so copying upward is safe. */
    for (uint32_t j = 0; j < width; ++j) {
        work[2 * j] = work[2 * (params->k_lo + j)];
        work[2 * j + 1] = work[2 * (params->k_lo + j) + 1];
    }
    for (uint32_t j = 2 * width; j < 2 * m; ++j) {
        work[j] = 0.0f;
    }
    const uint32_t stride = params->fft->stride * (n / m);
    const ml_dsp_fft_f32_params small = { m, stride, params->fft->twiddle, NULL, 0U };
    st = ml_dsp_cfft_f32(&small, 1, work);
    if (st != ML_OK) {
        return st;
    }
    float mean = 0.0f;
    for (uint32_t j = 0; j < m; ++j) {
        const float re = work[2 * j];
        const float im = work[2 * j + 1];
        work[j] = ml_dsp_sqrtf(re * re + im * im);
        mean += work[j];
    }
    mean /= (float)m;
    for (uint32_t j = 0; j < m; ++j) {
        work[j] = (work[j] - mean) * params->window[j];
    }
    st = ml_dsp_rfft_f32(&small, work);
    if (st != ML_OK) {
        return st;
    }
    for (uint32_t k = 1; k <= params->n_out; ++k) {
        const float re = work[2 * k];
        const float im = work[2 * k + 1];
        out[k - 1] = params->out_scale * ml_dsp_sqrtf(re * re + im * im);
    }
    return ML_OK;
}
