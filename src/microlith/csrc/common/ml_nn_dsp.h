/*
 * Helpers for the kernels' Cortex-M DSP-extension paths (ARMv7E-M and ARMv8-M Mainline with
 * the DSP extension: Cortex-M4, M7, M33, M55...). Nothing here is public API.
 *
 * The instructions are written as one-line inline assembly instead of <arm_acle.h> intrinsics,
 * so the generated folder keeps to stdint.h/stddef.h/string.h; they are plain values to the
 * compiler (not volatile), which schedules and deduplicates them like any arithmetic.
 *
 * The pure C paths of the kernels are the specification; every helper below states the exact
 * integer identity it relies on, and the DSP paths are tested byte for byte against TFLM on
 * emulated M4, M7 and M33 cores.
 */
#ifndef ML_NN_DSP_H
#define ML_NN_DSP_H

#include "ml_common.h"

/*
 * Cortex-M0/M0+ (ARMv6-M) has no 32x32 -> 64-bit multiply: the int64 product in
 * ml_nn_requantize becomes a libgcc call (__aeabi_lmul) and a 64-bit add and shift. The
 * same value from four 16 x 16 -> 32 MULS: with a = ah * 2^16 + al and b = bh * 2^16 + bl
 * (ah, bh signed, al, bl in [0, 2^16)), m1 = ah * bl and m2 = al * bh fit int32 and
 * a * b + 2^30 = (ah * bh + m1.hi + m2.hi) * 2^32 + L, L = (m1.lo + m2.lo) * 2^16 + al * bl
 * + 2^30 (.hi/.lo: arithmetic >> 16 and the low halfword), so floor((a * b + 2^30) / 2^31)
 * = 2 * (ah * bh + m1.hi + m2.hi) + floor(L / 2^31), and only al * bl has bits below 2^16,
 * so floor(L / 2^31) = (m1.lo + m2.lo + (al * bl) / 2^16 + 2^14) >> 15. The sum wraps
 * modulo 2^32 only where the true result (which fits int32 but for the saturated case) does.
 */
#if defined(__ARM_ARCH_6M__)
static inline int32_t ml_m0_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int32_t ah = a >> 16;
    const int32_t bh = b >> 16;
    const uint32_t al = (uint32_t)a & 0xFFFFu;
    const uint32_t bl = (uint32_t)b & 0xFFFFu;
    const int32_t m1 = ah * (int32_t)bl;
    const int32_t m2 = (int32_t)al * bh;
    const uint32_t low = (((uint32_t)m1 & 0xFFFFu) + ((uint32_t)m2 & 0xFFFFu) +
                          ((al * bl) >> 16) + 0x4000u) >> 15;
    const uint32_t high = (uint32_t)(ah * bh) + (uint32_t)(m1 >> 16) + (uint32_t)(m2 >> 16);
    return (int32_t)((high << 1) + low);
}

/* ml_nn_requantize, exactly, on the product above. */
static inline int32_t ml_m0_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return ml_nn_divide_by_pot(ml_m0_doubling_high_mul(shifted, multiplier), right);
}
#define ML_NN_REQUANTIZE ml_m0_requantize
#else
#define ML_NN_REQUANTIZE ml_nn_requantize
#endif

/*
 * The ReLU form of the convolution and depthwise assembly routines' requantization. Those
 * routines clamp with SSAT alone, so they run layers with the clamp [-128, 127]. With
 * ML_ONLY_RELU (ml_config.h) every convolution and depthwise layer of the model clamps at its
 * output zero point, so a layer on them has zero point -128. For a sum t < 0 (multiplier >= 0,
 * n >= 1) the result is then at most -128 with or without the [t < 0] term of the rounding:
 * without it, x = floor((P + 2^30) / 2^31) <= 0 (P = t * multiplier <= 0) and
 * floor((x + 2^(n-1)) / 2^n) <= 0; with it, TFLM's result is x rounded, <= 0 as well. SSAT
 * gives -128 for both, so the term changes no output and the ReLU form leaves it out: one
 * instruction less per output. A layer with another zero point does not take the routines
 * in that build (ML_DSP_FORM_FITS).
 *   ML_DSP_ASM_ROUND(c, round, t)  "c = round - [t < 0]", or nothing in the ReLU form
 *   ML_DSP_ASM_ROUNDED(c, round)   the register that then holds the constant: c, or round
 */
