#include "ml_leaky_relu_s16.h"

#include "ml_nn_s16.h"

ml_status ml_leaky_relu_s16(const ml_leaky_relu_params *params,
                            const ml_dims *input_dims, const int16_t *input,
                            const ml_dims *output_dims, int16_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] + params->input_offset;
        int32_t y;
        if (x >= 0) {
            y = ml_nn_requantize(x, params->identity_multiplier, params->identity_shift);
        } else {
            /* TFLM scales by |alpha| and negates afterwards, never by a negative multiplier. */
            y = ml_nn_requantize(x, params->alpha_multiplier, params->alpha_shift);
            y = params->alpha_negative ? -y : y;
        }
        output[i] = ml_clamp_s16(y + params->output_offset, -32768, 32767);
    }
    return ML_OK;
}
