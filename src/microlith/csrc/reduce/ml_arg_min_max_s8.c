#include "ml_arg_min_max_s8.h"

ml_status ml_arg_min_max_s8(const ml_arg_min_max_params *params,
                            const ml_shape_nd *input_shape, const int8_t *input,
                            const ml_shape_nd *output_shape, int32_t *output)
{
    if (input_shape->rank != 3 || output_shape->rank != 2 ||
        output_shape->dims[0] != input_shape->dims[0] ||
        output_shape->dims[1] != input_shape->dims[2] || input_shape->dims[1] < 1) {
        return ML_ARG_ERROR;
    }
    const int32_t outer = input_shape->dims[0];
    const int32_t axis_size = input_shape->dims[1];
    const int32_t inner = input_shape->dims[2];
    const int32_t is_max = params->is_max;
    for (int32_t o = 0; o < outer; ++o) {
        const int8_t *block = input + o * axis_size * inner;
        for (int32_t k = 0; k < inner; ++k) {
            int8_t best = block[k];
            int32_t best_index = 0;
            for (int32_t i = 1; i < axis_size; ++i) {
                const int8_t v = block[i * inner + k];
                if (is_max ? v > best : v < best) {
                    best = v;
                    best_index = i;
                }
            }
            output[o * inner + k] = best_index;
        }
    }
    return ML_OK;
}
