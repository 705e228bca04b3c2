/* A compact form (ml_config.h: size mode, or a model whose layers on this kernel are all small)
 * is also compiled for size; first, so that the inline helpers the headers define are too. */
#include "ml_config.h"
#if (defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_AVGPOOL_S8)) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("Os")
#endif
#include "ml_avgpool_s8.h"
#include "ml_nn_dsp.h"

/* The compact form (ml_config.h): size mode, or a model whose layers on this kernel are all small. */
#if defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_AVGPOOL_S8)
#define ML_COMPACT 1
#else
#define ML_COMPACT 0
#endif
/* Size mode goes further: channel by channel in portable C, the smallest form (Cortex-M4, -Os:
 * 476 bytes where the compact form's 8-channel DSP loop takes 1,078; KWS's pool 12.6 k -> 42.4 k
 * instructions, about 50 per byte saved, which balanced's threshold keeps but size mode's
 * gives up). */
#if defined(ML_OPTIMIZE_SIZE)
#define ML_MINIMAL 1
#else
#define ML_MINIMAL 0
#endif

/*
 * Channels run innermost, as they lie in memory: for each output pixel and group of channels
 * the window is walked once with the group's sums in registers. A window of the full size
 * divides with the multiply the compiler proved exact (ml_avgpool_params); windows clipped by
 * the padding divide.
 */

/* The in-image part of one output pixel's window. */
typedef struct {
    const int8_t *first;  /* channel 0 of the first cell */
    int32_t rows, cols;   /* cells in range */
    int32_t dy;           /* bytes between vertically adjacent cells */
    int32_t count;        /* rows * cols of the window before any flattening */
    int32_t fast;         /* count is the full window's and params->div_mult is set */
} ml_pool_window;

/* TFLM's rounding division of a window sum (halves away from zero), then the clamp. */
static inline int8_t ml_avgpool_out(int32_t acc, int32_t count, const ml_avgpool_params *params)
{
    /* C division truncates, so bias away from zero first: rounds halves outward. */
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return ml_clamp_s8(acc, params->act_min, params->act_max);
}

#if defined(__ARM_ARCH_6M__)
/* The same through the proven multiply (see ml_avgpool_params): acc + bias - [acc < 0 and
 * the count even] lies in [0, 2^15), and its product with div_mult in [0, 2^32). */
static inline int8_t ml_avgpool_out_mul(int32_t acc, int32_t bias, int32_t even,
                                        const ml_avgpool_params *params)
{
    const uint32_t a = (uint32_t)(acc + bias - (even & (int32_t)((uint32_t)acc >> 31)));
    const int32_t q = (int32_t)((a * (uint32_t)params->div_mult) >> params->div_shift) - 128;
    return ml_clamp_s8(q, params->act_min, params->act_max);
}
#endif

/* One channel's output in portable C. ARMv6-M has no divide instruction (C's division is a
 * library call there), so the proven multiply pays; elsewhere one SDIV/UDIV takes fewer
 * instructions than the bias, sign fix and multiply. */
static inline int8_t ml_avgpool_one(int32_t acc, const ml_pool_window *win, int32_t bias,
                                    int32_t even, const ml_avgpool_params *params)
{
#if defined(__ARM_ARCH_6M__)
    if (win->fast) {
        return ml_avgpool_out_mul(acc, bias, even, params);
    }
#else
    (void)bias;
    (void)even;
#endif
    return ml_avgpool_out(acc, win->count, params);
}

#if defined(ML_NN_DSP) && !ML_MINIMAL
/* What the four outputs of a 16-bit-lane sum pair need, set once per call. */
typedef struct {
    int32_t bias2;     /* {bias, bias}: a' = a + bias in both lanes at once */
    int32_t even;      /* 0x00010001 when the count is even (a negative lane loses one), else 0 */
    int32_t mult;      /* div_mult */
    int32_t sh;        /* div_shift - 16, what is left after SMULWx's own 16 */
    int32_t lo4, hi4;  /* act_min and act_max in every byte */
    int32_t clamp;     /* the activation range is narrower than int8's */
} ml_avgpool_dsp_ctx;

