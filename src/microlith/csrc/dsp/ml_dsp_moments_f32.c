#include "ml_dsp_moments_f32.h"

#include "ml_dsp_mathf.h"

ml_status ml_dsp_moments_f32(const ml_dsp_moments_f32_params *params, const int16_t *x, float *out)
{
    const uint32_t n = params->n;
    if (n == 0U || n > 65536U) {
        return ML_ARG_ERROR;
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        sum += x[i];
    }
    int64_t peak = 0;  /* of d = n x - sum = n (x - mean), |d| <= 2^32 */
    for (uint32_t i = 0; i < n; ++i) {
        int64_t d = (int64_t)n * x[i] - sum;
        d = d < 0 ? -d : d;
        peak = d > peak ? d : peak;
    }
    if (peak == 0) {
        out[0] = out[1] = out[2] = out[3] = 0.0f;
        return ML_OK;
    }
    const float inv_peak = 1.0f / (float)peak;
    float s2 = 0.0f;
    float s4 = 0.0f;
    for (uint32_t i = 0; i < n; ++i) {
        const float c = (float)((int64_t)n * x[i] - sum) * inv_peak;
        const float c2 = c * c;
        s2 += c2;
        s4 += c2 * c2;
    }
    const float nf = (float)n;
    const float rms_unit = ml_dsp_sqrtf(s2 / nf);  /* rms / peak */
    const float peak_phys = params->scale * ((float)peak / nf);
    out[0] = peak_phys * rms_unit;
    out[1] = peak_phys;
    out[2] = 1.0f / rms_unit;
    out[3] = nf * s4 / (s2 * s2);
    return ML_OK;
}
