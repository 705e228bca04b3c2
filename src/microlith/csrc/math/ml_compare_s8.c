#include "ml_compare_s8.h"

#include "ml_nn_broadcast.h"

static inline int32_t ml_compare_scale(int8_t x, int32_t offset, int32_t left_shift,
                                       int32_t multiplier, int32_t shift)
{
    /* |x + offset| <= 255: shifted by 8 it stays below 2^16. */
    return ml_nn_requantize(((int32_t)x + offset) * (1 << left_shift), multiplier, shift);
}

static inline uint8_t ml_compare_one(int32_t comparison, int32_t a, int32_t b)
{
    switch (comparison) {
    case ML_COMPARE_EQUAL: return a == b;
    case ML_COMPARE_NOT_EQUAL: return a != b;
    case ML_COMPARE_LESS: return a < b;
    case ML_COMPARE_LESS_EQUAL: return a <= b;
    case ML_COMPARE_GREATER: return a > b;
    default: return a >= b;
    }
}

ml_status ml_compare_s8(const ml_compare_params *params,
                        const ml_dims *input1_dims, const int8_t *input1,
                        const ml_dims *input2_dims, const int8_t *input2,
                        const ml_dims *output_dims, uint8_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK ||
        params->comparison < ML_COMPARE_EQUAL || params->comparison > ML_COMPARE_GREATER_EQUAL) {
        return ML_ARG_ERROR;
    }
    const ml_compare_params *p = params;
    const int32_t depth = output_dims->c;
    uint8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    const int32_t x = ml_compare_scale(a[c * s1[3]], p->input1_offset, p->left_shift,
                                                       p->input1_multiplier, p->input1_shift);
                    const int32_t y = ml_compare_scale(b[c * s2[3]], p->input2_offset, p->left_shift,
                                                       p->input2_multiplier, p->input2_shift);
                    out[c] = ml_compare_one(p->comparison, x, y);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
