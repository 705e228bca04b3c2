#include "ml_conv2d_s8.h"
#include "ml_nn_dsp.h"
#include "ml_nn_m0.h"

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

__asm__(
    ".text\n\t"
    ".syntax unified\n\t"
    ".thumb\n\t"
    ".balign 2\n\t"
    ".global ml_conv_m0_dot_2x2\n\t"
    ".type ml_conv_m0_dot_2x2, %function\n\t"
    ".thumb_func\n"
    "ml_conv_m0_dot_2x2:\n\t"
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
 * DSP path: im2col to int16, then one output channel at a time against ML_CONV2D_S8_PIXELS
 * columns, two multiply-accumulates per SMLAD.
 *
 * A column is one output pixel's window, K = KH * KW * C_IN values in the filter's order, each
 * already plus input_offset (taps outside the image are 0, as TFLM skips them), padded with 0
 * to a multiple of 4. Columns interleave by blocks of 4 values: block b of pixel p is the two
 * words cols[(b * PIXELS + p) * 2 + {0, 1}], holding values {k0, k2} and {k1, k3} of the block,
 * which is the order SXTB16 splits four int8 weights into. So the weights stay int8 in their
 * TFLite layout, and one weight word serves all the pixels of the group.
 */
#define ML_CONV_PX ML_CONV2D_S8_PIXELS

/* Widen n raw int8 values (plus offset, as halfword pairs in off2) into consecutive blocks of
 * one column, from a block boundary; a partial last block is completed with zeros. */
static void ml_conv_dsp_widen(const int8_t *raw, int32_t n, int32_t *col, int32_t off2)
{
    for (; n >= 4; n -= 4) {
        const int32_t v = ml_dsp_read_s8x4(raw);
        raw += 4;
        col[0] = ml_dsp_sxtab16(off2, v);
        col[1] = ml_dsp_sxtab16_ror8(off2, v);
        col += 2 * ML_CONV_PX;
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

static void ml_conv_dsp_zero(int32_t *col, int32_t blocks)
{
    for (; blocks > 0; --blocks) {
        col[0] = 0;
        col[1] = 0;
        col += 2 * ML_CONV_PX;
    }
}

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
} ml_conv_dsp;

/* Column `col` (one pixel's block 0) := the window of output pixel (oy, ox). */
static void ml_conv_dsp_im2col(const ml_conv_dsp *d, const int8_t *in_batch, int32_t oy,
                               int32_t ox, int32_t *col)
{
    const ml_conv_params *pr = d->params;
    const int32_t in_c = d->in_c;
    const int32_t iy0 = oy * pr->stride_h - pr->pad_h;
    const int32_t ix0 = ox * pr->stride_w - pr->pad_w;
    const int32_t row_run = d->k_w * in_c;
    if ((in_c & 3) == 0) {
        /* Every tap starts on a block boundary: widen straight from the input. */
        for (int32_t ky = 0; ky < d->k_h; ++ky) {
            const int32_t iy = iy0 + ky * pr->dilation_h;
            int32_t *dst = col + ky * (row_run >> 2) * 2 * ML_CONV_PX;
            if (iy < 0 || iy >= d->in_h) {
                ml_conv_dsp_zero(dst, row_run >> 2);
                continue;
            }
            const int8_t *row = in_batch + iy * d->in_w * in_c;
            if (pr->dilation_w == 1 && ix0 >= 0 && ix0 + d->k_w <= d->in_w) {
                ml_conv_dsp_widen(row + ix0 * in_c, row_run, dst, d->off2);
                continue;
            }
            for (int32_t kx = 0; kx < d->k_w; ++kx) {
                const int32_t ix = ix0 + kx * pr->dilation_w;
                int32_t *tap = dst + kx * (in_c >> 2) * 2 * ML_CONV_PX;
                if (ix < 0 || ix >= d->in_w) {
                    ml_conv_dsp_zero(tap, in_c >> 2);
                } else {
                    ml_conv_dsp_widen(row + ix * in_c, in_c, tap, d->off2);
                }
            }
        }
        return;
    }
    if (d->k_h == 1 && d->k_w == 1) {
        if (iy0 < 0 || iy0 >= d->in_h || ix0 < 0 || ix0 >= d->in_w) {
            ml_conv_dsp_zero(col, d->blocks);
        } else {
            ml_conv_dsp_widen(in_batch + (iy0 * d->in_w + ix0) * in_c, in_c, col, d->off2);
        }
        return;
    }
    /* Gather the raw window, outside taps as the input zero point (widened to 0). */
    const int8_t zp = (int8_t)(-pr->input_offset);
    int8_t *s = d->stage;
    for (int32_t ky = 0; ky < d->k_h; ++ky) {
        const int32_t iy = iy0 + ky * pr->dilation_h;
        if (iy < 0 || iy >= d->in_h) {
            memset(s, zp, (size_t)row_run);
            s += row_run;
            continue;
        }
        const int8_t *row = in_batch + iy * d->in_w * in_c;
        if (pr->dilation_w == 1 && ix0 >= 0 && ix0 + d->k_w <= d->in_w) {
            const int8_t *src = row + ix0 * in_c;
            for (int32_t i = 0; i < row_run; ++i) {
                s[i] = src[i];
            }
            s += row_run;
            continue;
        }
        for (int32_t kx = 0; kx < d->k_w; ++kx) {
            const int32_t ix = ix0 + kx * pr->dilation_w;
            if (ix < 0 || ix >= d->in_w) {
                for (int32_t c = 0; c < in_c; ++c) {
                    s[c] = zp;
                }
            } else {
                for (int32_t c = 0; c < in_c; ++c) {
                    s[c] = row[ix * in_c + c];
                }
            }
            s += in_c;
        }
    }
    ml_conv_dsp_widen(d->stage, d->k, col, d->off2);
}

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

/* Output offset already added; full_range is a constant in each caller. */
ML_DSP_INLINE int8_t ml_conv_dsp_clamp(int32_t v, int full_range, int32_t act_min,
                                       int32_t act_max)
{
    return full_range ? (int8_t)ml_dsp_ssat8(v) : ml_clamp_s8(v, act_min, act_max);
}

/*
 * Every output channel of a group of `np` <= ML_CONV_PX pixels whose columns are ready; the
 * outputs of pixel p go to out + p * out_c. Columns past np hold stale values, computed and
 * never stored. np == ML_CONV_PX and full_range (the clamp is [-128, 127]: one SSAT) are
 * constants in the callers, so each specialization keeps only its own tests.
 */
ML_DSP_INLINE void ml_conv_dsp_group(const ml_conv_dsp *d, const int8_t *filter,
                                     const int32_t *bias, int8_t *out, int32_t np,
                                     int full_range)
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
        int32_t v0, v1, v2, v3;
        if (sh <= -1 && sh >= -30 && m >= 0) {
            const int32_t n = -sh;
            const int32_t round = (int32_t)(1u << (n - 1));
            v0 = ml_conv_dsp_requant(a0, m, round, n, out_off);
            v1 = ml_conv_dsp_requant(a1, m, round, n, out_off);
            v2 = ml_conv_dsp_requant(a2, m, round, n, out_off);
            v3 = ml_conv_dsp_requant(a3, m, round, n, out_off);
        } else {
            v0 = ml_conv_dsp_requant_ref(a0, m, sh) + out_off;
            v1 = ml_conv_dsp_requant_ref(a1, m, sh) + out_off;
            v2 = ml_conv_dsp_requant_ref(a2, m, sh) + out_off;
            v3 = ml_conv_dsp_requant_ref(a3, m, sh) + out_off;
        }
        int8_t *o = out + oc;
        o[0] = ml_conv_dsp_clamp(v0, full_range, act_min, act_max);
        if (np > 1) {
            o[out_c] = ml_conv_dsp_clamp(v1, full_range, act_min, act_max);
        }
        if (np > 2) {
            o[2 * out_c] = ml_conv_dsp_clamp(v2, full_range, act_min, act_max);
        }
        if (np > 3) {
            o[3 * out_c] = ml_conv_dsp_clamp(v3, full_range, act_min, act_max);
        }
    }
}

