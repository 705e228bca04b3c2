/*
 * Helpers for the kernels' paths on cores without the DSP extension (Cortex-M0/M0+, M3) and
 * the host. Nothing here is public API.
 *
 * ml_m0_out_s8 is the per-output tail of the portable conv and depthwise conv and of the M0
 * ADD/SUB: bias already added, TFLM's requantization (MultiplyByQuantizedMultiplier), output
 * offset, clamp. The M0 conv and depthwise 3x3 routines requantize inline instead, with the
 * three-product form of ml_m0_rq3 (below) for the channels it covers.
 * On ARMv6-M, which has no 32 x 32 -> 64 multiply, its common case is an assembly routine
 * that needs no libgcc call: out of line it has the eight low registers to itself, where
 * ml_nn_requantize inlined into a kernel's loop nest spilled and cost about 90 instructions
 * per output on Cortex-M0 (now 45 plus the caller's loads). Other cores and the host run
 * ml_nn_requantize itself (Cortex-M3 has SMULL).
 * The kernels' M0 routines (ML_M0_PATHS, ml_common.h) also run on Cortex-M3, whose ARMv7-M
 * has every ARMv6-M instruction; there the C helpers with a 64-bit multiply stay in C.
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
 * ARMv6-M: the fast case of ml_m0_out_s8 (m >= 0, shift in [-31, -1]) in about 40
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
 * n >= 1. y + 2^(n-1) - [acc < 0] can overflow only upward, to a value in [2^31, 2^31 + 2^(n-1)),
 * whose quotient by 2^n is exactly 2^(31-n) (2^31 is a multiple of 2^n and 2^(n-1) < 2^n).
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
        "bvs 4f\n\t"
        "asrs r7, r2\n"
        "5:\n\t"
        "adds r0, r0, r7\n\t"
        "cmp r0, r1\n\t"
        "bge 1f\n\t"
        "movs r0, r1\n"
        "1:\n\t"
        "cmp r0, r4\n\t"
        "ble 2f\n\t"
        "movs r0, r4\n"
        "2:\n\t"
        "sxtb r0, r0\n\t"
        "pop {r4, r5, r6, r7, pc}\n"
        "4:\n\t"                        /* y + 2^(n-1) - s reached 2^31: the result is 2^(31-n) */
        "movs r7, #31\n\t"
        "subs r7, r7, r2\n\t"
        "movs r5, #1\n\t"
        "lsls r5, r7\n\t"
        "movs r7, r5\n\t"
        "b 5b");
}
#endif

/* ml_nn_requantize(acc, m, shift) + act->out_off, clamped to the activation range. */
static inline int8_t ml_m0_out_ref(int32_t acc, int32_t m, int32_t shift, const ml_m0_act *act)
{
    return ml_clamp_s8(ml_nn_requantize(acc, m, shift) + act->out_off, act->act_min,
                       act->act_max);
}

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/* The rare channels (shift outside [-31, -1], negative multiplier), out of line so that the
 * callers' loops keep their registers. */
static ML_NOINLINE int8_t ml_m0_out_slow(int32_t acc, int32_t m, int32_t shift,
                                         const ml_m0_act *act)
{
    if (m == 0) {  /* a dead channel: SRDHM(x, 0) = 0 for any x, and RDBP(0, n) = 0 */
        return ml_clamp_s8(act->out_off, act->act_min, act->act_max);
    }
    return ml_m0_out_ref(acc, m, shift, act);
}

