#ifndef ML_NN_S16_H
#define ML_NN_S16_H

#include "ml_common.h"

/* Helpers of the int16-activation (TFLite 16x8) kernels. */

static inline int16_t ml_clamp_s16(int32_t x, int32_t lo, int32_t hi)
{
    return (int16_t)(x < lo ? lo : (x > hi ? hi : x));
}

/*
 * x * multiplier * 2^shift for a 64-bit accumulator: TFLM's
 * MultiplyByQuantizedMultiplier(int64_t x, int32_t quantized_multiplier, int shift)
 * (tensorflow/lite/kernels/internal/common.cc). The q31 multiplier is rounded to q15
 * (saturating at 0x7FFF), then one shift by 15 - shift rounds halves toward +infinity.
 * Needs multiplier >= 0, -31 <= shift <= 7 and |x| < 2^47 (the generator checks all three, as
 * TFLM asserts them), so the product fits int64. The result is truncated to int32 like
 * TFLM's conversion; callers clamp it.
 */
static inline int32_t ml_nn_requantize_s64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int64_t reduced = multiplier < 0x7FFF0000 ? (int64_t)((multiplier + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total_shift = 15 - shift;
    const int64_t r = (x * reduced + ((int64_t)1 << (total_shift - 1))) >> total_shift;
    return (int32_t)(uint32_t)(uint64_t)r;
}

/*
 * The accumulator's requantization when TFLM accumulates in int32 (an int32 bias): the sum
 * wraps modulo 2^32 as TFLM's int32 sum does, then the int32 MultiplyByQuantizedMultiplier.
 */
static inline int32_t ml_nn_requantize_acc(int64_t acc, int32_t acc32, int32_t multiplier, int32_t shift)
{
    if (acc32) {
        return ml_nn_requantize((int32_t)(uint32_t)(uint64_t)acc, multiplier, shift);
    }
    return ml_nn_requantize_s64(acc, multiplier, shift);
}

#endif /* ML_NN_S16_H */
