/*
 * Helpers for the kernels' paths on cores without the DSP extension (Cortex-M0/M0+, M3) and
 * the host. Nothing here is public API.
 *
 * ml_m0_out_s8 is the per-output tail of the portable conv and depthwise conv and of the M0
 * ADD/SUB: bias already added, TFLM's requantization (MultiplyByQuantizedMultiplier), output
 * offset, clamp.
 * On ARMv6-M, which has no 32 x 32 -> 64 multiply, its common case is an assembly routine
 * that needs no libgcc call: out of line it has the eight low registers to itself, where
 * ml_nn_requantize inlined into a kernel's loop nest spilled and cost about 90 instructions
 * per output on Cortex-M0 (now 45 plus the caller's loads). Other cores and the host run
 * ml_nn_requantize itself (Cortex-M3 has SMULL).
 */
#ifndef ML_NN_M0_H
#define ML_NN_M0_H

#include "ml_common.h"

/* Output offset and activation clamp of one layer (output domain). */
typedef struct {
    int32_t out_off;
    int32_t act_min;
    int32_t act_max;
} ml_m0_act;

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/*
 * ARMv6-M: the fast case of ml_m0_out_s8 (m >= 0, shift in [-22, -1]) in about 40
 * instructions, call included; gcc's code for the same steps in C took 75 (it moves the
 * products through r8-r10).
 *
 * y = floor((acc * m + 2^30) / 2^31) is gemmlowp's SaturatingRoundingDoublingHighMul (its
 * saturated case needs m == INT32_MIN, excluded). With acc = ah * 2^16 + al and
 * m = mh * 2^16 + ml (al, ml in [0, 2^16); ah in [-2^15, 2^15), mh in [0, 2^15)):
 * acc * m = ah*mh * 2^32 + (ah*ml + al*mh) * 2^16 + al*ml, where ah*ml and al*mh fit int32
 * and al*ml fits uint32; the sum is formed as a 64-bit hi:lo pair with ADDS/ADCS, so every
 * step is exact, and hi:lo >> 31 fits int32 because |acc * m| < 2^62. The 2^30 of the
 * rounding rides on al * mh: (al * mh + 2^14) * 2^16 = al * mh * 2^16 + 2^30, and
 * al * mh + 2^14 < 2^32. Then TFLM's RoundingDivideByPOT(y, n) = (y + 2^(n-1) - [y < 0]) >> n,
 * where [y < 0] = [acc < 0] except for acc * m in [-2^30, 0), where y = 0 and both give 0 for
 * n >= 1. y + 2^(n-1) - [acc < 0] can overflow only upward, for y >= 2^31 - 2^21, whose
 * result (>= 2^9, plus an output offset >= -128) clamps to act_max, which the int8 output
 * domain keeps below 128.
 * Naked, so it is a private copy in each file that uses it; arguments as the C prototype.
 */
#define ML_M0_ARG __attribute__((unused))  /* read by the assembly, not by C */
__attribute__((naked, noinline, unused)) static int8_t
ml_m0_requant_fast(ML_M0_ARG int32_t acc, ML_M0_ARG int32_t m, ML_M0_ARG int32_t n,
                   ML_M0_ARG const ml_m0_act *act)
{
    __asm__(
        ".syntax unified\n\t"
        "push {r4, r5, r6, r7, lr}\n\t"
        "lsrs r7, r0, #31\n\t"
        "movs r5, #1\n\t"
        "lsls r5, r2\n\t"
        "lsrs r5, r5, #1\n\t"            /* 2^(n-1) */
        "subs r5, r5, r7\n\t"            /* 2^(n-1) - [acc < 0] */
        "asrs r4, r1, #16\n\t"           /* mh */
        "uxth r1, r1\n\t"                /* ml */
        "asrs r7, r0, #16\n\t"           /* ah */
        "uxth r0, r0\n\t"                /* al */
        "movs r6, r0\n\t"
        "muls r6, r1\n\t"                /* lo = al * ml */
        "muls r1, r7\n\t"                /* p2 = ml * ah */
        "muls r0, r4\n\t"                /* p3 = al * mh */
        "muls r7, r4\n\t"                /* hi = ah * mh */
        "movs r4, #1\n\t"
        "lsls r4, r4, #14\n\t"
        "adds r0, r0, r4\n\t"            /* p3 + 2^14: the rounding 2^30 */
        "lsls r4, r1, #16\n\t"
        "asrs r1, r1, #16\n\t"
        "adds r6, r6, r4\n\t"
        "adcs r7, r1\n\t"                /* hi:lo += p2 * 2^16 */
        "lsls r4, r0, #16\n\t"
        "lsrs r0, r0, #16\n\t"
        "adds r6, r6, r4\n\t"
        "adcs r7, r0\n\t"                /* hi:lo += (p3 + 2^14) * 2^16 */
        "adds r6, r6, r6\n\t"
        "adcs r7, r7\n\t"                /* y = hi:lo >> 31 */
        "ldm r3!, {r0, r1, r4}\n\t"      /* out_off, act_min, act_max */
        "adds r7, r7, r5\n\t"
        "bvs 3f\n\t"
        "asrs r7, r2\n\t"
        "adds r0, r0, r7\n\t"
        "cmp r0, r1\n\t"
        "bge 1f\n\t"
        "movs r0, r1\n"
        "1:\n\t"
        "cmp r0, r4\n\t"
        "ble 2f\n"
        "3:\n\t"
        "movs r0, r4\n"
        "2:\n\t"
        "sxtb r0, r0\n\t"
        "pop {r4, r5, r6, r7, pc}");
}
#endif

