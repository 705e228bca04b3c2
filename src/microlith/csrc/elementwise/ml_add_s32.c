#include "ml_add_s32.h"

#include "ml_nn_broadcast.h"

/* The int32 with the same bits as u, without the implementation-defined conversion. */
static int32_t ml_add_s32_bits(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

ml_status ml_add_s32(const ml_add_params *params,
                    const ml_dims *input1_dims, const int32_t *input1,
                    const ml_dims *input2_dims, const int32_t *input2,
                    const ml_dims *output_dims, int32_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK) {
        return ML_ARG_ERROR;
    }
    const int32_t act_min = params->act_min;
    const int32_t act_max = params->act_max;
    const int32_t depth = output_dims->c;
    int32_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int32_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int32_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    /* Unsigned arithmetic wraps modulo 2^32, as TFLM's int32 kernels do. */
                    const uint32_t ua = (uint32_t)a[c * s1[3]];
                    const uint32_t ub = (uint32_t)b[c * s2[3]];
                    const int32_t v = ml_add_s32_bits(ua + ub);
                    out[c] = v < act_min ? act_min : (v > act_max ? act_max : v);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
