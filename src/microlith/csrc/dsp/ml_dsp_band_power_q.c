#include "ml_dsp_band_power_q.h"

#include "ml_dsp_mathq.h"
#include "ml_dsp_rfft_q31.h"

ml_status ml_dsp_band_power_q(const ml_dsp_band_power_q_params *params, const int16_t *x, int32_t *out,
                              int32_t *work)
{
    const uint32_t n_fft = params->fft->n;
    const uint32_t len = params->frame_length;
    if (len == 0U || len > n_fft || len > 65536U || !ml_dsp_is_pow2(n_fft) ||
        params->frac_bits < 0 || params->frac_bits > 30) {
        return ML_ARG_ERROR;
    }
    int64_t sum = 0;
    for (uint32_t i = 0; i < len; ++i) {
        sum += x[i];
    }
    uint64_t peak = 0;  /* of v = d * w, |d| <= 2^32, w <= 2^30 */
    for (uint32_t i = 0; i < len; ++i) {
        const int64_t v = ((int64_t)len * x[i] - sum) * params->window[i];
        const uint64_t mag = (uint64_t)(v < 0 ? -v : v);
        peak = mag > peak ? mag : peak;
    }
    const int32_t log2n = (int32_t)ml_dsp_log2_pow2(n_fft);
    const int32_t shift = peak == 0U ? 0 : ml_dsp_bitlen_u64(peak) - (29 - log2n);
    for (uint32_t i = 0; i < len; ++i) {
        const int64_t v = ((int64_t)len * x[i] - sum) * params->window[i];
        work[i] = (int32_t)ml_dsp_shift_round_i64(v, shift);
    }
    for (uint32_t i = len; i < n_fft; ++i) {
        work[i] = 0;
    }
    const ml_status st = ml_dsp_rfft_q31(params->fft, work);
    if (st != ML_OK) {
        return st;
    }
    /* X * 2^(shift - 30) is the FFT of d * w; power sums lose log2n + 1 bits. */
    const int32_t exponent = 2 * (shift - 30) + log2n + 1;
    for (uint32_t b = 0; b < params->n_bands; ++b) {
        uint64_t acc = 0;
        for (uint32_t k = params->band_start[b]; k < params->band_end[b]; ++k) {
            uint64_t p;
            if (k == 0U) {
                p = (uint64_t)((int64_t)work[0] * work[0]);
            } else if (k == n_fft / 2) {
                p = (uint64_t)((int64_t)work[1] * work[1]);
            } else {
                const int64_t re = work[2 * k];
                const int64_t im = work[2 * k + 1];
                p = 2U * ((uint64_t)(re * re) + (uint64_t)(im * im));
            }
            acc += p >> (log2n + 1);
        }
        int64_t value = params->floor_q30;
        if (acc != 0U) {
            const int64_t ln = ml_dsp_xq_ln_q30(ml_dsp_xq_from_u64(acc, exponent)) + params->offset_q30;
            value = ln > value ? ln : value;
        }
        out[b] = ml_dsp_sat_i32(ml_dsp_shift_round_i64(value, 30 - params->frac_bits));
    }
    return ML_OK;
}
