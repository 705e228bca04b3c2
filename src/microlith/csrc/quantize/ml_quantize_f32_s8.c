#include "ml_quantize_f32_s8.h"

ml_status ml_quantize_f32_s8(const ml_float_quant *quant,
                             const ml_dims *input_dims, const float *input,
                             const ml_dims *output_dims, int8_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        /* |round(q)| >= 512 saturates for any int8 zero point. */
        output[i] = (int8_t)ml_nn_quantize_f32(input[i], quant, -128, 127, 512.0f);
    }
    return ML_OK;
}
