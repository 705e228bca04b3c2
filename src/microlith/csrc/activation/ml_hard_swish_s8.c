#include "ml_hard_swish_s8.h"

/* The 16-bit twins of the gemmlowp helpers. Each narrowing to int16_t below is where
 * TFLM's int16_t arithmetic narrows too, so intermediate wrap-arounds match. */

static inline int16_t ml_hs_rounding_doubling_high_mul(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* Truncating (not rounding) doubling high multiply, ARM's SQDMULH. */
static inline int16_t ml_hs_doubling_high_mul(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

/* Rounding right shift with the mask and threshold held in int16_t, as gemmlowp does
 * for a 16-bit type (this only matters for exponents above 15). */
static inline int16_t ml_hs_divide_by_pot(int16_t x, int32_t exponent)
{
    const int16_t mask = (int16_t)(((int64_t)1 << exponent) - 1);
    const int16_t remainder = (int16_t)(x & mask);
    const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
    return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

static inline int16_t ml_hs_saturating_left_shift(int16_t x, int32_t amount)
{
    const int64_t y = (int64_t)x * ((int64_t)1 << amount);
    return (int16_t)(y > INT16_MAX ? INT16_MAX : (y < INT16_MIN ? INT16_MIN : y));
}

ml_status ml_hard_swish_s8(const ml_hard_swish_params *params,
                           const ml_dims *input_dims, const int8_t *input,
                           const ml_dims *output_dims, int8_t *output)
{
    const int32_t size = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (size != output_dims->n * output_dims->h * output_dims->w * output_dims->c) {
        return ML_ARG_ERROR;
    }
    const int16_t output_multiplier = (int16_t)params->output_multiplier;
    const int16_t reluish_multiplier = (int16_t)params->reluish_multiplier;
    const int32_t reluish_exponent = params->reluish_exponent;
    for (int32_t i = 0; i < size; ++i) {
        /* |input - zero point| <= 255, so * 128 still fits int16: the most precision
         * 16 bits allow. */
        const int16_t hires = (int16_t)(((int32_t)input[i] - params->input_zero_point) * 128);
        const int16_t preshift_output = ml_hs_rounding_doubling_high_mul(hires, output_multiplier);

        /* The "relu-ish" factor: x rescaled so that 3.0 maps to 32768, saturated to
         * [-1, 1]. Left shifts saturate in two steps so that only the last one can clip. */
        int16_t reluish = hires;
        if (reluish_exponent > 0) {
            reluish = ml_hs_saturating_left_shift(reluish, reluish_exponent - 1);
        }
        reluish = ml_hs_rounding_doubling_high_mul(reluish, reluish_multiplier);
        if (reluish_exponent > 0) {
            reluish = ml_hs_saturating_left_shift(reluish, 1);
        }
        if (reluish_exponent < 0) {
            reluish = ml_hs_divide_by_pot(reluish, -reluish_exponent);
        }
        /* [-1, 1] -> [0, 1] */
        reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);

        const int16_t preshift = ml_hs_doubling_high_mul(reluish, preshift_output);
        int16_t y = ml_hs_divide_by_pot(preshift, -params->output_exponent);
        y = (int16_t)(y + params->output_zero_point);
        output[i] = ml_clamp_s8(y, -128, 127);
    }
    return ML_OK;
}
