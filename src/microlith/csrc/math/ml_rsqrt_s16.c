#include "ml_rsqrt_s16.h"

#include "ml_fixedpoint.h"

/* TFLite's GetInvSqrtQuantizedMultiplierExp(x, reverse_shift = -1) for x in [0, 32767]. */
static int32_t ml_rsqrt_inv_sqrt(int32_t x, int32_t *shift_out)
{
    int32_t shift = 11;
    int32_t i;
    if (x <= 1) {  /* TFLM treats 0 like 1 */
        *shift_out = 0;
        return INT32_MAX;
    }
    /* Normalise x into [2^27, 2^29) by pairs of bits (x < 2^29 here, so never downwards). */
    const int32_t pairs = (ml_fp_clz((uint32_t)x) - 1) / 2 - 1;
    shift -= pairs;
    x = (int32_t)((uint32_t)x << (2 * pairs));
    const int32_t half_x = ml_fp_mul_pot(x >> 1, -1);       /* Q3.28 */
    const int32_t three_halves = (1 << 28) + (1 << 27);     /* 1.5 in Q3.28 */
    int32_t r = 1 << 28;                                    /* 1.0 in Q3.28 */
    for (i = 0; i < 5; ++i) {
        const int32_t r3 = ml_fp_rescale(ml_fp_mul(ml_fp_mul(r, r), r), 9, 3);
        r = ml_fp_rescale(ml_fp_sub(ml_fp_mul(three_halves, r), ml_fp_mul(half_x, r3)), 6, 3);
    }
    r = ml_fp_mul(r, 1518500250);                           /* times sqrt(2)/2 in Q0.31 */
    if (shift < 0) {
        r = (int32_t)((uint32_t)r << -shift);               /* an int32 shift in TFLM */
        shift = 0;
    }
    *shift_out = -shift;
    return r;
}

ml_status ml_rsqrt_s16(const ml_rsqrt_s16_params *params,
                       const ml_dims *input_dims, const int16_t *input,
                       const ml_dims *output_dims, int16_t *output)
{
    const int32_t n = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    if (n != output_dims->n * output_dims->h * output_dims->w * output_dims->c ||
        params->shift - 20 < -31 || params->shift > 30) {
        return ML_ARG_ERROR;
    }
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = input[i];
        int32_t s;
        if (x < 0) {
            return ML_ARG_ERROR;
        }
        if (x == 0) {
            output[i] = 32767;
            continue;
        }
        const int32_t m = ml_rsqrt_inv_sqrt(x, &s);
        const int32_t data = ml_nn_requantize(1, m, s + 20);
        const int32_t y = ml_nn_requantize(data, params->multiplier, params->shift - 20);
        output[i] = (int16_t)(y > 32767 ? 32767 : (y < -32768 ? -32768 : y));
    }
    return ML_OK;
}
