#include "ml_fully_connected_s16.h"

#include "ml_nn_s16.h"

ml_status ml_fully_connected_s16(const ml_fc_s16_params *params, const ml_per_channel_quant *quant,
                                 const ml_dims *input_dims, const int16_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                 const ml_dims *output_dims, int16_t *output)
{
    const int32_t batches = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_depth = filter_dims->w;
    const int32_t filter_offset = params->per_channel ? 0 : params->filter_offset;
    if (filter_dims->c != depth || output_dims->w != batches || output_dims->c != out_depth) {
        return ML_ARG_ERROR;
    }
    for (int32_t b = 0; b < batches; ++b) {
        const int16_t *in_row = input + b * depth;
        for (int32_t o = 0; o < out_depth; ++o) {
            const int8_t *w_row = filter + o * depth;
            /* Each product is below 2^23 in magnitude: int64 never overflows, and the int32
             * sum of the acc32 case is the low 32 bits of this one. */
            int64_t acc = 0;
            if (filter_offset == 0) {
                acc = ml_nn_dot_s16_s8(in_row, w_row, depth, 0);
            } else {
                for (int32_t d = 0; d < depth; ++d) {
                    acc += (int32_t)in_row[d] * ((int32_t)w_row[d] + filter_offset);
                }
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            const int32_t q = params->per_channel ? o : 0;
            const int32_t v = ml_nn_requantize_acc(acc, params->acc32, quant->multiplier[q], quant->shift[q]);
            output[b * out_depth + o] = ml_clamp_s16(v, params->act_min, params->act_max);
        }
    }
    return ML_OK;
}