/*
 * Four channels from their halfword sums ({0, 2} in s02, {1, 3} in s13), window of the full
 * size: UADD16 biases both lanes to a' at once, SMULWB/SMULWT take the product of each lane
 * with div_mult (a' < 2^15 is a positive halfword), and the four quotients q in [0, 255] pack
 * into one word; q - 128 is q with its top bit flipped.
 */
ML_DSP_INLINE void ml_avgpool_out4_fast(int32_t s02, int32_t s13, const ml_avgpool_dsp_ctx *k,
                                        int8_t *out)
{
    int32_t b02 = ml_dsp_uadd16(s02, k->bias2);
    int32_t b13 = ml_dsp_uadd16(s13, k->bias2);
    if (k->even != 0) {  /* every lane is >= bias - 1 >= 0: no borrow crosses a lane */
        b02 -= (int32_t)(((uint32_t)s02 >> 15) & (uint32_t)k->even);
        b13 -= (int32_t)(((uint32_t)s13 >> 15) & (uint32_t)k->even);
    }
    const uint32_t q0 = (uint32_t)ml_dsp_smulwb(k->mult, b02) >> k->sh;
    const uint32_t q1 = (uint32_t)ml_dsp_smulwb(k->mult, b13) >> k->sh;
    const uint32_t q2 = (uint32_t)ml_dsp_smulwt(k->mult, b02) >> k->sh;
    const uint32_t q3 = (uint32_t)ml_dsp_smulwt(k->mult, b13) >> k->sh;
    int32_t w = (int32_t)((q0 | (q1 << 8) | (q2 << 16) | (q3 << 24)) ^ 0x80808080u);
    if (k->clamp) {
        w = ml_dsp_min_s8x4(ml_dsp_max_s8x4(w, k->lo4), k->hi4);
    }
    ml_dsp_write_s8x4(out, w);
}

/* Four channels from their halfword sums, by whichever division the window allows. */
static void ml_avgpool_out4(int32_t s02, int32_t s13, const ml_pool_window *win,
                            const ml_avgpool_dsp_ctx *k, const ml_avgpool_params *params,
                            int8_t *out)
{
    if (win->fast) {
        ml_avgpool_out4_fast(s02, s13, k, out);
        return;
    }
    out[0] = ml_avgpool_out((int16_t)s02, win->count, params);
    out[1] = ml_avgpool_out((int16_t)s13, win->count, params);
    out[2] = ml_avgpool_out(s02 >> 16, win->count, params);
    out[3] = ml_avgpool_out(s13 >> 16, win->count, params);
}

/*
 * One cell of 16 channels into eight halfword-pair sums: two LDRD (the cell is word aligned)
 * and SXTAB16 adding bytes {0, 2} and {1, 3} of each word, 11 instructions for 16 values.
 */
#define ML_AVGPOOL_CELL16                                                                       \
    "ldrd %[x0], %[x1], [%[q]]\n\t"                                                              \
    "sxtab16 %[a0], %[a0], %[x0]\n\t"                                                            \
    "sxtab16 %[a1], %[a1], %[x0], ror #8\n\t"                                                    \
    "sxtab16 %[a2], %[a2], %[x1]\n\t"                                                            \
    "sxtab16 %[a3], %[a3], %[x1], ror #8\n\t"                                                    \
    "ldrd %[x0], %[x1], [%[q], #8]\n\t"                                                          \
    "add %[q], %[q], %[step]\n\t"                                                                \
    "sxtab16 %[a4], %[a4], %[x0]\n\t"                                                            \
    "sxtab16 %[a5], %[a5], %[x0], ror #8\n\t"                                                    \
    "sxtab16 %[a6], %[a6], %[x1]\n\t"                                                            \
    "sxtab16 %[a7], %[a7], %[x1], ror #8\n\t"

#define ML_AVGPOOL_CELL16_OPERANDS                                                              \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4),                 \
      [a5] "+r"(a5), [a6] "+r"(a6), [a7] "+r"(a7), [q] "+r"(q), [n] "+r"(n),                     \
      [x0] "=&r"(x0), [x1] "=&r"(x1)                                                             \
    : [step] "r"(depth)                                                                          \
    : "cc", "memory"