/* ml_nn_requantize(acc, m, shift) + act->out_off, clamped to the activation range. */
static inline int8_t ml_m0_out_ref(int32_t acc, int32_t m, int32_t shift, const ml_m0_act *act)
{
    return ml_clamp_s8(ml_nn_requantize(acc, m, shift) + act->out_off, act->act_min,
                       act->act_max);
}

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/* The rare channels (shift outside [-22, -1], negative multiplier), out of line so that the
 * callers' loops keep their registers. */
static ML_NOINLINE int8_t ml_m0_out_slow(int32_t acc, int32_t m, int32_t shift,
                                         const ml_m0_act *act)
{
    return ml_m0_out_ref(acc, m, shift, act);
}

static inline int8_t ml_m0_out_s8(int32_t acc, int32_t m, int32_t shift, const ml_m0_act *act)
{
    if ((uint32_t)(shift + 22) < 22u && m >= 0) {  /* shift in [-22, -1] */
        return ml_m0_requant_fast(acc, m, -shift, act);
    }
    return ml_m0_out_slow(acc, m, shift, act);
}
#else
#define ml_m0_out_s8 ml_m0_out_ref
#endif

/*
 * The same requantization with the per-channel constants prepared once per layer (a kernel
 * keeps them in its scratch), for channels with multiplier >= 0 and shift in [-22, -1]: the
 * rounding shift and the 2^30 rounding merge into one add before a single shift.
 * The steps are those of ml_m0_requant_fast. About 35 instructions with the call.
 */
typedef struct {
    int32_t mh;   /* multiplier >> 16 */
    int32_t ml;   /* multiplier & 0xFFFF */
    int32_t h;    /* 2^(n-1) */
    int32_t n;    /* -shift, in [1, 22] */
} ml_m0_rq;

/* 1 and q filled when the channel takes ml_m0_rq_apply, else 0. */
static inline int ml_m0_rq_of(ml_m0_rq *q, int32_t multiplier, int32_t shift)
{
    if (multiplier < 0 || shift > -1 || shift < -22) {
        return 0;
    }
    q->mh = multiplier >> 16;
    q->ml = multiplier & 0xFFFF;
    q->n = -shift;
    q->h = (int32_t)(1u << (q->n - 1));
    return 1;
}

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/* ml_m0_out_s8(acc, m, shift, act) for a channel prepared by ml_m0_rq_of (clamped, as int32). */
__attribute__((naked, noinline, unused)) static int32_t
ml_m0_rq_apply(ML_M0_ARG int32_t acc, ML_M0_ARG const ml_m0_rq *q, ML_M0_ARG const ml_m0_act *act)
{
    __asm__(
        ".syntax unified\n\t"
        "push {r4, r5, r6, r7, lr}\n\t"
        "ldm r1!, {r3, r4, r5, r6}\n\t"  /* mh, ml, h, n */
        "lsrs r7, r0, #31\n\t"
        "subs r5, r5, r7\n\t"            /* h - [acc < 0] */
        "asrs r7, r0, #16\n\t"           /* ah */
        "uxth r0, r0\n\t"                /* al */
        "movs r1, r0\n\t"
        "muls r1, r4\n\t"                /* lo = al * ml */
        "muls r4, r7\n\t"                /* p2 = ml * ah */
        "muls r0, r3\n\t"                /* p3 = al * mh */
        "muls r7, r3\n\t"                /* hi = ah * mh */
        "movs r3, #1\n\t"
        "lsls r3, r3, #14\n\t"
        "adds r0, r0, r3\n\t"            /* p3 + 2^14: the rounding 2^30 */
        "lsls r3, r4, #16\n\t"
        "asrs r4, r4, #16\n\t"
        "adds r1, r1, r3\n\t"
        "adcs r7, r4\n\t"
        "lsls r3, r0, #16\n\t"
        "lsrs r0, r0, #16\n\t"
        "adds r1, r1, r3\n\t"
        "adcs r7, r0\n\t"
        "adds r1, r1, r1\n\t"
        "adcs r7, r7\n\t"                /* y */
        "ldm r2!, {r0, r3, r4}\n\t"      /* out_off, act_min, act_max */
        "adds r7, r7, r5\n\t"
        "bvs 3f\n\t"
        "asrs r7, r6\n\t"
        "adds r0, r0, r7\n\t"
        "cmp r0, r3\n\t"
        "bge 1f\n\t"
        "movs r0, r3\n"
        "1:\n\t"
        "cmp r0, r4\n\t"
        "ble 2f\n"
        "3:\n\t"
        "movs r0, r4\n"
        "2:\n\t"
        "pop {r4, r5, r6, r7, pc}");
}
#else
static inline int32_t ml_m0_rq_apply(int32_t acc, const ml_m0_rq *q, const ml_m0_act *act)
{
    const int32_t m = (int32_t)(((uint32_t)q->mh << 16) | (uint32_t)q->ml);
    const int32_t v = ml_nn_requantize(acc, m, -q->n) + act->out_off;
    return v < act->act_min ? act->act_min : (v > act->act_max ? act->act_max : v);
}
#endif

#endif /* ML_NN_M0_H */
