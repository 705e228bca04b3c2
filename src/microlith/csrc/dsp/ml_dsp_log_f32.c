#include "ml_dsp_log_f32.h"

#include "ml_dsp_mathf.h"

ml_status ml_dsp_log_f32(const ml_dsp_log_f32_params *params, const float *in, float *out)
{
    if (!(params->floor >= 1.17549435e-38f)) {
        return ML_ARG_ERROR;
    }
    for (uint32_t i = 0; i < params->n; ++i) {
        out[i] = ml_dsp_logf(in[i] > params->floor ? in[i] : params->floor);
    }
    return ML_OK;
}