/* Adds n cells of 16 channels, step bytes apart from word-aligned q, to the sums a0..a7
 * (channels {0,2} {1,3} {4,6} ... {13,15}), four cells per loop turn after the odd ones. */
#define ML_AVGPOOL_RUN16(q, n)                                                                  \
    do {                                                                                         \
        int32_t x0, x1;                                                                          \
        if ((n) & 1) {                                                                           \
            __asm__ volatile(ML_AVGPOOL_CELL16 ML_AVGPOOL_CELL16_OPERANDS);                      \
        }                                                                                        \
        if ((n) & 2) {                                                                           \
            __asm__ volatile(ML_AVGPOOL_CELL16 ML_AVGPOOL_CELL16 ML_AVGPOOL_CELL16_OPERANDS);    \
        }                                                                                        \
        (n) >>= 2;                                                                               \
        if ((n) > 0) {                                                                           \
            __asm__ volatile("1:\n\t" ML_AVGPOOL_CELL16 ML_AVGPOOL_CELL16 ML_AVGPOOL_CELL16      \
                             ML_AVGPOOL_CELL16                                                   \
                             "subs %[n], %[n], #1\n\t"                                            \
                             "bne 1b\n\t" ML_AVGPOOL_CELL16_OPERANDS);                            \
        }                                                                                        \
    } while (0)

/* One call of ml_avgpool_dsp_run16: the offsets in the comments are the routine's. */
typedef struct {
    const int8_t *q;  /* 0: the run's first cell, word aligned */
    int32_t n;        /* 4: cells, 1 to 128 (ml_avgpool_params' proof bounds a full window) */
    int32_t depth;    /* 8: bytes between cells */
    int32_t groups;   /* 12: groups of 16 channels, >= 1 */
    int8_t *out;      /* 16: word aligned */
    int32_t bias2, even, mult, sh, clamp, lo4, hi4;  /* 20 to 44: ml_avgpool_dsp_ctx's */
} ml_avgpool_run16_job;

typedef char ml_avgpool_run16_job_layout[offsetof(ml_avgpool_run16_job, hi4) == 44 ? 1 : -1];

void ml_avgpool_dsp_run16(const ml_avgpool_run16_job *job);

/* Adds the 16 channels of the cell at r12 to the sums r4-r11 and steps r12 on by lr. */
#define ML_AP_CELL                                                                              \
    "ldmia r12, {r0, r1, r2, r3}\n\t"                                                            \
    "add r12, r12, lr\n\t"                                                                       \
    "sxtab16 r4, r4, r0\n\t"                                                                     \
    "sxtab16 r5, r5, r0, ror #8\n\t"                                                             \
    "sxtab16 r6, r6, r1\n\t"                                                                     \
    "sxtab16 r7, r7, r1, ror #8\n\t"                                                             \
    "sxtab16 r8, r8, r2\n\t"                                                                     \
    "sxtab16 r9, r9, r2, ror #8\n\t"                                                             \
    "sxtab16 r10, r10, r3\n\t"                                                                   \
    "sxtab16 r11, r11, r3, ror #8\n\t"

/* a' = a - [a < 0] in both halfwords of a (before the bias; no borrow crosses a lane, a
 * negative lane being >= 0x8000), r1 = 0x00010001 */
#define ML_AP_EVEN(a) "and r12, r1, " a ", lsr #15\n\t" "sub " a ", " a ", r12\n\t"

/* ml_avgpool_out4_fast on the sums a (channels {0, 2}) and b ({1, 3}), into a: lr = bias2,
 * r2 = mult, r3 = sh */
#define ML_AP_OUT4(a, b)                                                                        \
    "uadd16 " a ", " a ", lr\n\t"                                                                \
    "uadd16 " b ", " b ", lr\n\t"                                                                \
    "smulwb r0, r2, " a "\n\t"                                                                   \
    "smulwt " a ", r2, " a "\n\t"                                                                \
    "smulwb r12, r2, " b "\n\t"                                                                  \
    "smulwt " b ", r2, " b "\n\t"                                                                \
    "lsr r0, r0, r3\n\t"                                                                         \
    "lsr " a ", " a ", r3\n\t"                                                                   \
    "lsr r12, r12, r3\n\t"                                                                       \
    "lsr " b ", " b ", r3\n\t"                                                                   \
    "orr r0, r0, r12, lsl #8\n\t"                                                                \
    "orr r0, r0, " a ", lsl #16\n\t"                                                             \
    "orr " a ", r0, " b ", lsl #24\n\t"                                                          \
    "eor " a ", " a ", #0x80808080\n\t"

