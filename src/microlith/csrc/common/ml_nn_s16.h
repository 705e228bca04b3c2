#ifndef ML_NN_S16_H
#define ML_NN_S16_H

#include "ml_common.h"
#include "ml_nn_dsp.h"

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

#if defined(ML_NN_DSP)
/* Halfwords {lo.lo, hi.lo}. */
ML_DSP_INLINE int32_t ml_dsp_pkhbt(int32_t lo, int32_t hi)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

/* Halfwords {lo.hi, hi.hi}. */
ML_DSP_INLINE int32_t ml_dsp_pkhtb(int32_t hi, int32_t lo)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}
#endif

/*
 * acc + sum over k < n of x[k] * w[k]: the int16 x int8 dot product of the 16x8 FULLY_CONNECTED
 * and CONV_2D kernels, exact (TFLM sums in int64; each product is below 2^22 in magnitude).
 * Cores with the DSP extension take four products per step with two SMLADs, on the halfword
 * pairs {x0, x2} . {w0, w2} and {x1, x3} . {w1, w3}, in int32 blocks of at most 256 products
 * (below 2^30) that then join the int64 sum.
 */
static inline int64_t ml_nn_dot_s16_s8(const int16_t *x, const int8_t *w, int32_t n, int64_t acc)
{
#if defined(ML_NN_DSP)
    while (n >= 4) {
        const int32_t steps = n >= 256 ? 64 : n >> 2;  /* four products per step */
        const int16_t *const end = x + 4 * steps;
        int32_t s = 0;
        n -= 4 * steps;
        do {
            int32_t x01, x23;
            memcpy(&x01, x, sizeof x01);
            memcpy(&x23, x + 2, sizeof x23);
            const int32_t wv = ml_dsp_read_s8x4(w);
            s = ml_dsp_smlad(ml_dsp_pkhbt(x01, x23), ml_dsp_sxtb16(wv), s);
            s = ml_dsp_smlad(ml_dsp_pkhtb(x23, x01), ml_dsp_sxtb16_ror8(wv), s);
            x += 4;
            w += 4;
        } while (x != end);
        acc += s;
    }
#endif
    for (; n > 0; --n) {
        acc += (int32_t)*x++ * *w++;
    }
    return acc;
}

#endif /* ML_NN_S16_H */
