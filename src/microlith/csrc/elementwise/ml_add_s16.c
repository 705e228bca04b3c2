#include "ml_add_s16.h"

#include "ml_nn_broadcast.h"
#include "ml_nn_s16.h"

/* |x + offset| <= 65535, so (x + offset) << 15 stays below 2^31: no overflow. */
static inline int32_t ml_add_s16_scale(int32_t x, int32_t offset, int32_t left_shift,
                                       int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize((x + offset) * (1 << left_shift), multiplier, shift);
}

ml_status ml_add_s16(const ml_add_params *params,
                     const ml_dims *input1_dims, const int16_t *input1,
                     const ml_dims *input2_dims, const int16_t *input2,
                     const ml_dims *output_dims, int16_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const ml_add_params *p = params;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int16_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int16_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < output_dims->c; ++c) {
                    const int32_t sa = ml_add_s16_scale(a[c * s1[3]], p->input1_offset, p->left_shift,
                                                        p->input1_multiplier, p->input1_shift);
                    const int32_t sb = ml_add_s16_scale(b[c * s2[3]], p->input2_offset, p->left_shift,
                                                        p->input2_multiplier, p->input2_shift);
                    const int32_t raw = p->subtract ? sa - sb : sa + sb;
                    const int32_t v = ml_nn_requantize(raw, p->output_multiplier, p->output_shift) +
                                      p->output_offset;
                    *out++ = ml_clamp_s16(v, p->act_min, p->act_max);
                }
            }
        }
    }
    return ML_OK;
}
