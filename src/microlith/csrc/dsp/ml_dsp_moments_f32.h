#ifndef ML_DSP_MOMENTS_F32_H
#define ML_DSP_MOMENTS_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n;   /* window length, 1 .. 65536 */
    float scale;  /* physical units per count */
} ml_dsp_moments_f32_params;

/*
 * out = {rms, peak, crest, kurtosis} of c = scale * (x - mean(x)): rms = sqrt(mean c^2),
 * peak = max |c|, crest = peak / rms, kurtosis = mean c^4 / (mean c^2)^2. All 0 for a
 * constant window. The mean is removed exactly (n x - sum x in int64) and c is divided by
 * its peak before the float sums, so neither the offset nor c^4 costs precision.
 */
ml_status ml_dsp_moments_f32(const ml_dsp_moments_f32_params *params, const int16_t *x, float *out);

#endif
