#include "ml_dsp_dct_f32.h"

ml_status ml_dsp_dct_f32(const ml_dsp_dct_f32_params *params, const float *in, float *out)
{
    const float *row = params->matrix;
    for (uint32_t j = 0; j < params->n_out; ++j) {
        float acc = 0.0f;
        for (uint32_t m = 0; m < params->n_in; ++m) {
            acc += row[m] * in[m];
        }
        out[j] = acc;
        row += params->n_in;
    }
    return ML_OK;
}
