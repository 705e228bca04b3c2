#include "ml_tanh_s16.h"

ml_status ml_tanh_s16(const ml_sigmoid_s16_params *params,
                      const ml_dims *input_dims, const int16_t *input,
                      const ml_dims *output_dims, int16_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    int32_t multiplier = params->input_multiplier;
    int32_t shift = params->input_left_shift;
    if (multiplier == 0) {  /* power-of-two input scale */
        multiplier = 3 * (1 << shift);
        shift = 0;
    }
    const int32_t rounding = shift > 0 ? 1 << (shift - 1) : 0;
    for (int32_t i = 0; i < size; ++i) {
        /* |x * multiplier| <= 2^15 * 32767: no overflow. */
        const int32_t v = ((int32_t)input[i] * multiplier + rounding) >> shift;
        const uint32_t a = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = a >> 8;
        int32_t r;
        if (uh >= 255u) {
            r = (int32_t)(0xFFFFu << 8);
        } else {
            /* tanh(x) = 2 sigmoid(2x) - 1: the table at twice the rate. */
            const uint32_t ua = ml_sigmoid_table_u16[uh];
            const uint32_t ub = ml_sigmoid_table_u16[uh + 1u];
            r = (int32_t)((ua << 8) + (a & 0xFFu) * (ub - ua));
        }
        r = v >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
    return ML_OK;
}
