#include "ml_squared_difference_s16.h"

#include "ml_nn_broadcast.h"

static inline int16_t ml_squared_difference_one(const ml_squared_difference_params *p,
                                                int16_t x, int16_t y)
{
    /* |x| <= 2^15 and the multipliers are at most 1/2: each rescaled value lies within 2^14,
     * their difference within 2^15, its square within 2^30. */
    const int32_t a = ml_nn_requantize(((int32_t)x + p->input1_offset) * (1 << p->left_shift),
                                       p->input1_multiplier, p->input1_shift);
    const int32_t b = ml_nn_requantize(((int32_t)y + p->input2_offset) * (1 << p->left_shift),
                                       p->input2_multiplier, p->input2_shift);
    const int32_t diff = a - b;
    const int32_t out = ml_nn_requantize(diff * diff, p->output_multiplier, p->output_shift) + p->output_offset;
    return (int16_t)(out < -32768 ? -32768 : (out > 32767 ? 32767 : out));
}

ml_status ml_squared_difference_s16(const ml_squared_difference_params *params,
                                    const ml_dims *input1_dims, const int16_t *input1,
                                    const ml_dims *input2_dims, const int16_t *input2,
                                    const ml_dims *output_dims, int16_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t depth = output_dims->c;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int16_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int16_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    out[c] = ml_squared_difference_one(params, a[c * s1[3]], b[c * s2[3]]);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
