#include "ml_dsp_rfft_f32.h"

#include "ml_dsp_cfft_f32.h"

ml_status ml_dsp_rfft_f32(const ml_dsp_fft_f32_params *params, float *data)
{
    const uint32_t n = params->n;
    if (n < 4U || !ml_dsp_is_pow2(n)) {
        return ML_ARG_ERROR;
    }
    const uint32_t m = n / 2;
    const ml_dsp_fft_f32_params half = { m, params->stride * 2U, params->twiddle, params->bitrev, params->n_bitrev };
    const ml_status st = ml_dsp_cfft_f32(&half, 0, data);
    if (st != ML_OK) {
        return st;
    }
    /* Z = FFT(x_even + i x_odd); E_k = (Z_k + conj Z_{m-k}) / 2 and O_k = (Z_k - conj Z_{m-k}) / 2i
     * are the FFTs of the even and odd samples; X_k = E_k + W^k O_k, X_{m-k} = conj(E_k - W^k O_k). */
    const float z0r = data[0];
    const float z0i = data[1];
    data[0] = z0r + z0i;
    data[1] = z0r - z0i;
    for (uint32_t k = 1; k <= m / 2; ++k) {
        float *a = data + 2 * k;
        float *b = data + 2 * (m - k);
        const float er = 0.5f * (a[0] + b[0]);
        const float ei = 0.5f * (a[1] - b[1]);
        const float or_ = 0.5f * (a[1] + b[1]);
        const float oi = -0.5f * (a[0] - b[0]);
        const float wr = params->twiddle[2 * k * params->stride];
        const float wi = -params->twiddle[2 * k * params->stride + 1];
        const float tr = or_ * wr - oi * wi;
        const float ti = or_ * wi + oi * wr;
        b[0] = er - tr;
        b[1] = -(ei - ti);
        a[0] = er + tr;
        a[1] = ei + ti;
    }
    return ML_OK;
}