/*
 * The common case with every test hoisted out of the channel loop: a full group, a bias, the
 * clamp [-128, 127] (one SSAT) and accumulators the generator proved to stay below 2^30
 * (params->acc_bounded), so the four-instruction requantization needs no range check.
 * Channels whose shift falls outside [-22, -1] take the reference requantization; for the
 * others the output offset rides in SMMLAR's accumulator: adding out_off * 2^n before the
 * final shift by n adds exactly out_off, and n <= 22 keeps the high word below 2^31.
 */
static ML_NOINLINE void ml_conv_dsp_group_fast(const ml_conv_dsp *d, const int8_t *w,
                                               const int32_t *bias, int8_t *out)
{
    const int32_t *mult = d->quant->multiplier;
    const int32_t *shift = d->quant->shift;
    const int32_t *cols = d->cols;
    const int32_t *tail_col = cols + (d->k >> 2) * 2 * ML_CONV_PX;
    const int32_t full = d->k >> 2;
    const int32_t rest = d->k & 3;
    const int32_t out_c = d->out_c;
    const int32_t out_off = d->params->output_offset;
    const int32_t odd = 2 * out_off + 1;
    int8_t *const end = out + out_c;
    for (int8_t *o = out; o != end; ++o) {
        const int32_t b = *bias++;
        int32_t a0 = b, a1 = b, a2 = b, a3 = b;
        if (full > 0) {
            ml_dsp_mac_1x4(cols, w, full, &a0, &a1, &a2, &a3);
            w += 4 * full;
        }
        if (rest != 0) {
            /* The bytes past the channel's last weight meet zero columns; the last channel
             * reads its tail byte by byte so as not to read past the filter. */
            uint32_t wv = 0;
            if (o + 1 != end) {
                wv = (uint32_t)ml_dsp_read_s8x4(w);
            } else {
                for (int32_t i = 0; i < rest; ++i) {
                    wv |= (uint32_t)(uint8_t)w[i] << (8 * i);
                }
            }
            w += rest;
            const int32_t wl = ml_dsp_sxtb16((int32_t)wv);
            const int32_t wh = ml_dsp_sxtb16_ror8((int32_t)wv);
            a0 = ml_dsp_smlad(tail_col[1], wh, ml_dsp_smlad(tail_col[0], wl, a0));
            a1 = ml_dsp_smlad(tail_col[3], wh, ml_dsp_smlad(tail_col[2], wl, a1));
            a2 = ml_dsp_smlad(tail_col[5], wh, ml_dsp_smlad(tail_col[4], wl, a2));
            a3 = ml_dsp_smlad(tail_col[7], wh, ml_dsp_smlad(tail_col[6], wl, a3));
        }
        const int32_t m = *mult++;
        const int32_t sh = *shift++;
        int32_t v0, v1, v2, v3;
        if (__builtin_expect((uint32_t)(sh + 22) < 22u && m >= 0, 1)) {
            const int32_t n = -sh;
            const int32_t round = ml_dsp_round_with_offset(odd, sh);
            v0 = ml_dsp_requantize(a0, m, round, n);
            v1 = ml_dsp_requantize(a1, m, round, n);
            v2 = ml_dsp_requantize(a2, m, round, n);
            v3 = ml_dsp_requantize(a3, m, round, n);
        } else {
            v0 = ml_conv_dsp_requant_ref(a0, m, sh) + out_off;
            v1 = ml_conv_dsp_requant_ref(a1, m, sh) + out_off;
            v2 = ml_conv_dsp_requant_ref(a2, m, sh) + out_off;
            v3 = ml_conv_dsp_requant_ref(a3, m, sh) + out_off;
        }
        ml_dsp_store_strided4(o, out_c, ml_dsp_ssat8(v0), ml_dsp_ssat8(v1), ml_dsp_ssat8(v2),
                              ml_dsp_ssat8(v3));
    }
}