/* x = min(max(x, r1), r2) bytewise */
#define ML_AP_CLAMP(x)                                                                          \
    "ssub8 r12, " x ", r1\n\t"                                                                   \
    "sel " x ", " x ", r1\n\t"                                                                   \
    "ssub8 r12, r2, " x "\n\t"                                                                   \
    "sel " x ", " x ", r2\n\t"

/*
 * The outputs of one run of n cells (a window of whole rows, or of one row) of the full size,
 * every group of 16 channels: per group, the first cell's SXTB16 start the eight halfword-pair
 * sums, each further cell is an LDM, the step to the next cell and eight SXTAB16 (10
 * instructions for 16 inputs, four cells per loop turn after the odd ones), and the 16 outputs
 * ml_avgpool_out4_fast's arithmetic, 14 instructions per 4 (with 8 more per group for an even
 * count and 18 for a clamp), stored by one STM. Registers in the sums: r4-r11 the sums, r0-r3
 * the cell, r12 the cell pointer, lr the depth; the stack: [sp] the group's first cell,
 * [sp, #4] and [sp, #8] where the odd cells and all of them end, [sp, #12] groups left,
 * [sp, #16] the output, [sp, #20] the depth, [sp, #24] and [sp, #28] the two ends' offsets,
 * [sp, #36] the job. A routine of its own: fourteen registers.
 */
#if !ML_COMPACT  /* the compact form does without it */
__asm__(ML_DSP_ASM_FUNCTION("ml_avgpool_dsp_run16")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #40\n\t"
        "str r0, [sp, #36]\n\t"
        "ldr r12, [r0, #0]\n\t"
        "ldr lr, [r0, #8]\n\t"
        "str lr, [sp, #20]\n\t"
        "ldr r1, [r0, #4]\n\t"
        "mul r2, r1, lr\n\t"
        "str r2, [sp, #28]\n\t"
        "sub r1, r1, #1\n\t"
        "and r1, r1, #3\n\t"
        "add r1, r1, #1\n\t"
        "mul r1, r1, lr\n\t"
        "str r1, [sp, #24]\n\t"
        "ldr r1, [r0, #12]\n\t"
        "str r1, [sp, #12]\n\t"
        "ldr r1, [r0, #16]\n\t"
        "str r1, [sp, #16]\n"
        /* a group */
        "1:\n\t"
        "str r12, [sp, #0]\n\t"
        "ldr r0, [sp, #24]\n\t"
        "add r0, r0, r12\n\t"
        "str r0, [sp, #4]\n\t"
        "ldr r0, [sp, #28]\n\t"
        "add r0, r0, r12\n\t"
        "str r0, [sp, #8]\n\t"
        "ldmia r12, {r0, r1, r2, r3}\n\t"
        "add r12, r12, lr\n\t"
        "sxtb16 r4, r0\n\t"
        "sxtb16 r5, r0, ror #8\n\t"
        "sxtb16 r6, r1\n\t"
        "sxtb16 r7, r1, ror #8\n\t"
        "sxtb16 r8, r2\n\t"
        "sxtb16 r9, r2, ror #8\n\t"
        "sxtb16 r10, r3\n\t"
        "sxtb16 r11, r3, ror #8\n\t"
        "b 3f\n"
        "2:\n\t" ML_AP_CELL
        "3:\n\t"
        "ldr r0, [sp, #4]\n\t"
        "cmp r12, r0\n\t"
        "bne 2b\n\t"
        "b 5f\n"
        "4:\n\t" ML_AP_CELL ML_AP_CELL ML_AP_CELL ML_AP_CELL
        "5:\n\t"
        "ldr r0, [sp, #8]\n\t"
        "cmp r12, r0\n\t"
        "bne 4b\n\t"
        /* the outputs */
        "ldr r0, [sp, #36]\n\t"
        "ldr r1, [r0, #24]\n\t"
        "ldr r2, [r0, #28]\n\t"
        "ldr r3, [r0, #32]\n\t"
        "ldr lr, [r0, #20]\n\t"
        "cbz r1, 6f\n\t"
        ML_AP_EVEN("r4") ML_AP_EVEN("r5") ML_AP_EVEN("r6") ML_AP_EVEN("r7")
        ML_AP_EVEN("r8") ML_AP_EVEN("r9") ML_AP_EVEN("r10") ML_AP_EVEN("r11")
        "6:\n\t"
        ML_AP_OUT4("r4", "r5") ML_AP_OUT4("r6", "r7") ML_AP_OUT4("r8", "r9")
        ML_AP_OUT4("r10", "r11")
        "ldr r0, [sp, #36]\n\t"
        "ldr r1, [r0, #36]\n\t"
        "cbz r1, 7f\n\t"
        "ldr r1, [r0, #40]\n\t"
        "ldr r2, [r0, #44]\n\t"
        ML_AP_CLAMP("r4") ML_AP_CLAMP("r6") ML_AP_CLAMP("r8") ML_AP_CLAMP("r10")
        "7:\n\t"
        "ldr r0, [sp, #16]\n\t"
        "stmia r0!, {r4, r6, r8, r10}\n\t"
        "str r0, [sp, #16]\n\t"
        "ldr r12, [sp, #0]\n\t"
        "add r12, r12, #16\n\t"
        "ldr lr, [sp, #20]\n\t"
        "ldr r0, [sp, #12]\n\t"
        "subs r0, r0, #1\n\t"
        "str r0, [sp, #12]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #40\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_avgpool_dsp_run16, .-ml_avgpool_dsp_run16");
