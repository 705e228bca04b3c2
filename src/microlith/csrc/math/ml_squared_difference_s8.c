#include "ml_squared_difference_s8.h"

#include "ml_nn_broadcast.h"

static inline int8_t ml_squared_difference_one(const ml_squared_difference_params *p, int8_t x, int8_t y)
{
    /* |x + offset| <= 255, so the shifted values stay below 2^15 and their rescaled
     * difference below 2^15 too: the square fits int32. */
    const int32_t a = ml_nn_requantize(((int32_t)x + p->input1_offset) * (1 << p->left_shift),
                                       p->input1_multiplier, p->input1_shift);
    const int32_t b = ml_nn_requantize(((int32_t)y + p->input2_offset) * (1 << p->left_shift),
                                       p->input2_multiplier, p->input2_shift);
    const int32_t diff = a - b;
    const int32_t out = ml_nn_requantize(diff * diff, p->output_multiplier, p->output_shift) + p->output_offset;
    return ml_clamp_s8(out, -128, 127);
}

ml_status ml_squared_difference_s8(const ml_squared_difference_params *params,
                                   const ml_dims *input1_dims, const int8_t *input1,
                                   const ml_dims *input2_dims, const int8_t *input2,
                                   const ml_dims *output_dims, int8_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t depth = output_dims->c;
    int8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    out[c] = ml_squared_difference_one(params, a[c * s1[3]], b[c * s2[3]]);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
