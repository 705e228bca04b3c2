#include "ml_dsp_rr_features_q.h"

#include "ml_dsp_mathq.h"

#define ML_DSP_LN16_Q30 2977044472ULL  /* round(ln(16) * 2^30) */

static ml_dsp_xq u(int64_t v)
{
    return ml_dsp_xq_from_u64((uint64_t)v, 0);
}

ml_status ml_dsp_rr_features_q(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                               int32_t *out)
{
    const int32_t frac_bits = params->frac_bits;
    ml_dsp_rr_stats st;
    const ml_status status = ml_dsp_rr_stats_compute(params, peaks, n_peaks, &st);
    for (int k = 0; k < ML_DSP_RR_FEATURES; ++k) {
        out[k] = 0;
    }
    if (status != ML_OK || st.n < 1) {
        return status;
    }
    const ml_dsp_xq ms = ml_dsp_xq_div(u(1000), u(params->fs));
    const ml_dsp_xq mean = ml_dsp_xq_mul(ml_dsp_xq_div(u(st.sum), u(st.n)), ms);
    out[0] = ml_dsp_xq_to_q(mean, frac_bits);
    out[8] = ml_dsp_xq_to_q(ml_dsp_xq_div(u(60000), mean), frac_bits);
    /* entropy: sum_b c_b (ln n - ln c_b) / (n ln 16); every term is >= 0 */
    const int64_t ln_n = ml_dsp_xq_ln_q30(u(st.n));
    uint64_t ent = 0;
    for (int b = 0; b < ML_DSP_RR_BINS; ++b) {
        if (st.hist[b] > 0) {
            ent += (uint64_t)(st.hist[b] * (ln_n - ml_dsp_xq_ln_q30(u(st.hist[b]))));
        }
    }
    out[7] = ml_dsp_xq_to_q(ml_dsp_xq_div(ml_dsp_xq_from_u64(ent, 0),
                                          ml_dsp_xq_mul(u(st.n), ml_dsp_xq_from_u64(ML_DSP_LN16_Q30, 0))),
                            frac_bits);
    if (st.n >= 2) {
        const ml_dsp_xq sdnn = ml_dsp_xq_mul(ml_dsp_xq_sqrt(ml_dsp_xq_div(u(st.var_num), u(st.n * (st.n - 1)))), ms);
        const ml_dsp_xq rmssd = ml_dsp_xq_mul(ml_dsp_xq_sqrt(ml_dsp_xq_div(u(st.diff_sq), u(st.n - 1))), ms);
        out[1] = ml_dsp_xq_to_q(sdnn, frac_bits);
        out[2] = ml_dsp_xq_to_q(rmssd, frac_bits);
        out[3] = ml_dsp_xq_to_q(ml_dsp_xq_div(u(st.nn50), u(st.n - 1)), frac_bits);
        out[4] = ml_dsp_xq_to_q(ml_dsp_xq_div(sdnn, mean), frac_bits);
        out[5] = ml_dsp_xq_to_q(ml_dsp_xq_div(rmssd, mean), frac_bits);
    }
    if (st.n >= 3) {
        out[6] = ml_dsp_xq_to_q(ml_dsp_xq_div(u(st.turns), u(st.n - 2)), frac_bits);
    }
    return ML_OK;
}
