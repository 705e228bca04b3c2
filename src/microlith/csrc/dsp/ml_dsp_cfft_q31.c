#include "ml_dsp_cfft_q31.h"

ml_status ml_dsp_cfft_q31(const ml_dsp_fft_q31_params *params, int32_t inverse, int32_t *data)
{
    const uint32_t n = params->n;
    if (!ml_dsp_is_pow2(n) || params->stride == 0U) {
        return ML_ARG_ERROR;
    }
    const uint32_t bits = ml_dsp_log2_pow2(n);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t j = ml_dsp_bit_reverse(i, bits);
        if (j > i) {
            const int32_t re = data[2 * i];
            const int32_t im = data[2 * i + 1];
            data[2 * i] = data[2 * j];
            data[2 * i + 1] = data[2 * j + 1];
            data[2 * j] = re;
            data[2 * j + 1] = im;
        }
    }
    for (uint32_t len = 2; len <= n; len <<= 1) {
        const uint32_t half = len >> 1;
        const uint32_t step = (n / len) * params->stride;
        for (uint32_t start = 0; start < n; start += len) {
            for (uint32_t k = 0; k < half; ++k) {
                const int64_t wr = params->twiddle[2 * k * step];
                const int64_t ws = params->twiddle[2 * k * step + 1];
                const int64_t wi = inverse ? ws : -ws;
                int32_t *a = data + 2 * (start + k);
                int32_t *b = a + 2 * half;
                const int32_t tr = (int32_t)((b[0] * wr - b[1] * wi + (1LL << 30)) >> 31);
                const int32_t ti = (int32_t)((b[0] * wi + b[1] * wr + (1LL << 30)) >> 31);
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
    return ML_OK;
}
