#include "ml_dsp_rr_stats.h"

ml_status ml_dsp_rr_stats_compute(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                                  ml_dsp_rr_stats *st)
{
    memset(st, 0, sizeof *st);
    if (params->fs <= 0 || n_peaks > 32768U) {
        return ML_ARG_ERROR;
    }
    if (n_peaks < 2U) {
        return ML_OK;
    }
    int32_t lo = INT32_MAX;
    int32_t hi = 0;
    int64_t sum_sq = 0;
    for (uint32_t i = 1; i < n_peaks; ++i) {
        const int32_t rr = peaks[i] - peaks[i - 1];
        if (rr < 0 || rr > 65535) {
            return ML_ARG_ERROR;
        }
        lo = rr < lo ? rr : lo;
        hi = rr > hi ? rr : hi;
        st->sum += rr;
        sum_sq += (int64_t)rr * rr;
    }
    st->n = (int64_t)n_peaks - 1;
    st->var_num = st->n * sum_sq - st->sum * st->sum;  /* < 2^15 * 2^15 * 2^32 */
    int64_t prev_diff = 0;
    for (uint32_t i = 1; i < n_peaks; ++i) {
        const int32_t rr = peaks[i] - peaks[i - 1];
        st->hist[(int64_t)(rr - lo) * ML_DSP_RR_BINS / (hi - lo + 1)] += 1;
        if (i >= 2U) {
            const int64_t diff = (int64_t)rr - (peaks[i - 1] - peaks[i - 2]);
            st->diff_sq += diff * diff;
            if ((diff < 0 ? -diff : diff) * 1000 > 50 * (int64_t)params->fs) {
                st->nn50 += 1;
            }
            if (i >= 3U && prev_diff * diff < 0) {
                st->turns += 1;
            }
            prev_diff = diff;
        }
    }
    return ML_OK;
}
