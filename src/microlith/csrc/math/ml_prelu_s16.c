#include "ml_prelu_s16.h"

#include "ml_nn_broadcast.h"

static inline int16_t ml_prelu_one(const ml_prelu_params *p, int16_t in, int8_t alpha)
{
    const int32_t x = (int32_t)in + p->input_offset;
    const int32_t y = x >= 0
        ? ml_nn_requantize(x, p->multiplier_1, p->shift_1)
        : ml_nn_requantize(x * ((int32_t)alpha + p->alpha_offset), p->multiplier_2, p->shift_2);
    const int32_t out = y + p->output_offset;
    return (int16_t)(out < -32768 ? -32768 : (out > 32767 ? 32767 : out));
}

ml_status ml_prelu_s16(const ml_prelu_params *params,
                       const ml_dims *input_dims, const int16_t *input,
                       const ml_dims *alpha_dims, const int8_t *alpha,
                       const ml_dims *output_dims, int16_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(alpha_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t depth = output_dims->c;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int16_t *a = input + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = alpha + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    out[c] = ml_prelu_one(params, a[c * s1[3]], b[c * s2[3]]);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
