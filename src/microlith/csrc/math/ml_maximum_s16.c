#include "ml_maximum_s16.h"

#include "ml_nn_broadcast.h"

ml_status ml_maximum_s16(const ml_maximum_params *params,
                         const ml_dims *input1_dims, const int16_t *input1,
                         const ml_dims *input2_dims, const int16_t *input2,
                         const ml_dims *output_dims, int16_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t minimum = params->minimum;
    const int32_t depth = output_dims->c;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int16_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int16_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    const int16_t x = a[c * s1[3]];
                    const int16_t y = b[c * s2[3]];
                    out[c] = minimum ? (x < y ? x : y) : (x > y ? x : y);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
