#include "ml_softmax_s8_s16.h"

ml_status ml_softmax_s8_s16(const ml_softmax_params *params, const ml_dims *input_dims, const int8_t *input,
                            const ml_dims *output_dims, int16_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t rows = input_dims->n * input_dims->h * input_dims->w;
    int32_t r;
    if (output_dims->n != input_dims->n || output_dims->h != input_dims->h ||
        output_dims->w != input_dims->w || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    for (r = 0; r < rows; ++r) {
        const int8_t *in = input + r * depth;
        int16_t *out = output + r * depth;
        int32_t max, num_bits_over_unit, c;
        const int32_t scale = ml_nn_softmax_row_scale(params, in, depth, &max, &num_bits_over_unit);
        const int32_t exponent = num_bits_over_unit + 31 - 16;
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t p = ml_nn_softmax_unsaturated(ml_nn_softmax_exp(params, diff), scale, exponent)
                                  + INT16_MIN;
                out[c] = (int16_t)(p < INT16_MIN ? INT16_MIN : (p > INT16_MAX ? INT16_MAX : p));
            } else {
                out[c] = INT16_MIN;
            }
        }
    }
    return ML_OK;
}
