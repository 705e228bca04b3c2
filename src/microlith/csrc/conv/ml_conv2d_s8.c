#include "ml_conv2d_s8.h"
#include "ml_nn_dsp.h"
#include "ml_nn_m0.h"

/* The compact form (ml_config.h): size mode, or a model whose layers on this kernel are all small. */
#if defined(ML_OPTIMIZE_SIZE) || defined(ML_COMPACT_CONV2D_S8)
#define ML_COMPACT 1
#else
#define ML_COMPACT 0
#endif

/* Builds that run the two-channel routine over filters widened by ml_conv2d_s8_stage: the DSP
 * assembly, not compact, unless no layer of the model has a widened filter (ml_config.h:
 * ML_CONV2D_S8_NO_PAIRS). ml_conv2d_s8_stage and the kernel test the same macro, so a widened
 * copy only ever meets the routine that reads it. */
#if defined(ML_NN_DSP) && !ML_COMPACT && !defined(ML_CONV2D_S8_NO_PAIRS)
#define ML_CONV_PAIRS 1
#else
#define ML_CONV_PAIRS 0
#endif
/* ... and over int8 filters the generator laid out in channel pairs (--optimize speed,
 * ML_CONV2D_S8_PAIRED8 in ml_conv2d_s8.h, which tests the same condition), unless no layer has one
 * (ML_CONV2D_S8_NO_PAIRS8). */
#if defined(ML_NN_DSP) && ML_CONV2D_S8_PAIRED8_BUILD
#define ML_CONV_PAIRS8 1
#else
#define ML_CONV_PAIRS8 0
#endif

/*
 * The inner products stay out of line: inlined into the loop nest they lose registers to the
 * outer loops' state and spill inside the innermost loop (twice the instructions per MAC for
 * the 2x2 product with arm-none-eabi-gcc 12 -O2 on Cortex-M4).
 */

/* Sizes and strides derived once per call. */
typedef struct {
    int32_t k_w;
    int32_t group_c;      /* input channels per group: the filter's depth */
    int32_t group_out;    /* output channels per group */
    int32_t groups;
    int32_t per_channel;  /* filter elements of one output channel */
    int32_t tap_dy;       /* input elements between vertically adjacent taps */
    int32_t tap_dx;       /* input elements between horizontally adjacent taps */
    int32_t merge_row;    /* a window row is one run of memory, in input and filter alike */
} ml_conv_geometry;

/*
 * Taps k in [*lo, *hi) of a window of `taps` taps, `dilation` apart, starting at `origin`,
 * that fall inside [0, size). Clipping each output pixel's window once replaces the bounds
 * check TFLM makes before every multiply-accumulate.
 */
static void ml_conv_clip_window(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
                                int32_t *lo, int32_t *hi)
{
    int32_t first = 0;
    int32_t end = taps;
    if (origin < 0) {
        first = (dilation - 1 - origin) / dilation;
    }
    if (origin + (taps - 1) * dilation >= size) {
        end = size > origin ? (size - 1 - origin) / dilation + 1 : 0;
    }
    *lo = first;
    *hi = end > first ? end : first;
}

/* Bias, requantization, output offset and clamp. */
static inline int8_t ml_conv_finish(int32_t acc, int32_t oc, const int32_t *bias,
                                    const ml_per_channel_quant *quant, const ml_m0_act *act)
{
    if (bias != NULL) {
        acc += bias[oc];
    }
    return ml_m0_out_s8(acc, quant->multiplier[oc], quant->shift[oc], act);
}

/* The in-image part of a window as `rows` runs of `n` values, consecutive runs `in_step`
 * apart in the input and `w_step` apart in the filter. */
typedef struct {
    int32_t rows;
    int32_t n;
    int32_t in_step;
    int32_t w_step;
} ml_conv_runs;

#if ML_M0_PATHS
/* The frame of the M0 routines (here and ml_conv2d_s8_m0's below): r4-r11 saved. */
#define ML_M0_PROLOGUE                                                                           \
    "push {r4, r5, r6, r7, lr}\n\t"                                                              \
    "mov r4, r8\n\t"                                                                             \
    "mov r5, r9\n\t"                                                                             \
    "mov r6, r10\n\t"                                                                            \
    "mov r7, r11\n\t"                                                                            \
    "push {r4, r5, r6, r7}\n\t"
#define ML_M0_EPILOGUE                                                                           \
    "pop {r4, r5, r6, r7}\n\t"                                                                   \
    "mov r8, r4\n\t"                                                                             \
    "mov r9, r5\n\t"                                                                             \
    "mov r10, r6\n\t"                                                                            \
    "mov r11, r7\n\t"                                                                            \
    "pop {r4, r5, r6, r7, pc}\n\t"
#endif

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
/*
 * Cortex-M0/M0+ (ARMv6-M): the two inner products below as assembly. gcc cannot fit the 2x2
 * loop's four pointers, four sums and the offset into the eight low registers and spills
 * inside it (32 instructions per four MACs); here the sums and the offset live in r8-r12
 * (ADD reaches them, only MULS and loads need low registers) and the four data pointers share
 * one negative index counting up to zero (LDRSB has only the register-offset form), so a
 * step is 17 instructions per four MACs, 10 per two for 1x2. Same arithmetic as the C
 * versions: int32 sums of (x + offset) * w, modulo 2^32.
 * Prototypes as the C versions; frame: 9 saved registers (36 bytes), then the stacked
 * arguments, and three words of row state (w_step, rows, in_step) below them.
 */
void ml_conv_m0_dot_1x2(const int8_t *in, const int8_t *w0, const int8_t *w1,
                        const ml_conv_runs *runs, int32_t offset, int32_t acc[2]);
void ml_conv_m0_dot_2x2(const int8_t *in0, const int8_t *in1, const int8_t *w0,
                        const int8_t *w1, const ml_conv_runs *runs, int32_t offset,
                        int32_t acc[4]);

__asm__(ML_M0_ASM_FUNCTION("ml_conv_m0_dot_2x2")
    ML_M0_PROLOGUE
    /* r0..r3 = in0, in1, w0, w1; [sp, #36] runs, [sp, #40] offset, [sp, #44] acc */
    "ldr r5, [sp, #44]\n\t"
    "ldr r6, [r5, #0]\n\t"
    "mov r8, r6\n\t"
    "ldr r6, [r5, #4]\n\t"
    "mov r9, r6\n\t"
    "ldr r6, [r5, #8]\n\t"
    "mov r10, r6\n\t"
    "ldr r6, [r5, #12]\n\t"
    "mov r11, r6\n\t"
    "ldr r6, [sp, #40]\n\t"
    "mov ip, r6\n\t"
    "ldr r4, [sp, #36]\n\t"
    "ldr r5, [r4, #0]\n\t"          /* rows */
    "cmp r5, #0\n\t"
    "ble 9f\n\t"
    "ldr r6, [r4, #4]\n\t"          /* n */
    "cmp r6, #0\n\t"
    "ble 9f\n\t"
    "ldr r7, [r4, #8]\n\t"          /* in_step */
    "ldr r4, [r4, #12]\n\t"         /* w_step */
    "mov lr, r6\n\t"
    "adds r0, r0, r6\n\t"           /* the pointers mark the ends of the runs */
    "adds r1, r1, r6\n\t"
    "adds r2, r2, r6\n\t"
    "adds r3, r3, r6\n\t"
    "push {r4, r5, r7}\n"
    "1:\n\t"
    "mov r4, lr\n\t"
    "rsbs r4, r4, #0\n"
    "2:\n\t"
    "ldrsb r5, [r0, r4]\n\t"
    "add r5, ip\n\t"
    "ldrsb r6, [r2, r4]\n\t"
    "mov r7, r6\n\t"
    "muls r7, r5\n\t"
    "add r8, r7\n\t"
    "ldrsb r7, [r3, r4]\n\t"
    "muls r5, r7\n\t"
    "add r9, r5\n\t"
    "ldrsb r5, [r1, r4]\n\t"
    "add r5, ip\n\t"
    "muls r6, r5\n\t"
    "add r10, r6\n\t"
    "muls r7, r5\n\t"
    "add r11, r7\n\t"
    "adds r4, r4, #1\n\t"
    "bne 2b\n\t"
    "ldr r5, [sp, #8]\n\t"
    "adds r0, r0, r5\n\t"
    "adds r1, r1, r5\n\t"
    "ldr r5, [sp, #0]\n\t"
    "adds r2, r2, r5\n\t"
    "adds r3, r3, r5\n\t"
    "ldr r5, [sp, #4]\n\t"
    "subs r5, r5, #1\n\t"
    "str r5, [sp, #4]\n\t"
    "bne 1b\n\t"
    "add sp, sp, #12\n"
    "9:\n\t"
    "ldr r5, [sp, #44]\n\t"
    "mov r6, r8\n\t"
    "str r6, [r5, #0]\n\t"
    "mov r6, r9\n\t"
    "str r6, [r5, #4]\n\t"
    "mov r6, r10\n\t"
    "str r6, [r5, #8]\n\t"
    "mov r6, r11\n\t"
    "str r6, [r5, #12]\n\t"
    ML_M0_EPILOGUE
    ".size ml_conv_m0_dot_2x2, .-ml_conv_m0_dot_2x2\n\t"

    ".balign 2\n\t"
    ".global ml_conv_m0_dot_1x2\n\t"
    ".type ml_conv_m0_dot_1x2, %function\n\t"
    ".thumb_func\n"
    "ml_conv_m0_dot_1x2:\n\t"
    ML_M0_PROLOGUE
    /* r0..r3 = in, w0, w1, runs; [sp, #36] offset, [sp, #40] acc */
    "ldr r5, [sp, #40]\n\t"
    "ldr r6, [r5, #0]\n\t"
    "mov r8, r6\n\t"
    "ldr r6, [r5, #4]\n\t"
    "mov r9, r6\n\t"
    "ldr r6, [sp, #36]\n\t"
    "mov ip, r6\n\t"
    "ldr r5, [r3, #0]\n\t"          /* rows */
    "cmp r5, #0\n\t"
    "ble 9f\n\t"
    "ldr r6, [r3, #4]\n\t"          /* n */
    "cmp r6, #0\n\t"
    "ble 9f\n\t"
    "ldr r7, [r3, #8]\n\t"          /* in_step */
    "ldr r4, [r3, #12]\n\t"         /* w_step */
    "mov lr, r6\n\t"
    "adds r0, r0, r6\n\t"
    "adds r1, r1, r6\n\t"
    "adds r2, r2, r6\n\t"
    "push {r4, r5, r7}\n"
    "1:\n\t"
    "mov r4, lr\n\t"
    "rsbs r4, r4, #0\n"
    "2:\n\t"
    "ldrsb r5, [r0, r4]\n\t"
    "add r5, ip\n\t"
    "ldrsb r6, [r1, r4]\n\t"
    "muls r6, r5\n\t"
    "add r8, r6\n\t"
    "ldrsb r7, [r2, r4]\n\t"
    "muls r7, r5\n\t"
    "add r9, r7\n\t"
    "adds r4, r4, #1\n\t"
    "bne 2b\n\t"
    "ldr r5, [sp, #8]\n\t"
    "adds r0, r0, r5\n\t"
    "ldr r5, [sp, #0]\n\t"
    "adds r1, r1, r5\n\t"
    "adds r2, r2, r5\n\t"
    "ldr r5, [sp, #4]\n\t"
    "subs r5, r5, #1\n\t"
    "str r5, [sp, #4]\n\t"
    "bne 1b\n\t"
    "add sp, sp, #12\n"
    "9:\n\t"
    "ldr r5, [sp, #40]\n\t"
    "mov r6, r8\n\t"
    "str r6, [r5, #0]\n\t"
    "mov r6, r9\n\t"
    "str r6, [r5, #4]\n\t"
    ML_M0_EPILOGUE
    ".size ml_conv_m0_dot_1x2, .-ml_conv_m0_dot_1x2");

#define ml_conv_dot_1x2 ml_conv_m0_dot_1x2
#define ml_conv_dot_2x2 ml_conv_m0_dot_2x2
#elif defined(__ARM_ARCH_7M__) && defined(__GNUC__) && defined(__OPTIMIZE__)
/*
 * Cortex-M3 (ARMv7-M without DSP): the 2x2 loop as assembly, two steps per iteration with
 * post-indexed loads, so one compare and branch serve eight MACs (22 instructions instead of
 * 24; gcc unrolls with offset loads and separate pointer updates, 26). Same sums as the C
 * version, modulo 2^32. Unoptimized builds keep the C loop (too few free registers).
 */
#define ML_CONV_M3_STEP                                                                          \
    "ldrsb %[t0], [%[x0]], #1\n\t"                                                               \
    "ldrsb %[t1], [%[x1]], #1\n\t"                                                               \
    "ldrsb %[t2], [%[f0]], #1\n\t"                                                               \
    "add %[t0], %[t0], %[off]\n\t"                                                               \
    "add %[t1], %[t1], %[off]\n\t"                                                               \
    "mla %[a00], %[t0], %[t2], %[a00]\n\t"                                                       \
    "mla %[a10], %[t1], %[t2], %[a10]\n\t"                                                       \
    "ldrsb %[t2], [%[f1]], #1\n\t"                                                               \
    "mla %[a01], %[t0], %[t2], %[a01]\n\t"                                                       \
    "mla %[a11], %[t1], %[t2], %[a11]\n\t"

#define ML_CONV_M3_OPERANDS                                                                      \
    : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [x0] "+r"(x0),        \
      [x1] "+r"(x1), [f0] "+r"(f0), [f1] "+r"(f1), [t0] "=&r"(t0), [t1] "=&r"(t1),             \
      [t2] "=&r"(t2)                                                                             \
    : [off] "r"(offset), [end] "r"(end)                                                          \
    : "cc", "memory"

