#ifndef ML_DSP_DCT_F32_H
#define ML_DSP_DCT_F32_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n_in;
    uint32_t n_out;
    const float *matrix;  /* n_out rows of (n_in + 1) / 2: the first half of each row of the
                           * orthonormal DCT-II basis */
} ml_dsp_dct_f32_params;

/*
 * out[j] = sum_m C[j][m] * in[m], C the DCT-II basis, whose row j is symmetric about its
 * middle for even j and antisymmetric for odd j: C[j][n-1-m] = (-1)^j C[j][m] (and the middle
 * value of an odd-length odd row is 0). So out[j] = sum over the first half of
 * C[j][m] * (in[m] +- in[n-1-m]): half the products, and rows are taken in pairs (even, odd)
 * to share the sums and differences.
 */
ml_status ml_dsp_dct_f32(const ml_dsp_dct_f32_params *params, const float *in, float *out);

#endif
