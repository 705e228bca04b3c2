#include "ml_add_s8.h"

#include "ml_nn_broadcast.h"

/* |x + offset| <= 255, so (x + offset) << 20 stays below 2^28: no overflow. */
static inline int32_t ml_add_scale(int32_t x, int32_t offset, int32_t left_shift,
                                   int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize((x + offset) * (1 << left_shift), multiplier, shift);
}

static inline int8_t ml_add_finish(const ml_add_params *p, int32_t a, int32_t b)
{
    const int32_t raw = p->subtract ? a - b : a + b;
    const int32_t out = ml_nn_requantize(raw, p->output_multiplier, p->output_shift) + p->output_offset;
    return ml_clamp_s8(out, p->act_min, p->act_max);
}

ml_status ml_add_s8(const ml_add_params *params,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const ml_add_params *p = params;
    const int32_t depth = output_dims->c;
    int8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                /* A repeated operand is rescaled once per row: the result is the same
                 * for every element, and this halves the work of x + constant. */
                if (s1[3] == 0) {
                    const int32_t sa = ml_add_scale(a[0], p->input1_offset, p->left_shift,
                                                    p->input1_multiplier, p->input1_shift);
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p, sa, ml_add_scale(b[c * s2[3]], p->input2_offset,
                                                                   p->left_shift, p->input2_multiplier,
                                                                   p->input2_shift));
                    }
                } else if (s2[3] == 0) {
                    const int32_t sb = ml_add_scale(b[0], p->input2_offset, p->left_shift,
                                                    p->input2_multiplier, p->input2_shift);
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p, ml_add_scale(a[c], p->input1_offset, p->left_shift,
                                                               p->input1_multiplier, p->input1_shift),
                                               sb);
                    }
                } else {
                    for (int32_t c = 0; c < depth; ++c) {
                        out[c] = ml_add_finish(p,
                                               ml_add_scale(a[c], p->input1_offset, p->left_shift,
                                                            p->input1_multiplier, p->input1_shift),
                                               ml_add_scale(b[c], p->input2_offset, p->left_shift,
                                                            p->input2_multiplier, p->input2_shift));
                    }
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
