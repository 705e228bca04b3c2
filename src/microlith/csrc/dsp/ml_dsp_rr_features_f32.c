#include "ml_dsp_rr_features_f32.h"

#include "ml_dsp_mathf.h"

ml_status ml_dsp_rr_features_f32(const ml_dsp_rr_params *params, const int32_t *peaks, uint32_t n_peaks,
                                 float *out)
{
    ml_dsp_rr_stats st;
    const ml_status status = ml_dsp_rr_stats_compute(params, peaks, n_peaks, &st);
    for (int k = 0; k < ML_DSP_RR_FEATURES; ++k) {
        out[k] = 0.0f;
    }
    if (status != ML_OK || st.n < 1) {
        return status;
    }
    const float n = (float)st.n;
    const float ms = 1000.0f / (float)params->fs;
    const float mean = (float)st.sum / n * ms;
    out[0] = mean;
    out[8] = 60000.0f / mean;
    float ent = 0.0f;
    for (int b = 0; b < ML_DSP_RR_BINS; ++b) {
        if (st.hist[b] > 0) {
            const float c = (float)st.hist[b];
            ent += c * (ml_dsp_logf(n) - ml_dsp_logf(c));
        }
    }
    out[7] = ent / (n * ml_dsp_logf((float)ML_DSP_RR_BINS));
    if (st.n >= 2) {
        out[1] = ml_dsp_sqrtf((float)st.var_num / (n * (n - 1.0f))) * ms;
        out[2] = ml_dsp_sqrtf((float)st.diff_sq / (n - 1.0f)) * ms;
        out[3] = (float)st.nn50 / (n - 1.0f);
        out[4] = out[1] / mean;
        out[5] = out[2] / mean;
    }
    if (st.n >= 3) {
        out[6] = (float)st.turns / (n - 2.0f);
    }
    return ML_OK;
}
