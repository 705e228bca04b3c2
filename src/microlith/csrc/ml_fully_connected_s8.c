#include "ml_fully_connected_s8.h"

ml_status ml_fully_connected_s8(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                                const ml_dims *output_dims, int8_t *output)
{
    const int32_t batches = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_depth = filter_dims->w;
    if (filter_dims->c != depth || output_dims->w != batches || output_dims->c != out_depth) {
        return ML_ARG_ERROR;
    }
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_row = input + b * depth;
        for (int32_t o = 0; o < out_depth; ++o) {
            const int8_t *w_row = filter + o * depth;
            /* |acc| <= depth * 255 * 255 + |bias|: exact in int32 for depth < 33000. */
            int32_t acc = 0;
            for (int32_t d = 0; d < depth; ++d) {
                acc += ((int32_t)in_row[d] + params->input_offset) *
                       ((int32_t)w_row[d] + params->filter_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t q = params->per_channel ? o : 0;
            acc = ml_nn_requantize(acc, quant->multiplier[q], quant->shift[q]);
            acc += params->output_offset;
            output[b * out_depth + o] = ml_clamp_s8(acc, params->act_min, params->act_max);
        }
    }
    return ML_OK;
}
