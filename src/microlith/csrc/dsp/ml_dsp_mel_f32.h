#ifndef ML_DSP_MEL_F32_H
#define ML_DSP_MEL_F32_H

#include "ml_dsp_common.h"

/* A sparse filterbank: filter m covers bins start[m] .. start[m] + count[m] - 1; its weights
 * follow those of filter m - 1 in one array. */
typedef struct {
    uint32_t n_filters;
    const uint16_t *start;
    const uint16_t *count;
    const float *weights;
} ml_dsp_filterbank_f32_params;

/* out[m] = sum_j weights[.. + j] * power[start[m] + j] */
ml_status ml_dsp_mel_f32(const ml_dsp_filterbank_f32_params *params, const float *power, float *out);

#endif