/* Everything else: partial groups, no bias, a narrower clamp, unproven accumulators. */
static ML_NOINLINE void ml_conv_dsp_group_any(const ml_conv_dsp *d, const int8_t *filter,
                                              const int32_t *bias, int8_t *out, int32_t np)
{
    ml_conv_dsp_group(d, filter, bias, out, np, 0);
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
    d.cols = (int32_t *)scratch;
    d.stage = (int8_t *)(d.cols + d.blocks * 2 * ML_CONV_PX);
    const int fast = bias != NULL && params->acc_bounded && params->act_min <= -128 &&
                     params->act_max >= 127;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = d.out_c;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * d.in_h * d.in_w * d.in_c;
        int8_t *out_batch = output + b * out_h * out_w * out_c;
        int32_t np = 0;
        int32_t first = 0;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            for (int32_t ox = 0; ox < out_w; ++ox) {
                ml_conv_dsp_im2col(&d, in_batch, oy, ox, d.cols + 2 * np);
                if (++np == ML_CONV_PX) {
                    if (fast) {
                        ml_conv_dsp_group_fast(&d, filter, bias, out_batch + first * out_c);
                    } else {
                        ml_conv_dsp_group_any(&d, filter, bias, out_batch + first * out_c, np);
                    }
                    first += np;
                    np = 0;
                }
            }
        }
        if (np > 0) {
            ml_conv_dsp_group_any(&d, filter, bias, out_batch + first * out_c, np);
        }
    }
    return ML_OK;
}
#endif /* ML_NN_DSP */

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__)
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
 * words remain), then up to ML_CONV_M0_CHUNK channels' starting values and, when there is room,
 * their constants for the fast requantization (ml_m0_rq_apply). An odd last tap is added in C.
 * Wider layers run in chunks of channels, rebuilding the columns for each.
 */
