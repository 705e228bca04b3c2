#include "ml_dsp_rfft_q31.h"

#include "ml_dsp_cfft_q31.h"

ml_status ml_dsp_rfft_q31(const ml_dsp_fft_q31_params *params, int32_t *data)
{
    const uint32_t n = params->n;
    if (n < 4U || !ml_dsp_is_pow2(n)) {
        return ML_ARG_ERROR;
    }
    const uint32_t m = n / 2;
    const ml_dsp_fft_q31_params half = { m, params->stride * 2U, params->twiddle, params->bitrev, params->n_bitrev };
    const ml_status st = ml_dsp_cfft_q31(&half, 0, data);
    if (st != ML_OK) {
        return st;
    }
    const int32_t z0r = data[0];
    const int32_t z0i = data[1];
    data[0] = z0r + z0i;
    data[1] = z0r - z0i;
    /* As in ml_dsp_rfft_f32, with the halving of E and O moved to the end; sums are int64
     * because |Z_k| < 2^29.5 leaves their doubles near 2^31. */
    for (uint32_t k = 1; k <= m / 2; ++k) {
        int32_t *a = data + 2 * k;
        int32_t *b = data + 2 * (m - k);
        const int64_t er = (int64_t)a[0] + b[0];
        const int64_t ei = (int64_t)a[1] - b[1];
        const int32_t or_ = a[1] + b[1];  /* |Z_k| < 2^29.5: these sums fit int32 */
        const int32_t oi = b[0] - a[0];
        const int32_t wr = params->twiddle[2 * k * params->stride];
        const int32_t wi = -params->twiddle[2 * k * params->stride + 1];
        const int64_t tr = (int64_t)ml_dsp_mul_q31(or_, wr) - ml_dsp_mul_q31(oi, wi);  /* as in ml_dsp_cfft_q31 */
        const int64_t ti = (int64_t)ml_dsp_mul_q31(or_, wi) + ml_dsp_mul_q31(oi, wr);
        const int32_t br = (int32_t)((er - tr + 1) >> 1);
        const int32_t bi = (int32_t)((ti - ei + 1) >> 1);
        a[0] = (int32_t)((er + tr + 1) >> 1);
        a[1] = (int32_t)((ei + ti + 1) >> 1);
        if (b != a) {
            b[0] = br;
            b[1] = bi;
        }
    }
    return ML_OK;
}