#if defined(ML_ONLY_RELU)
#define ML_DSP_RELU_FORM 1
#define ML_DSP_ASM_ROUND(c, round, t) ""
#define ML_DSP_ASM_ROUNDED(c, round) round
#else
#define ML_DSP_RELU_FORM 0
#define ML_DSP_ASM_ROUND(c, round, t) "sub " c ", " round ", " t ", lsr #31\n\t"
#define ML_DSP_ASM_ROUNDED(c, round) c
#endif
#define ML_DSP_FORM_FITS(out_off) (!ML_DSP_RELU_FORM || (out_off) == -128)

/* Unoptimized builds (-O0) keep the portable paths: the assembly loops below need more free
 * registers than gcc leaves without optimization. */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && defined(__OPTIMIZE__)
#define ML_NN_DSP 1

#define ML_DSP_INLINE static inline __attribute__((always_inline))

/* Halfwords {sext(x.byte0), sext(x.byte2)}. */
ML_DSP_INLINE int32_t ml_dsp_sxtb16(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

/* Halfwords {sext(x.byte1), sext(x.byte3)}. */
ML_DSP_INLINE int32_t ml_dsp_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* Halfwords {a.lo + sext(x.byte0), a.hi + sext(x.byte2)}, each modulo 2^16. */
ML_DSP_INLINE int32_t ml_dsp_sxtab16(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* Halfwords {a.lo + sext(x.byte1), a.hi + sext(x.byte3)}, each modulo 2^16. */
ML_DSP_INLINE int32_t ml_dsp_sxtab16_ror8(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* Halfwords {a.lo + b.lo, a.hi + b.hi}, each modulo 2^16. */
ML_DSP_INLINE int32_t ml_dsp_uadd16(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("uadd16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* floor(m * sext(x.lo) / 2^16) and floor(m * sext(x.hi) / 2^16). */
ML_DSP_INLINE int32_t ml_dsp_smulwb(int32_t m, int32_t x)
{
    int32_t r;
    __asm__("smulwb %0, %1, %2" : "=r"(r) : "r"(m), "r"(x));
    return r;
}

ML_DSP_INLINE int32_t ml_dsp_smulwt(int32_t m, int32_t x)
{
    int32_t r;
    __asm__("smulwt %0, %1, %2" : "=r"(r) : "r"(m), "r"(x));
    return r;
}

/* acc + a.lo * b.lo + a.hi * b.hi (signed halfwords), modulo 2^32 like the C accumulators. */
ML_DSP_INLINE int32_t ml_dsp_smlad(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + a.lo * b.lo */
ML_DSP_INLINE int32_t ml_dsp_smlabb(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + a.hi * b.hi */
ML_DSP_INLINE int32_t ml_dsp_smlatt(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* floor((acc * 2^32 + a * b + 2^31) / 2^32), the high word of a rounded 64-bit sum. */
ML_DSP_INLINE int32_t ml_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* x clamped to [-128, 127]. */
ML_DSP_INLINE int32_t ml_dsp_ssat8(int32_t x)
{
    int32_t r;
    __asm__("ssat %0, #8, %1" : "=r"(r) : "r"(x));
    return r;
}

/* Four bytes from any address: Cortex-M3 and later load unaligned words (LDR, not LDRD/LDM),
 * and memcpy tells the compiler so without breaking aliasing rules. */
ML_DSP_INLINE int32_t ml_dsp_read_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytewise signed max of a and b: SSUB8 sets GE[i] where a.byte[i] >= b.byte[i], SEL takes
 * those bytes from a and the rest from b. One statement, so nothing can touch the GE flags
 * between the two. */
ML_DSP_INLINE int32_t ml_dsp_max_s8x4(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* Bytewise signed min of a and b (the same flags, the other operand order in SEL). */
ML_DSP_INLINE int32_t ml_dsp_min_s8x4(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* Four bytes to any address (STR takes unaligned addresses on Cortex-M3 and later). */
ML_DSP_INLINE void ml_dsp_write_s8x4(int8_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

/* The halfword pair {b, b} (b modulo 2^16): SXTAB16's addend, SMLABB/SMLATT's factor. */
ML_DSP_INLINE int32_t ml_dsp_pair16(int32_t b)
{
    return (int32_t)(((uint32_t)b & 0xFFFFu) * 0x10001u);
}

/*
 * ml_nn_requantize(acc, multiplier, -n) in four instructions, for multiplier >= 0,
 * 1 <= n <= 30 and |acc| < 2^30 (the caller checks with ml_dsp_requant_fits).
 *
 * With P = acc * multiplier, TFLM computes x = floor((P + 2^30) / 2^31) (the rounding
 * doubling high multiply; see ml_common.h) and then rounds x / 2^n half away from zero:
 * floor((x + 2^(n-1) - [x < 0]) / 2^n). Nested floors of divisions by powers of two merge, so
 * the result is floor((2P + 2^31 + (2^(n-1) - [x < 0]) * 2^32) / 2^(32 + n)). SMMLAR computes
 * exactly floor((c * 2^32 + a * b + 2^31) / 2^32) with a = 2 * acc, b = multiplier and
 * c = 2^(n-1) - [x < 0]; an arithmetic shift by n finishes. [x < 0] may be replaced by
 * [acc < 0]: they differ only when -2^30 <= P < 0, where x = 0 and both choices give 0.
 * |acc| < 2^30 keeps 2 * acc exact, and the high word stays below 2^30 + 2^29.
 */
ML_DSP_INLINE int32_t ml_dsp_requantize(int32_t acc, int32_t multiplier, int32_t round,
                                        int32_t n)
{
    const int32_t c = round - (int32_t)((uint32_t)acc >> 31);
    return ml_dsp_smmlar((int32_t)((uint32_t)acc << 1), multiplier, c) >> n;
}

/* The round argument of ml_dsp_requantize with the output offset added (see
 * ml_dsp_requantize): 2^(n-1) + out_off * 2^n = (2 * out_off + 1) * 2^(n-1), so with
 * odd = 2 * out_off + 1 it is one shift by n - 1 = ~shift (n = -shift). */
ML_DSP_INLINE int32_t ml_dsp_round_with_offset(int32_t odd, int32_t shift)
{
    return (int32_t)((uint32_t)odd << (~shift & 31));
}

/* Bytes v0..v3 to o[0], o[stride], o[2 * stride], o[3 * stride]: one pointer, no spills. */
ML_DSP_INLINE void ml_dsp_store_strided4(int8_t *o, int32_t stride, int32_t v0, int32_t v1,
                                         int32_t v2, int32_t v3)
{
    int8_t *t;
    __asm__ volatile(
        "strb %[v0], [%[o]]\n\t"
        "strb %[v1], [%[o], %[s]]\n\t"
        "add %[t], %[o], %[s], lsl #1\n\t"
        "strb %[v2], [%[t]]\n\t"
        "strb %[v3], [%[t], %[s]]"
        : [t] "=&r"(t)
        : [o] "r"(o), [s] "r"(stride), [v0] "r"(v0), [v1] "r"(v1), [v2] "r"(v2), [v3] "r"(v3)
        : "memory");
}

/* Nonzero when |acc| < 2^30, i.e. doubling acc cannot overflow (bits 31 and 30 agree). */
ML_DSP_INLINE int ml_dsp_requant_fits(int32_t acc)
{
    return (int32_t)((uint32_t)acc ^ ((uint32_t)acc << 1)) >= 0;
}

/*
 * acc[p] += sum over `blocks` blocks of four int8 weights (w, read as words at any alignment)
 * times the int16 values of column p, for the four columns that interleave by block:
 * block b of column p is the words cols[(b * 4 + p) * 2 + {0, 1}] holding values {k0, k2} and
 * {k1, k3}, the order SXTB16 splits a weight word into.
 *
 * Written as one assembly loop because LDM needs ascending registers, which only fixed ones
 * give: 14 instructions per 16 multiply-accumulates (r8-r11 carry the column words).
 */
#define ML_DSP_MAC_1X4_BLOCK                                                                    \
    "ldr %[wl], [%[w]], #4\n\t"                                                                  \
    "ldmia %[c]!, {r8, r9, r10, r11}\n\t"                                                        \
    "sxtb16 %[wh], %[wl], ror #8\n\t"                                                            \
    "sxtb16 %[wl], %[wl]\n\t"                                                                    \
    "smlad %[a0], r8, %[wl], %[a0]\n\t"                                                          \
    "smlad %[a0], r9, %[wh], %[a0]\n\t"                                                          \
    "smlad %[a1], r10, %[wl], %[a1]\n\t"                                                         \
    "smlad %[a1], r11, %[wh], %[a1]\n\t"                                                         \
    "ldmia %[c]!, {r8, r9, r10, r11}\n\t"                                                        \
    "smlad %[a2], r8, %[wl], %[a2]\n\t"                                                          \
    "smlad %[a2], r9, %[wh], %[a2]\n\t"                                                          \
    "smlad %[a3], r10, %[wl], %[a3]\n\t"                                                         \
    "smlad %[a3], r11, %[wh], %[a3]\n\t"

#define ML_DSP_MAC_1X4_OPERANDS                                                                 \
    : [a0] "+r"(*a0), [a1] "+r"(*a1), [a2] "+r"(*a2), [a3] "+r"(*a3), [c] "+r"(cols),            \
      [w] "+r"(w), [n] "+r"(n), [wl] "=&r"(wl), [wh] "=&r"(wh)                                   \
    :                                                                                            \
    : "r8", "r9", "r10", "r11", "cc", "memory"

ML_DSP_INLINE void ml_dsp_mac_1x4(const int32_t *cols, const int8_t *w, int32_t blocks,
                                  int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3)
{
    int32_t wl, wh;
    int32_t n = blocks >> 1;
    if (n > 0) {
        /* Two blocks per iteration halve the loop's own cost. */
        __asm__ volatile(
            "1:\n\t"
            ML_DSP_MAC_1X4_BLOCK
            ML_DSP_MAC_1X4_BLOCK
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            ML_DSP_MAC_1X4_OPERANDS);
    }
    if (blocks & 1) {
        __asm__ volatile(ML_DSP_MAC_1X4_BLOCK ML_DSP_MAC_1X4_OPERANDS);
    }
}

/* The same for the first two columns of such a group: 11 instructions per 8. */
ML_DSP_INLINE void ml_dsp_mac_1x2(const int32_t *cols, const int8_t *w, int32_t blocks,
                                  int32_t *a0, int32_t *a1)
{
    int32_t wl, wh;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[wl], [%[w]], #4\n\t"
        "ldmia %[c], {r8, r9, r10, r11}\n\t"
        "adds %[c], %[c], #32\n\t"
        "sxtb16 %[wh], %[wl], ror #8\n\t"
        "sxtb16 %[wl], %[wl]\n\t"
        "smlad %[a0], r8, %[wl], %[a0]\n\t"
        "smlad %[a0], r9, %[wh], %[a0]\n\t"
        "smlad %[a1], r10, %[wl], %[a1]\n\t"
        "smlad %[a1], r11, %[wh], %[a1]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a0] "+r"(*a0), [a1] "+r"(*a1), [c] "+r"(cols), [w] "+r"(w), [n] "+r"(blocks),
          [wl] "=&r"(wl), [wh] "=&r"(wh)
        :
        : "r8", "r9", "r10", "r11", "cc", "memory");
}

/*
 * Four consecutive output channels from their accumulators: for each, {multiplier, round, n}
 * from qp (ml_dsp_requantize with the output offset in round, n >= 1), SSAT to int8 and a
 * byte store; seven instructions per channel.
 */
#define ML_DSP_OUT_ONE(a)                                                                       \
    "ldmia %[qp]!, {r8, r9, r10}\n\t"                                                           \
    "lsl %[t], %[" a "], #1\n\t"                                                                 \
    "sub r9, r9, %[" a "], lsr #31\n\t"                                                          \
    "smmlar %[t], %[t], r8, r9\n\t"                                                              \
    "asr %[t], %[t], r10\n\t"                                                                    \
    "ssat %[t], #8, %[t]\n\t"                                                                    \
    "strb %[t], [%[o]], #1\n\t"

ML_DSP_INLINE int8_t *ml_dsp_out4(const int32_t *qp, int8_t *o, int32_t a0, int32_t a1,
                                  int32_t a2, int32_t a3)
{
    int32_t t;
    __asm__ volatile(
        ML_DSP_OUT_ONE("a0") ML_DSP_OUT_ONE("a1") ML_DSP_OUT_ONE("a2") ML_DSP_OUT_ONE("a3")
        : [qp] "+r"(qp), [o] "+r"(o), [t] "=&r"(t)
        : [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3)
        : "r8", "r9", "r10", "memory");
    return o;
}

/*
 * Four rows of a row-major int8 matrix (w0 and the rows `stride` and 2 * stride and
 * 3 * stride bytes after it) dotted with one int8 vector x, over `blocks` blocks of four
 * values: acc_r += sum x[k] * w_r[k], both widened by SXTB16 (their common halfword order
 * does not matter to the sums). 24 instructions per 16 multiply-accumulates; any alignment.
 */
#define ML_DSP_FC_ROW(load, a)                                                                   \
    load "\n\t"                                                                                  \
    "sxtb16 r11, r10, ror #8\n\t"                                                                \
    "sxtb16 r10, r10\n\t"                                                                        \
    "smlad %[" a "], r8, r10, %[" a "]\n\t"                                                        \
    "smlad %[" a "], r9, r11, %[" a "]\n\t"

#define ML_DSP_FC_BLOCK                                                                         \
    "ldr r8, [%[x]], #4\n\t"                                                                     \
    "sxtb16 r9, r8, ror #8\n\t"                                                                  \
    "sxtb16 r8, r8\n\t"                                                                          \
    ML_DSP_FC_ROW("ldr r10, [%[w0], %[k]]", "a1")                                                \
    ML_DSP_FC_ROW("ldr r10, [%[w0]], #4", "a0")                                                  \
    ML_DSP_FC_ROW("ldr r10, [%[w2], %[k]]", "a3")                                                \
    ML_DSP_FC_ROW("ldr r10, [%[w2]], #4", "a2")

#define ML_DSP_FC_OPERANDS                                                                      \
    : [a0] "+r"(*a0), [a1] "+r"(*a1), [a2] "+r"(*a2), [a3] "+r"(*a3), [x] "+r"(x),              \
      [w0] "+r"(w0), [w2] "+r"(w2), [n] "+r"(n)                                                 \
    : [k] "r"(stride)                                                                            \
    : "r8", "r9", "r10", "r11", "cc", "memory"

ML_DSP_INLINE void ml_dsp_dot_4rows(const int8_t *x, const int8_t *w0, int32_t stride,
                                    int32_t blocks, int32_t *a0, int32_t *a1, int32_t *a2,
                                    int32_t *a3)
{
    const int8_t *w2 = w0 + 2 * stride;
    int32_t n = blocks >> 1;
    if (n > 0) {
        /* Two blocks per iteration halve the loop's own cost. */
        __asm__ volatile(
            "1:\n\t"
            ML_DSP_FC_BLOCK
            ML_DSP_FC_BLOCK
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            ML_DSP_FC_OPERANDS);
    }
    if (blocks & 1) {
        __asm__ volatile(ML_DSP_FC_BLOCK ML_DSP_FC_OPERANDS);
    }
}


/* --- issue 11, depthwise: accumulators that hold twice the sum (weights and starting values
 * doubled when they are laid out), so the requantization skips the doubling. */

/* ml_dsp_requantize for acc2 = 2 * acc (|acc| < 2^30, so acc2 is exact and has acc's sign). */
ML_DSP_INLINE int32_t ml_dsp_requantize_x2(int32_t acc2, int32_t multiplier, int32_t round,
                                           int32_t n)
{
    const int32_t c = round - (int32_t)((uint32_t)acc2 >> 31);
    return ml_dsp_smmlar(acc2, multiplier, c) >> n;
}



/* acc + a.lo * b.hi */
ML_DSP_INLINE int32_t ml_dsp_smlabt(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlabt %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* acc + a.hi * b.lo */
ML_DSP_INLINE int32_t ml_dsp_smlatb(int32_t a, int32_t b, int32_t acc)
{
    int32_t r;
    __asm__("smlatb %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* Halfwords {a.lo, b.lo}: PKHBT with b shifted up by 16. */
ML_DSP_INLINE int32_t ml_dsp_pack_lo16(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

#endif /* __ARM_FEATURE_DSP && __GNUC__ && __OPTIMIZE__ */

/* The head of an assembly routine for the DSP cores (a top-level __asm__ of its own, for loops
 * that want more registers than an inline asm statement may take): Thumb-2, word aligned. */
#define ML_DSP_ASM_FUNCTION(name)                                                               \
    ".text\n\t"                                                                                  \
    ".syntax unified\n\t"                                                                        \
    ".thumb\n\t"                                                                                 \
    ".balign 4\n\t"                                                                              \
    ".global " name "\n\t"                                                                       \
    ".type " name ", %function\n\t"                                                              \
    ".thumb_func\n"                                                                              \
    name ":\n\t"

#endif /* ML_NN_DSP_H */
