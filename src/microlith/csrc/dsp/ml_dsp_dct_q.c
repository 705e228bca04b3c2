#include "ml_dsp_dct_q.h"

#include "ml_dsp_mathq.h"

ml_status ml_dsp_dct_q(const ml_dsp_dct_q_params *params, const int32_t *in, int32_t *out)
{
    if (params->matrix_frac_bits < 1 || params->matrix_frac_bits > 62) {
        return ML_ARG_ERROR;
    }
    const int32_t *row = params->matrix;
    for (uint32_t j = 0; j < params->n_out; ++j) {
        int64_t acc = 0;
        for (uint32_t m = 0; m < params->n_in; ++m) {
            acc += ml_dsp_mul_s64(row[m], in[m]);
        }
        out[j] = ml_dsp_sat_i32(ml_dsp_shift_round_i64(acc, params->matrix_frac_bits));
        row += params->n_in;
    }
    return ML_OK;
}
