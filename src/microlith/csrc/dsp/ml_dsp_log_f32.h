#ifndef ML_DSP_LOG_F32_H
#define ML_DSP_LOG_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n;
    float floor;  /* > 0 and normal (>= 1.18e-38) */
} ml_dsp_log_f32_params;

/* out[i] = ln(max(in[i], floor)), with ml_dsp_logf (error bound in ml_dsp_mathf.h). */
ml_status ml_dsp_log_f32(const ml_dsp_log_f32_params *params, const float *in, float *out);

#endif