#define ML_CONV_M0_CHUNK 32

/* sums = {L0, L1, H0, H1} over `pairs` tap pairs of the column against rows w0 and w1. */
void ml_conv_m0_swar(const int32_t *cols, const int8_t *w0, const int8_t *w1, int32_t pairs,
                     int32_t sums[4]);

__asm__(
    ".text\n\t"
    ".syntax unified\n\t"
    ".thumb\n\t"
    ".balign 2\n\t"
    ".global ml_conv_m0_swar\n\t"
    ".type ml_conv_m0_swar, %function\n\t"
    ".thumb_func\n"
    "ml_conv_m0_swar:\n\t"
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
 * quad is 4 loads, 4 adds and the loop step (2.5 instructions per weight; gcc's loop took 5).
 * The generator slices some layers into one call per output row (in-place chunking), and
 * each call sums every channel's weights again, so this matters.
 */
int32_t ml_conv_m0_wsum(const int8_t *w, int32_t quads);

__asm__(
    ".text\n\t"
    ".syntax unified\n\t"
    ".thumb\n\t"
    ".balign 2\n\t"
    ".global ml_conv_m0_wsum\n\t"
    ".type ml_conv_m0_wsum, %function\n\t"
    ".thumb_func\n"
    "ml_conv_m0_wsum:\n\t"
    "push {r4, r5, r6, r7, lr}\n\t"
    "lsls r1, r1, #2\n\t"
    "adds r5, r0, r1\n\t"         /* the end, and three more bases after it */
    "adds r2, r5, #1\n\t"
    "adds r3, r5, #2\n\t"
    "adds r0, r5, #3\n\t"
    "rsbs r1, r1, #0\n\t"
    "movs r4, #0\n"
    "1:\n\t"
    "ldrsb r6, [r5, r1]\n\t"
    "ldrsb r7, [r2, r1]\n\t"
    "adds r4, r4, r6\n\t"
    "adds r4, r4, r7\n\t"
    "ldrsb r6, [r3, r1]\n\t"
    "ldrsb r7, [r0, r1]\n\t"
    "adds r4, r4, r6\n\t"
    "adds r4, r4, r7\n\t"
    "adds r1, r1, #4\n\t"
    "bne 1b\n\t"
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

/* One tap's in_c values of two pixels into the column: dst[c] = a[c] + 2^16 * b[c], a NULL
 * source reading as the zero point. */
static void ml_conv_m0_tap(int32_t *dst, const int8_t *a, const int8_t *b, int32_t n,
                           int32_t zp)
{
    const int32_t zp_hi = (int32_t)((uint32_t)zp << 16);
    if (a != NULL && b != NULL) {
        for (int32_t c = 0; c < n; ++c) {
            dst[c] = a[c] + (int32_t)((uint32_t)b[c] << 16);
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

typedef struct {
    const int32_t *cols;
    const ml_m0_rq *q;        /* the chunk's channels in the fast form, or NULL */
    const int8_t *filter;     /* the chunk's first channel */
    const int32_t *base;      /* per channel of the chunk: bias + input_offset * sum(w) */
    const int32_t *mult;      /* the chunk's first channel's multiplier and shift */
    const int32_t *shift;
    int32_t n;                /* channels in the chunk */
    int32_t k;
    uint32_t lane_bias;       /* (k / 2) * 2^15, the lanes' offset in L */
    int32_t out_c;
    ml_m0_act act;
} ml_conv_m0_pass;

/* Output j of the chunk (its first channel's pointers advanced by the caller). */
static inline int8_t ml_conv_m0_out(const ml_conv_m0_pass *ps, const ml_m0_rq *q,
                                    const int32_t *base, const int32_t *mult,
                                    const int32_t *shift, int32_t j, int32_t acc)
{
    if (q != NULL) {
        return (int8_t)ml_m0_rq_apply(acc + base[j], &q[j], &ps->act);
    }
    return ml_m0_out_s8(acc + base[j], mult[j], shift[j], &ps->act);
}

/* Every channel of a chunk at one or two pixels (o0 and, when pair, o0 + out_c). */
static ML_NOINLINE void ml_conv_m0_channels(const ml_conv_m0_pass *ps, int8_t *o0, int pair)
{
    const int32_t k = ps->k;
    const int32_t pairs = k >> 1;
    const int32_t out_c = ps->out_c;
    /* An odd last tap is added here: its lanes, exactly (|xa| <= 128). */
    const int32_t tail = k & 1 ? ps->cols[k - 1] : 0;
    const int32_t ta = (int32_t)(int16_t)(uint16_t)((uint32_t)tail & 0xFFFFu);
    const int32_t tb = (tail - ta) >> 16;
    const ml_m0_rq *q = ps->q;
    const int32_t *base = ps->base;
    const int32_t *mult = ps->mult;
    const int32_t *shift = ps->shift;
    const int8_t *w0 = ps->filter;
    for (int32_t left = ps->n; left > 0; left -= 2) {
        const int8_t *w1 = left > 1 ? w0 + k : w0;
        int32_t s[4];
        ml_conv_m0_swar(ps->cols, w0, w1, pairs, s);
        int32_t a00 = (int32_t)((uint32_t)s[0] - ((uint32_t)s[2] << 16) - ps->lane_bias);
        int32_t a01 = (int32_t)((uint32_t)s[1] - ((uint32_t)s[3] << 16) - ps->lane_bias);
        int32_t a10 = s[2];
        int32_t a11 = s[3];
        if (k & 1) {
            a00 += ta * w0[k - 1];
            a01 += ta * w1[k - 1];
            a10 += tb * w0[k - 1];
            a11 += tb * w1[k - 1];
        }
        o0[0] = ml_conv_m0_out(ps, q, base, mult, shift, 0, a00);
        if (pair) {
            o0[out_c] = ml_conv_m0_out(ps, q, base, mult, shift, 0, a10);
        }
        if (left > 1) {
            o0[1] = ml_conv_m0_out(ps, q, base, mult, shift, 1, a01);
            if (pair) {
                o0[out_c + 1] = ml_conv_m0_out(ps, q, base, mult, shift, 1, a11);
            }
        }
        o0 += 2;
        if (q != NULL) {
            q += 2;
        }
        base += 2;
        mult += 2;
        shift += 2;
        w0 += 2 * k;
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
    ml_conv_m0_pass ps;
    ps.cols = (const int32_t *)scratch;
    ps.k = d.k;
    ps.lane_bias = (uint32_t)(d.k >> 1) << 15;
    ps.out_c = output_dims->c;
    ps.act.out_off = params->output_offset;
    ps.act.act_min = params->act_min;
    ps.act.act_max = params->act_max;
    const int32_t k = d.k;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t pixels = output_dims->h * out_w;
    /* After the column: the chunk's starting values, then, when there is room, its channels'
     * requantization constants. A small scratch (small K) takes smaller chunks. */
    const int32_t room = (int32_t)ML_CONV2D_S8_SCRATCH_BYTES(input_dims, filter_dims) - 4 * k;
    int32_t chunk = ML_CONV_M0_CHUNK < out_c ? ML_CONV_M0_CHUNK : out_c;
    ml_m0_rq *qtab = NULL;
    if (room >= chunk * (4 + (int32_t)sizeof(ml_m0_rq))) {
        qtab = (ml_m0_rq *)((int32_t *)scratch + k + chunk);
    } else if (room < 4 * chunk) {
        chunk = room / 4;
    }
    int32_t *base = (int32_t *)scratch + k;
    ps.base = base;
    for (int32_t c0 = 0; c0 < out_c; c0 += chunk) {
        ps.n = out_c - c0 < chunk ? out_c - c0 : chunk;
        ps.q = qtab;
        ps.filter = filter + c0 * k;
        ps.mult = quant->multiplier + c0;
        ps.shift = quant->shift + c0;
        for (int32_t j = 0; j < ps.n; ++j) {
            const int8_t *w = ps.filter + j * k;
            int32_t s = k >= 4 ? ml_conv_m0_wsum(w, k >> 2) : 0;
            for (int32_t i = k & ~3; i < k; ++i) {
                s += w[i];
            }
            base[j] = (int32_t)((uint32_t)(bias != NULL ? bias[c0 + j] : 0) +
                                (uint32_t)params->input_offset * (uint32_t)s);
            if (qtab != NULL && !ml_m0_rq_of(&qtab[j], ps.mult[j], ps.shift[j])) {
                ps.q = NULL;  /* a channel outside the fast form: the chunk goes slow */
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
                ml_conv_m0_gather(&d, in_batch, oy, ox, oyb, oxb, pair, (int32_t *)scratch);
                ml_conv_m0_channels(&ps, out, pair);
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
#endif /* __ARM_ARCH_6M__ */

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
#if defined(ML_NN_DSP)
    if (scratch != NULL && geo.groups == 1) {
        return ml_conv2d_s8_dsp(params, quant, scratch, input_dims, input, filter_dims, filter,
                                bias, output_dims, output);
    }
#elif defined(__ARM_ARCH_6M__) && defined(__GNUC__)
    if (scratch != NULL && geo.groups == 1) {
        ml_conv2d_s8_m0(params, quant, scratch, input_dims, input, filter_dims, filter, bias,
                        output_dims, output);
        return ML_OK;
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
