#include "ml_cumsum_s8.h"

#include "ml_fixedpoint.h"

/* A value (or the initial offset) in accumulator units: (v << 20) * input multiplier. */
static int32_t ml_cumsum_scale(const ml_cumsum_params *params, int32_t v)
{
    return ml_nn_requantize(v * ((int32_t)1 << ML_CUMSUM_LEFT_SHIFT), params->input_multiplier,
                            params->input_shift);
}

ml_status ml_cumsum_s8(const ml_cumsum_params *params,
                       const ml_shape_nd *input_shape, const int8_t *input,
                       const ml_shape_nd *output_shape, int8_t *output)
{
    if (input_shape->rank != 3 || output_shape->rank != 3 ||
        ml_shape_nd_size(input_shape) != ml_shape_nd_size(output_shape) ||
        params->input_shift > 0 || params->output_shift > 0) {
        return ML_ARG_ERROR;
    }
    const int32_t before = input_shape->dims[0];
    const int32_t depth = input_shape->dims[1];
    const int32_t after = input_shape->dims[2];
    const int32_t start = ml_cumsum_scale(params, params->input_offset);
    for (int32_t b = 0; b < before; ++b) {
        for (int32_t a = 0; a < after; ++a) {
            int32_t acc = start;
            for (int32_t k = 0; k < depth; ++k) {
                const int32_t d = params->reverse ? depth - 1 - k : k;
                const int32_t index = (b * depth + d) * after + a;
                const int32_t scaled = ml_cumsum_scale(params, params->input_offset + input[index]);
                const int32_t before_add = acc;
                acc = ml_fp_add(acc, scaled);  /* wraps like TFLM's int32 += */
                const int32_t sum = params->exclusive ? before_add : acc;
                const int32_t v = ml_nn_requantize(sum, params->output_multiplier, params->output_shift) +
                                  params->output_offset;
                output[index] = ml_clamp_s8(v, INT8_MIN, INT8_MAX);
            }
        }
    }
    return ML_OK;
}
