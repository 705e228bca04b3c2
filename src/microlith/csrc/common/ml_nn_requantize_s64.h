/*
 * TFLM's MultiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift), used by its
 * 16x8 kernels whose accumulators are int64 (TRANSPOSE_CONV, BATCH_MATMUL): the q31 multiplier
 * rounded to 16 bits, one product, one rounding shift by 15 - shift, the result narrowed to
 * int32. TFLM assumes |x| < 2^47 and shift < 8 (its DCHECKs); the generator refuses layers
 * outside them, so the int64 product cannot overflow.
 */
#ifndef ML_NN_REQUANTIZE_S64_H
#define ML_NN_REQUANTIZE_S64_H

#include "ml_common.h"

static inline int32_t ml_nn_requantize_s64(int64_t x, int32_t multiplier, int32_t shift)
{
    const int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int32_t total_shift = 15 - shift;
    const int64_t rounded = x * (int64_t)reduced + ((int64_t)1 << (total_shift - 1));
    /* TFLM narrows the shifted int64 to int32 by an implicit conversion: keep its low 32 bits. */
    return (int32_t)(uint32_t)((uint64_t)(rounded >> total_shift) & 0xFFFFFFFFu);
}

#endif /* ML_NN_REQUANTIZE_S64_H */
