#include "ml_dsp_frame_q31.h"

#include "ml_dsp_mathq.h"

static int64_t windowed(const ml_dsp_frame_q31_params *params, int32_t cur, int32_t before, uint32_t i)
{
    const int64_t y = ((int64_t)cur * (1LL << 30) - (int64_t)params->preemphasis_q30 * before + (1LL << 13)) >> 14;
    return y * params->window[i];  /* |y| <= 2^17, |w| <= 2^30 */
}

ml_status ml_dsp_frame_q31(const ml_dsp_frame_q31_params *params, const int16_t *x, int16_t prev,
                           int32_t *out, int32_t *exponent)
{
    const uint32_t len = params->frame_length;
    if (len > params->n_fft || !ml_dsp_is_pow2(params->n_fft)) {
        return ML_ARG_ERROR;
    }
    /* Two passes: the first finds the block exponent, the second scales by it, so no
     * int64 frame buffer is needed. */
    uint64_t peak = 0;
    int32_t before = prev;
    for (uint32_t i = 0; i < len; ++i) {
        const int64_t v = windowed(params, x[i], before, i);
        const uint64_t mag = (uint64_t)(v < 0 ? -v : v);
        peak = mag > peak ? mag : peak;
        before = x[i];
    }
    const int32_t limit_bits = 30 - (int32_t)ml_dsp_log2_pow2(params->n_fft);
    /* (peak + 2^(s-1)) >> s < 2^limit_bits after rounding: keep one bit below the limit. */
    const int32_t shift = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) - (limit_bits - 1);
    before = prev;
    for (uint32_t i = 0; i < len; ++i) {
        out[i] = (int32_t)ml_dsp_shift_round_i64(windowed(params, x[i], before, i), shift);
        before = x[i];
    }
    for (uint32_t i = len; i < params->n_fft; ++i) {
        out[i] = 0;
    }
    *exponent = peak == 0U ? 0 : shift - 46;
    return ML_OK;
}
