#include "ml_dsp_rfft_power_f32.h"

#include "ml_dsp_cfft_f32.h"

ml_status ml_dsp_rfft_power_f32(const ml_dsp_fft_f32_params *params, uint32_t n_bins, float *data, float *power)
{
    const uint32_t n = params->n;
    const uint32_t m = n / 2;
    if (n < 4U || !ml_dsp_is_pow2(n) || n_bins == 0U || n_bins > m + 1U) {
        return ML_ARG_ERROR;
    }
    const ml_dsp_fft_f32_params half = { m, params->stride * 2U, params->twiddle, params->bitrev, params->n_bitrev };
    const ml_status st = ml_dsp_cfft_f32(&half, 0, data);
    if (st != ML_OK) {
        return st;
    }
    /* Z = FFT(x_even + i x_odd). With S = Z_k + conj Z_{m-k}, D = Z_k - conj Z_{m-k} and
     * W = exp(-2 pi i k / n): 2 X_k = S - i W D and 2 conj X_{m-k} = S + i W D
     * (ml_dsp_rfft_f32 has the derivation). One pass over k <= m/2 serves both bins. */
    const float z0r = data[0];
    const float z0i = data[1];
    power[0] = (z0r + z0i) * (z0r + z0i);
    if (n_bins > m) {
        power[m] = (z0r - z0i) * (z0r - z0i);
    }
    const uint32_t last = n_bins - 1U < m / 2 ? n_bins - 1U : m / 2;
    /* k <= lower_only: X_{m-k} is past n_bins, only X_k is wanted */
    const uint32_t lower_only = m >= n_bins ? m - n_bins : 0U;
    const float *tw = params->twiddle + 2U * params->stride;
    const uint32_t tw_step = 2U * params->stride;
    uint32_t k = 1;
    for (; k <= last && k <= lower_only; ++k, tw += tw_step) {
        const float *a = data + 2 * k;
        const float *b = data + 2 * (m - k);
        const float sr = a[0] + b[0];
        const float si = a[1] - b[1];
        const float dr = a[0] - b[0];
        const float di = a[1] + b[1];
        const float xr = sr - (tw[1] * dr - tw[0] * di);
        const float xi = si - (tw[1] * di + tw[0] * dr);
        power[k] = 0.25f * (xr * xr + xi * xi);
    }
    for (; k <= last; ++k, tw += tw_step) {
        const float *a = data + 2 * k;
        const float *b = data + 2 * (m - k);
        const float sr = a[0] + b[0];
        const float si = a[1] - b[1];
        const float dr = a[0] - b[0];
        const float di = a[1] + b[1];
        const float wr = tw[0];   /* W = wr - i ws */
        const float ws = tw[1];
        /* -i W D = -(ws + i wr) D */
        const float vr = ws * dr - wr * di;
        const float vi = ws * di + wr * dr;
        const float xr = sr - vr;
        const float xi = si - vi;
        power[k] = 0.25f * (xr * xr + xi * xi);
        if (m - k != k) {  /* here m - k < n_bins */
            const float yr = sr + vr;
            const float yi = si + vi;
            power[m - k] = 0.25f * (yr * yr + yi * yi);
        }
    }
    return ML_OK;
}