static inline int8_t ml_m0_out_s8(int32_t acc, int32_t m, int32_t shift, const ml_m0_act *act)
{
    if ((uint32_t)(shift + 31) < 31u && m >= 0) {  /* shift in [-31, -1] */
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

/* 1 when ml_m0_rq_of (below) takes the channel, without preparing it. ml_m0_rq_of repeats the
 * test instead of calling this: with the call, gcc laid out the ADD kernel's loop on Cortex-M3
 * differently, ResNet-8 +15.5 k instructions (profile --target cortex-m3). */
static inline int ml_m0_rq_fits(int32_t multiplier, int32_t shift)
{
    return multiplier >= 0 && shift <= -1 && shift >= -22;
}

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

/*
 * Requantization with three 32-bit products (ARMv6-M has no 32 x 32 -> 64 multiply), for the
 * channels whose multiplier m lies in [2^30, 2^31) (every nonzero multiplier TFLite makes)
 * and whose right shift n = -shift lies in [1, 10]; exact, proof below. The kernels' M0
 * assembly runs it inline (ML_M0_RQ3_RELU / ML_M0_RQ3_ANY), ml_m0_rq3_ref is the same steps
 * in C (the host tests compare it with ml_nn_requantize over every edge case).
 *
 * TFLM's result is z = RDBP(SRDHM(acc, m), n): SRDHM(acc, m) = y = floor((acc*m + 2^30) / 2^31)
 * (ml_nn_doubling_high_mul; its saturated case needs m = INT32_MIN), RDBP(y, n) =
 * floor((y + 2^(n-1) - s) / 2^n) with s = [y < 0]. A floor of a floor by a power of two is one
 * floor, so with S = 31 + n
 *     z = floor((acc*m + R) / 2^S),  R = 2^30 + 2^(30+n) - s*2^31.
 * s may be taken as [acc < 0]: they differ only when acc*m is in [-2^30, 0), where y = 0 and
 * both choices give z = 0 (n >= 1).
 * The product: m = mh*2^22 + mm*2^11 + ml with ml, mm in [0, 2^11), mh in [2^8, 2^9). For
 * |acc| <= 2^19:
 *     t = (acc*ml) >> 11;  t = (acc*mm + t) >> 11;  q = acc*mh + t  is  floor(acc*m / 2^22)
 * (floor((a + floor(b / 2^11)) / 2^11) = floor((a*2^11 + b) / 2^22) for integers), and no
 * step leaves int32: |acc*ml|, |acc*mm| < 2^30, |acc*mh| < 2^28. R is a multiple of 2^22, so
 *     z + out_off = floor((q + c - s*2^9) / 2^(n+9)),  c = 2^8 + 2^(8+n) + out_off*2^(n+9),
 * with |q + c - s*2^9| < 2^28 + 2^27. The output is that clamped to [act_min, act_max].
 * Outside the range: acc >= 2^19 gives acc*m >= 2^49, z >= 2^(18-n) >= 256 > act_max -
 * out_off (act_max <= 127, out_off >= -128), so the output is act_max; acc < -2^19 gives
 * z <= -256 and the output act_min. So one check (acc >> 19 in {-1, 0}) guards the products.
 * When act_min == out_off (ReLU, ReLU6, or no activation with out_off = -128), every acc <= 0
 * gives z <= 0 (acc*m <= -2^30 and R < 2^S), so the output is act_min without the products,
 * and for acc > 0 s = 0 and z >= 0: only the upper clamp is left (ML_M0_RQ3_RELU).
 */
typedef struct {
    int32_t ml;    /* m & 0x7FF */
    int32_t mm;    /* (m >> 11) & 0x7FF */
    int32_t mh;    /* m >> 22 */
    int32_t c;     /* 2^8 + 2^(8+n) + out_off * 2^(n+9) */
    int32_t sh;    /* n + 9 */
    int32_t base;  /* the kernel's starting value of this channel's accumulator */
} ml_m0_rq3;

/*
 * Cortex-M3 (ARMv7-M) runs the same routines, but has SMLAL: there the record holds the same
 * floor((acc*m + R) / 2^S) as one 64-bit multiply-accumulate (ML_M0_RQ3_LONG), the output offset
 * folded in as out_off * 2^S, which adds out_off * 2^(n-1) to the high word:
 *     ml = lo word of 2^30 + 2^(30+n),  mm = its high word + out_off * 2^(n-1),  mh = m,
 *     sh = (n - 1) | 0x100 (ASR by register reads the low byte; nonzero marks the form),
 * and then hi:lo = that - s*2^31 + acc*m, z + out_off = hi >> (n - 1). 64 bits hold any acc, so
 * no guard; 14 instructions for the general form, 10 for the ReLU one (acc > 0), against 25
 * and 18 for the three products. Which channels take the form is the same on both cores
 * (ml_m0_rq3_fits), so the kernels pick the same paths. The host test builds it with
 * ML_M0_RQ3_LONG defined (tests/data/m0_rq3_check.c).
 */
#if defined(__ARM_ARCH_7M__) && !defined(ML_M0_RQ3_LONG)
#define ML_M0_RQ3_LONG 1
#endif

/* 1 when a channel with this multiplier and shift takes the three-product form. */
static inline int ml_m0_rq3_fits(int32_t multiplier, int32_t shift)
{
    return multiplier >= (1 << 30) && (uint32_t)(shift + 10) < 10u;  /* shift in [-10, -1] */
}

/* 1 and q filled (but base) when the channel takes the three-product form, else 0. */
static inline int ml_m0_rq3_of(ml_m0_rq3 *q, int32_t multiplier, int32_t shift, int32_t out_off)
{
    if (!ml_m0_rq3_fits(multiplier, shift)) {
        return 0;
    }
#if defined(ML_M0_RQ3_LONG)
    const int32_t n = -shift;
    q->ml = n == 1 ? (int32_t)0xC0000000u : (int32_t)0x40000000;
    q->mm = (n >= 2 ? (int32_t)1 << (n - 2) : 0) + out_off * ((int32_t)1 << (n - 1));
    q->mh = multiplier;
    q->c = 0;
    q->sh = (n - 1) | 0x100;
    return 1;
#endif
    const uint32_t m = (uint32_t)multiplier;
    q->ml = (int32_t)(m & 0x7FFu);
    q->mm = (int32_t)((m << 10) >> 21);
    q->mh = (int32_t)(m >> 22);
    q->sh = 9 - shift;
    /* 2^8 + 2^(8+n) + out_off * 2^(n+9) */
    q->c = (int32_t)((((uint32_t)out_off * 2u + 1u) << (8 - shift)) + 256u);
    return 1;
}

/* The steps of the assembly in C: ml_m0_out_ref(acc, m, shift, act) for a channel that
 * ml_m0_rq3_of accepted. */
static inline int32_t ml_m0_rq3_ref(int32_t acc, const ml_m0_rq3 *q, const ml_m0_act *act)
{
    if (act->act_min == act->out_off && acc <= 0) {
        return act->act_min;
    }
#if defined(ML_M0_RQ3_LONG)
    const int64_t r = (int64_t)((uint64_t)(uint32_t)q->mm << 32 | (uint32_t)q->ml) -
                      (acc < 0 ? (int64_t)1 << 31 : 0);
    const int32_t z = (int32_t)((r + (int64_t)acc * q->mh) >> 32) >> (q->sh & 0xFF);
    return z < act->act_min ? act->act_min : (z > act->act_max ? act->act_max : z);
#endif
    if ((acc >> 19) != 0 && (acc >> 19) != -1) {
        return acc < 0 ? act->act_min : act->act_max;
    }
    int32_t t = (acc * q->ml) >> 11;
    t = (acc * q->mm + t) >> 11;
    t = acc * q->mh + t + q->c;
    if (acc < 0) {
        t -= 1 << 9;
    }
    t >>= q->sh;
    return t < act->act_min ? act->act_min : (t > act->act_max ? act->act_max : t);
}

#if ML_M0_PATHS
/*
 * The same as assembly text for the kernels' M0 routines: r0 = acc, r7 = the channel's
 * ml_m0_rq3, lr = act_max, `amin` an operand that loads act_min (e.g. "[sp, #20]"). The
 * result is in r1; r0 and r6 are kept, r2-r5 are clobbered, as are local labels 5-9.
 * ML_M0_RQ3_RELU is for layers with act_min == out_off: 18 instructions for acc > 0, 4 for
 * acc <= 0. ML_M0_RQ3_ANY for any layer: 25.
 */
#define ML_M0_RQ3_PRODUCT                                                                       \
    "ldm r7!, {r1, r2, r3, r4, r5}\n\t"                                                          \
    "subs r7, r7, #20\n\t"                                                                       \
    "muls r1, r0, r1\n\t"                                                                        \
    "asrs r1, r1, #11\n\t"                                                                       \
    "muls r2, r0, r2\n\t"                                                                        \
    "adds r1, r1, r2\n\t"                                                                        \
    "asrs r1, r1, #11\n\t"                                                                       \
    "muls r3, r0, r3\n\t"                                                                        \
    "adds r1, r1, r3\n\t"                                                                        \
    "adds r1, r1, r4\n\t"
/* Which of the two forms below a model's ARMv6-M routines are built in (ml_config.h): with
 * ML_ONLY_RELU every layer on them clamps at its output zero point (act_min == output_offset,
 * a fused ReLU), so the general form is left out and a layer that does not goes another way;
 * with ML_NO_RELU none does, and the ReLU form is left out. */
#if defined(ML_ONLY_RELU)
#define ML_M0_RELU_FORM 1
#define ML_M0_ANY_FORM 0
#elif defined(ML_NO_RELU)
#define ML_M0_RELU_FORM 0
#define ML_M0_ANY_FORM 1
#else
#define ML_M0_RELU_FORM 1
#define ML_M0_ANY_FORM 1
#endif
/* A routine's two forms as assembly text, each only where it is built. */
#if ML_M0_RELU_FORM
#define ML_M0_IF_RELU_FORM(text) text
#else
#define ML_M0_IF_RELU_FORM(text) ""
#endif
#if ML_M0_ANY_FORM
#define ML_M0_IF_ANY_FORM(text) text
#else
#define ML_M0_IF_ANY_FORM(text) ""
#endif
#if defined(ML_M0_RQ3_LONG)
/* Cortex-M3: the record's 64-bit form (above): 10 instructions for acc > 0, 3 for acc <= 0 */
#define ML_M0_RQ3_RELU(amin)                                                                    \
    "cmp r0, #0\n\t"                                                                             \
    "ble 7f\n\t"                                                                                 \
    "ldm r7, {r2, r3, r4}\n\t"                                                                   \
    "ldr r5, [r7, #16]\n\t"                                                                      \
    "smlal r2, r3, r0, r4\n\t"                                                                   \
    "asr r1, r3, r5\n\t"                                                                         \
    "cmp r1, lr\n\t"                                                                             \
    "it gt\n\t"                                                                                  \
    "movgt r1, lr\n\t"                                                                           \
    "b 9f\n"                                                                                      \
    "7:\n\t"                                                                                     \
    "ldr r1, " amin "\n"                                                                          \
    "9:\n\t"
/* and 14, without a branch, for any layer: the rounding's s = [acc < 0] as a borrow */
#define ML_M0_RQ3_ANY(amin)                                                                     \
    "ldm r7, {r2, r3, r4}\n\t"                                                                   \
    "ldr r5, [r7, #16]\n\t"                                                                      \
    "asr r1, r0, #31\n\t"                                                                        \
    "subs r2, r2, r1, lsl #31\n\t"                                                               \
    "sbc r3, r3, #0\n\t"                                                                         \
    "smlal r2, r3, r0, r4\n\t"                                                                   \
    "asr r1, r3, r5\n\t"                                                                         \
    "cmp r1, lr\n\t"                                                                             \
    "it gt\n\t"                                                                                  \
    "movgt r1, lr\n\t"                                                                           \
    "ldr r2, " amin "\n\t"                                                                       \
    "cmp r1, r2\n\t"                                                                             \
    "it lt\n\t"                                                                                  \
    "movlt r1, r2\n\t"
#else
#define ML_M0_RQ3_RELU(amin)                                                                    \
    "cmp r0, #0\n\t"                                                                             \
    "ble 7f\n\t"                                                                                 \
    "lsrs r1, r0, #19\n\t"                                                                       \
    "bne 8f\n\t"                                                                                 \
    ML_M0_RQ3_PRODUCT                                                                            \
    "asrs r1, r5\n\t"                                                                            \
    "cmp r1, lr\n\t"                                                                             \
    "ble 9f\n"                                                                                   \
    "8:\n\t"                                                                                     \
    "mov r1, lr\n\t"                                                                             \
    "b 9f\n"                                                                                     \
    "7:\n\t"                                                                                     \
    "ldr r1, " amin "\n"                                                                         \
    "9:\n\t"
#define ML_M0_RQ3_ANY(amin)                                                                     \
    "asrs r1, r0, #19\n\t"                                                                       \
    "adds r1, r1, #1\n\t"                                                                        \
    "lsrs r1, r1, #1\n\t"                                                                        \
    "bne 6f\n\t"                                                                                 \
    ML_M0_RQ3_PRODUCT                                                                            \
    "asrs r4, r0, #31\n\t"                                                                       \
    "lsls r4, r4, #9\n\t"                                                                        \
    "adds r1, r1, r4\n\t"                                                                        \
    "asrs r1, r5\n\t"                                                                            \
    "cmp r1, lr\n\t"                                                                             \
    "bgt 8f\n\t"                                                                                 \
    "ldr r2, " amin "\n\t"                                                                       \
    "cmp r1, r2\n\t"                                                                             \
    "bge 9f\n\t"                                                                                 \
    "movs r1, r2\n\t"                                                                            \
    "b 9f\n"                                                                                     \
    "6:\n\t"                                                                                     \
    "cmp r0, #0\n\t"                                                                             \
    "bge 8f\n\t"                                                                                 \
    "ldr r1, " amin "\n\t"                                                                       \
    "b 9f\n"                                                                                     \
    "8:\n\t"                                                                                     \
    "mov r1, lr\n"                                                                               \
    "9:\n\t"
#endif
#endif

/* The head of an ARMv6-M assembly function defined in a macro (the M0 conv and depthwise
 * routines): Thumb, halfword aligned, global, typed as a function for the linker and the
 * static stack bound. */
#define ML_M0_ASM_FUNCTION(name)                                                                \
    ".text\n\t"                                                                                  \
    ".syntax unified\n\t"                                                                        \
    ".thumb\n\t"                                                                                 \
    ".balign 2\n\t"                                                                              \
    ".global " name "\n\t"                                                                       \
    ".type " name ", %function\n\t"                                                              \
    ".thumb_func\n"                                                                              \
    name ":\n\t"

#endif /* ML_NN_M0_H */