#endif

/* Adds n cells of 16 channels to the eight sums s[], for windows of several runs or clipped
 * ones (then the caller divides). */
ML_NOINLINE static void ml_avgpool_run16(const int8_t *q, int32_t n, int32_t depth, int32_t *s)
{
    int32_t a0 = s[0], a1 = s[1], a2 = s[2], a3 = s[3], a4 = s[4], a5 = s[5], a6 = s[6], a7 = s[7];
    ML_AVGPOOL_RUN16(q, n);
    s[0] = a0; s[1] = a1; s[2] = a2; s[3] = a3; s[4] = a4; s[5] = a5; s[6] = a6; s[7] = a7;
}

/*
 * Channels [0, c_end) sixteen at a time, returning where it stopped; word-aligned cells only
 * (the caller checks). A window of at most 256 cells keeps every sum within [-32768, 32512],
 * so the halfwords never wrap (the caller checks the count).
 */
static int32_t ml_avgpool_dsp16(const ml_pool_window *win, int32_t depth, int32_t c_end,
                                const ml_avgpool_dsp_ctx *k, const ml_avgpool_params *params,
                                int8_t *out)
{
    int32_t c = 0;
    if (win->fast && win->rows == 1 && c_end >= 16 && ((uintptr_t)out & 3u) == 0) {
        ml_avgpool_run16_job job;
        job.q = win->first;
        job.n = win->cols;
        job.depth = depth;
        job.groups = c_end >> 4;
        job.out = out;
        job.bias2 = k->bias2;
        job.even = k->even;
        job.mult = k->mult;
        job.sh = k->sh;
        job.clamp = k->clamp;
        job.lo4 = k->lo4;
        job.hi4 = k->hi4;
        ml_avgpool_dsp_run16(&job);
        return c_end & ~15;
    }
    for (; c + 16 <= c_end; c += 16) {
        int32_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            ml_avgpool_run16(row, win->cols, depth, s);
        }
        for (int32_t j = 0; j < 8; j += 2) {
            ml_avgpool_out4(s[j], s[j + 1], win, k, params, out + c + 2 * j);
        }
    }
    return c;
}

/*
 * Channels [c, c_end) in pairs of words at any alignment: SXTAB16 adds bytes {0, 2} and
 * {1, 3} of a word to two halfword sums each (same bound as above).
 */
