/* A compact form (ml_config.h: size mode, or a model whose layers on this kernel are all small)
 * is also compiled for size; first, so that the inline helpers the headers define are too. */
#include "ml_config.h"
#if (defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_SOFTMAX_S8)) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include "ml_softmax_s8.h"

ml_status ml_softmax_s8(const ml_softmax_params *params, const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
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
        int8_t *out = output + r * depth;
        int32_t max, num_bits_over_unit, c;
        const int32_t scale = ml_nn_softmax_row_scale(params, in, depth, &max, &num_bits_over_unit);
        const int32_t exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max;
            if (diff >= params->diff_min) {
                const int32_t p = ml_nn_softmax_unsaturated(ml_nn_softmax_exp(params, diff), scale, exponent);
                out[c] = ml_clamp_s8(p + INT8_MIN, INT8_MIN, INT8_MAX);
            } else {
                out[c] = INT8_MIN;
            }
        }
    }
    return ML_OK;
}
