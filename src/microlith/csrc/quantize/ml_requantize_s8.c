#include "ml_requantize_s8.h"

ml_status ml_requantize_s8(const ml_requantize_params *params,
                           const ml_dims *input_dims, const int8_t *input,
                           const ml_dims *output_dims, int8_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    const int32_t offset = params->input_offset + params->output_offset;
    if (params->multiplier == (1 << 30) && params->shift == 1) {
        /* 2^30 * 2^1 / 2^31 is exactly 1: the requantization is the identity, leaving a
         * shift of zero point and the clamp (RELU6, and RELU or QUANTIZE at equal scales). */
        for (int32_t i = 0; i < size; ++i) {
            output[i] = ml_clamp_s8((int32_t)input[i] + offset, params->act_min, params->act_max);
        }
        return ML_OK;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] + params->input_offset;
        const int32_t y = ml_nn_requantize(x, params->multiplier, params->shift) + params->output_offset;
        output[i] = ml_clamp_s8(y, params->act_min, params->act_max);
    }
    return ML_OK;
}
