#include "ml_dsp_cfft_f32.h"

ml_status ml_dsp_cfft_f32(const ml_dsp_fft_f32_params *params, int32_t inverse, float *data)
{
    const uint32_t n = params->n;
    if (!ml_dsp_is_pow2(n) || params->stride == 0U) {
        return ML_ARG_ERROR;
    }
    const uint32_t bits = ml_dsp_log2_pow2(n);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t j = ml_dsp_bit_reverse(i, bits);
        if (j > i) {
            const float re = data[2 * i];
            const float im = data[2 * i + 1];
            data[2 * i] = data[2 * j];
            data[2 * i + 1] = data[2 * j + 1];
            data[2 * j] = re;
            data[2 * j + 1] = im;
        }
    }
    const float sign = inverse ? 1.0f : -1.0f;
    for (uint32_t len = 2; len <= n; len <<= 1) {
        const uint32_t half = len >> 1;
        const uint32_t step = (n / len) * params->stride;
        for (uint32_t start = 0; start < n; start += len) {
            for (uint32_t k = 0; k < half; ++k) {
                const float wr = params->twiddle[2 * k * step];
                const float wi = sign * params->twiddle[2 * k * step + 1];
                float *a = data + 2 * (start + k);
                float *b = a + 2 * half;
                const float tr = b[0] * wr - b[1] * wi;
                const float ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
    return ML_OK;
}
