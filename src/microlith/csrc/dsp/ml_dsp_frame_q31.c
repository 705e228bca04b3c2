#include "ml_dsp_frame_q31.h"

#include "ml_dsp_mathq.h"

ml_status ml_dsp_frame_q31(const ml_dsp_frame_q31_params *params, const int16_t *x, int16_t prev,
                           int32_t *out, int32_t *exponent)
{
    const uint32_t len = params->frame_length;
    const uint32_t n_fft = params->n_fft;
    if (len > n_fft || !ml_dsp_is_pow2(n_fft)) {
        return ML_ARG_ERROR;
    }
    const int32_t a = params->preemphasis_q30;
    const int32_t *w = params->window;
    /* Two passes: the first finds the block exponent and leaves y = x[i] - a x[i-1] in out
     * (Q15 counts: |y| < 2^16 counts fits int32), the second scales y * w (Q45) by it, so no
     * int64 frame buffer is needed. */
    const int32_t limit_bits = 30 - (int32_t)ml_dsp_log2_pow2(n_fft);
    if (a == 0) {
        /* No pre-emphasis: y = x 2^15 exactly, so v = (x w) 2^15 and the block exponent and
         * the scaled values come from x w (a 16 x 32-bit product) alone, the same numbers. */
        uint64_t peak = 0;
        for (uint32_t i = 0; i < len; ++i) {
            const int64_t v = ml_dsp_mul_s16_s64(x[i], w[i]);
            const uint64_t mag = (uint64_t)(v < 0 ? -v : v);
            peak = mag > peak ? mag : peak;
        }
        const int32_t shift = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) + 15 - (limit_bits - 1);
        for (uint32_t i = 0; i < len; ++i) {
            out[i] = (int32_t)ml_dsp_shift_round_i64(ml_dsp_mul_s16_s64(x[i], w[i]), shift - 15);
        }
        for (uint32_t i = len; i < n_fft; ++i) {
            out[i] = 0;
        }
        *exponent = peak == 0U ? 0 : shift - 45;
        return ML_OK;
    }
    uint64_t peak = 0;
    int32_t before = prev;
    for (uint32_t i = 0; i < len; ++i) {
        const int32_t cur = x[i];
        const int32_t y = (int32_t)(((int64_t)cur * (1LL << 30) - ml_dsp_mul_s64(a, before) + (1LL << 14)) >> 15);
        const int64_t v = ml_dsp_mul_s64(y, w[i]);  /* Q45, |w| <= 2^30 */
        const uint64_t mag = (uint64_t)(v < 0 ? -v : v);
        peak = mag > peak ? mag : peak;
        out[i] = y;
        before = cur;
    }
    /* (peak + 2^(s-1)) >> s < 2^limit_bits after rounding: keep one bit below the limit. */
    const int32_t shift = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) - (limit_bits - 1);
    for (uint32_t i = 0; i < len; ++i) {
        out[i] = (int32_t)ml_dsp_shift_round_i64(ml_dsp_mul_s64(out[i], w[i]), shift);
    }
    for (uint32_t i = len; i < n_fft; ++i) {
        out[i] = 0;
    }
    *exponent = peak == 0U ? 0 : shift - 45;
    return ML_OK;
}
