/*
 * microlith kernel library: common types and the one requantization routine.
 *
 * Conventions for every kernel (ml_<op>_<dtype>[_<variant>]):
 *   - argument order: params struct(s), then for each operand (inputs first, then output)
 *     its dims followed by its data pointer; inputs are const;
 *   - tensors are NHWC, int8 unless the name says otherwise;
 *   - a kernel returns ml_status (ML_OK = 0); it never allocates and never prints.
 * The integer arithmetic is that of TFLite Micro's reference kernels, bit for bit.
 */
#ifndef ML_COMMON_H
#define ML_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --- issue 11: --optimize (code size) */
#include "ml_config.h"
#if defined(ML_OPTIMIZE_SIZE) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
/* 1 where a kernel may take a shape-specialised variant of its generic path (same bytes, fewer
 * instructions, more code); 0 for --optimize size, where such a variant becomes dead code that
 * the compiler drops. Kernels test it in the condition that picks the variant. */
#if defined(ML_OPTIMIZE_SIZE)
#define ML_SPECIALISE 0
#else
#define ML_SPECIALISE 1
#endif

/* 1 in builds that compile the DSP-extension paths (ML_NN_DSP's condition, ml_nn_dsp.h): the
 * generated code defines the constants it lays out for those paths only there
 * (`#if ML_DSP_LAYOUTS`), so other builds neither compile nor keep them. */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define ML_DSP_LAYOUTS 1
#else
#define ML_DSP_LAYOUTS 0
#endif
/* 1 in builds that compile the kernels' Cortex-M0/M0+ paths: assembly in the instructions
 * ARMv6-M has, which Cortex-M3 (ARMv7-M, no DSP extension) runs unchanged and there beats gcc's
 * own code for ARMv7-M as well, so both cores take them. */
#if (defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_7M__)) && defined(__GNUC__)
#define ML_M0_PATHS 1
#else
#define ML_M0_PATHS 0
#endif
/* The same for the constants those paths read (e.g. ML_CONV_M0_BIAS). */
#define ML_M0_LAYOUTS ML_M0_PATHS

/* p, which the caller has checked is word aligned: memcpy through it becomes one LDR or STR
 * (Cortex-M0 has no unaligned access, so without it gcc copies byte by byte). */
#if defined(__GNUC__)
#define ML_ASSUME_ALIGNED4(p) __builtin_assume_aligned((p), 4)
#else
#define ML_ASSUME_ALIGNED4(p) (p)
#endif

typedef enum {
    ML_OK = 0,
    ML_ARG_ERROR = -1,   /* inconsistent arguments (a bug in the caller or generator) */
    ML_NO_IMPL = -2,     /* this combination of parameters has no kernel */
    ML_CHECKSUM_ERROR = -3  /* constant data differ from their CRC-32 (NAME_self_test) */
} ml_status;

/* Tensor dimensions, NHWC. Lower-rank tensors put their leading dimensions at 1. */
typedef struct {
    int32_t n, h, w, c;
} ml_dims;

/* Per-output-channel requantization (conv, depthwise conv). */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
} ml_per_channel_quant;

/* Per-tensor requantization. */
typedef struct {
    int32_t multiplier;
    int32_t shift;
} ml_per_tensor_quant;

/* Keeps hot inner loops out of line: when gcc inlines them into a deep loop nest it spills
 * registers inside the innermost loop, which doubled the instructions per MAC on Cortex-M4. */
#if defined(__GNUC__)
#define ML_NOINLINE __attribute__((noinline))
#else
#define ML_NOINLINE
#endif

static inline int32_t ml_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t ml_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

static inline int8_t ml_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* round(a * b / 2^31) with the single overflow case saturated (gemmlowp's
 * SaturatingRoundingDoublingHighMul). gemmlowp adds a sign-dependent nudge and divides
 * truncating toward zero; for negative ab, trunc((ab + 1 - 2^30) / 2^31) equals
 * floor((ab + 2^30) / 2^31), so one add and an arithmetic shift give the same result
 * for every input (checked on 2 million random and edge-case pairs) at a third of the cost. */
static inline int32_t ml_nn_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + (1LL << 30)) >> 31);
}

/* x / 2^exponent rounded half away from zero (gemmlowp's RoundingDivideByPOT).
 * Relies on arithmetic right shift of negative values, as every supported compiler does. */
static inline int32_t ml_nn_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1U << exponent) - 1U);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^shift, TFLM's MultiplyByQuantizedMultiplier (double rounding). */
static inline int32_t ml_nn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return ml_nn_divide_by_pot(ml_nn_doubling_high_mul(shifted, multiplier), right);
}

#endif /* ML_COMMON_H */
