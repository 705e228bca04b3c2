#include "ml_dsp_moments_q.h"

ml_status ml_dsp_moments_q(const ml_dsp_moments_q_params *params, const int16_t *x, int32_t *out)
{
    const uint32_t n = params->n;
    if (n == 0U || n > 65536U) {
        return ML_ARG_ERROR;
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        sum += x[i];
    }
    uint64_t peak = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t d = (int64_t)n * x[i] - sum;
        const uint64_t mag = (uint64_t)(d < 0 ? -d : d);
        peak = mag > peak ? mag : peak;
    }
    if (peak == 0U) {
        out[0] = out[1] = out[2] = out[3] = 0;
        return ML_OK;
    }
    const int32_t shift = ml_dsp_bitlen_u64(peak) - 23;  /* c = d / 2^shift, |c| <= 2^23 */
    const int32_t nbits = ml_dsp_bitlen_u64(n);
    uint64_t s2 = 0;  /* < 2^(46 + 16) */
    uint64_t s4 = 0;  /* sum of (c^2 >> 16)^2 >> nbits < 2^60 */
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t c = ml_dsp_shift_round_i64((int64_t)n * x[i] - sum, shift);
        const uint64_t c2 = (uint64_t)(c * c);
        const uint64_t h = (c2 + (1U << 15)) >> 16;
        s2 += c2;
        s4 += (h * h) >> nbits;
    }
    const ml_dsp_xq nq = ml_dsp_xq_from_u64(n, 0);
    /* physical c = scale * d / n = scale * c * 2^shift / n */
    const ml_dsp_xq unit = ml_dsp_xq_div(ml_dsp_xq_mul(params->scale, ml_dsp_xq_from_u64(1U, shift)), nq);
    const ml_dsp_xq rms_c = ml_dsp_xq_sqrt(ml_dsp_xq_div(ml_dsp_xq_from_u64(s2, 0), nq));
    const ml_dsp_xq peak_phys = ml_dsp_xq_div(ml_dsp_xq_mul(params->scale, ml_dsp_xq_from_u64(peak, 0)), nq);
    const ml_dsp_xq s2q = ml_dsp_xq_from_u64(s2, 0);
    const ml_dsp_xq s4q = ml_dsp_xq_from_u64(s4, 32 + nbits);
    out[0] = ml_dsp_xq_to_q(ml_dsp_xq_mul(unit, rms_c), params->frac_bits);
    out[1] = ml_dsp_xq_to_q(peak_phys, params->frac_bits);
    out[2] = ml_dsp_xq_to_q(ml_dsp_xq_div(ml_dsp_xq_from_u64(peak, -shift), rms_c), params->frac_bits);
    out[3] = ml_dsp_xq_to_q(ml_dsp_xq_div(ml_dsp_xq_mul(nq, s4q), ml_dsp_xq_mul(s2q, s2q)), params->frac_bits);
    return ML_OK;
}