static int32_t ml_avgpool_dsp8(const ml_pool_window *win, int32_t depth, int32_t c, int32_t c_end,
                               const ml_avgpool_dsp_ctx *k, const ml_avgpool_params *params,
                               int8_t *out)
{
    for (; c + 8 <= c_end; c += 8) {
        int32_t a02 = 0, a13 = 0, b02 = 0, b13 = 0;  /* channels {0,2} {1,3} {4,6} {5,7} */
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t n = win->cols; n > 0; --n, q += depth) {
                const int32_t x = ml_dsp_read_s8x4(q);
                const int32_t y = ml_dsp_read_s8x4(q + 4);
                a02 = ml_dsp_sxtab16(a02, x);
                a13 = ml_dsp_sxtab16_ror8(a13, x);
                b02 = ml_dsp_sxtab16(b02, y);
                b13 = ml_dsp_sxtab16_ror8(b13, y);
            }
        }
        ml_avgpool_out4(a02, a13, win, k, params, out + c);
        ml_avgpool_out4(b02, b13, win, k, params, out + c + 4);
    }
    return c;
}
#endif

#if !ML_MINIMAL
/* Channels [c, c_end) four at a time (c_end - c a multiple of 4), portable C.
 * |sum| <= 128 * filter_h * filter_w: exact in int32. */
static void ml_avgpool_c4(const ml_pool_window *win, int32_t depth, int32_t c, int32_t c_end,
                          int32_t bias, int32_t even, const ml_avgpool_params *params, int8_t *out)
{
    for (; c < c_end; c += 4) {
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                s0 += q[0];
                s1 += q[1];
                s2 += q[2];
                s3 += q[3];
            }
        }
        out[c] = ml_avgpool_one(s0, win, bias, even, params);
        out[c + 1] = ml_avgpool_one(s1, win, bias, even, params);
        out[c + 2] = ml_avgpool_one(s2, win, bias, even, params);
        out[c + 3] = ml_avgpool_one(s3, win, bias, even, params);
    }
}
#endif

/* Channels [c, depth) one at a time. */
static void ml_avgpool_c1(const ml_pool_window *win, int32_t depth, int32_t c, int32_t bias,
                          int32_t even, const ml_avgpool_params *params, int8_t *out)
{
    for (; c < depth; ++c) {
        int32_t s = 0;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                s += *q;
            }
        }
        out[c] = ml_avgpool_one(s, win, bias, even, params);
    }
}

#if defined(ML_NN_DSP) && !ML_COMPACT
/*
 * A global pool (one window, the whole image, no padding) of the full size through
 * ml_avgpool_dsp_run16 straight away, one call per image; returns 0 when it does not apply.
 * Checked before anything else, so that such a layer skips the general loop's setup.
 */
static int ml_avgpool_global16(const ml_avgpool_params *params, const ml_dims *input_dims,
                               const int8_t *input, const ml_dims *output_dims, int8_t *output)
{
    const int32_t depth = input_dims->c;
    const int32_t cells = input_dims->h * input_dims->w;
    if (output_dims->h != 1 || output_dims->w != 1 || params->filter_h != input_dims->h ||
        params->filter_w != input_dims->w || params->pad_h != 0 || params->pad_w != 0 ||
        params->div_mult == 0 || cells > 128 || depth < 16 || (depth & 15) != 0 ||
        (((uintptr_t)input | (uintptr_t)output) & 3u) != 0) {
        return 0;
    }
    ml_avgpool_run16_job job;
    job.n = cells;
    job.depth = depth;
    job.groups = depth >> 4;
    job.bias2 = ml_dsp_pair16(128 * cells + cells / 2);
    job.even = (cells & 1) == 0 ? 0x00010001 : 0;
    job.mult = params->div_mult;
    job.sh = params->div_shift - 16;
    job.clamp = params->act_min > INT8_MIN || params->act_max < INT8_MAX;
    job.lo4 = (int32_t)((uint32_t)(uint8_t)params->act_min * 0x01010101u);
    job.hi4 = (int32_t)((uint32_t)(uint8_t)params->act_max * 0x01010101u);
    for (int32_t b = 0; b < input_dims->n; ++b) {
        job.q = input + b * cells * depth;
        job.out = output + b * depth;
        ml_avgpool_dsp_run16(&job);
    }
    return 1;
}
#endif

