#include "ml_logical_not_bool.h"

ml_status ml_logical_not_bool(const ml_dims *input_dims, const uint8_t *input,
                              const ml_dims *output_dims, uint8_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < n; ++i) {
        output[i] = (uint8_t)(input[i] == 0);
    }
    return ML_OK;
}
