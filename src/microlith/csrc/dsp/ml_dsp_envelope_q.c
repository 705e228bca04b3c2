#include "ml_dsp_envelope_q.h"

#include "ml_dsp_cfft_q31.h"
#include "ml_dsp_rfft_q31.h"

/* Rescale data[0 .. count) so that max |.| < 2^(29 - log2 points) (the q31 FFT headroom);
 * returns the shift s, data_new = data_old / 2^s. */
static int32_t to_headroom(int32_t *data, uint32_t count, uint32_t points)
{
    uint32_t peak = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t mag = data[i] < 0 ? (uint32_t)0 - (uint32_t)data[i] : (uint32_t)data[i];
        peak = mag > peak ? mag : peak;
    }
    if (peak == 0U) {
        return 0;
    }
    const int32_t shift = ml_dsp_bitlen_u64(peak) - (29 - (int32_t)ml_dsp_log2_pow2(points));
    for (uint32_t i = 0; i < count; ++i) {
        data[i] = (int32_t)ml_dsp_shift_round_i64(data[i], shift);
    }
    return shift;
}

ml_status ml_dsp_envelope_q(const ml_dsp_envelope_q_params *params, const int16_t *x, int32_t *out,
                            int32_t *work)
{
    const uint32_t n = params->fft->n;
    const uint32_t m = params->m;
    const uint32_t width = params->k_hi - params->k_lo + 1U;
    if (!ml_dsp_is_pow2(m) || m > n || params->k_lo == 0U || params->k_hi < params->k_lo ||
        params->k_hi >= n / 2 || width > m || 2U * (params->n_out + 1U) > m) {
        return ML_ARG_ERROR;
    }
    for (uint32_t i = 0; i < n; ++i) {
        work[i] = x[i];
    }
    /* value (counts) = work * 2^e throughout */
    int32_t e = to_headroom(work, n, n);
    ml_status st = ml_dsp_rfft_q31(params->fft, work);
    if (st != ML_OK) {
        return st;
    }
    for (uint32_t j = 0; j < width; ++j) {
        work[2 * j] = work[2 * (params->k_lo + j)];
        work[2 * j + 1] = work[2 * (params->k_lo + j) + 1];
    }
    for (uint32_t j = 2 * width; j < 2 * m; ++j) {
        work[j] = 0;
    }
    e += to_headroom(work, 2 * m, m);
    const ml_dsp_fft_q31_params small = { m, params->fft->stride * (n / m), params->fft->twiddle, NULL, 0U };
    st = ml_dsp_cfft_q31(&small, 1, work);
    if (st != ML_OK) {
        return st;
    }
    /* |z| < 2^29.5 (headroom), so the magnitude fits int32 */
    int64_t sum = 0;
    for (uint32_t j = 0; j < m; ++j) {
        const int64_t re = work[2 * j];
        const int64_t im = work[2 * j + 1];
        work[j] = (int32_t)ml_dsp_isqrt_u64((uint64_t)(re * re) + (uint64_t)(im * im));
        sum += work[j];
    }
    const int32_t log2m = (int32_t)ml_dsp_log2_pow2(m);
    const int32_t mean = (int32_t)ml_dsp_shift_round_i64(sum, log2m);
    uint64_t peak = 0;
    for (uint32_t j = 0; j < m; ++j) {
        const int64_t v = (int64_t)(work[j] - mean) * params->window[j];
        const uint64_t mag = (uint64_t)(v < 0 ? -v : v);
        peak = mag > peak ? mag : peak;
    }
    const int32_t shift = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) - (29 - log2m);
    for (uint32_t j = 0; j < m; ++j) {
        work[j] = (int32_t)ml_dsp_shift_round_i64((int64_t)(work[j] - mean) * params->window[j], shift);
    }
    e += shift - 30;
    st = ml_dsp_rfft_q31(&small, work);
    if (st != ML_OK) {
        return st;
    }
    for (uint32_t k = 1; k <= params->n_out; ++k) {
        const int64_t re = work[2 * k];
        const int64_t im = work[2 * k + 1];
        const ml_dsp_xq mag = ml_dsp_xq_from_u64(ml_dsp_isqrt_u64((uint64_t)(re * re) + (uint64_t)(im * im)), e);
        out[k - 1] = ml_dsp_xq_to_q(ml_dsp_xq_mul(mag, params->out_scale), params->frac_bits);
    }
    return ML_OK;
}