static ML_NOINLINE void ml_conv_dot_2x2(const int8_t *in0, const int8_t *in1,
                                             const int8_t *w0, const int8_t *w1,
                                             const ml_conv_runs *runs, int32_t offset,
                                             int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    const int32_t n = runs->n;
    for (int32_t r = 0; r < runs->rows; ++r) {
        const int8_t *x0 = in0 + r * runs->in_step;
        const int8_t *x1 = in1 + r * runs->in_step;
        const int8_t *f0 = w0 + r * runs->w_step;
        const int8_t *f1 = w1 + r * runs->w_step;
        const int8_t *const end = x0 + (n & ~1);
        int32_t t0, t1, t2;
        if (n >= 2) {
            __asm__ volatile("1:\n\t" ML_CONV_M3_STEP ML_CONV_M3_STEP
                             "cmp %[x0], %[end]\n\t"
                             "bne 1b" ML_CONV_M3_OPERANDS);
        }
        if (n & 1) {
            __asm__ volatile(ML_CONV_M3_STEP ML_CONV_M3_OPERANDS);
        }
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

#else
/* acc[0..3] += two pixels by two output channels: every load feeds two MACs. */
static ML_NOINLINE void ml_conv_dot_2x2(const int8_t *in0, const int8_t *in1,
                                             const int8_t *w0, const int8_t *w1,
                                             const ml_conv_runs *runs, int32_t offset,
                                             int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (int32_t r = 0; r < runs->rows; ++r) {
        const int8_t *x0 = in0 + r * runs->in_step;
        const int8_t *x1 = in1 + r * runs->in_step;
        const int8_t *f0 = w0 + r * runs->w_step;
        const int8_t *f1 = w1 + r * runs->w_step;
        for (int32_t i = 0; i < runs->n; ++i) {
            const int32_t x0i = (int32_t)x0[i] + offset;
            const int32_t x1i = (int32_t)x1[i] + offset;
            const int32_t f0i = f0[i];
            const int32_t f1i = f1[i];
            a00 += x0i * f0i;
            a01 += x0i * f1i;
            a10 += x1i * f0i;
            a11 += x1i * f1i;
        }
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif /* __ARM_ARCH_6M__ */

#if !(defined(__ARM_ARCH_6M__) && defined(__GNUC__))
/* The portable 1x2 product serves M3 as well: its gain there was in the 2x2 loop. */
/* acc[0..1] += one pixel's inputs (offset added) times two output channels' weights. */
static ML_NOINLINE void ml_conv_dot_1x2(const int8_t *in, const int8_t *w0,
                                             const int8_t *w1, const ml_conv_runs *runs,
                                             int32_t offset, int32_t acc[2])
{
    int32_t a0 = acc[0];
    int32_t a1 = acc[1];
    for (int32_t r = 0; r < runs->rows; ++r) {
        const int8_t *x = in + r * runs->in_step;
        const int8_t *f0 = w0 + r * runs->w_step;
        const int8_t *f1 = w1 + r * runs->w_step;
        for (int32_t i = 0; i < runs->n; ++i) {
            const int32_t xi = (int32_t)x[i] + offset;
            a0 += xi * f0[i];
            a1 += xi * f1[i];
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

#endif

/*
 * Every output channel of one output pixel, or of two (in1 and out1 not NULL) whose windows
 * clip alike, over `rows` x `cols` taps; in0, in1 and filter point at the first tap in range.
 * Output channels go in pairs within a group; an unpaired last one runs twice, stored once.
 */
static void ml_conv_pixels(const ml_conv_params *params, const ml_per_channel_quant *quant,
                           const ml_conv_geometry *geo, const int8_t *in0, const int8_t *in1,
                           int32_t rows, int32_t cols, const int8_t *filter, const int32_t *bias,
                           int8_t *out0, int8_t *out1)
{
    const int32_t offset = params->input_offset;
    ml_m0_act act;
    act.out_off = params->output_offset;
    act.act_min = params->act_min;
    act.act_max = params->act_max;
    /* A merged window row is one run; otherwise each column is a run per row. */
    const int32_t columns = geo->merge_row ? 1 : cols;
    ml_conv_runs runs;
    runs.rows = rows;
    runs.n = geo->merge_row ? cols * geo->group_c : geo->group_c;
    runs.in_step = geo->tap_dy;
    runs.w_step = geo->k_w * geo->group_c;
    for (int32_t group = 0; group < geo->groups; ++group) {
        const int32_t slice = group * geo->group_c;
        const int32_t oc_end = (group + 1) * geo->group_out;
        for (int32_t oc = group * geo->group_out; oc < oc_end; oc += 2) {
            const int32_t paired = oc + 1 < oc_end;
            const int8_t *w0 = filter + oc * geo->per_channel;
            const int8_t *w1 = paired ? w0 + geo->per_channel : w0;
            /* Element by element: an initializer list becomes a memset call on Cortex-M0. */
            int32_t acc[4];
            acc[0] = 0;
            acc[1] = 0;
            acc[2] = 0;
            acc[3] = 0;
            for (int32_t c = 0; c < columns; ++c) {
                const int32_t in_at = c * geo->tap_dx + slice;
                const int32_t w_at = c * geo->group_c;
                if (in1 != NULL) {
                    ml_conv_dot_2x2(in0 + in_at, in1 + in_at, w0 + w_at, w1 + w_at, &runs, offset,
                                    acc);
                } else {
                    ml_conv_dot_1x2(in0 + in_at, w0 + w_at, w1 + w_at, &runs, offset, acc);
                }
            }
            out0[oc] = ml_conv_finish(acc[0], oc, bias, quant, &act);
            if (paired) {
                out0[oc + 1] = ml_conv_finish(acc[1], oc + 1, bias, quant, &act);
            }
            if (out1 != NULL) {
                out1[oc] = ml_conv_finish(acc[2], oc, bias, quant, &act);
                if (paired) {
                    out1[oc + 1] = ml_conv_finish(acc[3], oc + 1, bias, quant, &act);
                }
            }
        }
    }
}

#if defined(ML_NN_DSP)
/*
 * DSP path: im2col to int16, then every output channel against a group of P output pixels
 * (P = 6 or 4), two multiply-accumulates per SMLAD.
 *
 * A column is one output pixel's window, K = KH * KW * C_IN values in the filter's order, each
 * already plus input_offset (taps outside the image are 0, as TFLM skips them), padded with 0
 * to a multiple of 4. Columns interleave by blocks of 4 values: block b of pixel p is the two
 * words cols[(b * P + p) * 2 + {0, 1}], holding values {k0, k2} and {k1, k3} of the block,
 * which is the order SXTB16 splits four int8 weights into. So the weights stay int8 in their
 * TFLite layout, and one weight word serves all the pixels of the group.
 *
 * Why six pixels: a block costs one weight load and two SXTB16 whatever P is, plus one LDM of
 * two pixels' words and four SMLAD per two pixels; six accumulators, the LDM's four registers,
 * the two widened weights and the two pointers take all fourteen registers, so P = 6 is 18
 * instructions per 24 MACs where P = 4 is 13 per 16. Eight pixels would leave no registers for
 * the LDM. Groups of 4 cover row ends; the last group of a call ends on its last pixel and may
 * recompute pixels of the group before.
 *
 * Building with ML_OPTIMIZE_SIZE defined keeps only the C groups of four (ml_conv_dsp_group_any)
 * and drops the assembly routines: about 2.5 KB less code on Cortex-M4 for some 10-20% more
 * instructions in the convolutions. Unless the model's ml_config.h keeps the four-pixel routine
 * (ML_SPECIALISE_CONV_P4: about 0.7 KB, a third fewer instructions than the C groups on KWS),
 * and, when every layer takes it, leaves the C groups out (ML_CONV2D_S8_ONLY_ASM: a call that
 * would need them returns ML_NO_IMPL).
 */
#if !ML_COMPACT
#define ML_CONV_ASM 1
#define ML_CONV_P6 1
#elif defined(ML_SPECIALISE_CONV_P4)
#define ML_CONV_ASM 1
#define ML_CONV_P6 0
#else
#define ML_CONV_ASM 0
#define ML_CONV_P6 0
#endif
/* Columns of several groups before the routine runs (ml_conv_params.col_groups), unless no layer
 * of the model has col_groups > 1 (ml_config.h: ML_CONV2D_S8_NO_COL_GROUPS). */
#if ML_CONV_P6 && !defined(ML_CONV2D_S8_NO_COL_GROUPS)
#define ML_CONV_COL_GROUPS 1
#else
#define ML_CONV_COL_GROUPS 0
#endif
/* ML_CONV2D_S8_ONLY_ASM (ml_config.h: every layer takes the assembly) leaves the C groups out
 * only where the assembly is compiled, so a compact build without it keeps them. */
#if defined(ML_CONV2D_S8_ONLY_ASM) && ML_CONV_ASM
#define ML_CONV_ONLY_ASM 1
#else
#define ML_CONV_ONLY_ASM 0
#endif

/*
 * Two blocks per iteration, post-incremented STRD to the next block of the column (`bytes` =
 * 4 * step, an immediate): 5 instructions per block where the C loop takes 7.
 */
#define ML_CONV_WIDEN2(bytes)                                                                   \
    __asm__ volatile("1:\n\t"                                                                    \
                     "ldr %[a], [%[raw]], #4\n\t"                                                \
                     "ldr %[b], [%[raw]], #4\n\t"                                                \
                     "sxtab16 %[t0], %[off], %[a]\n\t"                                           \
                     "sxtab16 %[t1], %[off], %[a], ror #8\n\t"                                   \
                     "strd %[t0], %[t1], [%[col]], #" bytes "\n\t"                               \
                     "sxtab16 %[t0], %[off], %[b]\n\t"                                           \
                     "sxtab16 %[t1], %[off], %[b], ror #8\n\t"                                   \
                     "strd %[t0], %[t1], [%[col]], #" bytes "\n\t"                               \
                     "subs %[n2], %[n2], #1\n\t"                                                 \
                     "bne 1b"                                                                    \
                     : [raw] "+r"(raw), [col] "+r"(col), [n2] "+r"(n2), [a] "=&r"(a),           \
                       [b] "=&r"(b), [t0] "=&r"(t0), [t1] "=&r"(t1)                             \
                     : [off] "r"(off2)                                                           \
                     : "cc", "memory")

/* Widen n raw int8 values (plus offset, as halfword pairs in off2) into consecutive blocks of
 * one column, `step` words apart (2 * P: 12 or 8), from a block boundary; a partial last block
 * is completed with zeros. */
static void ml_conv_dsp_widen(const int8_t *raw, int32_t n, int32_t *col, int32_t step,
                              int32_t off2)
{
    int32_t n2 = n >> 3;
    if (n2 > 0) {
        int32_t a, b, t0, t1;
        if (step == 12) {
            ML_CONV_WIDEN2("48");
        } else {
            ML_CONV_WIDEN2("32");  /* step 8: P = 4 (the C groups' too) */
        }
        n &= 7;
    }
    for (; n >= 4; n -= 4) {
        const int32_t v = ml_dsp_read_s8x4(raw);
        raw += 4;
        col[0] = ml_dsp_sxtab16(off2, v);
        col[1] = ml_dsp_sxtab16_ror8(off2, v);
        col += step;
    }
    if (n > 0) {
        int16_t lane[4] = {0, 0, 0, 0};
        for (int32_t i = 0; i < n; ++i) {
            lane[i] = (int16_t)((int32_t)raw[i] + (int16_t)off2);
        }
        col[0] = (int32_t)(((uint32_t)(uint16_t)lane[2] << 16) | (uint16_t)lane[0]);
        col[1] = (int32_t)(((uint32_t)(uint16_t)lane[3] << 16) | (uint16_t)lane[1]);
    }
}

/* Eight values (one LDRD, word aligned) into two blocks of a six-pixel group's column. */
#define ML_CONV_WIDEN_LDRD                                                                      \
    "ldrd %[a], %[b], [%[raw]], #8\n\t"                                                          \
    "sxtab16 %[t0], %[off], %[a]\n\t"                                                            \
    "sxtab16 %[t1], %[off], %[a], ror #8\n\t"                                                    \
    "strd %[t0], %[t1], [%[col]], #48\n\t"                                                       \
    "sxtab16 %[t0], %[off], %[b]\n\t"                                                            \
    "sxtab16 %[t1], %[off], %[b], ror #8\n\t"                                                    \
    "strd %[t0], %[t1], [%[col]], #48\n\t"

/* The columns of np consecutive pixels of a pointwise layer (1x1, stride 1, no padding, C_IN a
 * multiple of 4), whose inputs are np * C_IN consecutive bytes: no window to work out. */
static ML_NOINLINE void ml_conv_dsp_widen_pixels(const int8_t *src, int32_t np, int32_t in_c,
                                                 int32_t *cols, int32_t step, int32_t off2)
{
    if (in_c >= 64) {  /* deep enough for the two-block loop to repay its call */
#if !ML_COMPACT  /* (the compact form keeps the two-block loop: 0.1 KB less) */
        if (step == 12 && (in_c & 15) == 0 && ((uintptr_t)src & 3u) == 0) {
            /* six-pixel groups of word-aligned inputs: four blocks a turn from two LDRDs, 16
             * instructions for 16 values where the two-block loop takes 20 */
            for (int32_t p = 0; p < np; ++p) {
                const int8_t *raw = src + p * in_c;
                int32_t *col = cols + 2 * p;
                int32_t n = in_c >> 4, a, b, t0, t1;
                __asm__ volatile("1:\n\t" ML_CONV_WIDEN_LDRD ML_CONV_WIDEN_LDRD
                                 "subs %[n], %[n], #1\n\t"
                                 "bne 1b"
                                 : [raw] "+r"(raw), [col] "+r"(col), [n] "+r"(n), [a] "=&r"(a),
                                   [b] "=&r"(b), [t0] "=&r"(t0), [t1] "=&r"(t1)
                                 : [off] "r"(off2)
                                 : "cc", "memory");
            }
            return;
        }
#endif
        for (int32_t p = 0; p < np; ++p) {
            ml_conv_dsp_widen(src + p * in_c, in_c, cols + 2 * p, step, off2);
        }
        return;
    }
    for (int32_t p = 0; p < np; ++p) {
        int32_t *col = cols + 2 * p;
        for (int32_t c = 0; c < in_c; c += 4) {
            const int32_t v = ml_dsp_read_s8x4(src);
            src += 4;
            col[0] = ml_dsp_sxtab16(off2, v);
            col[1] = ml_dsp_sxtab16_ror8(off2, v);
            col += step;
        }
    }
}

/* n bytes from src to dst, a word at a time where whole words remain (any alignment). */
static void ml_conv_dsp_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4) {
        ml_dsp_write_s8x4(dst, ml_dsp_read_s8x4(src));
        src += 4;
        dst += 4;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
}

static void ml_conv_dsp_zero(int32_t *col, int32_t blocks, int32_t step)
{
    for (; blocks > 0; --blocks) {
        col[0] = 0;
        col[1] = 0;
        col += step;
    }
}

/* Set-up code that runs once per segment of pixels or per call, compiled for size with GCC
 * (the loops it calls do the work). */
#if defined(__GNUC__) && !defined(__clang__)
#define ML_CONV_SETUP __attribute__((optimize("Os")))
#else
#define ML_CONV_SETUP
#endif

/* The column builders beyond the per-pixel im2col: by output-row segments (an assembly
 * routine; not in the compact form) and from 3x3x3 windows; ML_CONV2D_S8_NO_SEGMENTS and
 * ML_CONV2D_S8_NO_WINDOWS27 (ml_config.h) leave them out of models without a layer for them. */
#if defined(ML_CONV2D_S8_NO_SEGMENTS) || ML_COMPACT
#define ML_CONV_SEGMENTS 0
#else
#define ML_CONV_SEGMENTS 1
#endif
/* ml_conv_dsp_im2col_rows: ML_CONV2D_S8_NO_BLOCK_ROWS leaves it out of models without a layer
 * whose window rows are whole blocks of a C_IN that is not a multiple of 4. */
#if defined(ML_CONV2D_S8_NO_BLOCK_ROWS)
#define ML_CONV_BLOCK_ROWS 0
#else
#define ML_CONV_BLOCK_ROWS 1
#endif
#if defined(ML_CONV2D_S8_NO_WINDOWS27)
#define ML_CONV_ROWS ML_CONV_SEGMENTS
#define ML_CONV_WINDOWS27 0
#else
#define ML_CONV_ROWS 1
#define ML_CONV_WINDOWS27 1
#endif

#if ML_CONV_SEGMENTS
/* A segment of pixels, for ml_conv_dsp_taps (below). */
typedef struct {
    const int8_t *row;    /* 0: this window row's input row */
    int32_t *dk;          /* 4: its block (ky, 0, 0), slot 0 */
    int32_t off2;         /* 8: input_offset in both halfwords */
    int32_t n2;           /* 12: C_IN / 8, pairs of blocks per input column */
    int32_t rskip;        /* 16: stride_w * C_IN - C_IN, the source from one slot to the next */
    int32_t cback;        /* 20: the columns from past a slot's last block to the next slot */
    int32_t col_next;     /* 24: from past a widened tap column's last slot to the next column */
    int32_t cnt1;         /* 28: tap columns widened: min(stride_w, KW) >= 1 */
    int32_t cnt2;         /* 32: tap columns copied: KW - cnt1 */
    int32_t back;         /* 36: bytes from a copied tap column back to its source (+ 1 slot) */
    int32_t mwords;       /* 40: words per copied run (even, >= 2) */
    int32_t mruns;        /* 44: runs per copied tap column (0 when n = 1) */
    int32_t mgap;         /* 48: bytes from one run's end to the next run */
    int32_t last_off;     /* 52: input bytes from row to the first copied column's last slot */
    int32_t c;            /* 56: C_IN */
    int32_t kxb;          /* 60: bytes between the blocks of two tap columns */
    int32_t last_at;      /* 64: bytes from a block's slot 0 to its last slot */
    int32_t last_in;      /* 68: bit j: copied tap column j's last slot is inside the image */
    int32_t wide[2][4];   /* 72: per widened tap column: input bytes from row to its first slot
                             inside, the slots before it (zeros), inside, after it (zeros) */
    int32_t blk;          /* 104: bytes between two blocks of a slot: 8 * P */
} ml_conv_taps;

typedef char ml_conv_taps_layout[offsetof(ml_conv_taps, wide) == 72 &&
                                         offsetof(ml_conv_taps, blk) == 104 ? 1 : -1];
#endif

/* What the DSP path derives once per call. */
typedef struct {
    const ml_conv_params *params;
    const ml_per_channel_quant *quant;
    int32_t in_h, in_w, in_c;
    int32_t k_h, k_w;
    int32_t k;            /* values per column */
    int32_t blocks;       /* k / 4 rounded up */
    int32_t out_c;
    int32_t off2;         /* input_offset in both halfwords */
    int32_t *cols;
    int8_t *stage;        /* a window in raw int8, when its taps do not align with blocks */
#if ML_CONV_SEGMENTS
    ml_conv_taps taps;    /* segments of C_IN % 8 == 0 layers: what stays from one to the next */
#endif
} ml_conv_dsp;

#if ML_CONV_WINDOWS27
/*
 * The columns of `count` windows of three rows of 9 bytes (3x3 taps of 3 channels: the RGB
 * first layers) into consecutive slots from col, every row inside the image: r0 the first
 * window's first row, args {dy: input bytes between its rows, sstep: between windows, the
 * bytes between blocks (8 * P), off2}. Each window's 7 blocks come straight from the input,
 * without staging: the blocks straddle the rows at bytes 8/9 and 17/18, which a shift and an
 * OR join, and only bytes of the window are read (unaligned words and halfwords). The 28th
 * value (the block's padding) is 0. 47 instructions per window where gcc's loop took 57.
 */
/* One block from the raw word r4: widened by r12 = off2 into the column at r5, which moves on
 * by r3 = bytes between blocks. */
#define ML_CONV_W27_BLOCK                                                                       \
    "sxtab16 r8, r12, r4\n\t"                                                                    \
    "sxtab16 r9, r12, r4, ror #8\n\t"                                                            \
    "strd r8, r9, [r5]\n\t"                                                                      \
    "add r5, r5, r3\n\t"

void ml_conv_dsp_im2col27(const int8_t *r0, const int32_t *args, int32_t count, int32_t *col);

/* r0 the first window's first row, r1 {dy, sstep, step bytes, off2}, r2 count, r3 col. */
__asm__(ML_DSP_ASM_FUNCTION("ml_conv_dsp_im2col27")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "ldm r1, {r1, r10, r11, r12}\n\t" /* dy, sstep, step bytes, off2 */
        "mov lr, r3\n\t"
        "mov r3, r11\n"
        "1:\n\t"
        "add r6, r0, r1\n\t"            /* the window's second and third rows */
        "add r7, r6, r1\n\t"
        "mov r5, lr\n\t"
        "ldr r4, [r0]\n\t"              /* x0..x3 */
        ML_CONV_W27_BLOCK
        "ldr r4, [r0, #4]\n\t"          /* x4..x7 */
        ML_CONV_W27_BLOCK
        "ldrb r4, [r0, #8]\n\t"         /* x8, then the second row's x9..x11 */
        "ldr r11, [r6]\n\t"
        "orr r4, r4, r11, lsl #8\n\t"
        ML_CONV_W27_BLOCK
        "ldr r4, [r6, #3]\n\t"          /* x12..x15 */
        ML_CONV_W27_BLOCK
        "ldrh r4, [r6, #7]\n\t"         /* x16, x17, then the third row's x18, x19 */
        "ldr r11, [r7]\n\t"
        "orr r4, r4, r11, lsl #16\n\t"
        ML_CONV_W27_BLOCK
        "ldr r4, [r7, #2]\n\t"          /* x20..x23 */
        ML_CONV_W27_BLOCK
        "ldr r4, [r7, #5]\n\t"          /* x24..x26 and the padding: {x24 + off, x26 + off}, */
        "lsrs r4, r4, #8\n\t"           /* {x25 + off, 0} */
        "sxtab16 r8, r12, r4\n\t"
        "sxtab16 r9, r12, r4, ror #8\n\t"
        "uxth r9, r9\n\t"
        "strd r8, r9, [r5]\n\t"
        "add r0, r0, r10\n\t"
        "add lr, lr, #8\n\t"
        "subs r2, r2, #1\n\t"
        "bne 1b\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_conv_dsp_im2col27, .-ml_conv_dsp_im2col27");

#endif /* ML_CONV_WINDOWS27 */

#if ML_CONV_BLOCK_ROWS
/*
 * ml_conv_dsp_im2col for windows whose rows are whole blocks (KWS's first layer: 4 taps of 1
 * channel, one block a row), all inside the image horizontally or one block a row: each row
 * widened straight from the input. The general gather copies each row into the stage and widens
 * it from there: on a 49x10x1 input with 10x4 windows, stride 2, SAME, that built the columns in
 * 84 k instructions where this takes 40 k. The taps a row loses to the image's edge are
 * the input zero point, which widens to 0, as in the stage. Out of line: inlined, its registers
 * would cost every other call of ml_conv_dsp_im2col a heavier prologue.
 */
static ML_NOINLINE void ml_conv_dsp_im2col_rows(const ml_conv_dsp *d, const int8_t *in_batch,
                                                int32_t iy0, int32_t ix0, int32_t *col,
                                                int32_t step)
{
    const ml_conv_params *pr = d->params;
    const int32_t in_c = d->in_c;
    const int32_t row_run = d->k_w * in_c;
    int32_t lo, hi, xlo, xhi;
    ml_conv_clip_window(iy0, pr->dilation_h, d->k_h, d->in_h, &lo, &hi);
    ml_conv_clip_window(ix0, 1, d->k_w, d->in_w, &xlo, &xhi);
    const int32_t blocks = row_run >> 2;  /* per window row */
    if (hi <= lo || xhi <= xlo) {
        ml_conv_dsp_zero(col, d->k_h * blocks, step);
        return;
    }
    ml_conv_dsp_zero(col, lo * blocks, step);  /* the rows above the image */
    const int32_t in_row = pr->dilation_h * d->in_w * in_c;
    /* the first row's first byte inside the image */
    const int8_t *src = in_batch + ((iy0 + lo * pr->dilation_h) * d->in_w + ix0 + xlo) * in_c;
    int32_t *dst = col + lo * blocks * step;
    const int32_t b0 = xlo * in_c;  /* the bytes of a row inside the image: [b0, b1) */
    const int32_t b1 = xhi * in_c;
    const int32_t off2 = d->off2;  /* a local: the stores through dst could alias d */
    const int32_t rows = hi - lo;
    if (blocks > 1) {  /* inside_w */
        for (int32_t r = 0; r < rows; ++r, src += in_row, dst += blocks * step) {
            ml_conv_dsp_widen(src, row_run, dst, step, off2);
        }
    } else if (b1 - b0 == 4) {
        for (int32_t r = 0; r < rows; ++r, src += in_row, dst += step) {
            const int32_t v = ml_dsp_read_s8x4(src);
            dst[0] = ml_dsp_sxtab16(off2, v);
            dst[1] = ml_dsp_sxtab16_ror8(off2, v);
        }
    } else {
        /* the lanes outside the image hold the zero point; the others are filled byte by byte */
        const uint32_t inside = ((1u << (8 * (b1 - b0))) - 1u) << (8 * b0);  /* b1 - b0 < 4 */
        const uint32_t zp = ((uint32_t)(uint8_t)(-pr->input_offset) * 0x01010101u) & ~inside;
        if (d->in_w * in_c >= 4 && (b0 == 0 || b1 == 4)) {
            /* Clipped on one side of a row of 4 bytes or more: the word of the row's first (or
             * last) 4 bytes, shifted into the window's lanes, the vacated lanes taking the zero
             * point; 11 instructions a row where the byte loop took 20 (KWS's first and last
             * output columns). Only bytes of the row are read. */
            const int32_t back = b0 == 0 ? 4 - b1 : 0;
            const uint32_t rsh = 8u * (uint32_t)back, lsh = 8u * (uint32_t)b0;
            for (int32_t r = 0; r < rows; ++r, src += in_row, dst += step) {
                const uint32_t v = (uint32_t)ml_dsp_read_s8x4(src - back);
                const int32_t w = (int32_t)(((v >> rsh) << lsh) | zp);
                dst[0] = ml_dsp_sxtab16(off2, w);
                dst[1] = ml_dsp_sxtab16_ror8(off2, w);
            }
            ml_conv_dsp_zero(dst, (d->k_h - hi) * blocks, step);
            return;
        }
        for (int32_t r = 0; r < rows; ++r, src += in_row, dst += step) {
            uint32_t w = zp;
            for (int32_t i = b0; i < b1; ++i) {
                w |= (uint32_t)(uint8_t)src[i - b0] << (8 * i);
            }
            dst[0] = ml_dsp_sxtab16(off2, (int32_t)w);
            dst[1] = ml_dsp_sxtab16_ror8(off2, (int32_t)w);
        }
    }
    ml_conv_dsp_zero(dst, (d->k_h - hi) * blocks, step);  /* the rows below */
}
#endif

/* Column `col` (one pixel's block 0; blocks `step` words apart) := the window of output pixel
 * (oy, ox). */
static ML_NOINLINE void ml_conv_dsp_im2col(const ml_conv_dsp *d, const int8_t *in_batch,
                                           int32_t oy, int32_t ox, int32_t *col, int32_t step)
{
    const ml_conv_params *pr = d->params;
    const int32_t in_c = d->in_c;
    const int32_t iy0 = oy * pr->stride_h - pr->pad_h;
    const int32_t ix0 = ox * pr->stride_w - pr->pad_w;
    const int32_t row_run = d->k_w * in_c;
    const int inside_w = pr->dilation_w == 1 && ix0 >= 0 && ix0 + d->k_w <= d->in_w;
    if ((in_c & 3) == 0) {
        /* Every tap starts on a block boundary: rows outside the image are zeros, rows inside
         * widen straight from the input, clipped rows tap by tap. */
        for (int32_t ky = 0; ky < d->k_h; ++ky) {
            const int32_t iy = iy0 + ky * pr->dilation_h;
            int32_t *dst = col + ky * (row_run >> 2) * step;
            if (iy < 0 || iy >= d->in_h) {
                ml_conv_dsp_zero(dst, row_run >> 2, step);
                continue;
            }
            const int8_t *row = in_batch + iy * d->in_w * in_c;
            if (inside_w) {
                ml_conv_dsp_widen(row + ix0 * in_c, row_run, dst, step, d->off2);
                continue;
            }
            for (int32_t kx = 0; kx < d->k_w; ++kx) {
                const int32_t ix = ix0 + kx * pr->dilation_w;
                int32_t *tap = dst + kx * (in_c >> 2) * step;
                if (ix >= 0 && ix < d->in_w) {
                    ml_conv_dsp_widen(row + ix * in_c, in_c, tap, step, d->off2);
                } else {
                    ml_conv_dsp_zero(tap, in_c >> 2, step);
                }
            }
        }
        return;
    }
#if ML_CONV_BLOCK_ROWS
    if (pr->dilation_w == 1 && (row_run & 3) == 0 && (inside_w || row_run == 4)) {
        ml_conv_dsp_im2col_rows(d, in_batch, iy0, ix0, col, step);
        return;
    }
#endif
    if (d->k_h == 1 && d->k_w == 1) {
        if (iy0 < 0 || iy0 >= d->in_h || ix0 < 0 || ix0 >= d->in_w) {
            ml_conv_dsp_zero(col, d->blocks, step);
        } else {
            ml_conv_dsp_widen(in_batch + (iy0 * d->in_w + ix0) * in_c, in_c, col, step, d->off2);
        }
        return;
    }
    /* Gather the raw window, outside taps and the padding to whole blocks as the input zero
     * point (widened to 0), and widen it in one pass. The taps inside the image are the same
     * columns [lo, hi) in every row. */
    int32_t lo, hi;
    ml_conv_clip_window(ix0, pr->dilation_w, d->k_w, d->in_w, &lo, &hi);
    memset(d->stage, -pr->input_offset, (size_t)(4 * d->blocks));
    for (int32_t ky = 0; ky < d->k_h; ++ky) {
        const int32_t iy = iy0 + ky * pr->dilation_h;
        if (iy < 0 || iy >= d->in_h) {
            continue;
        }
        const int8_t *row = in_batch + iy * d->in_w * in_c;
        int8_t *s = d->stage + ky * row_run;
        if (pr->dilation_w == 1) {
            ml_conv_dsp_copy(s + lo * in_c, row + (ix0 + lo) * in_c, (hi - lo) * in_c);
            continue;
        }
        for (int32_t kx = lo; kx < hi; ++kx) {
            ml_conv_dsp_copy(s + kx * in_c, row + (ix0 + kx * pr->dilation_w) * in_c, in_c);
        }
    }
    ml_conv_dsp_widen(d->stage, 4 * d->blocks, col, step, d->off2);
}

#if ML_CONV_SEGMENTS
/*
 * Columns of n consecutive output pixels of one output row, slots 0..n-1 of a group (slot i at
 * col + 2 * i), for C_IN a multiple of 8, stride_w <= 2 and no horizontal dilation.
 *
 * Block (ky, kx, c4) of slot p reads input column ix0 + p * stride_w + kx, which is block
 * (ky, kx - stride_w, c4) of slot p + 1. So only the first stride_w tap columns are widened
 * from the input; every later one is a word copy of the tap column stride_w to its left, one
 * slot on, plus its last slot widened: for a 3x3 stride-1 layer a group of six widens 8 input
 * columns per window row where the pixel-by-pixel im2col widened 18.
 * A segment that fills its group (n = P) copies a tap column's blocks as one run: the words
 * that land in each block's last slot are widened over right after.
 *
 * One call of ml_conv_dsp_taps builds one window row (ky) of a segment from the record
 * ml_conv_taps, which the caller fills once per segment (the horizontal clipping is the same
 * for every window row) and points at each row in turn. Slots outside the image are zeros.
 */

void ml_conv_dsp_taps(const ml_conv_taps *t);

/* Slots of zeros at r6 (count at [r0, #at]): r2 = pairs of blocks, r12 = bytes between blocks,
 * r4 = from past a slot's last block to the next slot */
#define ML_CONV_TAPS_ZERO(at, L)                                                                \
    "ldr r7, [r0, #" at "]\n\t"                                                                  \
    "cbz r7, " L "9f\n\t"                                                                        \
    "mov r10, #0\n\t"                                                                            \
    "mov r11, #0\n"                                                                              \
    L "1:\n\t"                                                                                   \
    "mov r8, r2\n"                                                                               \
    L "2:\n\t"                                                                                   \
    "strd r10, r11, [r6]\n\t"                                                                    \
    "add r6, r6, r12\n\t"                                                                        \
    "strd r10, r11, [r6]\n\t"                                                                    \
    "add r6, r6, r12\n\t"                                                                        \
    "subs r8, r8, #1\n\t"                                                                        \
    "bne " L "2b\n\t"                                                                            \
    "sub r6, r6, r4\n\t"                                                                         \
    "subs r7, r7, #1\n\t"                                                                        \
    "bne " L "1b\n"                                                                              \
    L "9:\n\t"
/* One pair of blocks from the input at r5 (r1 = off2) to col, r12 bytes apart. */
#define ML_CONV_TAPS_PAIR(col)                                                                  \
    "ldr r9, [r5], #4\n\t"                                                                       \
    "sxtab16 r10, r1, r9\n\t"                                                                    \
    "sxtab16 r11, r1, r9, ror #8\n\t"                                                            \
    "strd r10, r11, [" col "]\n\t"                                                               \
    "add " col ", " col ", r12\n\t"                                                              \
    "ldr r9, [r5], #4\n\t"                                                                       \
    "sxtab16 r10, r1, r9\n\t"                                                                    \
    "sxtab16 r11, r1, r9, ror #8\n\t"                                                            \
    "strd r10, r11, [" col "]\n\t"                                                               \
    "add " col ", " col ", r12\n\t"

/* Registers: lr the record, r1 off2, r2 C_IN / 8, r12 bytes between blocks (8 * P), r6 the
 * current tap column's block 0. */
__asm__(ML_DSP_ASM_FUNCTION("ml_conv_dsp_taps")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "mov lr, r0\n\t"
        "ldrd r1, r2, [lr, #8]\n\t"
        "ldrd r3, r4, [lr, #16]\n\t"  /* rskip, cback */
        "ldr r6, [lr, #4]\n\t"
        "ldr r12, [lr, #28]\n\t"      /* cnt1 */
        "push {r12}\n\t"
        "ldr r12, [lr, #104]\n\t"
        "add r0, lr, #72\n"
        "1:\n\t" /* widened tap columns: zeros, the slots inside, zeros */
        ML_CONV_TAPS_ZERO("4", "3")
        "ldr r7, [r0, #8]\n\t"
        "cbz r7, 29f\n\t"
        "ldr r5, [r0, #0]\n\t"
        "ldr r9, [lr, #0]\n\t"
        "add r5, r5, r9\n"
        "21:\n\t"
        "mov r8, r2\n"
        "22:\n\t"
        ML_CONV_TAPS_PAIR("r6")
        "subs r8, r8, #1\n\t"
        "bne 22b\n\t"
        "add r5, r5, r3\n\t"
        "sub r6, r6, r4\n\t"
        "subs r7, r7, #1\n\t"
        "bne 21b\n"
        "29:\n\t"
        ML_CONV_TAPS_ZERO("12", "4")
        "ldr r9, [lr, #24]\n\t"
        "add r6, r6, r9\n\t"
        "adds r0, r0, #16\n\t"
        "ldr r9, [sp]\n\t"
        "subs r9, r9, #1\n\t"
        "str r9, [sp]\n\t"
        "bne 1b\n\t"
        "ldr r7, [lr, #32]\n\t" /* copied tap columns */
        "cmp r7, #0\n\t"
        "beq 9f\n\t"
        "str r7, [sp]\n\t"
        "ldr r0, [lr, #52]\n\t"
        "ldr r9, [lr, #0]\n\t"
        "add r0, r0, r9\n\t"
        "ldr r9, [lr, #68]\n\t"
        "push {r9}\n"
        "5:\n\t"
        "ldr r9, [lr, #44]\n\t"
        "cmp r9, #0\n\t"
        "beq 8f\n\t"
        "push {r0, r1, r2, r12}\n\t" /* eight registers for the copies */
        "ldr r4, [lr, #36]\n\t"
        "sub r5, r6, r4\n\t"
        "mov r3, r6\n"
        "6:\n\t"
        "ldr r4, [lr, #40]\n\t"
        "subs r4, r4, #8\n\t"
        "blt 62f\n"
        "61:\n\t"
        "ldmia r5!, {r0, r1, r2, r7, r8, r10, r11, r12}\n\t"
        "stmia r3!, {r0, r1, r2, r7, r8, r10, r11, r12}\n\t"
        "subs r4, r4, #8\n\t"
        "bge 61b\n"
        "62:\n\t"
        "lsls r4, r4, #30\n\t" /* bit 2 of what is left to C, bit 1 to N */
        "bcc 63f\n\t"
        "ldmia r5!, {r7, r8, r10, r11}\n\t"
        "stmia r3!, {r7, r8, r10, r11}\n"
        "63:\n\t"
        "bpl 64f\n\t"
        "ldrd r7, r8, [r5], #8\n\t"
        "strd r7, r8, [r3], #8\n"
        "64:\n\t"
        "subs r9, r9, #1\n\t"
        "beq 65f\n\t"
        "ldr r4, [lr, #48]\n\t"
        "add r5, r5, r4\n\t"
        "add r3, r3, r4\n\t"
        "b 6b\n"
        "65:\n\t"
        "pop {r0, r1, r2, r12}\n"
        "8:\n\t" /* the last slot: widened, or zeros outside the image */
        "ldr r4, [lr, #64]\n\t"
        "add r3, r6, r4\n\t"
        "mov r8, r2\n\t"
        "ldr r9, [sp]\n\t"
        "lsrs r9, r9, #1\n\t"
        "str r9, [sp]\n\t"
        "bcc 85f\n\t"
        "mov r5, r0\n"
        "81:\n\t"
        ML_CONV_TAPS_PAIR("r3")
        "subs r8, r8, #1\n\t"
        "bne 81b\n\t"
        "b 86f\n"
        "85:\n\t"
        "mov r10, #0\n\t"
        "mov r11, #0\n"
        "851:\n\t"
        "strd r10, r11, [r3]\n\t"
        "add r3, r3, r12\n\t"
        "strd r10, r11, [r3]\n\t"
        "add r3, r3, r12\n\t"
        "subs r8, r8, #1\n\t"
        "bne 851b\n"
        "86:\n\t"
        "ldr r9, [lr, #56]\n\t"
        "add r0, r0, r9\n\t"
        "ldr r9, [lr, #60]\n\t"
        "add r6, r6, r9\n\t"
        "ldr r9, [sp, #4]\n\t"
        "subs r9, r9, #1\n\t"
        "str r9, [sp, #4]\n\t"
        "bne 5b\n\t"
        "add sp, sp, #4\n"
        "9:\n\t"
        "add sp, sp, #4\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_conv_dsp_taps, .-ml_conv_dsp_taps");

/* The segment of n pixels from output pixel (oy, ox) into slots 0..n-1 at col (see above). */
static ML_CONV_SETUP void ml_conv_dsp_segment(ml_conv_dsp *d, const int8_t *in_batch,
                                              int32_t oy, int32_t ox, int32_t n, int32_t *col,
                                              int32_t step)
{
    const ml_conv_params *pr = d->params;
    ml_conv_taps *t = &d->taps;
    const int32_t sw = pr->stride_w;
    const int32_t c = d->in_c;
    const int32_t c4 = c >> 2;
    const int full = 2 * n == step;
    t->col_next = t->kxb - 8 * n;
    t->mwords = full ? c4 * step - 2 : 2 * (n - 1);
    t->mruns = full ? 1 : n > 1 ? c4 : 0;
    t->mgap = 4 * step - 8 * (n - 1);
    t->last_at = 8 * (n - 1);
    const int32_t ix0 = ox * sw - pr->pad_w;
    const int32_t x_last = ix0 + (n - 1) * sw + t->cnt1;
    t->last_off = x_last * c;
    /* copied tap column j's last slot reads input column x_last + j */
    int32_t lo, hi;
    ml_conv_clip_window(x_last, 1, t->cnt2, d->in_w, &lo, &hi);
    t->last_in = (1 << hi) - (1 << lo);
    for (int32_t kx = 0; kx < t->cnt1; ++kx) {
        /* slot p reads input column ix0 + kx + p * sw */
        ml_conv_clip_window(ix0 + kx, sw, n, d->in_w, &lo, &hi);
        if (lo > n) {  /* the tap column lies wholly left of the image: every slot is zeros (not
                          lo of them, and -1 after: the routine would run past the columns) */
            lo = hi = n;
        }
        t->wide[kx][0] = (ix0 + kx + lo * sw) * c;
        t->wide[kx][1] = lo;
        t->wide[kx][2] = hi - lo;
        t->wide[kx][3] = n - hi;
    }
    const int32_t iy0 = oy * pr->stride_h - pr->pad_h;
    const int32_t row_words = d->k_w * c4 * step;
    for (int32_t ky = 0; ky < d->k_h; ++ky, col += row_words) {
        const int32_t iy = iy0 + ky * pr->dilation_h;
        if (iy < 0 || iy >= d->in_h) {
            if (full) {
                memset(col, 0, (size_t)row_words * sizeof *col);  /* the whole window row */
                continue;
            }
            for (int32_t p = 0; p < n; ++p) {
                ml_conv_dsp_zero(col + 2 * p, d->k_w * c4, step);
            }
            continue;
        }
        t->row = in_batch + iy * d->in_w * c;
        t->dk = col;
        ml_conv_dsp_taps(t);
    }
}

/* The fields of d->taps that hold for the whole call. */
static ML_CONV_SETUP void ml_conv_dsp_taps_init(ml_conv_dsp *d, int32_t step)
{
    ml_conv_taps *t = &d->taps;
    const int32_t sw = d->params->stride_w;
    const int32_t c = d->in_c;
    t->off2 = d->off2;
    t->n2 = c >> 3;
    t->rskip = sw * c - c;
    t->blk = step * 4;
    t->kxb = (c >> 2) * t->blk;
    t->cback = t->kxb - 8;
    t->cnt1 = sw < d->k_w ? sw : d->k_w;
    t->cnt2 = d->k_w - t->cnt1;
    t->back = sw * t->kxb - 8;
    t->c = c;
}
#endif /* ML_CONV_SEGMENTS */

/* The columns of pixels first .. first + np - 1 (in slots 0..np-1), by segments of pixels in
 * one output row: ml_conv_dsp_segment where it applies, else pixel by pixel, 3x3x3 windows
 * inside the image straight from the input. */
static ML_CONV_SETUP void ml_conv_dsp_columns(ml_conv_dsp *d, const int8_t *in_batch,
                                              int32_t out_w, int32_t first, int32_t np,
                                              int32_t step)
{
    int32_t oy = first / out_w;
    int32_t ox = first - oy * out_w;
#if ML_CONV_ROWS
    const ml_conv_params *p = d->params;
#endif
#if ML_CONV_SEGMENTS
    const int by_rows = (d->in_c & 7) == 0 && p->dilation_w == 1 && p->stride_w <= 2;
    if (by_rows && d->taps.blk != 4 * step) {
        ml_conv_dsp_taps_init(d, step);
    }
#endif
#if ML_CONV_WINDOWS27
    const int k27 = ML_SPECIALISE && d->k_w * d->in_c == 9 && d->k_h == 3 && p->dilation_w == 1;
    const int32_t dy = p->dilation_h * d->in_w * d->in_c;
#endif
    int32_t *col = d->cols;
    for (int32_t i = 0; i < np; ox = 0, ++oy) {
        const int32_t n = np - i < out_w - ox ? np - i : out_w - ox;
        i += n;
#if ML_CONV_SEGMENTS
        if (by_rows) {
            ml_conv_dsp_segment(d, in_batch, oy, ox, n, col, step);
            col += 2 * n;
            continue;
        }
#endif
#if ML_CONV_WINDOWS27
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        const int rows_in = k27 && iy0 >= 0 && iy0 + 2 * p->dilation_h < d->in_h;
        int32_t ix0 = ox * p->stride_w - p->pad_w;
#endif
        for (const int32_t end = ox + n; ox < end;) {
#if ML_CONV_WINDOWS27
            if (rows_in && ix0 >= 0 && ix0 + d->k_w <= d->in_w) {
                /* this window and the next ones inside the image, at once */
                int32_t run = (d->in_w - d->k_w - ix0) / p->stride_w + 1;
                run = run < end - ox ? run : end - ox;
                const int32_t args[4] = {dy, p->stride_w * d->in_c, 4 * step, d->off2};
                ml_conv_dsp_im2col27(in_batch + (iy0 * d->in_w + ix0) * d->in_c, args, run, col);
                ox += run;
                ix0 += run * p->stride_w;
                col += 2 * run;
                continue;
            }
            ix0 += p->stride_w;
#endif
            ml_conv_dsp_im2col(d, in_batch, oy, ox, col, step);
            ++ox;
            col += 2;
        }
    }
}

#if ML_CONV_ASM
/* ---- Layers with the full clamp: the assembly routines ---- */

/*
 * One output channel's constants, built once per call (ml_conv_dsp_records), four words. With
 * t = acc + bias (int32, wrapping like TFLM's sum), P = t * multiplier and n = -shift, TFLM's
 * requantization is floor((x + 2^(n-1) - [x < 0]) / 2^n) with x = floor((P + 2^30) / 2^31)
 * (see ml_dsp_requantize), i.e. floor((P + 2^30 + (2^(n-1) - s) * 2^31) / 2^(31+n)) with
 * s = [t < 0] (which differs from [x < 0] only where x = 0, and then both give 0).
 *  - fast, n in [1, 22] and |t| < 2^30: {2 * bias, multiplier, (2 * out_off + 1) << (n - 1), n}:
 *    ml_dsp_requantize with the output offset riding in SMMLAR's accumulator
 *    (ml_dsp_round_with_offset), five instructions (four in the ReLU form: ML_DSP_RELU_FORM);
 *  - wide, n in [2, 31], any t: {bias, multiplier, 2^(n-2), ML_CONV_REC_WIDE + n - 1}: SMLAL
 *    of t * multiplier onto the 64-bit 2^30 + (2^(n-1) - s) * 2^31, whose high word is
 *    2^(n-2) - s and low word 2^30 + s * 2^31, then the high word >> (n - 1) (the low word
 *    only carries), and the offset added; nine instructions. It serves the channels whose
 *    accumulator may reach 2^30 (a large bias) and the smallest scales (n > 22), where the
 *    folded offset would overflow SMMLAR's high word;
 *  - anything else: {bias, multiplier, shift, ML_CONV_REC_GENERAL}, requantized in C.
 */
#define ML_CONV_REC_WIDE 32
#define ML_CONV_REC_GENERAL 64
/* The record kinds the routines carry code for: the generator leaves out a kind no channel of
 * the model takes (ml_config.h: ML_CONV2D_S8_NO_WIDE_RECORDS, ML_CONV2D_S8_NO_GENERAL_RECORDS;
 * KWS and ResNet-8 have only fast channels), and a channel of a missing kind makes the layer
 * return ML_NO_IMPL (ml_conv_dsp_records) rather than run code that is not there. */
#if defined(ML_CONV2D_S8_NO_WIDE_RECORDS)
#define ML_CONV_WIDE_RECORDS 0
#else
#define ML_CONV_WIDE_RECORDS 1
#endif
#if defined(ML_CONV2D_S8_NO_GENERAL_RECORDS)
#define ML_CONV_GENERAL_RECORDS 0
#else
#define ML_CONV_GENERAL_RECORDS 1
#endif
#if ML_CONV_WIDE_RECORDS || ML_CONV_GENERAL_RECORDS
/* per channel: a fast record (n < 23) runs on, any other goes to the routine's slow path */
#define ML_CONV_TO_SLOW(label) "cmp r11, #23\n\tbhs.w " label "\n\t"
#else
#define ML_CONV_TO_SLOW(label) ""
#endif
#if ML_CONV_WIDE_RECORDS && ML_CONV_GENERAL_RECORDS
#define ML_CONV_TO_GENERAL(label) "cmp r11, #64\n\tbhs.w " label "\n\t"
#else
#define ML_CONV_TO_GENERAL(label) ""  /* the slow path holds one kind */
#endif
#if ML_CONV_WIDE_RECORDS
#define ML_CONV_IF_WIDE(code) code
#else
#define ML_CONV_IF_WIDE(code) ""
#endif
#if ML_CONV_GENERAL_RECORDS
#define ML_CONV_IF_GENERAL(code) code
#else
#define ML_CONV_IF_GENERAL(code) ""
#endif
#define ML_CONV_ALL_RECORDS (ML_CONV_WIDE_RECORDS && ML_CONV_GENERAL_RECORDS)
#if ML_CONV_WIDE_RECORDS || ML_CONV_GENERAL_RECORDS
#define ML_CONV_IF_SLOW(code) code
#else
#define ML_CONV_IF_SLOW(code) ""
#endif

/* One call of an assembly routine: every channel of [rec, rec_end) for one group of P pixels.
 * The routine copies it into its frame, where the offsets in the comments are from sp. */
typedef struct {
    const int32_t *cols;      /* 0: the group's columns */
    const int32_t *cols_end;  /* 4: their end */
    const int8_t *filter;     /* 8: the first channel's weights */
    const int32_t *rec;       /* 12: the first channel's record */
    const int32_t *rec_end;   /* 16: past the last channel's record */
    uintptr_t out;            /* 20: pixel 0's output of the first channel (ml_conv_dsp_pairs);
                                 the six- and four-pixel routines take ml_conv_dsp_out_key */
    int32_t out_stride;       /* 24: bytes between two pixels' outputs (C_OUT) */
    uintptr_t entry;          /* 28: the address where the unrolled loop starts for the blocks
                                 after the first (ml_conv_dsp_entry of slot
                                 (6 - (blocks - 1) % 6) % 6, or 6 for none) */
    int32_t w_back;           /* 32: 4 * blocks - K, what each channel's word reads overrun */
    int32_t out_off;          /* 36: output zero point */
    int32_t px;               /* 40: P */
    uintptr_t entry4;         /* 44: the four-pixel routine's entry (`entry` is the six-pixel
                                 routine's and the two-channel routine's) */
} ml_conv_dsp_job;

typedef char ml_conv_dsp_job_layout[offsetof(ml_conv_dsp_job, out_off) == 36 &&
                                            sizeof(ml_conv_dsp_job) == 48 ? 1 : -1];

void ml_conv_dsp_p6(const ml_conv_dsp_job *job);
void ml_conv_dsp_p4(const ml_conv_dsp_job *job);
extern const int16_t ml_conv_dsp_p6_tab[7], ml_conv_dsp_p4_tab[7];

/* The address of entry slot `slot` of `routine` from its table (ML_CONV_TAB), Thumb bit set,
 * for its LDR PC. */
static uintptr_t ml_conv_dsp_entry(void (*routine)(const ml_conv_dsp_job *), const int16_t *tab,
                                   int32_t slot)
{
    return (((uintptr_t)routine & ~(uintptr_t)1u) + (uintptr_t)(int32_t)tab[slot]) | 1u;
}

/* job->out for the six- and four-pixel routines is out - ml_conv_dsp_out_key(rec): a channel's
 * output is then one ADD of its record pointer past the record (>> 4: records are 16 bytes,
 * outputs 1 byte apart), so the routine keeps no output pointer of its own. Wraps as unsigned. */
static uintptr_t ml_conv_dsp_out_key(const int32_t *rec)
{
    return ((uintptr_t)rec >> 4) + 1u;
}
#if ML_CONV_GENERAL_RECORDS
void ml_conv_dsp_general(const int32_t *acc, int8_t *out, const int32_t *rec,
                         const ml_conv_dsp_job *job);

/* The reference requantization of one channel's P accumulators (the records' third kind);
 * called from the assembly routines. */
__attribute__((used)) void ml_conv_dsp_general(const int32_t *acc, int8_t *out,
                                               const int32_t *rec, const ml_conv_dsp_job *job)
{
    for (int32_t p = 0; p < job->px; ++p) {
        const int32_t sum = (int32_t)((uint32_t)acc[p] + (uint32_t)rec[0]);  /* wraps as TFLM's */
        const int32_t v = ml_nn_requantize(sum, rec[1], rec[2]) + job->out_off;
        out[p * job->out_stride] = ml_clamp_s8(v, -128, 127);
    }
}
#endif

/*
 * The routines, for P = 6 and 4. Registers: r0-r5 accumulators (pixels 0-5), r6 the column
 * pointer, r7 the weight pointer, r8/r9 a weight word split by SXTB16 into {w0, w2} and
 * {w1, w3}, r10-r12 and lr the LDM of two pixels' column words. Per channel: the first block
 * with SMUAD (which starts the sums at zero; the bias enters the requantization), the rest
 * through six unrolled blocks entered at job->entry (TBH), then the record's requantization,
 * SSAT and byte stores C_OUT apart. Every address in the loop is a post-increment, so any entry
 * slot reads the blocks in order.
 */
#define ML_CONV_LDM "ldmia r6!, {r10, r11, r12, lr}\n\t"
#define ML_CONV_WORD                                                                            \
    "ldr r8, [r7], #4\n\t" ML_CONV_LDM                                                           \
    "sxtb16 r9, r8, ror #8\n\t"                                                                  \
    "sxtb16 r8, r8\n\t"
#define ML_CONV_MAC2(op, a, b)                                                                  \
    #op " " a ", r10, r8" ML_CONV_ACC_##op(a) "\n\t"                                             \
    "smlad " a ", r11, r9, " a "\n\t"                                                            \
    #op " " b ", r12, r8" ML_CONV_ACC_##op(b) "\n\t"                                             \
    "smlad " b ", lr, r9, " b "\n\t"
#define ML_CONV_ACC_smuad(a) ""
#define ML_CONV_ACC_smlad(a) ", " a

#define ML_CONV_BLOCK6(op)                                                                      \
    ML_CONV_WORD ML_CONV_MAC2(op, "r0", "r1") ML_CONV_LDM ML_CONV_MAC2(op, "r2", "r3")           \
    ML_CONV_LDM ML_CONV_MAC2(op, "r4", "r5")
#define ML_CONV_BLOCK4(op)                                                                      \
    ML_CONV_WORD ML_CONV_MAC2(op, "r0", "r1") ML_CONV_LDM ML_CONV_MAC2(op, "r2", "r3")

/* Fast records: requantize accumulator a into r6 (r8 = 2 * bias, r9 = multiplier, r10 = the
 * rounding term with the output offset, r11 = n; ml_dsp_requantize); a is free afterwards. */
#define ML_CONV_FAST(a)                                                                         \
    "add r6, r8, " a ", lsl #1\n\t"                                                              \
    ML_DSP_ASM_ROUND(a, "r10", "r6")                                                             \
    "smmlar r6, r6, r9, " ML_DSP_ASM_ROUNDED(a, "r10") "\n\t"                                     \
    "asr r6, r6, r11\n\t"                                                                        \
    "ssat r6, #8, r6\n\t"

/* Byte stores of pixels 2i and 2i + 1 (r12 = pixel 2i's output, lr = C_OUT). */
#define ML_CONV_ST0 "strb r6, [r12]\n\t"
#define ML_CONV_ST1 "strb r6, [r12, lr]\n\t"
#define ML_CONV_NEXT2 "add r12, r12, lr, lsl #1\n\t"

#define ML_CONV_FAST6                                                                           \
    ML_CONV_FAST("r0") ML_CONV_ST0 ML_CONV_FAST("r1") ML_CONV_ST1 ML_CONV_NEXT2                  \
    ML_CONV_FAST("r2") ML_CONV_ST0 ML_CONV_FAST("r3") ML_CONV_ST1 ML_CONV_NEXT2                  \
    ML_CONV_FAST("r4") ML_CONV_ST0 ML_CONV_FAST("r5") ML_CONV_ST1
#define ML_CONV_FAST4                                                                           \
    ML_CONV_FAST("r0") ML_CONV_ST0 ML_CONV_FAST("r1") ML_CONV_ST1 ML_CONV_NEXT2                  \
    ML_CONV_FAST("r2") ML_CONV_ST0 ML_CONV_FAST("r3") ML_CONV_ST1

/* Wide records: accumulator a := its requantization before the offset (r8 = bias,
 * r9 = multiplier, r10 = 2^(n-2), r11 = n - 1; r6, r12 and lr are scratch). */
#define ML_CONV_WIDE(a)                                                                         \
    "add r6, " a ", r8\n\t"                                                                      \
    "asr lr, r6, #31\n\t"                                                                        \
    "add " a ", r10, lr\n\t"                                                                     \
    "lsl r12, lr, #31\n\t"                                                                       \
    "add r12, r12, #0x40000000\n\t"                                                              \
    "smlal r12, " a ", r6, r9\n\t"                                                               \
    "asr " a ", " a ", r11\n\t"
/* ... then offset (r6), SSAT and the byte store of pixel 2i (0) or 2i + 1 (1). */
#define ML_CONV_WST(a, at)                                                                      \
    "add " a ", " a ", r6\n\t"                                                                   \
    "ssat " a ", #8, " a "\n\t"                                                                  \
    "strb " a ", " at "\n\t"
#define ML_CONV_WIDE_TAIL                                                                       \
    ML_CONV_OUT_PTR                                                                              \
    "ldr r6, [sp, #36]\n\t"                                                                      \
    "ldr lr, [sp, #24]\n\t"
#define ML_CONV_WIDE6                                                                           \
    ML_CONV_WIDE("r0") ML_CONV_WIDE("r1") ML_CONV_WIDE("r2") ML_CONV_WIDE("r3")                  \
    ML_CONV_WIDE("r4") ML_CONV_WIDE("r5") ML_CONV_WIDE_TAIL                                      \
    ML_CONV_WST("r0", "[r12]") ML_CONV_WST("r1", "[r12, lr]") ML_CONV_NEXT2                      \
    ML_CONV_WST("r2", "[r12]") ML_CONV_WST("r3", "[r12, lr]") ML_CONV_NEXT2                      \
    ML_CONV_WST("r4", "[r12]") ML_CONV_WST("r5", "[r12, lr]")
#define ML_CONV_WIDE4                                                                           \
    ML_CONV_WIDE("r0") ML_CONV_WIDE("r1") ML_CONV_WIDE("r2") ML_CONV_WIDE("r3")                  \
    ML_CONV_WIDE_TAIL                                                                            \
    ML_CONV_WST("r0", "[r12]") ML_CONV_WST("r1", "[r12, lr]") ML_CONV_NEXT2                      \
    ML_CONV_WST("r2", "[r12]") ML_CONV_WST("r3", "[r12, lr]")
/* The unrolled loop's entry slots (0-5, 6 past the loop) of routine R (local labels L), as byte
 * offsets from R's start in the table R_tab (read-only data, so that no symbol splits the code):
 * ml_conv_dsp_entry turns a slot into the address once per call, and each channel enters with
 * one LDR PC from the frame (at least 5 cycles on Cortex-M4 by its TRM, where a TBH and the load
 * of its index take at least 8; targets/stack.py checks the table's targets lie inside R). Six blocks a turn: the loop's
 * end test (a load, a compare, a taken branch, 6 cycles) is paid once per 6 blocks instead of
 * 4, which saves 1.1% of ResNet-8's instructions and 0.5% of KWS's and VWW's on Cortex-M4.
 * Eight blocks saved twice that, but the six-pixel routine's hot code then passes 1 KB, and on
 * the STM32L4R5 model its instruction cache (1 KB) thrashed: VWW +5.7% cycles with flash. */
#define ML_CONV_TAB(R, L)                                                                        \
    ".pushsection .rodata\n\t"                                                                   \
    ".balign 2\n\t"                                                                              \
    ".global " R "_tab\n\t"                                                                      \
    ".type " R "_tab, %object\n\t"                                                               \
    ".size " R "_tab, 14\n"                                                                      \
    R "_tab:\n\t"                                                                                 \
    ".hword " L "_b0 - " R "\n\t"                                                                 \
    ".hword " L "_b1 - " R "\n\t"                                                                 \
    ".hword " L "_b2 - " R "\n\t"                                                                 \
    ".hword " L "_b3 - " R "\n\t"                                                                 \
    ".hword " L "_b4 - " R "\n\t"                                                                 \
    ".hword " L "_b5 - " R "\n\t"                                                                 \
    ".hword " L "_done - " R "\n\t"                                                               \
    ".popsection\n\t"
/* r12 := this channel's pixel 0 output, from its record pointer past the record (stored at
 * sp + 12) and job->out = out - ml_conv_dsp_out_key(rec): no output pointer is kept per channel. */
#define ML_CONV_OUT_PTR                                                                          \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    "ldr r12, [sp, #20]\n\t"                                                                     \
    "add r12, r12, r6, lsr #4\n\t"
/*
 * Per channel after its blocks: the weights back by job->w_back, the record (a fast one tested
 * first), then the loop's end test, whose flags ride through the fast requantization (no
 * instruction of it sets flags) to the branch back. The wide and general records return to
 * _next, which tests again (as does the last channel, falling through, once per call). Only the
 * code a channel runs lies between _ch and the wide path's end, the general path after it: a
 * layer with fast and wide channels (VWW's last ones) runs all of that per channel,
 * 1,000 bytes, and the STM32L4R5's instruction cache holds 1,024 (a 32-byte line more cost VWW
 * 1.4% of its cycles with flash in the cache model).
 */
/* The next channel (pair) from _next: back to _ch while records are left, else return. */
#define ML_CONV_NEXT_CHANNEL(name)                                                              \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    "ldr r8, [sp, #16]\n\t"                                                                      \
    "cmp r6, r8\n\t"                                                                             \
    "bne.w .L" name "_ch\n\t"                                                                    \
    "add sp, sp, #48\n\t"                                                                        \
    "pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
/* A channel's blocks (weights at r7, columns from job->cols): the first with SMUAD, then one
 * LDR PC to the entry slot (frame offset ENTRY) of the six unrolled ones. */
#define ML_CONV_BLOCKS(name, ENTRY, BLOCK)                                                      \
    ".L" name "_ch:\n\t"                                                                         \
    "ldr r6, [sp, #0]\n\t"                                                                       \
    BLOCK(smuad)                                                                               \
    "ldr.w pc, [sp, #" ENTRY "]\n"                                                               \
    ".L" name "_b0:\n\t" BLOCK(smlad)                                                          \
    ".L" name "_b1:\n\t" BLOCK(smlad)                                                          \
    ".L" name "_b2:\n\t" BLOCK(smlad)                                                          \
    ".L" name "_b3:\n\t" BLOCK(smlad)                                                          \
    ".L" name "_b4:\n\t" BLOCK(smlad)                                                          \
    ".L" name "_b5:\n\t" BLOCK(smlad)
#define ML_CONV_ROUTINE(name, ENTRY, BLOCK, FAST, WIDE, START, END)                            \
    ML_DSP_ASM_FUNCTION(name)                                                                    \
    "push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                                        \
    "ldmia r0, {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12}\n\t"                          \
    "push {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12}\n\t"                               \
    "mov r7, r3\n\t" START ML_CONV_BLOCKS(name, ENTRY, BLOCK) END                               \
    "bne.w .L" name "_b0\n"                                                                      \
    ".L" name "_done:\n\t"                                                                       \
    "ldr r10, [sp, #32]\n\t"                                                                     \
    "sub r7, r7, r10\n\t"                                                                        \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    "ldmia r6!, {r8, r9, r10, r11}\n\t"                                                          \
    "str r6, [sp, #12]\n\t"                                                                      \
    ML_CONV_TO_SLOW(".L" name "_slow")                                                           \
    "ldrd r12, lr, [sp, #16]\n\t"                                                                \
    "cmp r6, r12\n\t"                                                                            \
    "add r12, lr, r6, lsr #4\n\t"                                                                \
    "ldr lr, [sp, #24]\n\t"                                                                      \
    FAST                                                                                         \
    "bne.w .L" name "_ch\n"                                                                       \
    ".L" name "_next:\n\t"                                                                       \
    ML_CONV_NEXT_CHANNEL(name)                                                                   \
    ML_CONV_IF_SLOW(".L" name "_slow:\n\t")                                                      \
    ML_CONV_TO_GENERAL(".L" name "_general")                                                     \
    ML_CONV_IF_WIDE("sub r11, r11, #32\n\t" WIDE "b.w .L" name "_next\n")                        \
    ML_CONV_IF_GENERAL(".L" name "_general:\n\t"                                                  \
    ML_CONV_OUT_PTR                                                                              \
    "push {r0, r1, r2, r3, r4, r5}\n\t"                                                          \
    "sub sp, sp, #8\n\t"                                                                         \
    "add r0, sp, #8\n\t"                                                                         \
    "mov r1, r12\n\t"                                                                            \
    "ldr r2, [sp, #44]\n\t"                                                                      \
    "sub r2, r2, #16\n\t"                                                                        \
    "add r3, sp, #32\n\t"                                                                        \
    "bl ml_conv_dsp_general\n\t"                                                            \
    "add sp, sp, #32\n\t"                                                                        \
    "b.w .L" name "_next\n")                                                                     \
    ML_CONV_TAB(name, ".L" name)                                                                 \
    ".size " name ", .-" name "\n\t"

#if ML_CONV_P6
__asm__(ML_CONV_ROUTINE("ml_conv_dsp_p6", "28", ML_CONV_BLOCK6, ML_CONV_FAST6, ML_CONV_WIDE6, "",
                        "ldr r10, [sp, #4]\n\tcmp r6, r10\n\t"));
#endif
/* P = 4 leaves r4 free for the columns' end (C keeps it across the general path) */
__asm__(ML_CONV_ROUTINE("ml_conv_dsp_p4", "44", ML_CONV_BLOCK4, ML_CONV_FAST4, ML_CONV_WIDE4,
                        "mov r4, r2\n\t", "cmp r6, r4\n\t"));

#if ML_CONV_PAIRS || ML_CONV_PAIRS8
/*
 * Filters staged widened (ml_conv2d_s8_stage with widen = 1): two output channels times three
 * pixels. The weights are int16 already, so a block of 4 values of a channel pair is one LDM of
 * four words, {w0, w2} and {w1, w3} of each channel, and each pixel's two column words (LDRD)
 * serve both channels: 16 instructions and 26 cycles per 24 MACs, where the six-pixel routine
 * reloads every column word per channel (18 and 31). It needs the filter in SRAM: read from
 * flash it would fetch four times the bytes per MAC of the six-pixel routine. The columns are
 * those of six pixels (12 words per block), built once; the routine runs on pixels 0-2, then on
 * 3-5 (job->cols 6 words on), so the column builders' code runs as often as for ml_conv_dsp_p6.
 * Registers: r0-r2 channel 0's pixels 0-2, r3-r5 channel 1's, r6 the columns, r7 the weights,
 * r8-r11 the block's widened weights, r12 and lr one pixel's column words. Per channel pair: the
 * first block with SMUAD, the rest through six unrolled blocks entered at job->entry, then
 * each channel's record: fast, wide or (in C) general, as in ml_conv_dsp_p6.
 */
#define ML_CONV_PAIR_MAC(op, a, b)                                                              \
    #op " " a ", r12, r8" ML_CONV_ACC_##op(a) "\n\t"                                             \
    "smlad " a ", lr, r9, " a "\n\t"                                                             \
    #op " " b ", r12, r10" ML_CONV_ACC_##op(b) "\n\t"                                            \
    "smlad " b ", lr, r11, " b "\n\t"
#define ML_CONV_PAIR_BLOCK(op)                                                                  \
    "ldmia r7!, {r8, r9, r10, r11}\n\t"                                                          \
    "ldrd r12, lr, [r6], #8\n\t" ML_CONV_PAIR_MAC(op, "r0", "r3")                               \
    "ldrd r12, lr, [r6], #8\n\t" ML_CONV_PAIR_MAC(op, "r1", "r4")                               \
    "ldrd r12, lr, [r6], #32\n\t" ML_CONV_PAIR_MAC(op, "r2", "r5")
/* One channel's record into r8-r11 from r6, the record pointer, which stays in r6 across the
 * pair (the fast requantization's temporaries are lr and r0), then to the slow path unless fast. */
#define ML_CONV_PAIR_REC(slow)                                                                  \
    "ldmia r6!, {r8, r9, r10, r11}\n\t"                                                          \
    ML_CONV_TO_SLOW(slow)
/* Fast records: each result into its accumulator's register (the temporary t: lr for the first
 * channel, r0 for the second, whose results are stored by then, so lr keeps C_OUT), then the
 * three stores in a row (neighbouring stores pipeline), pixel 0's last with a post-increment: r12
 * then points at the next channel's pixel 0, so no output pointer is reloaded within the pair. */
#define ML_CONV_FAST_IN(a, t)                                                                   \
    "add " t ", r8, " a ", lsl #1\n\t"                                                           \
    ML_DSP_ASM_ROUND(a, "r10", t)                                                                \
    "smmlar " a ", " t ", r9, " ML_DSP_ASM_ROUNDED(a, "r10") "\n\t"                             \
    "asr " a ", " a ", r11\n\t"                                                                   \
    "ssat " a ", #8, " a "\n\t"
#define ML_CONV_PAIR_STORES(a, b, c)                                                            \
    "strb " b ", [r12, lr]\n\t"                                                                  \
    "strb " c ", [r12, lr, lsl #1]\n\t"                                                          \
    "strb " a ", [r12], #1\n\t"
/* Wide records (r11 = n - 1 after the subtraction); `out` sets r12 to the pixel 0 output. */
#define ML_CONV_PAIR_WIDE(a, b, c, out)                                                         \
    "sub r11, r11, #32\n\t"                                                                      \
    ML_CONV_WIDE(a) ML_CONV_WIDE(b) ML_CONV_WIDE(c)                                              \
    "ldr r6, [sp, #36]\n\t" out "ldr lr, [sp, #24]\n\t"                                          \
    ML_CONV_WST(a, "[r12]") ML_CONV_WST(b, "[r12, lr]") ML_CONV_NEXT2 ML_CONV_WST(c, "[r12]")
/* General records: the channel's three sums (saved at sp + acc) through ml_conv_dsp_general. */
#define ML_CONV_PAIR_GENERAL(acc)                                                               \
    "push {r0, r1, r2, r3, r4, r5}\n\t"                                                          \
    "sub sp, sp, #8\n\t"                                                                         \
    "add r0, sp, #" acc "\n\t"                                                                   \
    "mov r1, r12\n\t"                                                                            \
    "ldr r2, [sp, #44]\n\t"                                                                      \
    "sub r2, r2, #16\n\t"                                                                        \
    "add r3, sp, #32\n\t"                                                                        \
    "bl ml_conv_dsp_general\n\t"                                                                 \
    "add sp, sp, #8\n\t"                                                                         \
    "pop {r0, r1, r2, r3, r4, r5}\n\t"
/* Channel k's slow path (label _slow<k>): its record pointer back to the frame, then the wide or
 * the general requantization of its sums a, b, c (general: saved at sp + acc), as compiled in;
 * the wide one goes on at `resume`, the general one falls through to it. */
#define ML_CONV_PAIR_SLOW(name, k, a, b, c, OUT, acc, resume)                                   \
    ".L" name "_slow" k ":\n\t"                                                                   \
    "str r6, [sp, #12]\n\t"                                                                      \
    ML_CONV_TO_GENERAL(".L" name "_general" k)                                                   \
    ML_CONV_IF_WIDE(ML_CONV_PAIR_WIDE(a, b, c, OUT) "b.w .L" name resume "\n")                   \
    ML_CONV_IF_GENERAL(".L" name "_general" k ":\n\t" OUT ML_CONV_PAIR_GENERAL(acc))
#define ML_CONV_OUT0 "ldr r12, [sp, #20]\n\t"
#define ML_CONV_OUT1 "ldr r12, [sp, #20]\n\tadd r12, r12, #1\n\t"

/* The same over int8 filters laid out in channel pairs by the generator (ML_CONV2D_S8_PAIRED8):
 * per block channel 0's word, then channel 1's, split by SXTB16 as in the six-pixel routine. */
#define ML_CONV_PAIR8_BLOCK(op)                                                                 \
    "ldrd r8, r10, [r7], #8\n\t"                                                                 \
    "sxtb16 r9, r8, ror #8\n\t"                                                                  \
    "sxtb16 r8, r8\n\t"                                                                          \
    "sxtb16 r11, r10, ror #8\n\t"                                                                \
    "sxtb16 r10, r10\n\t"                                                                        \
    "ldrd r12, lr, [r6], #8\n\t" ML_CONV_PAIR_MAC(op, "r0", "r3")                               \
    "ldrd r12, lr, [r6], #8\n\t" ML_CONV_PAIR_MAC(op, "r1", "r4")                               \
    "ldrd r12, lr, [r6], #32\n\t" ML_CONV_PAIR_MAC(op, "r2", "r5")

/* After the blocks, r6 is the record pointer for both channels and r12 the output pointer,
 * each stored back once per pair; the slow paths keep the record pointer in the frame and take
 * r6 and r12 back after. */
#define ML_CONV_PAIRS_ROUTINE(name, BLOCK)                                                      \
    ML_DSP_ASM_FUNCTION(name)                                                                    \
    "push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                                        \
    "ldmia r0, {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12}\n\t"                          \
    "push {r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12}\n\t"                               \
    "mov r7, r3\n\t" ML_CONV_BLOCKS(name, "28", BLOCK)                                            \
    "ldr r12, [sp, #4]\n\t"                                                                      \
    "cmp r6, r12\n\t"                                                                            \
    "bne.w .L" name "_b0\n"                                                                      \
    ".L" name "_done:\n\t"                                                                       \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    ML_CONV_PAIR_REC(".L" name "_slow0")                                                         \
    ML_CONV_FAST_IN("r0", "lr") ML_CONV_FAST_IN("r1", "lr") ML_CONV_FAST_IN("r2", "lr")          \
    "ldrd r12, lr, [sp, #20]\n\t"                                                                \
    ML_CONV_PAIR_STORES("r0", "r1", "r2")                                                        \
    ".L" name "_ch1:\n\t"                                                                        \
    ML_CONV_PAIR_REC(".L" name "_slow1")                                                         \
    ML_CONV_FAST_IN("r3", "r0") ML_CONV_FAST_IN("r4", "r0") ML_CONV_FAST_IN("r5", "r0")          \
    ML_CONV_PAIR_STORES("r3", "r4", "r5")                                                        \
    "str r12, [sp, #20]\n"                                                                       \
    ".L" name "_next:\n\t"                                                                       \
    "ldr r8, [sp, #16]\n\t"                                                                      \
    "cmp r6, r8\n\t"                                                                             \
    "str r6, [sp, #12]\n\t"                                                                      \
    "bne.w .L" name "_ch\n\t"                                                                    \
    "add sp, sp, #48\n\t"                                                                        \
    "pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"                                           \
    ML_CONV_IF_SLOW(                                                                             \
    ML_CONV_PAIR_SLOW(name, "0", "r0", "r1", "r2", ML_CONV_OUT0, "8", "_resume1")                \
    ".L" name "_resume1:\n\t"                                                                    \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    "ldr lr, [sp, #24]\n\t"                                                                      \
    ML_CONV_OUT1                                                                                 \
    "b.w .L" name "_ch1\n"                                                                       \
    ML_CONV_PAIR_SLOW(name, "1", "r3", "r4", "r5", ML_CONV_OUT1, "20", "_resume2")               \
    ".L" name "_resume2:\n\t"                                                                    \
    "ldr r6, [sp, #12]\n\t"                                                                      \
    "ldr r12, [sp, #20]\n\t"                                                                     \
    "add r12, r12, #2\n\t"                                                                       \
    "str r12, [sp, #20]\n\t"                                                                     \
    "b.w .L" name "_next\n\t")                                                                   \
    ML_CONV_TAB(name, ".L" name)                                                                 \
    ".size " name ", .-" name "\n\t"
#endif /* ML_CONV_PAIRS || ML_CONV_PAIRS8 */

#if ML_CONV_PAIRS
void ml_conv_dsp_pairs(const ml_conv_dsp_job *job);
extern const int16_t ml_conv_dsp_pairs_tab[7];
__asm__(ML_CONV_PAIRS_ROUTINE("ml_conv_dsp_pairs", ML_CONV_PAIR_BLOCK));
#endif
#if ML_CONV_PAIRS8
void ml_conv_dsp_pairs8(const ml_conv_dsp_job *job);
extern const int16_t ml_conv_dsp_pairs8_tab[7];
__asm__(ML_CONV_PAIRS_ROUTINE("ml_conv_dsp_pairs8", ML_CONV_PAIR8_BLOCK));
#endif

/*
 * The records of ml_conv_dsp_job for every output channel. A channel is fast only when
 * |acc + bias| < 2^30 is certain: the generator proved it for every channel (acc_bounded), or
 * its bias leaves room for K products of at most 128 * 255 each. 0 when a channel takes a kind
 * this build left out (the generator's conv_record_kinds, ops/conv.py, follows these rules).
 */
static ML_NOINLINE int ml_conv_dsp_records(const ml_conv_dsp *d, const int32_t *bias,
                                           int32_t *rec)
{
    int ok = 1;  /* 0: a channel needs a record kind this build left out */
    const int32_t odd = 2 * d->params->output_offset + 1;
    /* bias in (-room, room): K * 128 * 255 < 2^30 - room; room = 0 when K is too deep */
    const int32_t worst = d->k < 32896 ? d->k * 128 * 255 : (1 << 30);  /* room 0: none */
    const uint32_t room = d->params->acc_bounded ? 1u << 30 : (uint32_t)((1 << 30) - worst);
    const int32_t *mult = d->quant->multiplier;
    const int32_t *shift = d->quant->shift;
    /* (uint32_t)(b + room - 1) < 2 * room - 1 <=> -room < b < room (room <= 2^30); no b
     * when room = 0. Locals, so the loop keeps them in registers across the stores. */
    const uint32_t below = room - 1u;
    const uint32_t span = room != 0u ? 2u * room - 1u : 0u;
    const int32_t out_c = d->out_c;
    for (int32_t oc = 0; oc < out_c; ++oc) {
        int32_t b = bias != NULL ? bias[oc] : 0;
        const int32_t m = mult[oc];
        int32_t n = -shift[oc];
        if (m == 0) {  /* a dead channel (VWW has 20): TFLM's product is 0 whatever the sum, so */
            b = 0;     /* its output is the offset, which the fast record with n = 1 gives */
            n = 1;
        }
        if ((uint32_t)b + below < span && m >= 0 && (uint32_t)(n - 1) < 22u) {
            rec[0] = (int32_t)((uint32_t)b << 1);
            rec[1] = m;
            rec[2] = (int32_t)((uint32_t)odd << (n - 1));
            rec[3] = n;
        } else if (m >= 0 && n >= 2 && n <= 31) {
            rec[0] = b;
            rec[1] = m;
            rec[2] = (int32_t)(1u << (n - 2));
            rec[3] = ML_CONV_REC_WIDE + n - 1;
            ok &= ML_CONV_WIDE_RECORDS;
        } else {
            rec[0] = b;
            rec[1] = m;
            rec[2] = -n;
            rec[3] = ML_CONV_REC_GENERAL;
            ok &= ML_CONV_GENERAL_RECORDS;
        }
        rec += 4;
    }
    return ok;
}

/* Pixels of the next group when `left` remain: sixes, with a rest of 8 or fewer taken as
 * fours (a rest of 1 or 2 in a four that recomputes pixels of the group before). */
static int32_t ml_conv_dsp_group_px(int32_t left)
{
#if ML_CONV_P6
    return left >= 9 || (left >= 5 && left <= 7) ? 6 : 4;
#else
    (void)left;
    return 4;
#endif
}

#endif /* ML_CONV_ASM */

/* ---- Everything else (unproven accumulators, a narrower clamp): groups of four in C ---- */

#define ML_CONV_PX 4
#if !ML_CONV_ONLY_ASM

/* The reference requantization, out of line so the fast path keeps its registers. */
static ML_NOINLINE int32_t ml_conv_dsp_requant_ref(int32_t acc, int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize(acc, multiplier, shift);
}

/* ml_nn_requantize(acc, multiplier, -n) + out_off, for a channel whose n > 0. */
ML_DSP_INLINE int32_t ml_conv_dsp_requant(int32_t acc, int32_t multiplier, int32_t round,
                                          int32_t n, int32_t out_off)
{
    if (ml_dsp_requant_fits(acc)) {
        return ml_dsp_requantize(acc, multiplier, round, n) + out_off;
    }
    return ml_conv_dsp_requant_ref(acc, multiplier, -n) + out_off;
}

/*
 * Every output channel of a group of `np` <= ML_CONV_PX pixels whose columns are ready
 * (interleaved by ML_CONV_PX); the outputs of pixel p go to out + p * out_c. Columns past np
 * hold stale values, computed and never stored.
 */
static ML_NOINLINE void ml_conv_dsp_group_any(const ml_conv_dsp *d, const int8_t *filter,
                                              const int32_t *bias, int8_t *out, int32_t np)
{
    const int32_t out_off = d->params->output_offset;
    const int32_t act_min = d->params->act_min;
    const int32_t act_max = d->params->act_max;
    const int32_t *mult = d->quant->multiplier;
    const int32_t *shift = d->quant->shift;
    const int32_t *cols = d->cols;
    const int32_t k = d->k;
    const int32_t full = k >> 2;
    const int32_t rest = k & 3;
    const int32_t out_c = d->out_c;
    const int32_t *tail_col = cols + full * 2 * ML_CONV_PX;
    const int8_t *w = filter;
    for (int32_t oc = 0; oc < out_c; ++oc) {
        const int32_t b = bias != NULL ? bias[oc] : 0;
        int32_t a0 = b, a1 = b, a2 = b, a3 = b;
        if (full > 0) {
            if (np > 2) {
                ml_dsp_mac_1x4(cols, w, full, &a0, &a1, &a2, &a3);
            } else {
                ml_dsp_mac_1x2(cols, w, full, &a0, &a1);
            }
        }
        w += k;
        if (rest != 0) {
            /* Bytes past the channel's last weight meet zeros in the columns; reading them
             * one by one keeps the last channel from reading past the filter. */
            const int8_t *wt = w - rest;
            uint32_t wv = 0;
            for (int32_t i = 0; i < rest; ++i) {
                wv |= (uint32_t)(uint8_t)wt[i] << (8 * i);
            }
            const int32_t wl = ml_dsp_sxtb16((int32_t)wv);
            const int32_t wh = ml_dsp_sxtb16_ror8((int32_t)wv);
            a0 = ml_dsp_smlad(tail_col[1], wh, ml_dsp_smlad(tail_col[0], wl, a0));
            a1 = ml_dsp_smlad(tail_col[3], wh, ml_dsp_smlad(tail_col[2], wl, a1));
            a2 = ml_dsp_smlad(tail_col[5], wh, ml_dsp_smlad(tail_col[4], wl, a2));
            a3 = ml_dsp_smlad(tail_col[7], wh, ml_dsp_smlad(tail_col[6], wl, a3));
        }
        const int32_t m = mult[oc];
        const int32_t sh = shift[oc];
        int32_t v[4];
        if (sh <= -1 && sh >= -30 && m >= 0) {
            const int32_t n = -sh;
            const int32_t round = (int32_t)(1u << (n - 1));
            v[0] = ml_conv_dsp_requant(a0, m, round, n, out_off);
            v[1] = ml_conv_dsp_requant(a1, m, round, n, out_off);
            v[2] = ml_conv_dsp_requant(a2, m, round, n, out_off);
            v[3] = ml_conv_dsp_requant(a3, m, round, n, out_off);
        } else {
            v[0] = ml_conv_dsp_requant_ref(a0, m, sh) + out_off;
            v[1] = ml_conv_dsp_requant_ref(a1, m, sh) + out_off;
            v[2] = ml_conv_dsp_requant_ref(a2, m, sh) + out_off;
            v[3] = ml_conv_dsp_requant_ref(a3, m, sh) + out_off;
        }
        for (int32_t p = 0; p < np; ++p) {
            out[p * out_c + oc] = ml_clamp_s8(v[p], act_min, act_max);
        }
    }
}
#endif /* !ML_CONV_ONLY_ASM */

/* The group of pixels that starts at *first of `pixels`: returns its pixels and sets the
 * routine's P (*px, 0 for the C groups) and the columns' interleave (*step). The last group ends
 * on the last pixel: *first moves back when fewer pixels than the group's are left, and the
 * group computes some of the previous group's again (the same values: when the output is over
 * the input, ml_conv2d_s8_dsp_in_place runs it first). */
static int32_t ml_conv_dsp_group_size(int32_t *first, int32_t pixels, int pairs, int fast,
                                      int32_t *px, int32_t *step)
{
    const int32_t left = pixels - *first;
    int32_t np;
    *px = 0;
#if ML_CONV_PAIRS || ML_CONV_PAIRS8
    if (pairs) {
        /* Columns of six pixels, the routine run on each half; the rest as one six ending on
         * the last pixel when 4 or 5 remain, else as a three. */
        np = left >= 6 || (left > 3 && pixels >= 6) ? 6 : 3;
        if (np > left) {
            *first = pixels - np;
        }
        *px = 3;
        *step = 6;
        return np;
    }
#else
    (void)pairs;
#endif
#if ML_CONV_ASM
    if (fast) {
        *px = ml_conv_dsp_group_px(left);
        if (*px > pixels) {
            *px = pixels >= 4 ? 4 : 0;
        }
        if (*px > left) {
            *first = pixels - *px;
        }
    }
#else
    (void)fast;
#endif
    /* px == 0: fewer than four pixels in all, the C path's */
    *step = *px > 0 ? *px : ML_CONV_PX;
    np = *px > 0 ? *px : (left < ML_CONV_PX ? left : ML_CONV_PX);
    return np;
}

static ml_status ml_conv2d_s8_dsp(const ml_conv_params *params, const ml_per_channel_quant *quant,
                                  void *scratch, const ml_dims *input_dims, const int8_t *input,
                                  const ml_dims *filter_dims, const int8_t *filter,
                                  const int32_t *bias, const ml_dims *output_dims, int8_t *output)
{
    ml_conv_dsp d;
    d.params = params;
    d.quant = quant;
    d.in_h = input_dims->h;
    d.in_w = input_dims->w;
    d.in_c = input_dims->c;
    d.k_h = filter_dims->h;
    d.k_w = filter_dims->w;
    d.k = d.k_h * d.k_w * d.in_c;
    d.blocks = (d.k + 3) >> 2;
    d.out_c = output_dims->c;
    d.off2 = ml_dsp_pair16(params->input_offset);
    /* scratch: columns | raw window | records | padded last channel, the last two only for the
     * assembly (ml_conv2d_s8.h) */
    d.cols = (int32_t *)scratch;
    /* the columns of col_groups groups (ml_conv2d_s8.h), the same layout on every path */
    const int32_t col_groups = params->col_groups > 1 ? params->col_groups : 1;
    const int32_t group_words = d.blocks * 2 * ML_CONV2D_S8_PIXELS;
    d.stage = (int8_t *)(d.cols + group_words * col_groups);
#if ML_CONV_SEGMENTS
    d.taps.blk = 0;  /* set up by the first segment */
#endif
    int32_t *const rec =
        (int32_t *)(void *)(d.stage + ((d.in_c & 3) != 0 && d.k_h * d.k_w > 1 ? 4 * d.blocks : 0));
    int8_t *const last = (int8_t *)(rec + 4 * d.out_c);
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = d.out_c;
    const int32_t pixels = out_h * out_w;
    const int fast = ML_CONV_ASM && params->act_min <= -128 && params->act_max >= 127 &&
                     ML_DSP_FORM_FITS(params->output_offset);
    const int pointwise = d.k_h == 1 && d.k_w == 1 && (d.in_c & 3) == 0 && params->stride_h == 1 &&
                          params->stride_w == 1 && params->pad_h == 0 && params->pad_w == 0 &&
                          out_h == d.in_h && out_w == d.in_w;
#if ML_CONV_PAIRS || ML_CONV_PAIRS8
    /* 1: staged widened (ml_conv_dsp_pairs); ML_CONV2D_S8_PAIRED8: laid out in channel pairs */
    const int pairs = params->filter_widened;
    if (pairs && (!fast || (out_c & 1) != 0 || pixels < 3 || (pairs == 1 && !ML_CONV_PAIRS) ||
                  (pairs != 1 && (!ML_CONV_PAIRS8 || pairs != ML_CONV2D_S8_PAIRED8)))) {
        return ML_ARG_ERROR;  /* the generator gives these layouts only to layers this can run */
    }
#else
    const int pairs = 0;  /* ml_conv2d_s8_stage copied the filter as it is (no build without the
                             routine is given a paired one: ML_CONV2D_S8_PAIRED8 is 0 there) */
#endif
#if ML_CONV_ASM
    ml_conv_dsp_job job;
    ml_conv_dsp_job one;  /* the last channel, reading its padded copy, when K % 4 != 0 */
    /* set once per call, so that the group loop's code stays small: it shares a 1 KB instruction
     * cache with the six-pixel routine's loop on the STM32L4R5 */
    uintptr_t key = 0, key_one = 0;
    if (fast) {
        /* a kept scratch: the previous chunk's records are still there */
        if (!params->scratch_kept && !ml_conv_dsp_records(&d, bias, rec) && !ML_CONV_ALL_RECORDS) {
            return ML_NO_IMPL;  /* the generator saw no channel of that kind (ml_config.h) */
        }
        job.filter = filter;
        job.rec = rec;
        job.rec_end = rec + 4 * out_c;
        job.out_stride = out_c;
        const int32_t slot = d.blocks == 1 ? 6 : (6 - (d.blocks - 1) % 6) % 6;
        job.entry4 = ml_conv_dsp_entry(ml_conv_dsp_p4, ml_conv_dsp_p4_tab, slot);
        job.entry = 0;
#if ML_CONV_P6
        job.entry = ml_conv_dsp_entry(ml_conv_dsp_p6, ml_conv_dsp_p6_tab, slot);
#endif
#if ML_CONV_PAIRS
        if (pairs == 1) {
            job.entry = ml_conv_dsp_entry(ml_conv_dsp_pairs, ml_conv_dsp_pairs_tab, slot);
        }
#endif
#if ML_CONV_PAIRS8
        if (pairs > 1) {
            job.entry = ml_conv_dsp_entry(ml_conv_dsp_pairs8, ml_conv_dsp_pairs8_tab, slot);
        }
#endif
        key = ml_conv_dsp_out_key(rec);
        job.w_back = 4 * d.blocks - d.k;
        job.out_off = params->output_offset;
        if (pairs) {
            job.w_back = 0;  /* both pair layouts pad every channel to whole blocks */
        } else if ((d.k & 3) != 0) {
            /* Word reads overrun each channel by w_back bytes, which meet zero columns; the last
             * channel reads a padded copy instead, so nothing past the filter is read. */
            const int8_t *w = filter + (out_c - 1) * d.k;
            for (int32_t i = 0; i < 4 * d.blocks && !params->scratch_kept; ++i) {
                last[i] = i < d.k ? w[i] : 0;
            }
            job.rec_end -= 4;
            one = job;
            one.filter = last;
            one.rec = job.rec_end;
            one.rec_end = job.rec_end + 4;
            key_one = ml_conv_dsp_out_key(one.rec) - (uintptr_t)(out_c - 1);
        }
    }
#else
    (void)rec;
    (void)last;
    (void)fast;
    (void)pairs;
#endif
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * d.in_h * d.in_w * d.in_c;
        int8_t *out_batch = output + b * pixels * out_c;
        for (int32_t first = 0; first < pixels;) {
#if ML_CONV_COL_GROUPS
            /* The sixes ml_conv_dsp_group_size would take one by one from here (it takes a six
             * while 9 or more pixels are left), up to col_groups of them: their columns first,
             * then the routine on each, so that on a core with a small instruction cache (the
             * STM32L4R5's 1 KB) neither the builders' code nor the routine's is fetched again
             * from flash for every group. Same groups, same sums: only the order of the calls. */
            const int32_t sixes = pixels - first >= 9 ? (pixels - first - 9) / 6 + 1 : 0;
            if (fast && !pairs && col_groups > 1 && sixes > 1) {
                const int32_t ng = sixes < col_groups ? sixes : col_groups;
                int32_t *const cols0 = d.cols;
                for (int32_t gi = 0; gi < ng; ++gi) {
                    d.cols = cols0 + gi * group_words;
                    if (pointwise) {
                        ml_conv_dsp_widen_pixels(in_batch + (first + 6 * gi) * d.in_c, 6, d.in_c,
                                                 d.cols, 12, d.off2);
                    } else {
                        ml_conv_dsp_columns(&d, in_batch, out_w, first + 6 * gi, 6, 12);
                    }
                }
                d.cols = cols0;
                for (int32_t gi = 0; gi < ng; ++gi, first += 6) {
                    int8_t *const out = out_batch + first * out_c;
                    job.cols = cols0 + gi * group_words;
                    job.cols_end = job.cols + d.blocks * 12;
                    job.px = 6;
                    job.out = (uintptr_t)out - key;
                    if (job.rec_end != job.rec) {
                        ml_conv_dsp_p6(&job);
                    }
                    if ((d.k & 3) != 0) {
                        one.cols = job.cols;
                        one.cols_end = job.cols_end;
                        one.out = (uintptr_t)out - key_one;
                        one.px = 6;
                        ml_conv_dsp_p6(&one);
                    }
                }
                continue;
            }
#endif
            int32_t px, step;
            const int32_t np = ml_conv_dsp_group_size(&first, pixels, pairs, fast, &px, &step);
            if (pointwise) {
                ml_conv_dsp_widen_pixels(in_batch + first * d.in_c, np, d.in_c, d.cols, 2 * step,
                                         d.off2);
            } else {
                ml_conv_dsp_columns(&d, in_batch, out_w, first, np, 2 * step);
            }
            int8_t *const out = out_batch + first * out_c;
#if ML_CONV_ASM
            if (px > 0) {
                job.cols = d.cols;
                job.cols_end = d.cols + d.blocks * 2 * px;
                job.px = px;
                void (*run)(const ml_conv_dsp_job *) = ml_conv_dsp_p4;
#if ML_CONV_P6
                if (px == 6) {
                    run = ml_conv_dsp_p6;
                }
#endif
#if ML_CONV_PAIRS || ML_CONV_PAIRS8
                if (pairs) {
                    void (*two)(const ml_conv_dsp_job *) = NULL;
#if ML_CONV_PAIRS
                    two = ml_conv_dsp_pairs;
#endif
#if ML_CONV_PAIRS8
                    if (pairs > 1) {
                        two = ml_conv_dsp_pairs8;
                    }
#endif
                    job.cols_end = d.cols + d.blocks * 12;
                    job.out = (uintptr_t)out;
                    two(&job);
                    if (np == 6) {
                        job.cols += 6;
                        job.cols_end += 6;
                        job.out = (uintptr_t)(out + 3 * out_c);
                        two(&job);
                    }
                    first += np;
                    continue;
                }
#endif
                job.out = (uintptr_t)out - key;
                if (job.rec_end != job.rec) {
                    run(&job);
                }
                if ((d.k & 3) != 0) {
                    one.cols = job.cols;
                    one.cols_end = job.cols_end;
                    one.out = (uintptr_t)out - key_one;
                    one.px = px;
                    run(&one);
                }
            } else
#endif
            {
#if ML_CONV_ONLY_ASM
                return ML_NO_IMPL;  /* the generator saw every layer take the assembly */
#else
                ml_conv_dsp_group_any(&d, filter, bias, out, np);
#endif
            }
            first += np;
        }
    }
    return ML_OK;
}

#if !defined(ML_CONV2D_S8_NO_IN_PLACE)  /* (ml_config.h) no layer runs in place in one call */
/*
 * In place (a 1x1 layer's output over its input, C_OUT <= C_IN; ML_CONV2D_S8_IN_PLACE_SCRATCH_BYTES
 * of scratch): each group of pixels is widened before its outputs are written, and they cover no
 * pixel a later group reads. Only a last group that ends on the last pixel over pixels of the
 * group before (ml_conv_dsp_group_size) would read outputs: it runs first, as an image of its own
 * pixels, into `held` after the scratch; then the pixels before it, whose groups never overlap
 * (the groups before an overlapping one are all sixes, and so are a six-multiple's); then its own
 * pixels are copied out. Out of line, so that the common call's code stays as it was.
 */
static ML_NOINLINE ml_status ml_conv2d_s8_dsp_in_place(const ml_conv_params *params,
                                                      const ml_per_channel_quant *quant,
                                                      void *scratch, const ml_dims *input_dims,
                                                      int8_t *data, const ml_dims *filter_dims,
                                                      const int8_t *filter, const int32_t *bias,
                                                      const ml_dims *output_dims)
{
    const int32_t in_c = input_dims->c;
    const int32_t out_c = output_dims->c;
    if (filter_dims->h != 1 || filter_dims->w != 1 || params->stride_h != 1 ||
        params->stride_w != 1 || params->pad_h != 0 || params->pad_w != 0 ||
        output_dims->h != input_dims->h || output_dims->w != input_dims->w || out_c > in_c) {
        return ML_ARG_ERROR;  /* other layers read pixels after the outputs cover them */
    }
    const int32_t pixels = output_dims->h * output_dims->w;
    const int fast = ML_CONV_ASM && params->act_min <= -128 && params->act_max >= 127 &&
                     ML_DSP_FORM_FITS(params->output_offset);
    const int pairs = (ML_CONV_PAIRS || ML_CONV_PAIRS8) && params->filter_widened != 0;
    int32_t own = pixels;   /* the first pixel only an overlapping last group has */
    int32_t start = pixels; /* where that group starts */
    for (int32_t first = 0; first < pixels;) {
        int32_t at = first, px, step;
        const int32_t np = ml_conv_dsp_group_size(&at, pixels, pairs, fast, &px, &step);
        if (at < first) {
            own = first;
            start = at;
            break;
        }
        first = at + np;
    }
    int8_t *const held = (int8_t *)scratch + ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims) +
                         ML_CONV2D_S8_COL_GROUPS_BYTES(filter_dims, params->col_groups);
    /* every call after the first finds the first's requantization records in the scratch */
    ml_conv_params kept = *params;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        int8_t *const in = data + b * pixels * in_c;
        int8_t *const out = data + b * pixels * out_c;
        ml_status st = ML_OK;
        if (own < pixels) {
            const ml_dims tail_in = {1, 1, pixels - start, in_c};
            const ml_dims tail_out = {1, 1, pixels - start, out_c};
            st = ml_conv2d_s8_dsp(&kept, quant, scratch, &tail_in, in + start * in_c, filter_dims,
                                  filter, bias, &tail_out, held);
            kept.scratch_kept = 1;
        }
        const ml_dims head_in = {1, 1, own, in_c};
        const ml_dims head_out = {1, 1, own, out_c};
        if (st == ML_OK && own > 0) {
            st = ml_conv2d_s8_dsp(&kept, quant, scratch, &head_in, in, filter_dims, filter, bias,
                                  &head_out, out);
            kept.scratch_kept = 1;
        }
        if (st != ML_OK) {
            return st;
        }
        if (own < pixels) {
            memcpy(out + own * out_c, held + (own - start) * out_c, (size_t)((pixels - own) * out_c));
        }
    }
    return ML_OK;
}
#endif /* ML_CONV2D_S8_NO_IN_PLACE */
#endif /* ML_NN_DSP */

#if ML_M0_PATHS
/*
 * Cortex-M0/M0+ path: two products per MULS. Two output pixels' windows are packed into one
 * column of words, X[k] = xa[k] + 2^16 * xb[k] (raw int8 inputs; taps outside the image hold
 * the input zero point), so X[k] * w = xa*w + 2^16 * xb*w: one multiply serves both pixels.
 * The input offset is folded into each channel's starting value, base[c] = bias[c] +
 * input_offset * sum(w[c]) over every tap: a tap outside the image adds zp * w =
 * -input_offset * w and cancels its share, as TFLM skipping it does.
 *
 * The lanes are taken apart every two taps. |x * w| <= 128 * 127, so the low lane of two taps'
 * sum plus 2^15, lo, lies in [256, 65280]: P = X[k] * w[k] + X[k+1] * w[k+1] + 2^15 is exactly
 * lo + 2^16 * hi as an int32 (|hi| <= 32512), P >> 16 (arithmetic) is hi, the second pixel's
 * two products, and summing P whole gives sum(lo) + 2^16 * sum(hi). So per channel
 * H = sum(P >> 16) is the second pixel's sum and L - 2^16 * H - pairs * 2^15 the first's, both
 * modulo 2^32 like TFLM's int32 sums. A step of two taps, two channels and two pixels (eight
 * MACs) is 22 instructions, against 34 for the byte loop of ml_conv_m0_dot_2x2.
 *
 * Scratch: the column, K words (ML_CONV2D_S8_SCRATCH_BYTES is at least 8K bytes, so at least K
 * words remain), then up to ML_CONV_M0_CHUNK channels' starting values and requantization
 * constants (ml_m0_rq3, as many as fit). Wider layers run in chunks of channels, rebuilding the
 * columns for each. With K even, every channel pair runs the loop and its requantization in
 * one assembly routine (ml_conv_m0_pairs_*; a pair with a channel outside the ml_m0_rq3 form
 * requantizes in C, ml_conv_m0_slow4); an odd K (its last tap is added in C) and an odd channel
 * out take ml_conv_m0_two.
 */
#define ML_CONV_M0_CHUNK 64

/* sums = {L0, L1, H0, H1} over `pairs` tap pairs of the column against rows w0 and w1. */
void ml_conv_m0_swar(const int32_t *cols, const int8_t *w0, const int8_t *w1, int32_t pairs,
                     int32_t sums[4]);

__asm__(ML_M0_ASM_FUNCTION("ml_conv_m0_swar")
    ML_M0_PROLOGUE
    /* r0 cols, r1 w0, r2 w1, r3 pairs; [sp, #36] sums. r8 = 2^15, r9 H0, r10 L0, r11 H1,
     * ip L1. */
    "movs r4, #0\n\t"
    "mov r9, r4\n\t"
    "mov r10, r4\n\t"
    "mov r11, r4\n\t"
    "mov ip, r4\n\t"
    "movs r4, #1\n\t"
    "lsls r4, r4, #15\n\t"
    "mov r8, r4\n\t"
    "lsls r3, r3, #1\n\t"
    "beq 9f\n\t"
    "adds r1, r1, r3\n\t"           /* the weight rows' ends, read at a negative index */
    "adds r2, r2, r3\n\t"
    "rsbs r3, r3, #0\n"
    "1:\n\t"
    "ldm r0!, {r4, r5}\n\t"         /* X[k], X[k+1] */
    "ldrsb r6, [r1, r3]\n\t"
    "ldrsb r7, [r2, r3]\n\t"
    "adds r3, r3, #1\n\t"
    "muls r6, r4\n\t"
    "muls r7, r4\n\t"
    "ldrsb r4, [r1, r3]\n\t"
    "muls r4, r5\n\t"
    "adds r6, r6, r4\n\t"
    "ldrsb r4, [r2, r3]\n\t"
    "muls r4, r5\n\t"
    "adds r7, r7, r4\n\t"
    "add r6, r8\n\t"                /* P0 */
    "asrs r4, r6, #16\n\t"
    "add r9, r4\n\t"
    "add r10, r6\n\t"
    "add r7, r8\n\t"                /* P1 */
    "asrs r4, r7, #16\n\t"
    "add r11, r4\n\t"
    "add ip, r7\n\t"
    "adds r3, r3, #1\n\t"
    "bne 1b\n"
    "9:\n\t"
    "ldr r0, [sp, #36]\n\t"
    "mov r1, r10\n\t"
    "str r1, [r0, #0]\n\t"
    "mov r1, ip\n\t"
    "str r1, [r0, #4]\n\t"
    "mov r1, r9\n\t"
    "str r1, [r0, #8]\n\t"
    "mov r1, r11\n\t"
    "str r1, [r0, #12]\n\t"
    ML_M0_EPILOGUE
    ".size ml_conv_m0_swar, .-ml_conv_m0_swar");

/*
 * sum(w[0..4*quads)) for quads >= 1: four bases one byte apart share a negative index, so a
 * quad is 4 loads, 4 adds and the index step, two quads per branch (2.4 instructions per
 * weight; gcc's loop took 5).
 * The generator slices some layers into one call per output row (in-place chunking), and
 * each call sums every channel's weights again, so this matters.
 */
int32_t ml_conv_m0_wsum(const int8_t *w, int32_t quads);

/* One quad: the four bytes at index r1 from the bases r5, r2, r3 and r0 into r4, then the step. */
#define ML_CONV_M0_WSUM_QUAD                                                                    \
    "ldrsb r6, [r5, r1]\n\t"                                                                     \
    "ldrsb r7, [r2, r1]\n\t"                                                                     \
    "adds r4, r4, r6\n\t"                                                                        \
    "adds r4, r4, r7\n\t"                                                                        \
    "ldrsb r6, [r3, r1]\n\t"                                                                     \
    "ldrsb r7, [r0, r1]\n\t"                                                                     \
    "adds r4, r4, r6\n\t"                                                                        \
    "adds r4, r4, r7\n\t"                                                                        \
    "adds r1, r1, #4"

__asm__(ML_M0_ASM_FUNCTION("ml_conv_m0_wsum")
    "push {r4, r5, r6, r7, lr}\n\t"
    "lsls r1, r1, #2\n\t"
    "adds r5, r0, r1\n\t"         /* the end, and three more bases after it */
    "adds r2, r5, #1\n\t"
    "adds r3, r5, #2\n\t"
    "adds r0, r5, #3\n\t"
    "rsbs r1, r1, #0\n\t"
    "movs r4, #0\n\t"
    "lsls r6, r1, #29\n\t"        /* an odd number of quads: enter at the second */
    "bmi 2f\n"
    "1:\n\t"
    ML_CONV_M0_WSUM_QUAD
    "\n2:\n\t"
    ML_CONV_M0_WSUM_QUAD
    "\n\tbne 1b\n\t"
    "movs r0, r4\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size ml_conv_m0_wsum, .-ml_conv_m0_wsum");

/* What the M0 path derives once per call. */
typedef struct {
    const ml_conv_params *params;
    int32_t in_h, in_w, in_c;
    int32_t k_h, k_w;
    int32_t k;        /* taps per window: k_h * k_w * in_c */
    int32_t zp;       /* the input zero point, what a tap outside the image reads */
} ml_conv_m0;

/* dst[i] = a[i] + 2^16 * b[i] for i < n (n >= 1): two words per 12 instructions (gcc's loop
 * took 9 per word). */
void ml_conv_m0_pack(int32_t *dst, const int8_t *a, const int8_t *b, int32_t n);

__asm__(ML_M0_ASM_FUNCTION("ml_conv_m0_pack")
    "push {r4, r5, r6, r7, lr}\n\t"
    "adds r1, r1, r3\n\t"          /* the ends, read at a negative index */
    "adds r2, r2, r3\n\t"
    "rsbs r3, r3, #0\n\t"
    "lsls r4, r3, #31\n\t"         /* n odd: one word first */
    "beq 1f\n\t"
    "ldrsb r4, [r1, r3]\n\t"
    "ldrsb r5, [r2, r3]\n\t"
    "lsls r5, r5, #16\n\t"
    "adds r4, r4, r5\n\t"
    "stm r0!, {r4}\n\t"
    "adds r3, r3, #1\n\t"
    "beq 2f\n"
    "1:\n\t"
    "ldrsb r4, [r1, r3]\n\t"
    "ldrsb r5, [r2, r3]\n\t"
    "adds r3, r3, #1\n\t"
    "ldrsb r6, [r1, r3]\n\t"
    "ldrsb r7, [r2, r3]\n\t"
    "lsls r5, r5, #16\n\t"
    "adds r4, r4, r5\n\t"
    "lsls r7, r7, #16\n\t"
    "adds r5, r6, r7\n\t"
    "stm r0!, {r4, r5}\n\t"
    "adds r3, r3, #1\n\t"
    "bne 1b\n"
    "2:\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size ml_conv_m0_pack, .-ml_conv_m0_pack");

/* One tap's in_c values of two pixels into the column: dst[c] = a[c] + 2^16 * b[c], a NULL
 * source reading as the zero point. */
static void ml_conv_m0_tap(int32_t *dst, const int8_t *a, const int8_t *b, int32_t n,
                           int32_t zp)
{
    const int32_t zp_hi = (int32_t)((uint32_t)zp << 16);
    if (a != NULL && b != NULL) {
        if (n > 0) {
            ml_conv_m0_pack(dst, a, b, n);
        }
    } else if (a != NULL) {
        for (int32_t c = 0; c < n; ++c) {
            dst[c] = a[c] + zp_hi;
        }
    } else if (b != NULL) {
        for (int32_t c = 0; c < n; ++c) {
            dst[c] = zp + (int32_t)((uint32_t)b[c] << 16);
        }
    } else {
        for (int32_t c = 0; c < n; ++c) {
            dst[c] = zp + zp_hi;
        }
    }
}

/*
 * The windows of output pixels (oya, oxa) and, when has_b, (oyb, oxb) into the packed column.
 * A row whose taps are all inside for both pixels, without dilation, is one run.
 */
static ML_NOINLINE void ml_conv_m0_gather(const ml_conv_m0 *d, const int8_t *in_batch,
                                          int32_t oya, int32_t oxa, int32_t oyb, int32_t oxb,
                                          int has_b, int32_t *cols)
{
    const ml_conv_params *pr = d->params;
    const int32_t in_c = d->in_c;
    const int32_t row_elems = d->in_w * in_c;
    const int32_t iya = oya * pr->stride_h - pr->pad_h;
    const int32_t ixa = oxa * pr->stride_w - pr->pad_w;
    const int32_t iyb = oyb * pr->stride_h - pr->pad_h;
    const int32_t ixb = oxb * pr->stride_w - pr->pad_w;
    const int32_t span = (d->k_w - 1) * pr->dilation_w;
    const int cols_in = ixa >= 0 && ixa + span < d->in_w && ixb >= 0 && ixb + span < d->in_w &&
                        pr->dilation_w == 1;
    int32_t *dst = cols;
    for (int32_t ky = 0; ky < d->k_h; ++ky) {
        const int32_t ya = iya + ky * pr->dilation_h;
        const int32_t yb = iyb + ky * pr->dilation_h;
        const int8_t *ra = ya >= 0 && ya < d->in_h ? in_batch + ya * row_elems : NULL;
        const int8_t *rb = has_b && yb >= 0 && yb < d->in_h ? in_batch + yb * row_elems : NULL;
        if (cols_in && ra != NULL && (rb != NULL || !has_b)) {
            ml_conv_m0_tap(dst, ra + ixa * in_c, rb != NULL ? rb + ixb * in_c : NULL,
                           d->k_w * in_c, d->zp);
            dst += d->k_w * in_c;
            continue;
        }
        if (in_c == 1) {  /* a first layer's one channel: no call per tap */
            const int32_t zp = d->zp;
            for (int32_t kx = 0; kx < d->k_w; ++kx) {
                const int32_t xa = ixa + kx * pr->dilation_w;
                const int32_t xb = ixb + kx * pr->dilation_w;
                const int32_t va = ra != NULL && xa >= 0 && xa < d->in_w ? ra[xa] : zp;
                const int32_t vb = rb != NULL && xb >= 0 && xb < d->in_w ? rb[xb] : zp;
                *dst++ = va + (int32_t)((uint32_t)vb << 16);
            }
            continue;
        }
        for (int32_t kx = 0; kx < d->k_w; ++kx) {
            const int32_t xa = ixa + kx * pr->dilation_w;
            const int32_t xb = ixb + kx * pr->dilation_w;
            const int8_t *a = ra != NULL && xa >= 0 && xa < d->in_w ? ra + xa * in_c : NULL;
            const int8_t *b = rb != NULL && xb >= 0 && xb < d->in_w ? rb + xb * in_c : NULL;
            ml_conv_m0_tap(dst, a, b, in_c, d->zp);
            dst += in_c;
        }
    }
}

/*
 * The fused pass over channel pairs (k even): for each pair the loop of ml_conv_m0_swar, then
 * the four outputs' requantization inline (ML_M0_RQ3_*; ml_conv_m0_slow4 when a channel is not
 * in the ml_m0_rq3 form), stored at out_a[0..1] and out_b[0..1]. Each channel's ml_m0_rq3 carries the
 * lanes' starting value base = bias + input_offset * sum(w): H starts at base and L at
 * base * (2^16 + 1) - (k / 2) * 2^15, so that after the loop the sums are H and
 * L - 2^16 * H (modulo 2^32) with nothing left to subtract.
 */
typedef struct {
    const int32_t *cols;   /* the packed column, k words */
    const int8_t *w;       /* the first channel's weights, k bytes per channel */
    int32_t k;             /* even */
    int8_t *out_a;         /* the first pixel's output at the first channel */
    int8_t *out_b;         /* the second pixel's (a dummy when there is none) */
    const ml_m0_rq3 *rec;  /* one per channel */
    int32_t n_pairs;       /* >= 1 */
    int32_t act_min;
    int32_t act_max;
    const ml_m0_act *act;  /* for ml_conv_m0_slow4 */
} ml_conv_m0_job;

/* A pair with a channel outside the ml_m0_rq3 form (its record has sh = 0, ml = multiplier,
 * mm = shift): the routine hands the four sums (bases included) to this C function. */
typedef struct {
    int32_t acc[4];          /* channel 0 at the first and second pixel, then channel 1 */
    const ml_m0_rq3 *rec;    /* the pair's two records */
    int8_t *out_a;
    int8_t *out_b;
    const ml_m0_act *act;
} ml_conv_m0_slow_job;

void ml_conv_m0_slow4(const ml_conv_m0_slow_job *s);
void ml_conv_m0_slow4(const ml_conv_m0_slow_job *s)
{
    for (int32_t j = 0; j < 2; ++j) {
        const ml_m0_rq3 *q = &s->rec[j];
        for (int32_t p = 0; p < 2; ++p) {
            const int32_t acc = s->acc[2 * j + p];
            const int32_t v = q->sh != 0 ? ml_m0_rq3_ref(acc, q, s->act)
                                         : (int32_t)ml_m0_out_s8(acc, q->ml, q->mm, s->act);
            (p == 0 ? s->out_a : s->out_b)[j] = (int8_t)v;
        }
    }
}

typedef char ml_conv_m0_job_layout[offsetof(ml_conv_m0_job, act) == 36 &&
                                   offsetof(ml_conv_m0_slow_job, act) == 28 &&
                                   sizeof(ml_m0_rq3) == 24 ? 1 : -1];

void ml_conv_m0_pairs_relu(const ml_conv_m0_job *job);
void ml_conv_m0_pairs_any(const ml_conv_m0_job *job);

/* Two taps of the two-pixel loop: the column's next two words (each both pixels' input,
 * packed), times each channel's weight at those taps (r1, r2: the two weight rows' ends, r3
 * the negative tap index), added into the lanes' sums (r9/r10 the first channel, r11/ip the
 * second; r8 = 2^15 splits them). The last ADDS sets the flags the loop branches on.
 * Cortex-M3 (ARMv7-M) has MLA and shifted-register ADD: the same sums in 15 instructions for
 * 21 (same products, same order, so the same values modulo 2^32). */
#if defined(__ARM_ARCH_7M__)
#define ML_CONV_M0_TAP_PAIR                                                                     \
    "ldm r0!, {r4, r5}\n\t"                                                                      \
    "ldrsb r6, [r1, r3]\n\t"                                                                     \
    "ldrsb r7, [r2, r3]\n\t"                                                                     \
    "adds r3, r3, #1\n\t"                                                                        \
    "mla r6, r6, r4, r8\n\t"                                                                     \
    "mla r7, r7, r4, r8\n\t"                                                                     \
    "ldrsb r4, [r1, r3]\n\t"                                                                     \
    "mla r6, r4, r5, r6\n\t"                                                                     \
    "ldrsb r4, [r2, r3]\n\t"                                                                     \
    "mla r7, r4, r5, r7\n\t"                                                                     \
    "add r9, r9, r6, asr #16\n\t"                                                                \
    "add r10, r10, r6\n\t"                                                                       \
    "add r11, r11, r7, asr #16\n\t"                                                              \
    "add ip, ip, r7\n\t"                                                                         \
    "adds r3, r3, #1\n\t"
#else
#define ML_CONV_M0_TAP_PAIR                                                                     \
    "ldm r0!, {r4, r5}\n\t"                                                                      \
    "ldrsb r6, [r1, r3]\n\t"                                                                     \
    "ldrsb r7, [r2, r3]\n\t"                                                                     \
    "adds r3, r3, #1\n\t"                                                                        \
    "muls r6, r4, r6\n\t"                                                                        \
    "muls r7, r4, r7\n\t"                                                                        \
    "ldrsb r4, [r1, r3]\n\t"                                                                     \
    "muls r4, r5, r4\n\t"                                                                        \
    "adds r6, r6, r4\n\t"                                                                        \
    "ldrsb r4, [r2, r3]\n\t"                                                                     \
    "muls r4, r5, r4\n\t"                                                                        \
    "adds r7, r7, r4\n\t"                                                                        \
    "add r6, r8\n\t"                                                                             \
    "asrs r4, r6, #16\n\t"                                                                       \
    "add r9, r4\n\t"                                                                             \
    "add r10, r6\n\t"                                                                            \
    "add r7, r8\n\t"                                                                             \
    "asrs r4, r7, #16\n\t"                                                                       \
    "add r11, r4\n\t"                                                                            \
    "add ip, r7\n\t"                                                                             \
    "adds r3, r3, #1\n\t"
#endif

/* Locals below the saved registers: [sp] w, #4 out_a, #8 out_b, #12 rec, #16 pairs left,
 * #20 act_min, #24 job. lr holds act_max; r8 = 2^15 and r9-r12 the sums in the loop. */
#define ML_CONV_M0_PAIRS(name, RQ)                                                               \
    ML_M0_ASM_FUNCTION(name)                                                                     \
    ML_M0_PROLOGUE                                                                               \
    "sub sp, sp, #28\n\t"                                                                        \
    "str r0, [sp, #24]\n\t"                                                                      \
    "ldr r1, [r0, #4]\n\t"                                                                       \
    "str r1, [sp, #0]\n\t"                                                                       \
    "ldr r1, [r0, #12]\n\t"                                                                      \
    "str r1, [sp, #4]\n\t"                                                                       \
    "ldr r1, [r0, #16]\n\t"                                                                      \
    "str r1, [sp, #8]\n\t"                                                                       \
    "ldr r1, [r0, #20]\n\t"                                                                      \
    "str r1, [sp, #12]\n\t"                                                                      \
    "ldr r1, [r0, #24]\n\t"                                                                      \
    "str r1, [sp, #16]\n\t"                                                                      \
    "ldr r1, [r0, #28]\n\t"                                                                      \
    "str r1, [sp, #20]\n\t"                                                                      \
    "ldr r1, [r0, #32]\n\t"                                                                      \
    "mov lr, r1\n\t"                                                                             \
    "movs r4, #1\n\t"             /* r8 = 2^15 throughout (the RQ steps leave it) */            \
    "lsls r4, r4, #15\n\t"                                                                       \
    "mov r8, r4\n"                                                                               \
    "1:\n\t"                                                                                     \
    "ldr r7, [sp, #12]\n\t"                                                                      \
    "ldr r5, [sp, #24]\n\t"                                                                      \
    "ldr r3, [r5, #8]\n\t"        /* k */                                                      \
    "lsls r6, r3, #14\n\t"        /* (k / 2) * 2^15, the lanes' offset in L */                 \
    "ldr r4, [r7, #20]\n\t"       /* H = base, L = base * (2^16 + 1) - that */                 \
    "mov r9, r4\n\t"                                                                             \
    "lsls r0, r4, #16\n\t"                                                                       \
    "adds r0, r0, r4\n\t"                                                                        \
    "subs r0, r0, r6\n\t"                                                                        \
    "mov r10, r0\n\t"                                                                            \
    "ldr r4, [r7, #44]\n\t"                                                                      \
    "mov r11, r4\n\t"                                                                            \
    "lsls r0, r4, #16\n\t"                                                                       \
    "adds r0, r0, r4\n\t"                                                                        \
    "subs r0, r0, r6\n\t"                                                                        \
    "mov ip, r0\n\t"                                                                             \
    "ldr r0, [r5, #0]\n\t"                                                                       \
    "ldr r1, [sp, #0]\n\t"                                                                       \
    "adds r1, r1, r3\n\t"           /* the weight rows' ends, read at a negative index */       \
    "adds r2, r1, r3\n\t"                                                                        \
    "str r2, [sp, #0]\n\t"          /* the next pair's first channel */                          \
    "rsbs r3, r3, #0\n\t"                                                                        \
    "lsls r4, r3, #30\n\t"         /* enter at body (k / 2) mod 4 from the end: C = bit 2, */ \
    "bcs .L" name "_e23\n\t"         /* N = bit 1 of -k */                                    \
    "bmi .L" name "_e1\n\t"                                                                       \
    "b 2f\n"                                                                                     \
    ".L" name "_e23:\n\t"                                                                            \
    "bmi .L" name "_e3\n\t"                                                                       \
    "b .L" name "_e2\n"                                                                            \
    "2:\n\t"                                                                                     \
    ML_CONV_M0_TAP_PAIR                                                                          \
    ".L" name "_e1:\n\t"                                                                             \
    ML_CONV_M0_TAP_PAIR                                                                          \
    ".L" name "_e2:\n\t"                                                                             \
    ML_CONV_M0_TAP_PAIR                                                                          \
    ".L" name "_e3:\n\t"                                                                             \
    ML_CONV_M0_TAP_PAIR                                                                          \
    "bne 2b\n\t"                                                                                 \
    "ldr r7, [sp, #12]\n\t"                                                                      \
    "ldr r4, [r7, #16]\n\t"       /* both channels' sh: 0 marks one outside the rq3 form */    \
    "ldr r5, [r7, #40]\n\t"                                                                      \
    "muls r4, r5, r4\n\t"                                                                        \
    "bne .L" name "_fast\n\t"                                                                      \
    "mov r0, r9\n\t"              /* such a pair: the sums to ml_conv_m0_slow4 */              \
    "mov r1, r10\n\t"                                                                            \
    "lsls r2, r0, #16\n\t"                                                                       \
    "subs r1, r1, r2\n\t"                                                                        \
    "mov r2, r11\n\t"                                                                            \
    "mov r3, ip\n\t"                                                                             \
    "lsls r4, r2, #16\n\t"                                                                       \
    "subs r3, r3, r4\n\t"                                                                        \
    "sub sp, sp, #32\n\t"                                                                        \
    "str r1, [sp, #0]\n\t"                                                                       \
    "str r0, [sp, #4]\n\t"                                                                       \
    "str r3, [sp, #8]\n\t"                                                                       \
    "str r2, [sp, #12]\n\t"                                                                      \
    "str r7, [sp, #16]\n\t"                                                                      \
    "ldr r4, [sp, #36]\n\t"                                                                      \
    "str r4, [sp, #20]\n\t"                                                                      \
    "ldr r4, [sp, #40]\n\t"                                                                      \
    "str r4, [sp, #24]\n\t"                                                                      \
    "ldr r4, [sp, #56]\n\t"                                                                      \
    "ldr r4, [r4, #36]\n\t"                                                                      \
    "str r4, [sp, #28]\n\t"                                                                      \
    "mov r0, sp\n\t"                                                                             \
    "bl ml_conv_m0_slow4\n\t"                                                                    \
    "add sp, sp, #32\n\t"                                                                        \
    "ldr r0, [sp, #24]\n\t"                                                                      \
    "ldr r1, [r0, #32]\n\t"                                                                      \
    "mov lr, r1\n\t"                                                                             \
    "ldr r6, [sp, #4]\n\t"                                                                       \
    "adds r6, r6, #2\n\t"                                                                        \
    "str r6, [sp, #4]\n\t"                                                                       \
    "ldr r6, [sp, #8]\n\t"                                                                       \
    "adds r6, r6, #2\n\t"                                                                        \
    "str r6, [sp, #8]\n\t"                                                                       \
    "ldr r7, [sp, #12]\n\t"                                                                      \
    "adds r7, r7, #48\n\t"                                                                       \
    "str r7, [sp, #12]\n\t"                                                                      \
    "b .L" name "_count\n"                                                                         \
    ".L" name "_fast:\n\t"                                                                            \
    "mov r0, r9\n\t"                                                                             \
    "mov r1, r10\n\t"                                                                            \
    "lsls r2, r0, #16\n\t"                                                                       \
    "subs r0, r1, r2\n\t"                                                                        \
    RQ("[sp, #20]")                                                                              \
    "ldr r6, [sp, #4]\n\t"                                                                       \
    "strb r1, [r6, #0]\n\t"                                                                      \
    "mov r0, r9\n\t"                                                                             \
    RQ("[sp, #20]")                                                                              \
    "ldr r6, [sp, #8]\n\t"                                                                       \
    "strb r1, [r6, #0]\n\t"                                                                      \
    "adds r7, r7, #24\n\t"                                                                       \
    "mov r0, r11\n\t"                                                                            \
    "mov r1, ip\n\t"                                                                             \
    "lsls r2, r0, #16\n\t"                                                                       \
    "subs r0, r1, r2\n\t"                                                                        \
    RQ("[sp, #20]")                                                                              \
    "ldr r6, [sp, #4]\n\t"                                                                       \
    "strb r1, [r6, #1]\n\t"                                                                      \
    "adds r6, r6, #2\n\t"                                                                        \
    "str r6, [sp, #4]\n\t"                                                                       \
    "mov r0, r11\n\t"                                                                            \
    RQ("[sp, #20]")                                                                              \
    "ldr r6, [sp, #8]\n\t"                                                                       \
    "strb r1, [r6, #1]\n\t"                                                                      \
    "adds r6, r6, #2\n\t"                                                                        \
    "str r6, [sp, #8]\n\t"                                                                       \
    "adds r7, r7, #24\n\t"                                                                       \
    "str r7, [sp, #12]\n"                                                                        \
    ".L" name "_count:\n\t"                                                                           \
    "ldr r6, [sp, #16]\n\t"                                                                      \
    "subs r6, r6, #1\n\t"                                                                        \
    "str r6, [sp, #16]\n\t"                                                                      \
    "beq 3f\n\t"                                                                                 \
    "b 1b\n"                      /* beyond a conditional branch's reach */                      \
    "3:\n\t"                                                                                     \
    "add sp, sp, #28\n\t"                                                                        \
    ML_M0_EPILOGUE                                                                               \
    ".size " name ", .-" name "\n\t"

__asm__(ML_M0_IF_RELU_FORM(ML_CONV_M0_PAIRS("ml_conv_m0_pairs_relu", ML_M0_RQ3_RELU))
        ML_M0_IF_ANY_FORM(ML_CONV_M0_PAIRS("ml_conv_m0_pairs_any", ML_M0_RQ3_ANY)));

/* What the general path (ml_conv_m0_two) reads. */
typedef struct {
    const int32_t *cols;
    const ml_m0_rq3 *rec;     /* per channel of the chunk: rec[j].base */
    const int8_t *filter;     /* the chunk's first channel */
    const int32_t *mult;      /* the chunk's first channel's multiplier and shift */
    const int32_t *shift;
    int32_t k;
    uint32_t lane_bias;       /* (k / 2) * 2^15, the lanes' offset in L */
    int32_t out_c;
    ml_m0_act act;
} ml_conv_m0_pass;


/* Channels j and j2 (j2 = j for a last channel alone) of the chunk at one or two pixels, with
 * the requantization in C (ml_m0_out_s8): an odd K, or the odd channel out. */
static ML_NOINLINE void ml_conv_m0_two(const ml_conv_m0_pass *ps, int32_t j, int32_t j2,
                                       int8_t *o0, int pair)
{
    const int32_t k = ps->k;
    const int8_t *w0 = ps->filter + j * k;
    const int8_t *w1 = ps->filter + j2 * k;
    int32_t s[4];
    ml_conv_m0_swar(ps->cols, w0, w1, k >> 1, s);
    int32_t a00 = (int32_t)((uint32_t)s[0] - ((uint32_t)s[2] << 16) - ps->lane_bias);
    int32_t a01 = (int32_t)((uint32_t)s[1] - ((uint32_t)s[3] << 16) - ps->lane_bias);
    int32_t a10 = s[2];
    int32_t a11 = s[3];
    if (k & 1) {  /* the odd last tap: its lanes, exactly (|xa| <= 128) */
        const int32_t tail = ps->cols[k - 1];
        const int32_t ta = (int32_t)(int16_t)(uint16_t)((uint32_t)tail & 0xFFFFu);
        const int32_t tb = (tail - ta) >> 16;
        a00 += ta * w0[k - 1];
        a01 += ta * w1[k - 1];
        a10 += tb * w0[k - 1];
        a11 += tb * w1[k - 1];
    }
    o0[j] = ml_m0_out_s8(a00 + ps->rec[j].base, ps->mult[j], ps->shift[j], &ps->act);
    if (pair) {
        o0[ps->out_c + j] =
            ml_m0_out_s8(a10 + ps->rec[j].base, ps->mult[j], ps->shift[j], &ps->act);
    }
    if (j2 != j) {
        o0[j2] = ml_m0_out_s8(a01 + ps->rec[j2].base, ps->mult[j2], ps->shift[j2], &ps->act);
        if (pair) {
            o0[ps->out_c + j2] =
                ml_m0_out_s8(a11 + ps->rec[j2].base, ps->mult[j2], ps->shift[j2], &ps->act);
        }
    }
}

static ML_NOINLINE void ml_conv2d_s8_m0(const ml_conv_params *params,
                                        const ml_per_channel_quant *quant, void *scratch,
                                        const ml_dims *input_dims, const int8_t *input,
                                        const ml_dims *filter_dims, const int8_t *filter,
                                        const int32_t *bias, const ml_dims *output_dims,
                                        int8_t *output)
{
    ml_conv_m0 d;
    d.params = params;
    d.in_h = input_dims->h;
    d.in_w = input_dims->w;
    d.in_c = input_dims->c;
    d.k_h = filter_dims->h;
    d.k_w = filter_dims->w;
    d.k = d.k_h * d.k_w * d.in_c;
    d.zp = -params->input_offset;
    /* the column and the filter rows: K, or K + 1 with the generator's padded filter (its zero
     * weight against a zero in the column) */
    const int32_t k = params->m0_layout & ML_CONV_M0_PADDED ? d.k + 1 : d.k;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t pixels = output_dims->h * out_w;
    int32_t *cols = (int32_t *)scratch;
    ml_conv_m0_pass ps;
    ps.cols = cols;
    ps.k = k;
    ps.lane_bias = (uint32_t)(k >> 1) << 15;
    ps.out_c = out_c;
    ps.act.out_off = params->output_offset;
    ps.act.act_min = params->act_min;
    ps.act.act_max = params->act_max;
    /* After the column, one ml_m0_rq3 per channel of the chunk. The generator gives layers
     * with a narrower clamp than [-128, 127] ML_CONV2D_S8_SCRATCH_BYTES_ANY (ml_conv2d_s8.h),
     * which still leaves at least 8K bytes after the column, so at least one. */
    const int full_clamp = params->act_min <= -128 && params->act_max >= 127;
    const int32_t room =
        (int32_t)(full_clamp ? ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims)
                             : ML_CONV2D_S8_SCRATCH_BYTES_ANY(input_dims, filter_dims)) -
        4 * k;
    int32_t chunk = room / (int32_t)sizeof(ml_m0_rq3);
    chunk = chunk < ML_CONV_M0_CHUNK ? chunk : ML_CONV_M0_CHUNK;
    chunk = chunk < out_c ? chunk : out_c;
    if (chunk > 1 && chunk < out_c) {
        chunk &= ~1;  /* whole channel pairs, but in the last chunk */
    }
#if defined(ML_CONV_M0_FILTER_CACHE)
    /* Built for a board that reads flash through a cache (`compile --target rp2040`: the XIP
     * cache; ml_config.h gives one way of it and the whole): a filter larger than three quarters
     * of the cache goes in chunks whose rows fit one way, so that every pixel pair after the first
     * finds them there, for a column gathered per pixel pair and chunk instead of per pixel pair
     * (ResNet-8's last layer reads its 36 KB filter 32 times over the RP2040's 16 KB). A filter
     * that fits stays whole: its rows stay cached anyway (ResNet-8's 9 KB layer 5 lost 0.5 M
     * cycles in chunks), and so does one in RAM (ML_CONV_M0_IN_RAM: staged, or all constants). */
    if (!(params->m0_layout & ML_CONV_M0_IN_RAM) && chunk > 2 &&
        out_c * k > ML_CONV_M0_FILTER_CACHE_ALL / 4 * 3 && chunk * k > ML_CONV_M0_FILTER_CACHE) {
        const int32_t fit = (int32_t)(ML_CONV_M0_FILTER_CACHE / k) & ~1;
        chunk = fit > 2 ? fit : 2;
    }
#endif
    ml_m0_rq3 *rec = (ml_m0_rq3 *)(cols + k);
    ps.rec = rec;
    ml_conv_m0_job job;
    job.cols = cols;
    job.k = k;
    job.act_min = params->act_min;
    job.act_max = params->act_max;
    job.act = &ps.act;
    /* direct calls, not a pointer: the static stack bound follows them */
    const int relu = params->act_min == params->output_offset;
    int8_t dummy[ML_CONV_M0_CHUNK];  /* the second pixel's outputs when there is none */
    /* one chunk of channels: the records the layer's first call left in the scratch still hold */
    const int kept = params->scratch_kept && chunk >= out_c;
    for (int32_t c0 = 0; c0 < out_c; c0 += chunk) {
        const int32_t n = out_c - c0 < chunk ? out_c - c0 : chunk;
        ps.filter = filter + c0 * k;
        ps.mult = quant->multiplier + c0;
        ps.shift = quant->shift + c0;
        for (int32_t j = 0; j < n && !kept; ++j) {
            if (params->m0_layout & ML_CONV_M0_FOLDED) {  /* the generator summed the weights */
                rec[j].base = bias[c0 + j];
            } else {
                const int8_t *w = ps.filter + j * k;
                int32_t s = k >= 4 ? ml_conv_m0_wsum(w, k >> 2) : 0;
                for (int32_t i = k & ~3; i < k; ++i) {
                    s += w[i];
                }
                rec[j].base = (int32_t)((uint32_t)(bias != NULL ? bias[c0 + j] : 0) +
                                        (uint32_t)params->input_offset * (uint32_t)s);
            }
            if (!ml_m0_rq3_of(&rec[j], ps.mult[j], ps.shift[j], params->output_offset)) {
                rec[j].sh = 0;  /* requantized by ml_conv_m0_slow4 */
                rec[j].ml = ps.mult[j];
                rec[j].mm = ps.shift[j];
            }
        }
        for (int32_t b = 0; b < input_dims->n; ++b) {
            const int8_t *in_batch = input + b * d.in_h * d.in_w * d.in_c;
            int8_t *out = output + b * pixels * out_c + c0;
            int32_t oy = 0, ox = 0;
            for (int32_t p = 0; p < pixels; p += 2) {
                const int pair = p + 1 < pixels;
                int32_t oyb = oy, oxb = ox + 1;
                if (oxb == out_w) {
                    oxb = 0;
                    ++oyb;
                }
                ml_conv_m0_gather(&d, in_batch, oy, ox, oyb, oxb, pair, cols);
                if (k != d.k) {
                    cols[d.k] = 0;  /* the padding tap: both pixels' value 0 */
                }
                int32_t j = 0;
                /* every channel pair in one call, unless its form is left out (ml_nn_m0.h) */
                if ((k & 1) == 0 && n > 1 && (relu ? ML_M0_RELU_FORM : ML_M0_ANY_FORM)) {
                    job.w = ps.filter;
                    job.out_a = out;
                    job.out_b = pair ? out + out_c : dummy;
                    job.rec = rec;
                    job.n_pairs = n >> 1;
#if ML_M0_RELU_FORM && ML_M0_ANY_FORM
                    if (relu) {
                        ml_conv_m0_pairs_relu(&job);
                    } else {
                        ml_conv_m0_pairs_any(&job);
                    }
#elif ML_M0_RELU_FORM
                    ml_conv_m0_pairs_relu(&job);
#else
                    ml_conv_m0_pairs_any(&job);
#endif
                    j = n & ~1;
                }
                for (; j + 1 < n; j += 2) {  /* an odd K: pairs in C */
                    ml_conv_m0_two(&ps, j, j + 1, out, pair);
                }
                if (j < n) {
                    ml_conv_m0_two(&ps, j, j, out, pair);
                }
                out += 2 * out_c;
                oy = oyb;
                ox = oxb + 1;
                if (ox == out_w) {
                    ox = 0;
                    ++oy;
                }
            }
        }
    }
}
#endif /* ML_M0_PATHS */

ml_status ml_conv2d_s8(const ml_conv_params *params, const ml_per_channel_quant *quant,
                       void *scratch,
                       const ml_dims *input_dims, const int8_t *input,
                       const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const ml_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t k_h = filter_dims->h;
    const int32_t k_w = filter_dims->w;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t stride_w = params->stride_w;
    ml_conv_geometry geo;
    geo.group_c = filter_dims->c;
    if (geo.group_c <= 0 || in_c % geo.group_c != 0 || filter_dims->n != out_c ||
        output_dims->n != input_dims->n || params->stride_h < 1 || stride_w < 1 ||
        params->dilation_h < 1 || params->dilation_w < 1) {
        return ML_ARG_ERROR;
    }
    geo.groups = in_c / geo.group_c;
    if (out_c % geo.groups != 0) {
        return ML_ARG_ERROR;
    }
    geo.k_w = k_w;
    geo.group_out = out_c / geo.groups;
    geo.per_channel = k_h * k_w * geo.group_c;
    geo.tap_dy = params->dilation_h * in_w * in_c;
    geo.tap_dx = params->dilation_w * in_c;
    geo.merge_row = params->dilation_w == 1 && geo.groups == 1;
#if ML_CONV_PAIRS8
    if (params->filter_widened > 1 && (scratch == NULL || geo.groups != 1)) {
        return ML_ARG_ERROR;  /* a channel-pair layout, which only the DSP path reads */
    }
#endif
#if defined(ML_NN_DSP) && !defined(ML_CONV2D_S8_NO_IN_PLACE)
    if (scratch != NULL && geo.groups == 1 && (const void *)input == (const void *)output) {
        return ml_conv2d_s8_dsp_in_place(params, quant, scratch, input_dims, output, filter_dims,
                                         filter, bias, output_dims);
    }
#endif
    if ((const void *)input == (const void *)output) {
        return ML_ARG_ERROR;  /* in place only on the DSP path (ml_conv2d_s8.h) */
    }
#if defined(ML_NN_DSP)
    if (scratch != NULL && geo.groups == 1) {
        return ml_conv2d_s8_dsp(params, quant, scratch, input_dims, input, filter_dims, filter,
                                bias, output_dims, output);
    }
#if defined(ML_NO_FALLBACK_CONV2D_S8)
    return ML_NO_IMPL;  /* --optimize size: the generator saw every layer take the DSP path */
#endif
#elif ML_M0_PATHS
    if ((params->m0_layout & ML_CONV_M0_PADDED) && (geo.per_channel & 1) == 0) {
        return ML_ARG_ERROR;  /* only an odd K is padded */
    }
    if (scratch != NULL && geo.groups == 1 && (bias != NULL || !(params->m0_layout & ML_CONV_M0_FOLDED))) {
        ml_conv2d_s8_m0(params, quant, scratch, input_dims, input, filter_dims, filter, bias,
                        output_dims, output);
        return ML_OK;
    }
#if defined(ML_NO_FALLBACK_M0_CONV2D_S8)
    return ML_NO_IMPL;  /* the generator saw every layer take the path above (a scratch, no groups) */
#endif
    if (params->m0_layout != 0) {
        return ML_ARG_ERROR;  /* a folded bias or a padded filter is for the path above only */
    }
#else
    (void)scratch;
#endif

    if (k_h == 1 && k_w == 1 && geo.groups == 1 && params->stride_h == 1 && stride_w == 1 &&
        params->pad_h == 0 && params->pad_w == 0 && out_h == in_h && out_w == in_w) {
        /* Pointwise: a matrix product, so pixels pair up across image rows too. */
        const int32_t pixels = input_dims->n * in_h * in_w;
        for (int32_t p = 0; p < pixels; p += 2) {
            const int32_t pair = p + 1 < pixels;
            const int8_t *in0 = input + p * in_c;
            int8_t *out0 = output + p * out_c;
            ml_conv_pixels(params, quant, &geo, in0, pair ? in0 + in_c : NULL, 1, 1, filter, bias,
                           out0, pair ? out0 + out_c : NULL);
        }
        return ML_OK;
    }

    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * in_c;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t ky_lo, ky_hi;
            ml_conv_clip_window(iy0, params->dilation_h, k_h, in_h, &ky_lo, &ky_hi);
            int8_t *out_row = output + (b * out_h + oy) * out_w * out_c;
            int32_t ox = 0;
            while (ox < out_w) {
                const int32_t ix0 = ox * stride_w - params->pad_w;
                int32_t kx_lo, kx_hi;
                ml_conv_clip_window(ix0, params->dilation_w, k_w, in_w, &kx_lo, &kx_hi);
                /* The next pixel joins this one when its window clips the same way. */
                int32_t pair = 0;
                if (ox + 1 < out_w) {
                    int32_t next_lo, next_hi;
                    ml_conv_clip_window(ix0 + stride_w, params->dilation_w, k_w, in_w, &next_lo,
                                        &next_hi);
                    pair = next_lo == kx_lo && next_hi == kx_hi;
                }
                int32_t rows = ky_hi - ky_lo;
                const int8_t *in0 = in_batch;  /* never read when no tap is in the image */
                const int8_t *w_tap = filter;
                if (rows > 0 && kx_hi > kx_lo) {
                    in0 += (iy0 + ky_lo * params->dilation_h) * in_w * in_c +
                           (ix0 + kx_lo * params->dilation_w) * in_c;
                    w_tap += (ky_lo * k_w + kx_lo) * geo.group_c;
                } else {
                    rows = 0;
                    pair = 0;  /* keeps every pointer inside the input */
                }
                int8_t *out0 = out_row + ox * out_c;
                ml_conv_pixels(params, quant, &geo, in0, pair ? in0 + stride_w * in_c : NULL, rows,
                               kx_hi - kx_lo, w_tap, bias, out0, pair ? out0 + out_c : NULL);
                ox += pair ? 2 : 1;
            }
        }
    }
    return ML_OK;
}

#if ML_CONV_PAIRS
/* The 4 values of a block at w, zeros from `left` on (a channel's last, partial block), as
 * {v0, v2} and {v1, v3}: the words the two-channel routine multiplies by a column's. */
static void ml_conv_stage_block(int32_t *dst, const int8_t *w, int32_t left)
{
    int32_t v[4] = {0, 0, 0, 0};
    for (int32_t i = 0; i < 4 && i < left; ++i) {
        v[i] = w[i];
    }
    dst[0] = (int32_t)(((uint32_t)(uint16_t)v[2] << 16) | (uint16_t)v[0]);
    dst[1] = (int32_t)(((uint32_t)(uint16_t)v[3] << 16) | (uint16_t)v[1]);
}
#endif

#if ML_CONV_PAIRS
/* One block of a channel pair, widened: each channel's word split by SXTB16, then stored. */
#define ML_CONV_STAGE_BLOCK                                                                     \
    "ldr %[a], [%[p0]], #4\n\t"                                                                  \
    "ldr %[c], [%[p1]], #4\n\t"                                                                  \
    "sxtb16 %[t0], %[a]\n\t"                                                                     \
    "sxtb16 %[t1], %[a], ror #8\n\t"                                                             \
    "sxtb16 %[t2], %[c]\n\t"                                                                     \
    "sxtb16 %[t3], %[c], ror #8\n\t"                                                             \
    "strd %[t0], %[t1], [%[w]], #8\n\t"                                                          \
    "strd %[t2], %[t3], [%[w]], #8\n\t"
#endif

void ml_conv2d_s8_stage(int8_t *dst, const int8_t *filter, int32_t out_c, int32_t k, int32_t widen)
{
#if ML_CONV_PAIRS
    if (widen && (out_c & 1) == 0) {  /* (an odd count is the kernel's ML_ARG_ERROR) */
        /* per channel pair and block: channel 0's two words, then channel 1's */
        int32_t *w = (int32_t *)(void *)dst;
        const int32_t blocks = (k + 3) >> 2;
        for (int32_t oc = 0; oc + 1 < out_c; oc += 2) {
            const int8_t *w0 = filter + oc * k;
            const int8_t *w1 = w0 + k;
            int32_t b = 0;
            if ((k & 3) == 0) {
                /* Whole words: SXTB16 splits each as the routine wants; two blocks of the pair a
                 * turn, 9 instructions per block where gcc's loop took 15 (the copy runs before
                 * every such layer), an odd count's first block entering the turn halfway. */
                int32_t n = (blocks + 1) >> 1, a, c, t0, t1, t2, t3;
                const int8_t *p0 = w0, *p1 = w1;
                __asm__ volatile("tst %[blocks], #1\n\t"
                                 "bne 2f\n"
                                 "1:\n\t" ML_CONV_STAGE_BLOCK
                                 "2:\n\t" ML_CONV_STAGE_BLOCK
                                 "subs %[n], %[n], #1\n\t"
                                 "bne 1b"
                                 : [p0] "+r"(p0), [p1] "+r"(p1), [w] "+r"(w), [n] "+r"(n),
                                   [a] "=&r"(a), [c] "=&r"(c), [t0] "=&r"(t0), [t1] "=&r"(t1),
                                   [t2] "=&r"(t2), [t3] "=&r"(t3)
                                 : [blocks] "r"(blocks)
                                 : "cc", "memory");
                b = blocks;
            }
            for (; b < blocks; ++b, w += 4) {
                ml_conv_stage_block(w, w0 + 4 * b, k - 4 * b);
                ml_conv_stage_block(w + 2, w1 + 4 * b, k - 4 * b);
            }
        }
        return;
    }
#else
    (void)widen;
#endif
    memcpy(dst, filter, (size_t)out_c * (size_t)k);
    memset(dst + out_c * k, 0, 4);
}
