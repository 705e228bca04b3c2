#include "ml_softmax_s16.h"

/* TFLM's LUTLookup for int16: the top 9 bits of `value` pick an entry, the low 7 interpolate
 * towards the next one (a rounded step; slope and result wrap to int16 as TFLM's do). */
static int16_t ml_softmax_s16_lookup(int16_t value, const int16_t *lut)
{
    const int32_t index = 256 + (value >> 7);
    const int32_t offset = value & 0x7F;
    const int32_t base = lut[index];
    const int16_t slope = (int16_t)(lut[index + 1] - base);
    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

static int16_t ml_softmax_s16_sat(int32_t v)
{
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* The number of leading zero bits of a non-zero 32-bit value. */
static int32_t ml_softmax_s16_clz(uint32_t x)
{
    int32_t n = 0;
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

ml_status ml_softmax_s16(const ml_softmax_s16_params *params,
                         const ml_dims *input_dims, const int16_t *input,
                         const ml_dims *output_dims, int16_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t rows = input_dims->n * input_dims->h * input_dims->w;
    if (depth < 1 || output_dims->c != depth ||
        output_dims->n * output_dims->h * output_dims->w != rows) {
        return ML_ARG_ERROR;
    }
    for (int32_t r = 0; r < rows; ++r) {
        const int16_t *x = input + r * depth;
        int16_t *y = output + r * depth;
        int32_t max = -32768;
        for (int32_t c = 0; c < depth; ++c) {
            max = ml_max_i32(max, x[c]);
        }
        /* Q16.15; the row maximum alone adds about 2^15, so the sum is never 0. */
        int32_t sum = 0;
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t scaled = ml_nn_requantize((int32_t)x[c] - max, params->input_multiplier,
                                                    params->input_left_shift);
            y[c] = ml_softmax_s16_lookup(ml_softmax_s16_sat(scaled + 32767), params->exp_lut);
            sum += y[c];
        }
        /* 1 / sum: normalise sum to [2^30, 2^31), keep 17 bits, recentre [1, 2) to the LUT's
         * symmetric input range. */
        const int32_t headroom_plus_one = ml_softmax_s16_clz((uint32_t)sum);
        const int32_t shifted = (int32_t)((((int64_t)sum << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
        const int16_t recip = ml_softmax_s16_lookup(ml_softmax_s16_sat(shifted - ((1 << 15) + (1 << 16))),
                                                    params->recip_lut);
        const int32_t right_shift = 31 - headroom_plus_one;
        const int64_t round = (int64_t)1 << (right_shift - 1);
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t v = (int32_t)(((int64_t)y[c] * recip + round) >> right_shift);
            y[c] = (int16_t)(v < 0 ? 0 : (v > 32767 ? 32767 : v));
        }
    }
    return ML_OK;
}
