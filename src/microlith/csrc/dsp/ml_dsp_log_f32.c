#include "ml_dsp_log_f32.h"

#include "ml_dsp_mathf.h"

ml_status ml_dsp_log_f32(const ml_dsp_log_f32_params *params, const float *in, float *out)
{
    if (!(params->floor >= 1.17549435e-38f)) {
        return ML_ARG_ERROR;
    }
    const float floor = params->floor;
    const uint32_t n = params->n;
    for (uint32_t i = 0; i < n; ++i) {
        out[i] = ml_dsp_logf_inline(in[i] > floor ? in[i] : floor);
    }
    return ML_OK;
}
