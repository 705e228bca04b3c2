#include "ml_log_softmax_s8.h"

#define ML_LOG_SOFTMAX_INPUT_BITS 5   /* scaled differences and the log: Q5.26 */
#define ML_LOG_SOFTMAX_ACCUM_BITS 12  /* sum of exponentials: Q12.19 */
#define ML_LOG_SOFTMAX_OUTPUT_BITS 4  /* output steps of 2^4 / 2^8 */

/* TFLite's SaturatingAddNonGemmlowp / SaturatingSub on int32. */
static int32_t ml_sat_add(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + (int64_t)b;
    return (int32_t)(s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : s));
}

static int32_t ml_sat_sub(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a - (int64_t)b;
    return (int32_t)(s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : s));
}

/* log(x) for x >= 1: TFLite's log_x_for_x_greater_than_or_equal_to_1 with 5 output and
 * 12 input integer bits (common.h), step by step. x in [2^19, 2^31). */
static int32_t ml_fp_log_x_ge_1(int32_t x)
{
    const int32_t accum_bits = ML_LOG_SOFTMAX_INPUT_BITS + 1;  /* headroom for the sum below */
    const int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250;
    const int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708;
    const int32_t shifted_quarter = ml_fp_rescale(536870912, 0, accum_bits);

    const int32_t z_a_headroom_plus_1 = ml_fp_clz((uint32_t)x);
    const int32_t r_a_tmp = ml_fp_mul_pot(x, z_a_headroom_plus_1 - 1);
    const int32_t r_a_raw = ml_fp_mul_pot(ml_fp_mul(r_a_tmp, sqrt_half), 1);
    const int32_t z_a_pow_2_adj = ml_sat_add(
        ml_fp_mul_pot(ML_LOG_SOFTMAX_ACCUM_BITS - z_a_headroom_plus_1, 31 - accum_bits), shifted_quarter);
    /* z_b: x premultiplied by sqrt(1/2); the better-conditioned of the two is kept. */
    const int32_t z_b = ml_fp_mul(x, sqrt_half);
    const int32_t z_b_headroom = ml_fp_clz((uint32_t)z_b) - 1;
    const int32_t r_b_raw = ml_fp_mul_pot(x, z_b_headroom);
    const int32_t z_b_pow_2_adj = ml_sat_sub(
        ml_fp_mul_pot(ML_LOG_SOFTMAX_ACCUM_BITS - z_b_headroom, 31 - accum_bits), shifted_quarter);
    const int32_t r = ml_min_i32(r_a_raw, r_b_raw);
    const int32_t z_pow_2_adj = ml_max_i32(z_a_pow_2_adj, z_b_pow_2_adj);

    const int32_t p = ml_fp_rounding_half_sum(r, sqrt_sqrt_half);
    int32_t q = ml_fp_sub(r, sqrt_sqrt_half);
    q = ml_fp_add(q, q);
    const int32_t common_sq = ml_fp_mul(q, q);
    const int32_t num = ml_fp_add(ml_fp_mul(q, r), ml_fp_mul(ml_fp_mul(q, common_sq), alpha_n));
    const int32_t denom_minus_one_0 = ml_fp_add(
        ml_fp_mul(p, ml_fp_add(ml_fp_add(alpha_i, q), ml_fp_mul(alpha_d, common_sq))), ml_fp_mul(alpha_f, q));
    const int32_t recip_denom = ml_fp_one_over_one_plus_x(denom_minus_one_0);
    const int32_t num_scaled = ml_fp_rescale(num, 0, accum_bits);
    return ml_fp_rescale(ml_fp_add(ml_fp_mul(z_pow_2_adj, log_2), ml_fp_mul(num_scaled, recip_denom)),
                         accum_bits, ML_LOG_SOFTMAX_INPUT_BITS);
}

/* A difference from the row maximum in Q5.26 (MultiplyByQuantizedMultiplier, left shift). */
static int32_t ml_log_softmax_scale(const ml_log_softmax_params *params, int32_t diff)
{
    return ml_nn_requantize(diff, params->input_multiplier, params->input_left_shift);
}

static void ml_log_softmax_row(const ml_log_softmax_params *params, const int8_t *in, int8_t *out,
                               int32_t depth)
{
    int32_t max = INT8_MIN;
    int32_t sum = 0;
    int32_t c;
    for (c = 0; c < depth; ++c) {
        max = ml_max_i32(max, in[c]);
    }
    for (c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max;
        if (diff >= params->diff_min) {
            const int32_t e = ml_fp_exp_on_negative_values(ml_log_softmax_scale(params, diff),
                                                           ML_LOG_SOFTMAX_INPUT_BITS);
            sum = ml_fp_add(sum, ml_fp_rescale(e, 0, ML_LOG_SOFTMAX_ACCUM_BITS));
        }
    }
    const int32_t log_sum = ml_fp_log_x_ge_1(sum);
    /* Differences at or below this give an output below -128 (or would overflow Q5.26). */
    const int32_t adjusted_diff_min = ml_max_i32(
        params->diff_min - 1,
        ml_nn_requantize(ml_fp_add(log_sum, INT32_MIN), params->reverse_scaling_divisor,
                         params->reverse_scaling_left_shift));
    for (c = 0; c < depth; ++c) {
        const int32_t diff = (int32_t)in[c] - max;
        if (diff > adjusted_diff_min) {
            const int32_t v = ml_nn_divide_by_pot(ml_fp_sub(ml_log_softmax_scale(params, diff), log_sum),
                                                  31 - ML_LOG_SOFTMAX_INPUT_BITS - ML_LOG_SOFTMAX_OUTPUT_BITS);
            out[c] = ml_clamp_s8(v + INT8_MAX, INT8_MIN, INT8_MAX);
        } else {
            out[c] = INT8_MIN;
        }
    }
}

ml_status ml_log_softmax_s8(const ml_log_softmax_params *params,
                            const ml_dims *input_dims, const int8_t *input,
                            const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t rows = input_dims->n * input_dims->h * input_dims->w;
    if (output_dims->c != depth || output_dims->n * output_dims->h * output_dims->w != rows ||
        depth < 1 || depth >= 4096) {
        return ML_ARG_ERROR;
    }
    for (int32_t r = 0; r < rows; ++r) {
        ml_log_softmax_row(params, input + r * depth, output + r * depth, depth);
    }
    return ML_OK;
}
