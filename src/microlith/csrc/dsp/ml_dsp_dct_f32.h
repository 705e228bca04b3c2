#ifndef ML_DSP_DCT_F32_H
#define ML_DSP_DCT_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n_in;
    uint32_t n_out;
    const float *matrix;  /* n_out rows of n_in: the orthonormal DCT-II basis */
} ml_dsp_dct_f32_params;

/* out[j] = sum_m matrix[j][m] * in[m] */
ml_status ml_dsp_dct_f32(const ml_dsp_dct_f32_params *params, const float *in, float *out);

#endif
