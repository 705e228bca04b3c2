#include "ml_abs_s16.h"

static inline int16_t ml_abs_s16_one(const ml_abs_s16_params *p, int16_t x)
{
    int32_t v = x < 0 ? -(int32_t)x : (int32_t)x;  /* up to 32768 */
    if (!p->quantized) {
        return (int16_t)(uint16_t)(uint32_t)v;  /* static_cast<int16_t>: 32768 wraps */
    }
    if (p->rescale) {
        v = ml_nn_requantize(v, p->multiplier, p->shift);
    }
    return (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

ml_status ml_abs_s16(const ml_abs_s16_params *params,
                     const ml_dims *input_dims, const int16_t *input,
                     const ml_dims *output_dims, int16_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < n; ++i) {
        output[i] = ml_abs_s16_one(params, input[i]);
    }
    return ML_OK;
}