/* Any layer, window by window; beside the global pool's early path, out of line under another
 * name, so that the early path stays small (the compact forms are as they were). */
#if defined(ML_NN_DSP) && !ML_COMPACT
ML_NOINLINE static ml_status ml_avgpool_any(const ml_avgpool_params *params,
                                            const ml_dims *input_dims, const int8_t *input,
                                            const ml_dims *output_dims, int8_t *output)
#else
ml_status ml_avgpool_s8(const ml_avgpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
#endif
{
    const int32_t batches = input_dims->n;
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t depth = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    if (output_dims->n != batches || output_dims->c != depth) {
        return ML_ARG_ERROR;
    }
    const int32_t full = params->filter_h * params->filter_w;
    const int32_t bias = 128 * full + full / 2;
    const int32_t even = (full & 1) == 0;
#if !ML_MINIMAL
    const int32_t c4 = depth & ~3;
#else
    const int32_t c4 = 0;  /* channel by channel */
#endif
#if defined(ML_NN_DSP) && !ML_MINIMAL
    ml_avgpool_dsp_ctx k;
    k.bias2 = ml_dsp_pair16(bias);
    k.even = even ? 0x00010001 : 0;
    k.mult = params->div_mult;
    k.sh = params->div_shift - 16;
    k.lo4 = (int32_t)((uint32_t)(uint8_t)params->act_min * 0x01010101u);
    k.hi4 = (int32_t)((uint32_t)(uint8_t)params->act_max * 0x01010101u);
    k.clamp = params->act_min > INT8_MIN || params->act_max < INT8_MAX;
    /* LDRD needs word-aligned cells. */
    const int aligned = (((uintptr_t)input | (uintptr_t)depth) & 3u) == 0;
#endif
    ml_pool_window win;
    win.dy = in_w * depth;
    for (int32_t b = 0; b < batches; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * depth;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            const int32_t fy_start = ml_max_i32(0, -y0);
            const int32_t fy_end = ml_min_i32(params->filter_h, in_h - y0);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = ml_max_i32(0, -x0);
                const int32_t fx_end = ml_min_i32(params->filter_w, in_w - x0);
                if (fy_end <= fy_start || fx_end <= fx_start) {
                    return ML_ARG_ERROR;
                }
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
                win.rows = fy_end - fy_start;
                win.cols = fx_end - fx_start;
                win.count = win.rows * win.cols;
                win.fast = params->div_mult != 0 && win.count == full;
                win.first = in_batch + ((y0 + fy_start) * in_w + x0 + fx_start) * depth;
                if (win.cols == in_w) {  /* whole rows: one run of cells */
                    win.cols = win.count;
                    win.rows = 1;
                }
#if !ML_MINIMAL
                int32_t c = 0;
#if defined(ML_NN_DSP)
                if (win.count <= 256) {
#if !ML_COMPACT  /* the compact form: the 8-channel loop alone, half the code */
                    if (aligned) {
                        c = ml_avgpool_dsp16(&win, depth, c4, &k, params, out);
                    }
#else
                    (void)aligned;
                    (void)ml_avgpool_dsp16;  /* unused, so not emitted */
#endif
                    c = ml_avgpool_dsp8(&win, depth, c, c4, &k, params, out);
                }
#endif
                ml_avgpool_c4(&win, depth, c, c4, bias, even, params, out);
#endif
                ml_avgpool_c1(&win, depth, c4, bias, even, params, out);
            }
        }
    }
    return ML_OK;
}

#if defined(ML_NN_DSP) && !ML_COMPACT
ml_status ml_avgpool_s8(const ml_avgpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
{
    /* Before the general loop's setup, which would cost a small layer more than its windows. */
    if (output_dims->n == input_dims->n && output_dims->c == input_dims->c &&
        ml_avgpool_global16(params, input_dims, input, output_dims, output)) {
        return ML_OK;
    }
    return ml_avgpool_any(params, input_dims, input, output_dims, output);
}
#endif
