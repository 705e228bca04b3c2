#ifndef ML_SOFTMAX_S8_H
#define ML_SOFTMAX_S8_H

#include "ml_common.h"
#include "ml_fixedpoint.h"

/* Integer bits of the formats TFLite's quantized softmax works in. */
#define ML_SOFTMAX_DIFF_INTEGER_BITS 5   /* scaled input differences, Q5.26 */
#define ML_SOFTMAX_ACCUM_INTEGER_BITS 12 /* sum of exponentials, Q12.19 */

typedef struct {
    int32_t input_multiplier;  /* beta * input_scale * 2^26 as a Q31 mantissa ... */
    int32_t input_left_shift;  /* ... and its exponent, in [1, 31] */
    int32_t diff_min;          /* differences below this (<= 0) contribute exp() = 0 */
} ml_softmax_params;

/* exp(beta * input_scale * diff) in Q0.31 for a difference diff in [diff_min, 0] from the
 * row maximum. Within that range diff << input_left_shift fits in int32. */
static inline int32_t ml_nn_softmax_exp(const ml_softmax_params *params, int32_t diff)
{
    const int32_t scaled = ml_fp_mul((int32_t)((uint32_t)diff << params->input_left_shift),
                                     params->input_multiplier);
    return ml_fp_exp_on_negative_values(scaled, ML_SOFTMAX_DIFF_INTEGER_BITS);
}

/* For one row: the row maximum, and 1 / sum(exp) as a Q0.31 mantissa with its exponent
 * (num_bits_over_unit), so that probability = exp * mantissa / 2^num_bits_over_unit. The sum
 * wraps in int32 past 4095 maximal entries, as TFLM's does. */
static inline int32_t ml_nn_softmax_row_scale(const ml_softmax_params *params, const int8_t *row,
                                              int32_t depth, int32_t *max_in_row,
                                              int32_t *num_bits_over_unit)
{
    int32_t max = INT8_MIN;
    int32_t sum = 0;
    int32_t c;
    for (c = 0; c < depth; ++c) {
        max = ml_max_i32(max, row[c]);
    }
    for (c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)row[c] - max;
        if (diff >= params->diff_min) {
            sum = ml_fp_add(sum, ml_fp_rescale(ml_nn_softmax_exp(params, diff), 0,
                                               ML_SOFTMAX_ACCUM_INTEGER_BITS));
        }
    }
    *max_in_row = max;
    return ml_fp_reciprocal(sum, ML_SOFTMAX_ACCUM_INTEGER_BITS, num_bits_over_unit);
}

/* exp * scale / 2^exponent, rounded. TFLM stops with TFLITE_CHECK when exponent leaves
 * [0, 31]. Above 31 (int8 output and a sum of exponentials of 512 or more, e.g. 512 entries
 * tied at the row maximum) every quotient is below half a step, so 0 is the limit of the
 * arithmetic. Below 0 needs a sum wrapped past 2^31 (4096+ tied entries); we return 0 too. */
static inline int32_t ml_nn_softmax_unsaturated(int32_t exp_q0, int32_t scale, int32_t exponent)
{
    if (exponent < 0 || exponent > 31) {
        return 0;
    }
    return ml_nn_divide_by_pot(ml_fp_mul(scale, exp_q0), exponent);
}

/*
 * Softmax over the innermost dimension, int8 in, int8 out (TFLM reference_ops::Softmax).
 * input_dims == output_dims: {n, h, w, c}; every one of the n*h*w rows of c values is
 * normalised on its own. Output quantization is fixed: scale 1/256, zero point -128.
 */
ml_status ml_softmax_s8(const ml_softmax_params *params, const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output);

#endif
