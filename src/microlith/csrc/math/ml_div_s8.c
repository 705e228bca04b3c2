#include "ml_div_s8.h"

#include "ml_fixedpoint.h"
#include "ml_nn_broadcast.h"

/* Redundant sign bits of x (TFLM's CountLeadingSignBits): 31 for 0 and -1. */
static inline int32_t ml_div_sign_bits(int32_t x)
{
    const uint32_t u = (uint32_t)(x < 0 ? ~x : x);
    return ml_fp_clz(u) - 1;
}

/* gemmlowp's RoundingDivideByPOT for exponent in [0, 63], as x86 evaluates it (see the header). */
static inline int32_t ml_div_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = exponent >= 32 ? -1 : (int32_t)((1U << exponent) - 1U);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> (exponent & 31)) + (remainder > threshold ? 1 : 0);
}

static inline int8_t ml_div_one(const ml_div_params *p, int8_t a, int8_t b)
{
    int32_t x = (int32_t)a + p->input1_offset;
    int32_t y = (int32_t)b + p->input2_offset;
    int32_t recip_shift;
    if (y < 0) {  /* the reciprocal must be positive */
        x = -x;
        y = -y;
    }
    const int32_t recip = ml_fp_reciprocal(y, 31, &recip_shift);
    const int32_t headroom = ml_div_sign_bits(x);
    /* x * 2^headroom fits int32 by construction (x = -1 gives exactly INT32_MIN). */
    const int32_t quotient = ml_nn_doubling_high_mul((int32_t)((uint32_t)x << headroom), recip);
    const int32_t exponent = headroom + recip_shift - p->output_shift;
    const int32_t out = ml_div_divide_by_pot(ml_nn_doubling_high_mul(quotient, p->output_multiplier), exponent) +
                        p->output_offset;
    return ml_clamp_s8(out, p->act_min, p->act_max);
}

ml_status ml_div_s8(const ml_div_params *params,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output)
{
    int32_t s1[4], s2[4];
    if (ml_nn_broadcast_strides(input1_dims, output_dims, s1) != ML_OK ||
        ml_nn_broadcast_strides(input2_dims, output_dims, s2) != ML_OK ||
        params->output_shift < -25 || params->output_shift > 22) {
        return ML_ARG_ERROR;
    }
    const int32_t depth = output_dims->c;
    int8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        for (int32_t h = 0; h < output_dims->h; ++h) {
            for (int32_t w = 0; w < output_dims->w; ++w) {
                const int8_t *a = input1 + n * s1[0] + h * s1[1] + w * s1[2];
                const int8_t *b = input2 + n * s2[0] + h * s2[1] + w * s2[2];
                for (int32_t c = 0; c < depth; ++c) {
                    out[c] = ml_div_one(params, a[c * s1[3]], b[c * s2[3]]);
                }
                out += depth;
            }
        }
    }
    return ML_OK;
}
