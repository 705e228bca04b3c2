#include "ml_dequantize_s16_f32.h"

ml_status ml_dequantize_s16_f32(const ml_float_quant *quant,
                                const ml_dims *input_dims, const int16_t *input,
                                const ml_dims *output_dims, float *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        output[i] = ml_nn_dequantize_f32(input[i], quant);
    }
    return ML_OK;
}
