#include "ml_l2_normalization_s8.h"

#include "ml_fixedpoint.h"

#define ML_L2_NORMALIZATION_OUTPUT_SHIFT 7  /* output steps of 1/128 */

/* 1 / sqrt(input) as a multiplier and (left) shift: TFLite's GetInvSqrtQuantizedMultiplierExp
 * with reverse_shift -1 (common.h). input >= 0; 0 and 1 give the largest multiplier. */
static void ml_inv_sqrt(int32_t input, int32_t *multiplier, int32_t *shift)
{
    const int32_t half_three = ((int32_t)1 << 28) + ((int32_t)1 << 27);  /* 1.5 in Q3.28 */
    const int32_t half_sqrt_2 = 1518500250;                              /* sqrt(2)/2 in Q0.31 */
    int32_t s = 11;
    if (input <= 1) {
        *multiplier = INT32_MAX;
        *shift = 0;
        return;
    }
    while (input >= ((int32_t)1 << 29)) {
        input /= 4;
        ++s;
    }
    /* Normalise to [2^27, 2^29) by whole pairs of bits, so the square root stays exact. */
    const int32_t pairs = (ml_fp_clz((uint32_t)input) - 1) / 2 - 1;
    s -= pairs;
    input = (int32_t)((uint32_t)input << (2 * pairs));
    const int32_t half_input = ml_fp_mul_pot(input >> 1, -1);  /* input / 2 in Q3.28 */
    int32_t x = (int32_t)1 << 28;                              /* 1.0 in Q3.28 */
    for (int32_t i = 0; i < 5; ++i) {                          /* Newton-Raphson steps */
        const int32_t x3 = ml_fp_rescale(ml_fp_mul(ml_fp_mul(x, x), x), 9, 3);
        x = ml_fp_rescale(ml_fp_sub(ml_fp_mul(half_three, x), ml_fp_mul(half_input, x3)), 6, 3);
    }
    x = ml_fp_mul(x, half_sqrt_2);
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *multiplier = x;
    *shift = -s;
}

ml_status ml_l2_normalization_s8(const ml_l2_normalization_params *params,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t rows = input_dims->n * input_dims->h * input_dims->w;
    if (output_dims->c != depth || output_dims->n * output_dims->h * output_dims->w != rows ||
        depth > 33025) {
        return ML_ARG_ERROR;
    }
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        int32_t acc = 0;  /* depth * 255^2 < 2^31 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = in[c] - params->input_zero_point;
            acc += v * v;
        }
        int32_t multiplier, shift;
        ml_inv_sqrt(acc, &multiplier, &shift);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = ml_nn_requantize(in[c] - params->input_zero_point, multiplier,
                                               shift + ML_L2_NORMALIZATION_OUTPUT_SHIFT);
            out[c] = ml_clamp_s8(v, INT8_MIN, INT8_MAX);
        }
    }
    return ML_OK;
}
