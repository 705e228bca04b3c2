#include "ml_rsqrt_s8.h"

ml_status ml_rsqrt_s8(const ml_rsqrt_params *params,
                      const ml_dims *input_dims, const int8_t *input,
                      const ml_dims *output_dims, int8_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    const int8_t *lut = params->table + 128;
    for (int32_t i = 0; i < n; ++i) {
        if (input[i] < params->input_zero_point) {
            return ML_ARG_ERROR;
        }
        output[i] = lut[input[i]];
    }
    return ML_OK;
}
