#include "ml_logistic_s16.h"

ml_status ml_logistic_s16(const ml_sigmoid_s16_params *params,
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
        const uint32_t uh = a >> 9;
        uint32_t r;
        if (uh >= 255u) {
            r = 0x7FFFu << 10;
        } else {
            const uint32_t ua = ml_sigmoid_table_u16[uh];
            const uint32_t ub = ml_sigmoid_table_u16[uh + 1u];
            r = (ua << 9) + (a & 0x1FFu) * (ub - ua);
        }
        /* sigmoid(-x) = 1 - sigmoid(x); the -1 makes the rounding symmetric, as in TFLM. */
        r = v >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        output[i] = (int16_t)(uint16_t)(r >> 10);  /* 2^15 wraps to -2^15, as TFLM's cast */
    }
    return ML_OK;
}
