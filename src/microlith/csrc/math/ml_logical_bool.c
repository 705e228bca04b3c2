#include "ml_logical_bool.h"

#include "ml_nn_broadcast.h"

ml_status ml_logical_bool(const ml_logical_params *params,
                          const ml_dims *input1_dims, const uint8_t *input1,
                          const ml_dims *input2_dims, const uint8_t *input2,
                          const ml_dims *output_dims, uint8_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t logical_or = params->logical_or;
    const int32_t depth = output_dims->c;
    uint8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const uint8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const uint8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    const int x = a[c * s1[3]] != 0;
                    const int y = b[c * s2[3]] != 0;
                    out[c] = (uint8_t)(logical_or ? (x || y) : (x && y));
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
