#ifndef ML_DSP_DCT_Q_H
#define ML_DSP_DCT_Q_H

#include "ml_dsp_common.h"

typedef struct {
    uint32_t n_in;
    uint32_t n_out;
    const int32_t *matrix;  /* n_out rows of n_in, Q(matrix_frac_bits) */
    int32_t matrix_frac_bits;  /* chosen by the generator so the int64 sums cannot overflow */
} ml_dsp_dct_q_params;

/* out[j] = round(sum_m matrix[j][m] * in[m] / 2^matrix_frac_bits): same Q format in and out. */
ml_status ml_dsp_dct_q(const ml_dsp_dct_q_params *params, const int32_t *in, int32_t *out);

#endif
