#include "ml_depthwise_conv2d_s8.h"
#include "ml_nn_dsp.h"
#include "ml_nn_m0.h"

/*
 * The inner products stay out of line: inlined into the loop nest they lose registers to the
 * outer loops' state and reload their strides from the stack on every tap.
 */

/* The in-image part of one output pixel's window, as strides from its first tap. */
typedef struct {
    int32_t rows;   /* taps in range, vertically and horizontally; 0 when none */
    int32_t cols;
    int32_t in_dy;  /* input elements between vertically adjacent taps */
    int32_t in_dx;
    int32_t w_dy;   /* filter elements between vertically adjacent taps */
    int32_t w_dx;
} ml_dw_window;

/*
 * Taps k in [*lo, *hi) of a window of `taps` taps, `dilation` apart, starting at `origin`,
 * that fall inside [0, size). Clipping each output pixel's window once replaces the bounds
 * check TFLM makes before every multiply-accumulate.
 */
static void ml_dw_clip_window(int32_t origin, int32_t dilation, int32_t taps, int32_t size,
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

/* Bias, requantization, output offset and clamp of one output channel. */
static inline int8_t ml_dw_finish(int32_t acc, int32_t oc, const int32_t *bias,
                                  const ml_per_channel_quant *quant, const ml_m0_act *act)
{
    if (bias != NULL) {
        acc += bias[oc];
    }
    return ml_m0_out_s8(acc, quant->multiplier[oc], quant->shift[oc], act);
}

/* One channel over the window; `in` and `w` point at the first tap of that channel. */
static ML_NOINLINE int32_t ml_dw_dot(const ml_dw_window *win, const int8_t *in,
                                        const int8_t *w, int32_t offset)
{
    const int32_t in_dx = win->in_dx;
    const int32_t w_dx = win->w_dx;
    int32_t acc = 0;
    for (int32_t r = 0; r < win->rows; ++r) {
        const int8_t *pi = in + r * win->in_dy;
        const int8_t *pw = w + r * win->w_dy;
        for (int32_t c = win->cols; c > 0; --c) {
            acc += ((int32_t)*pi + offset) * *pw;
            pi += in_dx;
            pw += w_dx;
        }
    }
    return acc;
}

/* Four adjacent channels (depth multiplier 1): the tap walk is paid once for four MACs. */
static ML_NOINLINE void ml_dw_dot4(const ml_dw_window *win, const int8_t *in,
                                      const int8_t *w, int32_t offset, int32_t acc[4])
{
    const int32_t in_dx = win->in_dx;
    const int32_t w_dx = win->w_dx;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int32_t r = 0; r < win->rows; ++r) {
        const int8_t *pi = in + r * win->in_dy;
        const int8_t *pw = w + r * win->w_dy;
        for (int32_t c = win->cols; c > 0; --c) {
            a0 += ((int32_t)pi[0] + offset) * pw[0];
            a1 += ((int32_t)pi[1] + offset) * pw[1];
            a2 += ((int32_t)pi[2] + offset) * pw[2];
            a3 += ((int32_t)pi[3] + offset) * pw[3];
            pi += in_dx;
            pw += w_dx;
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if defined(ML_NN_DSP)
#if !defined(ML_NO_DW_GROUPS)  /* (ml_config.h) every layer takes the 3x3 path on DSP cores */
/*
 * DSP path (depth multiplier 1, at most ML_DW_DSP_TAPS taps): four channels at a time. A tap
 * is one word of the input (four channels' int8 values) split by SXTB16 into the halfword
 * pairs {c0, c2} and {c1, c3}, times the same pairs of weights (laid out at code generation,
 * ML_DW_LAYOUT_GROUPS, or widened once per pass); SMLABB/SMLATT keep the four sums apart.
 *
 * The channels go in passes of up to ML_DW_DSP_CHUNK groups of four, which bounds the scratch.
 * The input offset is folded into each channel's starting value, bias + input_offset * sum(w)
 * over every tap, so the taps need no offset. A pixel whose window the image clips first gets
 * its window copied into a patch, the outside taps as the input zero point: such a tap adds
 * zero_point * w = -input_offset * w and cancels its share of the fold, as TFLM skipping it
 * does. So every pixel runs the same straight code. The int32 sums wrap alike either way (and
 * the generator's acc_bounded says they never need to).
 *
 * Narrow images, where most windows are clipped, instead copy each output row's input rows
 * padded (params->dsp_padded_rows).
 *
 * Scratch for a pass: without a layout, per group the four starting values, the widened
 * weights (2 words per tap) and each channel's requantization {multiplier, round, n} (the
 * group data of ml_depthwise_conv2d_s8.h); then the patch (a word per tap and group) or the
 * padded rows (a word per group, padded column and window row).
 */
#define ML_DW_DSP_TAPS 64
/* The 3x3 pixel saves about 5 instructions per MAC: --optimize size keeps it when the model has
 * a layer that takes it (ml_config.h), although it drops the other variants. */
#if !defined(ML_SPECIALISE_DW_3X3)
#define ML_SPECIALISE_DW_3X3 ML_SPECIALISE
#endif

/* --- issue 11: when the generator saw every layer of the model that takes the group path take
 * its 3x3 pixel (ML_DW_ONLY_3X3 in ml_config.h), the general pixel (and the reference
 * requantization it alone needs) is left out; with ML_DW_ONLY_3X3_PADDED, every such layer
 * also over padded rows, the loop over clipped windows too. ml_dw_only_3x3 refuses
 * (ML_NO_IMPL) any call that would need what is left out. */
#if defined(ML_DW_ONLY_3X3_PADDED)
#define ML_DW_ONLY_PADDED 1
#ifndef ML_DW_ONLY_3X3
#define ML_DW_ONLY_3X3 1
#endif
#else
#define ML_DW_ONLY_PADDED 0
#endif
#if defined(ML_DW_ONLY_3X3)
#define ML_DW_ONLY 1
static int ml_dw_only_3x3(const ml_depthwise_conv_params *params, const ml_per_channel_quant *quant,
                          const int32_t *dsp_data, const ml_dims *filter_dims, int32_t channels)
{
    if (filter_dims->h != 3 || filter_dims->w != 3 || (ML_DW_ONLY_PADDED && !params->dsp_padded_rows) ||
        params->act_min > -128 || params->act_max < 127 ||
        !ML_DSP_FORM_FITS(params->output_offset)) {
        return 0;
    }
    if (params->dsp_layout == ML_DW_LAYOUT_GROUPS) {
        /* the group data's flags: its four channels all on the fast requantization */
        for (int32_t g = 0; g < channels / 4; ++g) {
            if (!dsp_data[g]) {
                return 0;
            }
        }
        return 1;
    }
    for (int32_t c = 0; c < channels; ++c) {
        if ((uint32_t)(quant->shift[c] + 22) >= 22u || quant->multiplier[c] < 0) {
            return 0;
        }
    }
    return 1;
}
#else
#define ML_DW_ONLY 0
#endif
#define ML_DW_DSP_CHUNK 4  /* groups of four channels per pass */

#if !ML_DW_ONLY
static ML_NOINLINE int32_t ml_dw_requant_ref(int32_t acc, int32_t multiplier, int32_t shift)
{
    return ml_nn_requantize(acc, multiplier, shift);
}

#endif

/* What the pixel loop needs, derived once per pass. */
typedef struct {
    const int32_t *groups_data;  /* per group: 4 starting values, 2 * taps weights, 3 * 4 quant */
    int32_t group_words;
    int32_t groups;              /* groups in this pass */
    int32_t taps;
    int32_t k_h, k_w;
    int32_t dx, dy;              /* bytes between horizontally / vertically adjacent taps */
    int32_t all_fast;            /* every channel of the pass has n > 0 */
    int32_t out_off, act_min, act_max;
} ml_dw_dsp;

#if !ML_DW_ONLY
/* Requantize, offset and clamp one channel of a group from its doubled sum acc2:
 * qp = {multiplier, round, n}. */
ML_DSP_INLINE int8_t ml_dw_dsp_out(const ml_dw_dsp *d, const int32_t *qp, int32_t acc2)
{
    int32_t v;
    if (qp[2] > 0) {
        v = ml_dsp_requantize_x2(acc2, qp[0], qp[1], qp[2]);
    } else {
        v = ml_dw_requant_ref(acc2 / 2, qp[0], qp[1]) + d->out_off;  /* acc2 is even */
    }
    return ml_clamp_s8(v, d->act_min, d->act_max);
}
#endif

/* One call of ml_dw_dsp_row_3x3: the offsets in the comments are the routine's. */
typedef struct {
    const int32_t *groups_data;  /* 0 */
    int32_t groups;              /* 4: >= 1 */
    const int8_t *in;            /* 8: the first pixel's window, first group */
    int8_t *out;                 /* 12: the first pixel's outputs, first group */
    int32_t n;                   /* 16: pixels, >= 1 */
    int32_t step;                /* 20: bytes between two pixels' windows */
    int32_t dx, dy;              /* 24, 28: bytes between horizontally / vertically adjacent taps */
    int32_t out_c;               /* 32: bytes between two pixels' outputs */
} ml_dw_row_job;

typedef char ml_dw_row_job_layout[offsetof(ml_dw_row_job, out_c) == 32 ? 1 : -1];

void ml_dw_dsp_row_3x3(const ml_dw_row_job *job);

/*
 * The 3x3 pixel over a row of n pixels, group by group with the pixel loop inside: on a board
 * whose flash sits behind a small data cache (the STM32L4's ART accelerator: 256 bytes), a
 * group's 136 bytes of data laid out in flash stay cached across the row, where walking a
 * pass's four groups (544 bytes) pixel by pixel fetched them all from flash again at every
 * pixel (KWS on the stm32l4r5 memory model: 0.74 M of its 1.25 M flash stall cycles). Per group
 * and pixel: 2 loads of the starting values, 8 instructions per tap (the input word, its
 * weights, two SXTB16, four multiply-accumulates), 6 per output channel (5 in the ReLU form,
 * ML_DSP_RELU_FORM) and 9 of pointer and loop upkeep: 107 for 36 multiply-accumulates (103 in
 * the ReLU form). A routine of its own, not inline assembly: the loop wants fourteen
 * registers, which gcc cannot give an asm statement in a function that keeps a frame pointer.
 * Registers: r0-r3 the sums, r4 the window, r5 the group's data, r6 the outputs, r7 dx, r12
 * dy, lr out_c - 4, r8-r11 scratch (r11 walks the requantization constants); on the stack:
 * [sp] step - 2 dy (from the window's third row to the next pixel's first), #4 the group's
 * output end, #8 groups left, #12 and #16 the group's first window and outputs.
 */
#define ML_DW_ROW_TAP(load, woff)                                                               \
    load "\n\t"                                                                                  \
    "ldrd r10, r11, [r5, #" woff "]\n\t"                                                         \
    "sxtb16 r9, r8, ror #8\n\t"                                                                  \
    "sxtb16 r8, r8\n\t"                                                                          \
    "smlabb r0, r8, r10, r0\n\t"                                                                 \
    "smlatt r2, r8, r10, r2\n\t"                                                                 \
    "smlabb r1, r9, r11, r1\n\t"                                                                 \
    "smlatt r3, r9, r11, r3\n\t"
#define ML_DW_ROW_TAP3(w0, w1, w2)                                                              \
    ML_DW_ROW_TAP("ldr r8, [r4]", w0)                                                            \
    ML_DW_ROW_TAP("ldr r8, [r4, r7]", w1)                                                        \
    ML_DW_ROW_TAP("ldr r8, [r4, r7, lsl #1]", w2)
/* {multiplier, round, n} at r11 (ml_dsp_requantize_x2 with the offset in round), SSAT, store */
#define ML_DW_ROW_OUT(a)                                                                        \
    "ldmia r11!, {r8, r9, r10}\n\t"                                                              \
    ML_DSP_ASM_ROUND("r9", "r9", a)                                                              \
    "smmlar " a ", " a ", r8, " ML_DSP_ASM_ROUNDED("r9", "r9") "\n\t"                              \
    "asr " a ", " a ", r10\n\t"                                                                  \
    "ssat " a ", #8, " a "\n\t"                                                                  \
    "strb " a ", [r6], #1\n\t"

__asm__(ML_DSP_ASM_FUNCTION("ml_dw_dsp_row_3x3")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #20\n\t"
        "ldr r5, [r0, #0]\n\t"
        "ldr r1, [r0, #4]\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r4, [r0, #8]\n\t"
        "str r4, [sp, #12]\n\t"
        "ldr r6, [r0, #12]\n\t"
        "str r6, [sp, #16]\n\t"
        "ldr r7, [r0, #24]\n\t"
        "ldr r12, [r0, #28]\n\t"
        "ldr r1, [r0, #20]\n\t"
        "sub r1, r1, r12, lsl #1\n\t"
        "str r1, [sp, #0]\n\t"
        "ldr r1, [r0, #32]\n\t"
        "sub lr, r1, #4\n\t"
        "ldr r2, [r0, #16]\n\t"
        "mul r1, r1, r2\n\t"
        "add r1, r1, r6\n\t"
        "str r1, [sp, #4]\n"
        "1:\n\t"
        "ldrd r0, r1, [r5]\n\t"
        "ldrd r2, r3, [r5, #8]\n\t"
        ML_DW_ROW_TAP3("16", "24", "32")
        "add r4, r4, r12\n\t"
        ML_DW_ROW_TAP3("40", "48", "56")
        "add r4, r4, r12\n\t"
        ML_DW_ROW_TAP3("64", "72", "80")
        "add r11, r5, #88\n\t"
        ML_DW_ROW_OUT("r0") ML_DW_ROW_OUT("r1") ML_DW_ROW_OUT("r2") ML_DW_ROW_OUT("r3")
        "ldr r8, [sp, #0]\n\t"
        "add r4, r4, r8\n\t"
        "add r6, r6, lr\n\t"
        "ldr r8, [sp, #4]\n\t"
        "cmp r6, r8\n\t"
        "bne 1b\n\t"
        /* the next group: four channels on in the windows and the outputs */
        "add r5, r5, #136\n\t"
        "add r8, r8, #4\n\t"
        "str r8, [sp, #4]\n\t"
        "ldr r4, [sp, #12]\n\t"
        "add r4, r4, #4\n\t"
        "str r4, [sp, #12]\n\t"
        "ldr r6, [sp, #16]\n\t"
        "add r6, r6, #4\n\t"
        "str r6, [sp, #16]\n\t"
        "ldr r8, [sp, #8]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp, #8]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #20\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"
        ".size ml_dw_dsp_row_3x3, .-ml_dw_dsp_row_3x3");

/* The row routine's call: pixels `step` bytes apart in the input, out_c in the output. */
static void ml_dw_dsp_row(const ml_dw_dsp *d, const int8_t *in, int32_t step, int8_t *out,
                          int32_t out_c, int32_t n)
{
    ml_dw_row_job job;
    job.groups_data = d->groups_data;
    job.groups = d->groups;
    job.in = in;
    job.out = out;
    job.n = n;
    job.step = step;
    job.dx = d->dx;
    job.dy = d->dy;
    job.out_c = out_c;
    ml_dw_dsp_row_3x3(&job);
}

/* A pass's groups at one output pixel (a window the image clips, copied into the patch): a row
 * of one. */
static ML_NOINLINE void ml_dw_dsp_pixel_3x3(const ml_dw_dsp *d, const int8_t *in, int8_t *out)
{
    ml_dw_dsp_row(d, in, 0, out, 4 * d->groups, 1);
}

#if !ML_DW_ONLY
/* The same for any window of up to ML_DW_DSP_TAPS taps, requantization and clamp. */
static ML_NOINLINE void ml_dw_dsp_pixel_any(const ml_dw_dsp *d, const int8_t *in, int8_t *out)
{
    const int32_t *gd = d->groups_data;
    for (int32_t g = d->groups; g > 0; --g) {
        int32_t a0 = gd[0], a1 = gd[1], a2 = gd[2], a3 = gd[3];
        const int32_t *pw = gd + 4;
        for (int32_t ky = 0; ky < d->k_h; ++ky) {
            const int8_t *q = in + ky * d->dy;
            for (int32_t kx = 0; kx < d->k_w; ++kx) {
                const int32_t x = ml_dsp_read_s8x4(q);
                const int32_t x02 = ml_dsp_sxtb16(x);
                const int32_t x13 = ml_dsp_sxtb16_ror8(x);
                a0 = ml_dsp_smlabb(x02, pw[0], a0);
                a2 = ml_dsp_smlatt(x02, pw[0], a2);
                a1 = ml_dsp_smlabb(x13, pw[1], a1);
                a3 = ml_dsp_smlatt(x13, pw[1], a3);
                pw += 2;
                q += d->dx;
            }
        }
        out[0] = ml_dw_dsp_out(d, pw, a0);
        out[1] = ml_dw_dsp_out(d, pw + 3, a1);
        out[2] = ml_dw_dsp_out(d, pw + 6, a2);
        out[3] = ml_dw_dsp_out(d, pw + 9, a3);
        out += 4;
        in += 4;
        gd += d->group_words;
    }
}
#endif

/* Both halfwords of an int16 pair in [-128, 127] doubled, without a carry between them. */
static inline int32_t ml_dw_double16(int32_t pair)
{
    const uint32_t u = (uint32_t)pair;
    return (int32_t)(((u & 0xFFFF0000u) << 1) | ((u << 1) & 0xFFFFu));
}

/* The pass's groups (channels 4 * g0 on) from the group data laid out at code generation:
 * one word per group saying whether its channels are all on the fast requantization, then
 * the groups. */
static void ml_dw_dsp_use_groups(ml_dw_dsp *d, const int32_t *data, int32_t n_groups,
                                 int32_t g0)
{
    d->group_words = ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS(d->taps);
    d->groups_data = data + n_groups + g0 * d->group_words;
    d->all_fast = 1;
    for (int32_t g = g0; g < g0 + d->groups; ++g) {
        d->all_fast &= data[g];
    }
}

/* The per-group data of the pass's groups (channels 4 * g0 on) into gd. */
static void ml_dw_dsp_setup(ml_dw_dsp *d, int32_t *gd, const ml_depthwise_conv_params *params,
                            const ml_per_channel_quant *quant, const int8_t *filter,
                            const int32_t *bias, int32_t channels, int32_t g0)
{
    const int32_t taps = d->taps;
    const int32_t off2 = ml_dsp_pair16(params->input_offset);
    const int32_t out_off = params->output_offset;
    const int32_t *mult = quant->multiplier + 4 * g0;
    const int32_t *shift = quant->shift + 4 * g0;
    d->all_fast = 1;
    d->groups_data = gd;
    d->group_words = 4 + 2 * taps + 12;
    for (int32_t g = g0; g < g0 + d->groups; ++g) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (bias != NULL) {
            a0 = bias[4 * g];
            a1 = bias[4 * g + 1];
            a2 = bias[4 * g + 2];
            a3 = bias[4 * g + 3];
        }
        int32_t *w = gd + 4;
        const int8_t *f = filter + 4 * g;
        for (int32_t t = 0; t < taps; ++t) {
            const int32_t v = ml_dsp_read_s8x4(f);
            const int32_t wl = ml_dsp_sxtb16(v);
            const int32_t wh = ml_dsp_sxtb16_ror8(v);
            w[0] = ml_dw_double16(wl);
            w[1] = ml_dw_double16(wh);
            w += 2;
            f += channels;
            /* The fold: input_offset * w, summed over the taps (mod 2^32, like the sums). */
            a0 = ml_dsp_smlabb(off2, wl, a0);
            a2 = ml_dsp_smlatt(off2, wl, a2);
            a1 = ml_dsp_smlabb(off2, wh, a1);
            a3 = ml_dsp_smlatt(off2, wh, a3);
        }
        gd[0] = (int32_t)((uint32_t)a0 << 1);
        gd[1] = (int32_t)((uint32_t)a1 << 1);
        gd[2] = (int32_t)((uint32_t)a2 << 1);
        gd[3] = (int32_t)((uint32_t)a3 << 1);
        int32_t *qp = w;
        for (int32_t j = 0; j < 4; ++j) {
            const int32_t m = *mult++;
            const int32_t sh = *shift++;
            qp[0] = m;
            /* n <= 22: |round| < 2^29, so SMMLAR's high word, below 2^30 + 2^29, cannot wrap */
            if ((uint32_t)(sh + 23) < 23u && m >= 0) {
                qp[1] = (int32_t)((1u << (-sh - 1)) + ((uint32_t)out_off << -sh));
                qp[2] = -sh;
            } else {
                qp[1] = sh;
                qp[2] = 0;
                d->all_fast = 0;
            }
            qp += 3;
        }
        gd += d->group_words;
    }
}

/*
 * Copy a window the image clips into the patch: tap (ky, kx) of the window at `in` is the
 * `words` words at patch[(ky * k_w + kx) * words], the zero point outside rows/columns
 * [lo, hi).
 */
static ML_NOINLINE void ml_dw_dsp_patch(int32_t *patch, const int8_t *in, int32_t words,
                                        int32_t k_h, int32_t k_w, int32_t dx, int32_t dy,
                                        int32_t ky_lo, int32_t ky_hi, int32_t kx_lo,
                                        int32_t kx_hi, int32_t zp4)
{
    for (int32_t ky = 0; ky < k_h; ++ky) {
        const int row_in = ky >= ky_lo && ky < ky_hi;
        const int8_t *src = in + ky * dy;
        for (int32_t kx = 0; kx < k_w; ++kx) {
            if (row_in && kx >= kx_lo && kx < kx_hi) {
                int32_t i = 0;
                for (; i + 2 <= words; i += 2) {
                    const int32_t v0 = ml_dsp_read_s8x4(src + 4 * i);
                    const int32_t v1 = ml_dsp_read_s8x4(src + 4 * i + 4);
                    patch[i] = v0;
                    patch[i + 1] = v1;
                }
                if (i < words) {
                    patch[i] = ml_dsp_read_s8x4(src + 4 * i);
                }
            } else {
                for (int32_t i = 0; i < words; ++i) {
                    patch[i] = zp4;
                }
            }
            patch += words;
            src += dx;
        }
    }
}

/* Columns [0, n) of an input row (this pass's `words` words of each, `in_c` bytes apart)
 * into n * words consecutive words. */
static void ml_dw_dsp_copy_cols(int32_t *dst, const int8_t *src, int32_t n, int32_t words,
                                int32_t in_c)
{
    if (words == 4) {  /* the full pass: one unrolled column per iteration */
        for (; n > 0; --n, dst += 4, src += in_c) {
            const int32_t v0 = ml_dsp_read_s8x4(src);
            const int32_t v1 = ml_dsp_read_s8x4(src + 4);
            const int32_t v2 = ml_dsp_read_s8x4(src + 8);
            const int32_t v3 = ml_dsp_read_s8x4(src + 12);
            dst[0] = v0;
            dst[1] = v1;
            dst[2] = v2;
            dst[3] = v3;
        }
        return;
    }
    for (; n > 0; --n, src += in_c) {
        for (int32_t i = 0; i < words; ++i) {
            *dst++ = ml_dsp_read_s8x4(src + 4 * i);
        }
    }
}

/*
 * One batch of one pass, narrow images: for each output row, the input rows under its windows
 * are copied (this pass's channels only) into `rows`, padded with the zero point where the
 * windows leave the image, and every pixel reads from there. The padding columns hold the
 * zero point for every output row, so they are filled once (`fill`: the first pass, or one of
 * fewer words than the last) and only the image's columns are written per row.
 */
static void ml_dw_dsp_padded_rows(ml_dw_dsp *d, const ml_depthwise_conv_params *params,
                                  int32_t *rows, const ml_dims *input_dims,
                                  const int8_t *in_batch, const ml_dims *output_dims,
                                  int8_t *out_px,
                                  void (*pixel)(const ml_dw_dsp *, const int8_t *, int8_t *),
                                  int32_t zp4, int fill)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t words = d->groups;
    const int32_t cols = (out_w - 1) * params->stride_w + (d->k_w - 1) * params->dilation_w + 1;
    /* Buffer columns [pad_w, ix_hi) are image columns [0, ix_hi - pad_w). */
    const int32_t pad_w = params->pad_w < cols ? params->pad_w : cols;
    const int32_t ix_hi = pad_w + in_w < cols ? pad_w + in_w : cols;
    const int32_t n_in = ix_hi - pad_w;
    d->dx = params->dilation_w * 4 * words;
    d->dy = cols * 4 * words;
    if (fill) {  /* else a pass of as many words left the padding in place */
        for (int32_t i = 0; i < d->k_h * cols * words; ++i) {
            rows[i] = zp4;
        }
    }
    for (int32_t oy = 0; oy < output_dims->h; ++oy) {
        const int32_t iy0 = oy * params->stride_h - params->pad_h;
        for (int32_t ky = 0; ky < d->k_h; ++ky) {
            const int32_t iy = iy0 + ky * params->dilation_h;
            int32_t *dst = rows + (ky * cols + pad_w) * words;
            if (iy >= 0 && iy < in_h) {
                ml_dw_dsp_copy_cols(dst, in_batch + iy * in_w * in_c, n_in, words, in_c);
            } else {
                for (int32_t i = 0; i < n_in * words; ++i) {
                    dst[i] = zp4;
                }
            }
        }
        const int8_t *q = (const int8_t *)rows;
        if (pixel == ml_dw_dsp_pixel_3x3) {
            ml_dw_dsp_row(d, q, params->stride_w * 4 * words, out_px, out_c, out_w);
            out_px += out_w * out_c;
            continue;
        }
        for (int32_t ox = 0; ox < out_w; ++ox) {
            pixel(d, q, out_px);
            q += params->stride_w * 4 * words;
            out_px += out_c;
        }
    }
}

/* Channels [0, 4 * groups) of the whole layer. */
static ML_NOINLINE void ml_dw_dsp_run(const ml_depthwise_conv_params *params,
                          const ml_per_channel_quant *quant, void *scratch,
                          const int32_t *dsp_data,
                          const ml_dims *input_dims, const int8_t *input,
                          const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                          const ml_dims *output_dims, int8_t *output, int32_t groups)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t stride_w = params->stride_w;
    const int32_t zp4 = (int32_t)((uint32_t)(uint8_t)(-params->input_offset) * 0x01010101u);
    ml_dw_dsp d;
    d.k_h = filter_dims->h;
    d.k_w = filter_dims->w;
    d.taps = d.k_h * d.k_w;
    d.out_off = params->output_offset;
    d.act_min = params->act_min;
    d.act_max = params->act_max;
    const int32_t in_dx = params->dilation_w * in_c;
    const int32_t in_dy = params->dilation_h * in_w * in_c;
    const int32_t span_w = (d.k_w - 1) * params->dilation_w + 1;
    /* Output columns [ox_lo, ox_hi) have their whole window inside horizontally. */
    int32_t ox_lo = (params->pad_w + stride_w - 1) / stride_w;
    int32_t ox_hi = in_w - span_w + params->pad_w >= 0
                        ? (in_w - span_w + params->pad_w) / stride_w + 1
                        : 0;
    ox_hi = ox_hi < out_w ? ox_hi : out_w;
    ox_lo = ox_lo < ox_hi ? ox_lo : ox_hi;
    int32_t filled_words = 0;  /* words per column of the padded rows left by the last pass */
    for (int32_t g0 = 0; g0 < groups; g0 += ML_DW_DSP_CHUNK) {
        d.groups = groups - g0 < ML_DW_DSP_CHUNK ? groups - g0 : ML_DW_DSP_CHUNK;
        int32_t *patch = (int32_t *)scratch;
        if (dsp_data != NULL) {
            ml_dw_dsp_use_groups(&d, dsp_data, groups, g0);
        } else {
            ml_dw_dsp_setup(&d, patch, params, quant, filter, bias, out_c, g0);
            patch += d.groups * d.group_words;
        }
        const int32_t words = d.groups;
#if ML_DW_ONLY
        void (*const pixel)(const ml_dw_dsp *, const int8_t *, int8_t *) = ml_dw_dsp_pixel_3x3;
#else
        void (*const pixel)(const ml_dw_dsp *, const int8_t *, int8_t *) =
            ML_SPECIALISE_DW_3X3 && d.k_h == 3 && d.k_w == 3 && d.all_fast &&
                    params->act_min <= -128 && params->act_max >= 127 &&
                    ML_DSP_FORM_FITS(params->output_offset)
                ? ml_dw_dsp_pixel_3x3
                : ml_dw_dsp_pixel_any;
#endif
        for (int32_t b = 0; b < input_dims->n; ++b) {
            const int8_t *in_batch = input + b * in_h * in_w * in_c + 4 * g0;
            int8_t *out_row = output + b * out_h * out_w * out_c + 4 * g0;
            if (ML_DW_ONLY_PADDED || params->dsp_padded_rows) {
                ml_dw_dsp_padded_rows(&d, params, patch, input_dims, in_batch, output_dims,
                                      out_row, pixel, zp4, filled_words != words);
                filled_words = words;
                continue;
            }
            for (int32_t oy = 0; oy < out_h; ++oy, out_row += out_w * out_c) {
                const int32_t iy0 = oy * params->stride_h - params->pad_h;
                int32_t ky_lo, ky_hi;
                ml_dw_clip_window(iy0, params->dilation_h, d.k_h, in_h, &ky_lo, &ky_hi);
                const int8_t *in_row = in_batch + iy0 * in_w * in_c;
                const int rows_in = ky_lo == 0 && ky_hi == d.k_h;
                for (int32_t ox = 0; ox < out_w; ++ox) {
                    const int32_t ix0 = ox * stride_w - params->pad_w;
                    if (rows_in && ox >= ox_lo && ox < ox_hi) {
                        d.dx = in_dx;
                        d.dy = in_dy;
                        if (pixel == ml_dw_dsp_pixel_3x3) {  /* the inside run, at once */
                            ml_dw_dsp_row(&d, in_row + ix0 * in_c, stride_w * in_c,
                                          out_row + ox * out_c, out_c, ox_hi - ox);
                            ox = ox_hi - 1;
                            continue;
                        }
                        pixel(&d, in_row + ix0 * in_c, out_row + ox * out_c);
                        continue;
                    }
                    int32_t kx_lo, kx_hi;
                    ml_dw_clip_window(ix0, params->dilation_w, d.k_w, in_w, &kx_lo, &kx_hi);
                    ml_dw_dsp_patch(patch, in_row + ix0 * in_c, words, d.k_h, d.k_w, in_dx, in_dy,
                                    ky_lo, ky_hi, kx_lo, kx_hi, zp4);
                    d.dx = 4 * words;
                    d.dy = d.k_w * 4 * words;
                    pixel(&d, (const int8_t *)patch, out_row + ox * out_c);
                }
            }
        }
    }
}
#endif /* ML_NO_DW_GROUPS */

#if !defined(ML_NO_DW_3X3_PLANES)  /* (ml_config.h) no layer has the 3x3 layout */
/*
 * The 3x3 path (stride 1, dilation 1, every channel on the fast requantization, the clamp
 * [-128, 127], an even channel count; the generator checks and lays out
 * dsp_data, ML_DW_LAYOUT_3X3). Channels go two at a time, and a band of output rows at a time:
 * the input rows under the band are copied once, each channel into a plane of int16 pairs
 * of horizontally adjacent values with the input offset added. Word X of a plane row holds
 * buffer columns {2X, 2X + 1}, buffer column b being image column b - pad_w (0 outside the
 * image, which is exactly a tap TFLM skips). A window row is then the words A (columns
 * x, x + 1) and B (x + 2, x + 3), x even: SMLAD(A, {w0, w1}) + B.lo * w2 for output column
 * x, and for x + 1 A.hi * w0 + SMLAD(B, {w1, w2}): two MACs per multiply, and the
 * widening is paid once per input value instead of once per tap. ml_dw_3x3_channel (below)
 * takes four outputs at a time and requantizes them in registers.
 *
 * The data, per channel (ML_DW_3X3_WORDS int32): 2 * bias, then per window row
 * {2 w0, 2 w1} and {2 w1, 2 w2} (int16 pairs, low half first), then {multiplier, round, n}
 * as in the group data. Sums are doubled as there.
 */
#define ML_DW_3X3_WORDS ML_DEPTHWISE_CONV2D_S8_3X3_WORDS

/* The two channels' int8 values at src, as a halfword. */
ML_DSP_INLINE uint32_t ml_dw_3x3_h(const int8_t *src)
{
    uint16_t h;
    memcpy(&h, src, sizeof h);
    return h;
}

/* Where a plane row's words come from (the same for every row and channel pair): words
 * [0, first) and [end, words_x) are wholly outside the image and stay 0; word `first` holds
 * the zero point and image column 0 when `left` is set; then `inner` words of two image
 * columns each; then one of the last image column and the zero point when `right` is set. */
typedef struct {
    int32_t words_x, first, left, inner, right, start_col;  /* start_col: first inner column */
} ml_dw_3x3_cols;

static void ml_dw_3x3_layout(ml_dw_3x3_cols *l, int32_t words_x, int32_t pad_w, int32_t in_w)
{
    l->words_x = words_x;
    l->first = pad_w / 2 < words_x ? pad_w / 2 : words_x;
    l->left = (pad_w & 1) && l->first < words_x;
    int32_t X = l->first + l->left;
    l->start_col = 2 * X - pad_w;
    l->inner = 0;
    while (X < words_x && 2 * X - pad_w + 1 < in_w) {
        ++l->inner;
        ++X;
    }
    l->right = X < words_x && 2 * X - pad_w == in_w - 1;
}

/* One input line (at the pair's first channel; its pixels px bytes apart) into plane rows d0
 * (first channel) and d1: two halfword loads, one pack and two widenings per word; `two`
 * (a constant where it is inlined) takes the words two a turn. */
ML_DSP_INLINE void ml_dw_3x3_fill_row(int32_t *d0, int32_t *d1, const int8_t *row, int32_t px,
                                      const ml_dw_3x3_cols *l, int32_t off2, uint32_t zp2,
                                      int two)
{
    d0 += l->first;
    d1 += l->first;
    if (l->left) {
        const int32_t v = (int32_t)(zp2 | (ml_dw_3x3_h(row) << 16));
        *d0++ = ml_dsp_sxtab16(off2, v);
        *d1++ = ml_dsp_sxtab16_ror8(off2, v);
    }
    const int8_t *src = row + l->start_col * px;
    int32_t i = l->inner;
    if (two && i >= 2) {
        /* 16 instructions where gcc's loop took 20 */
        int32_t n = i >> 1, t0, t1, t2, t3;
        i &= 1;
        __asm__ volatile("1:\n\t"
                         "ldrh %[t0], [%[src]]\n\t"
                         "ldrh %[t1], [%[src], %[px]]\n\t"
                         "add %[src], %[src], %[px], lsl #1\n\t"
                         "ldrh %[t2], [%[src]]\n\t"
                         "ldrh %[t3], [%[src], %[px]]\n\t"
                         "add %[src], %[src], %[px], lsl #1\n\t"
                         "pkhbt %[t0], %[t0], %[t1], lsl #16\n\t"
                         "pkhbt %[t2], %[t2], %[t3], lsl #16\n\t"
                         "sxtab16 %[t1], %[off], %[t0]\n\t"
                         "sxtab16 %[t0], %[off], %[t0], ror #8\n\t"
                         "sxtab16 %[t3], %[off], %[t2]\n\t"
                         "sxtab16 %[t2], %[off], %[t2], ror #8\n\t"
                         "strd %[t1], %[t3], [%[d0]], #8\n\t"
                         "strd %[t0], %[t2], [%[d1]], #8\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [src] "+r"(src), [d0] "+r"(d0), [d1] "+r"(d1), [n] "+r"(n),
                           [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3)
                         : [px] "r"(px), [off] "r"(off2)
                         : "cc", "memory");
    }
    for (; i > 0; --i, src += 2 * px) {
        const int32_t v = ml_dsp_pack_lo16((int32_t)ml_dw_3x3_h(src),
                                           (int32_t)ml_dw_3x3_h(src + px));
        *d0++ = ml_dsp_sxtab16(off2, v);
        *d1++ = ml_dsp_sxtab16_ror8(off2, v);
    }
    if (l->right) {
        const int32_t v = (int32_t)(ml_dw_3x3_h(src) | (zp2 << 16));
        *d0 = ml_dsp_sxtab16(off2, v);
        *d1 = ml_dsp_sxtab16_ror8(off2, v);
    }
}

/* What ml_dw_3x3_fill_cols needs of a band, the same for every channel pair. */
typedef struct {
    ml_dw_3x3_cols cols;
    int32_t px, in_line, words_x, plane_words, off2;
    uint32_t zp2;
} ml_dw_3x3_fill_geo;

/* `rows` input lines from src (at the pair's first channel) into the pair's planes from row d,
 * for the path along the columns (ML_DW_LAYOUT_3X3_T: KWS's 25-pixel lines), two words a turn.
 * Out of line and only there: the lines along the rows keep the inlined loop, since on VWW's 6x6
 * layers this code beside it pushed the hot code past the STM32L4R5 model's 1 KB instruction
 * cache (+160k cycles with flash). Left out where no layer runs along the columns
 * (ML_NO_DW_3X3_COLUMNS, ml_config.h), and in size mode, which fills the columns with the rows'
 * loop (0.25 KB less, for KWS's 13 k instructions). */
#if !defined(ML_NO_DW_3X3_COLUMNS) && !defined(ML_OPTIMIZE_SIZE)
#define ML_DW_3X3_FILL_COLS 1
#else
#define ML_DW_3X3_FILL_COLS 0
#endif
#if ML_DW_3X3_FILL_COLS
static ML_NOINLINE void ml_dw_3x3_fill_cols(int32_t *d, const int8_t *src, int32_t rows,
                                            const ml_dw_3x3_fill_geo *g)
{
    for (; rows > 0; --rows, src += g->in_line, d += g->words_x) {
        ml_dw_3x3_fill_row(d, d + g->plane_words, src, g->px, &g->cols, g->off2, g->zp2, 1);
    }
}
#endif

/* One call of ml_dw_3x3_channel: the offsets in the comments are the routine's. */
typedef struct {
    const int32_t *cd;     /* 0: the channel's data (ML_DW_3X3_WORDS) */
    int32_t px;            /* 4: bytes between neighbouring outputs of a line */
    const int32_t *plane;  /* 8: the channel's plane, at the band's first row */
    int8_t *out;           /* 12: the band's first output */
    int32_t lines;         /* 16: >= 1 */
    int32_t line;          /* 20: bytes between neighbouring lines' first outputs */
    int32_t len;           /* 24: outputs per line, >= 1 */
    int32_t row_bytes;     /* 28: bytes between plane rows (an output line's next window row) */
} ml_dw_3x3_job;

typedef char ml_dw_3x3_job_layout[offsetof(ml_dw_3x3_job, row_bytes) == 28 ? 1 : -1];

void ml_dw_3x3_channel(const ml_dw_3x3_job *job);

/*
 * One channel's band of output lines, stride 1, requantized as the sums come: per line, four
 * outputs x .. x + 3 (x even) at a time from the plane words A (columns x, x + 1), B and C of
 * each window row:
 *   x      SMLAD(A, {w0, w1}) + B.lo * w2        x + 1  A.hi * w0 + SMLAD(B, {w1, w2})
 *   x + 2  SMLAD(B, {w0, w1}) + C.lo * w2        x + 3  B.hi * w0 + SMLAD(C, {w1, w2})
 * so a window row costs one load of three words, one of its two weight words and eight
 * multiplies for twelve multiply-accumulates, and each plane word is loaded for four outputs
 * instead of two. Then a line's last len % 4 outputs: a pair (A, B only) when two or three
 * are left, and the last output alone when len is odd, the case taken by one TBB on len % 4
 * (a pair computing an output it did not store cost KWS's 25-output lines 15 instructions
 * each); the planes' words_x = (len - 1) / 2 + 2 cover every word read.
 * Per four outputs 59 instructions (36 multiply-accumulates, their requantization and stores;
 * 55 in the ReLU form, ML_DSP_RELU_FORM).
 * A routine of its own, not inline assembly: the loop takes all fourteen registers, which gcc
 * cannot give an asm statement in a function that keeps a frame pointer. Registers: r0-r3 the
 * sums, r4-r6 the plane words (then multiplier, round, shift), r7-r8 the weights (then the
 * output stride and a temporary), r9 the plane, r10 the plane's row bytes, r11 the outputs,
 * r12 the count, lr 2 * bias. On the stack: #0 {multiplier, round, n, px} (one LDM), #16 the
 * six weight words, #40 the line's plane, #44 its outputs, #48 lines left, #52 bytes between
 * lines, #56 quads per line, #60 len % 4. The set-up is kept short: on the STM32L4R5 model a
 * 6x6 layer's hot code (this routine, the plane fill, the data derivation) takes 31 of the
 * 32 lines of the 1 KB instruction cache (33 with a longer set-up, and then every pass missed).
 */
#define ML_DW_3X3_QUAD_ROW(woff, a0, a1, a2, a3)                                                \
    "ldrd r7, r8, [sp, #" woff "]\n\t"                                                           \
    "ldm r9, {r4, r5, r6}\n\t"                                                                   \
    "smlad r0, r4, r7, " a0 "\n\t"                                                               \
    "smlatb r1, r4, r7, " a1 "\n\t"                                                              \
    "smlad r2, r5, r7, " a2 "\n\t"                                                               \
    "smlatb r3, r5, r7, " a3 "\n\t"                                                              \
    "smlabt r0, r5, r8, r0\n\t"                                                                  \
    "smlad r1, r5, r8, r1\n\t"                                                                   \
    "smlabt r2, r6, r8, r2\n\t"                                                                  \
    "smlad r3, r6, r8, r3\n\t"
#define ML_DW_3X3_PAIR_ROW(woff, a0, a1, a2, a3)                                                \
    "ldrd r7, r8, [sp, #" woff "]\n\t"                                                           \
    "ldrd r4, r5, [r9]\n\t"                                                                      \
    "smlad r0, r4, r7, " a0 "\n\t"                                                               \
    "smlatb r1, r4, r7, " a1 "\n\t"                                                              \
    "smlabt r0, r5, r8, r0\n\t"                                                                  \
    "smlad r1, r5, r8, r1\n\t"
/* output x alone: SMLAD(A, {w0, w1}) + B.lo * w2 (the line's last; r9 is not moved back) */
#define ML_DW_3X3_ONE_ROW(woff, a0)                                                             \
    "ldrd r7, r8, [sp, #" woff "]\n\t"                                                           \
    "ldrd r4, r5, [r9]\n\t"                                                                      \
    "smlad r0, r4, r7, " a0 "\n\t"                                                               \
    "smlabt r0, r5, r8, r0\n\t"
/* the window's three rows, and r9 back at the first */
#define ML_DW_3X3_ROWS(ROW, a0, a1, a2, a3)                                                     \
    ROW("16", a0, a1, a2, a3)                                                                     \
    "add r9, r9, r10\n\t"                                                                        \
    ROW("24", "r0", "r1", "r2", "r3")                                                            \
    "add r9, r9, r10\n\t"                                                                        \
    ROW("32", "r0", "r1", "r2", "r3")                                                            \
    "sub r9, r9, r10, lsl #1\n\t"
/* a doubled sum to int8 with {multiplier r4, round r5, n r6} (ml_dsp_requantize_x2) */
#define ML_DW_3X3_REQ(a)                                                                        \
    ML_DSP_ASM_ROUND("r8", "r5", a)                                                              \
    "smmlar " a ", " a ", r4, " ML_DSP_ASM_ROUNDED("r8", "r5") "\n\t"                              \
    "asr " a ", " a ", r6\n\t"                                                                   \
    "ssat " a ", #8, " a "\n\t"

/* A line's last len % 4 outputs (ML_DW_3X3_TAIL, and ML_DW_3X3_ODD after the routine's return).
 * Speed and balanced: a pair when two or three are left and the last output alone when len is
 * odd, the case taken by one TBB on len % 4, the odd output's code out of the way of the other
 * lines' code (the 1 KB instruction cache above). Size: pairs in a loop, the last one of an odd
 * line storing one output (its other sum thrown away): 0.07 KB less.
 * ML_DW_3X3_PAIR: outputs x, x + 1 summed and requantized, x stored (r7 = the output stride). */
#define ML_DW_3X3_PAIR \
    ML_DW_3X3_ROWS(ML_DW_3X3_PAIR_ROW, "lr", "lr", "lr", "lr") \
    "add r9, r9, #4\n\t" \
    "ldm sp, {r4, r5, r6, r7}\n\t" \
    ML_DW_3X3_REQ("r0") ML_DW_3X3_REQ("r1") \
    "strb r0, [r11]\n\t"
#if defined(ML_OPTIMIZE_SIZE)
#define ML_DW_3X3_TAIL \
    "3:\n\t" \
    "ldr r12, [sp, #60]\n\t" \
    "cmp r12, #0\n\t" \
    "beq 5f\n" \
    "4:\n\t" \
    ML_DW_3X3_PAIR \
    "cmp r12, #1\n\t" \
    "beq 5f\n\t" \
    "strb r1, [r11, r7]\n\t" \
    "add r11, r11, r7, lsl #1\n\t" \
    "subs r12, r12, #2\n\t" \
    "bne 4b\n"
#define ML_DW_3X3_ODD ""
#else
#define ML_DW_3X3_TAIL \
    "3:\n\t" \
    "ldr r12, [sp, #60]\n\t" \
    "tbb [pc, r12]\n" \
    "7:\n\t" \
    ".byte (5f - 7b) / 2\n\t" \
    ".byte (6f - 7b) / 2\n\t" \
    ".byte (4f - 7b) / 2\n\t" \
    ".byte (4f - 7b) / 2\n" \
    "4:\n\t" \
    ML_DW_3X3_PAIR \
    "strb r1, [r11, r7]\n\t" \
    "add r11, r11, r7, lsl #1\n\t" \
    "cmp r12, #3\n\t" \
    "beq 6f\n"
#define ML_DW_3X3_ODD \
    "6:\n\t" \
    ML_DW_3X3_ONE_ROW("16", "lr") \
    "add r9, r9, r10\n\t" \
    ML_DW_3X3_ONE_ROW("24", "r0") \
    "add r9, r9, r10\n\t" \
    ML_DW_3X3_ONE_ROW("32", "r0") \
    "ldm sp, {r4, r5, r6, r7}\n\t" \
    ML_DW_3X3_REQ("r0") \
    "strb r0, [r11]\n\t" \
    "b 5b\n\t"
#endif
/* Speed and balanced start the routine on a 32-byte line: the fewest instruction cache lines. */
#if defined(ML_OPTIMIZE_SIZE)
#define ML_DW_3X3_ALIGN ""
#else
#define ML_DW_3X3_ALIGN ".text\n\t.balign 32\n\t"
#endif
__asm__(ML_DW_3X3_ALIGN ML_DSP_ASM_FUNCTION("ml_dw_3x3_channel")
        "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
        "sub sp, sp, #64\n\t"
        "ldr r1, [r0]\n\t"
        "ldm r1, {r2, r3, r4, r5, r6, r7, r8, r9, r10, r11}\n\t"  /* bias, weights, m, round, n */
        "mov lr, r2\n\t"
        "add r2, sp, #16\n\t"
        "stm r2, {r3, r4, r5, r6, r7, r8}\n\t"
        "ldr r12, [r0, #4]\n\t"
        "stm sp, {r9, r10, r11, r12}\n\t"
        "add r0, r0, #8\n\t"
        "ldm r0, {r2, r3, r4, r5, r6, r7}\n\t"  /* plane, out, lines, line, len, row bytes */
        "mov r10, r7\n\t"
        "and r7, r6, #3\n\t"
        "lsr r6, r6, #2\n\t"
        "add r0, sp, #40\n\t"
        "stm r0, {r2, r3, r4, r5, r6, r7}\n"
        "1:\n\t"  /* a line */
        "ldrd r9, r11, [sp, #40]\n\t"
        "ldr r12, [sp, #56]\n\t"
        "cmp r12, #0\n\t"
        "beq 3f\n"
        "2:\n\t"  /* four outputs */
        ML_DW_3X3_ROWS(ML_DW_3X3_QUAD_ROW, "lr", "lr", "lr", "lr")
        "add r9, r9, #8\n\t"
        "ldm sp, {r4, r5, r6, r7}\n\t"
        ML_DW_3X3_REQ("r0") ML_DW_3X3_REQ("r1") ML_DW_3X3_REQ("r2") ML_DW_3X3_REQ("r3")
        "strb r0, [r11]\n\t"
        "strb r1, [r11, r7]\n\t"
        "add r11, r11, r7, lsl #1\n\t"
        "strb r2, [r11]\n\t"
        "strb r3, [r11, r7]\n\t"
        "add r11, r11, r7, lsl #1\n\t"
        "subs r12, r12, #1\n\t"
        "bne 2b\n"
        ML_DW_3X3_TAIL
        "5:\n\t"  /* the next line */
        "ldrd r4, r5, [sp, #40]\n\t"
        "ldrd r6, r7, [sp, #48]\n\t"
        "add r4, r4, r10\n\t"
        "add r5, r5, r7\n\t"
        "subs r6, r6, #1\n\t"
        "strd r4, r5, [sp, #40]\n\t"
        "str r6, [sp, #48]\n\t"
        "bne 1b\n\t"
        "add sp, sp, #64\n\t"
        "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
        ML_DW_3X3_ODD
        ".size ml_dw_3x3_channel, .-ml_dw_3x3_channel");

#define ML_DW_3X3_BAND 8  /* output lines per band (see ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES) */

#if !defined(ML_NO_DW_3X3_DERIVE)  /* (ml_config.h) every 3x3-layout layer has its data laid out */
/* ML_DW_LAYOUT_DERIVE: where a channel pair's data comes from. */
typedef struct {
    const int8_t *filter;               /* [3][3][channels] */
    const int32_t *bias;                /* or NULL */
    const ml_per_channel_quant *quant;
    int32_t row_step, tap_step;         /* filter bytes between window rows, along a window row */
    int32_t output_offset;
} ml_dw_3x3_operands;

/* Channels c and c + 1's data, as the generator lays it out, into cd; 0 when a channel is off
 * the fast requantization (n = -shift in [1, 22], multiplier >= 0). */
static ML_NOINLINE int ml_dw_3x3_derive(int32_t *cd, const ml_dw_3x3_operands *o, int32_t c)
{
    for (int32_t j = c; j < c + 2; ++j, cd += ML_DW_3X3_WORDS) {
        cd[0] = o->bias != NULL ? (int32_t)((uint32_t)o->bias[j] << 1) : 0;
        const int8_t *f = o->filter + j;
        for (int32_t r = 0; r < 3; ++r, f += o->row_step) {
            const uint32_t w0 = (uint32_t)(2 * f[0]) & 0xFFFFu;
            const uint32_t w1 = (uint32_t)(2 * f[o->tap_step]) & 0xFFFFu;
            const uint32_t w2 = (uint32_t)(2 * f[2 * o->tap_step]) & 0xFFFFu;
            cd[1 + 2 * r] = (int32_t)(w0 | (w1 << 16));
            cd[2 + 2 * r] = (int32_t)(w1 | (w2 << 16));
        }
        const int32_t m = o->quant->multiplier[j];
        const int32_t n = -o->quant->shift[j];
        if ((uint32_t)(n - 1) >= 22u || m < 0) {
            return 0;
        }
        cd[7] = m;
        cd[8] = ml_dsp_round_with_offset(2 * o->output_offset + 1, -n);
        cd[9] = n;
    }
    return 1;
}
#endif

/*
 * A line is an image row (ML_DW_LAYOUT_3X3) or an image column (ML_DW_LAYOUT_3X3_T, whose
 * weights the generator transposed); the pixels of a line are its columns or its rows. Only
 * the strides differ: a 25x5 image (KWS) runs as 5 lines of 25 pixels, the per-line costs
 * (calls, a requantization tail, the planes' padding words) paid 5 times instead of 25.
 */
static ML_NOINLINE ml_status ml_dw_3x3_run(const ml_depthwise_conv_params *params,
                                           const ml_per_channel_quant *quant,
                                           const int32_t *dsp_data, int32_t *scratch,
                                           const ml_dims *input_dims, const int8_t *input,
                                           const int8_t *filter, const int32_t *bias,
                                           const ml_dims *output_dims, int8_t *output)
{
    const int32_t in_c = input_dims->c;
    const int32_t t = (params->dsp_layout & 3) == ML_DW_LAYOUT_3X3_T;
#if defined(ML_NO_DW_3X3_COLUMNS)
    if (t) {
        return ML_NO_IMPL;  /* the generator saw no layer take it */
    }
#endif
    const int32_t in_lines = t ? input_dims->w : input_dims->h;
    const int32_t in_len = t ? input_dims->h : input_dims->w;
    const int32_t lines = t ? output_dims->w : output_dims->h;
    const int32_t len = t ? output_dims->h : output_dims->w;
    const int32_t pad_lines = t ? params->pad_w : params->pad_h;
    const int32_t pad_len = t ? params->pad_h : params->pad_w;
    /* bytes between neighbouring pixels of a line and between neighbouring lines */
    const int32_t in_px = t ? input_dims->w * in_c : in_c;
    const int32_t in_line = t ? in_c : input_dims->w * in_c;
    const int32_t out_px = t ? output_dims->w * in_c : in_c;
    const int32_t out_line = t ? in_c : output_dims->w * in_c;
    const int32_t words_x = (len - 1) / 2 + 2;
    const int32_t band = lines < ML_DW_3X3_BAND ? lines : ML_DW_3X3_BAND;
    const int32_t plane_words = (band + 2) * words_x;
#if !defined(ML_NO_DW_3X3_DERIVE)
    int32_t *const derived = scratch + 2 * plane_words;  /* ML_DW_LAYOUT_DERIVE: the pair's data */
    /* window row r is filter column r when the path runs along the columns */
    const ml_dw_3x3_operands operands = {filter, bias, quant, (t ? 1 : 3) * in_c,
                                         (t ? 3 : 1) * in_c, params->output_offset};
#else
    (void)filter;
    (void)bias;
    (void)quant;
#endif
    const int32_t off2 = ml_dsp_pair16(params->input_offset);
    const uint32_t zp = (uint32_t)(uint8_t)(-params->input_offset);
    const uint32_t zp2 = zp | (zp << 8);
    ml_dw_3x3_cols cols;
    ml_dw_3x3_layout(&cols, words_x, pad_len, in_len);
#if ML_DW_3X3_FILL_COLS
    const ml_dw_3x3_fill_geo geo = {cols, in_px, in_line, words_x, plane_words, off2, zp2};
#endif
    /* The planes' padding is 0 and no channel pair writes there. */
    for (int32_t i = 0; i < 2 * plane_words; ++i) {
        scratch[i] = 0;
    }
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * input_dims->h * input_dims->w * in_c;
        int8_t *out_batch = output + b * output_dims->h * output_dims->w * in_c;
        for (int32_t oy0 = 0; oy0 < lines; oy0 += band) {
            const int32_t rows = lines - oy0 < band ? lines - oy0 : band;
            const int32_t iy0 = oy0 - pad_lines;
            const int32_t n_in = rows + 2;
            /* Plane rows [k_lo, k_hi) are image lines; the others must read 0 (a later band,
             * or the first band of the next batch, can put padding lines where an earlier band
             * had image lines). */
            const int32_t k_lo = iy0 < 0 ? (-iy0 < n_in ? -iy0 : n_in) : 0;
            const int32_t k_hi =
                in_lines - iy0 < n_in ? (in_lines - iy0 > k_lo ? in_lines - iy0 : k_lo) : n_in;
            if ((b > 0 || oy0 > 0) && (k_lo > 0 || k_hi < n_in)) {
                for (int32_t k = 0; k < n_in; ++k) {
                    if (k < k_lo || k >= k_hi) {
                        for (int32_t i = 0; i < words_x; ++i) {
                            scratch[k * words_x + i] = 0;
                            scratch[plane_words + k * words_x + i] = 0;
                        }
                    }
                }
            }
            for (int32_t c = 0; c < in_c; c += 2) {
                const int8_t *src = in_batch + (iy0 + k_lo) * in_line + c;
#if ML_DW_3X3_FILL_COLS
                if (t) {
                    ml_dw_3x3_fill_cols(scratch + k_lo * words_x, src, k_hi - k_lo, &geo);
                } else
#endif
                {
                    for (int32_t k = k_lo; k < k_hi; ++k, src += in_line) {
                        ml_dw_3x3_fill_row(scratch + k * words_x,
                                           scratch + plane_words + k * words_x, src, in_px,
                                           &cols, off2, zp2, 0);
                    }
                }
                const int32_t *cd = dsp_data + c * ML_DW_3X3_WORDS;
#if !defined(ML_NO_DW_3X3_DERIVE)
                if (params->dsp_layout & ML_DW_LAYOUT_DERIVE) {
                    if (!ml_dw_3x3_derive(derived, &operands, c)) {
                        return ML_NO_IMPL;
                    }
                    cd = derived;
                }
#endif
                ml_dw_3x3_job job = {cd, out_px, scratch, out_batch + oy0 * out_line + c, rows,
                                     out_line, len, 4 * words_x};
                ml_dw_3x3_channel(&job);
                job.plane = scratch + plane_words;
                job.cd = cd + ML_DW_3X3_WORDS;
                job.out += 1;
                ml_dw_3x3_channel(&job);
            }
        }
    }
    return ML_OK;
}
#endif /* ML_NO_DW_3X3_PLANES */
#endif /* ML_NN_DSP */

#if ML_M0_PATHS
/*
 * Cortex-M0/M0+ path for 3x3 windows, depth multiplier 1, no dilation, channels in groups of
 * four. Channel group by channel group, the input rows under each output row are copied into
 * the scratch as words of the group's four channels, with the input zero point where the
 * window leaves the image (x + input_offset = 0 there, so such a tap adds nothing, as TFLM
 * skipping it does). Every pixel then runs the same unrolled assembly, 3 x 3 taps of four
 * channels, 22 instructions per tap (the C loop took 30 plus its tap walk), and each output's
 * requantization takes the group's prepared constants (ml_m0_rq_apply).
 */
typedef struct {
    int32_t w_dx;     /* weight bytes between taps: the channel count */
    int32_t offset;   /* input_offset */
} ml_dw_m0_ctx;

/* acc[0..3] = sum over the 3 x 3 taps of (x + offset) * w for four channels: row ky of the
 * window is the 12 bytes at rows[ky] (three taps of four channels), tap t's weights the four
 * bytes at w + t * w_dx. */
void ml_dw_m0_3x3(const int8_t *const rows[3], const int8_t *w, const ml_dw_m0_ctx *ctx,
                  int32_t acc[4]);

/* One channel of a tap: (x + offset) * w into acc; on Cortex-M3 (ARMv7-M) in one MLA. */
#if defined(__ARM_ARCH_7M__)
#define ML_DW_M0_CHANNEL(idx, acc)                                                               \
    "ldrsb r5, [r0, " idx "]\n\t"                                                                \
    "add r5, ip\n\t"                                                                             \
    "ldrsb r6, [r1, " idx "]\n\t"                                                                \
    "mla " acc ", r6, r5, " acc "\n\t"
#else
#define ML_DW_M0_CHANNEL(idx, acc)                                                               \
    "ldrsb r5, [r0, " idx "]\n\t"                                                                \
    "add r5, ip\n\t"                                                                             \
    "ldrsb r6, [r1, " idx "]\n\t"                                                                \
    "muls r6, r5\n\t"                                                                            \
    "add " acc ", r6\n\t"
#endif
#define ML_DW_M0_TAP                                                                             \
    ML_DW_M0_CHANNEL("r7", "r8")                                                                 \
    ML_DW_M0_CHANNEL("r2", "r9")                                                                 \
    ML_DW_M0_CHANNEL("r3", "r10")                                                                \
    ML_DW_M0_CHANNEL("r4", "r11")                                                                \
    "adds r0, r0, #4\n\t"                                                                        \
    "add r1, lr\n\t"
__asm__(ML_M0_ASM_FUNCTION("ml_dw_m0_3x3")
    "push {r4, r5, r6, r7, lr}\n\t"
    "mov r4, r8\n\t"
    "mov r5, r9\n\t"
    "mov r6, r10\n\t"
    "mov r7, r11\n\t"
    "push {r4, r5, r6, r7}\n\t"
    "push {r0, r3}\n\t"             /* [sp] rows, [sp, #4] acc: pushed in register order */
    "ldr r5, [r2, #0]\n\t"
    "mov lr, r5\n\t"
    "ldr r5, [r2, #4]\n\t"
    "mov ip, r5\n\t"
    "movs r7, #0\n\t"
    "mov r8, r7\n\t"
    "mov r9, r7\n\t"
    "mov r10, r7\n\t"
    "mov r11, r7\n\t"
    "movs r2, #1\n\t"
    "movs r3, #2\n\t"
    "movs r4, #3\n\t"
    "ldr r0, [sp, #0]\n\t"
    "ldr r0, [r0, #0]\n\t"
    ML_DW_M0_TAP ML_DW_M0_TAP ML_DW_M0_TAP
    "ldr r0, [sp, #0]\n\t"
    "ldr r0, [r0, #4]\n\t"
    ML_DW_M0_TAP ML_DW_M0_TAP ML_DW_M0_TAP
    "ldr r0, [sp, #0]\n\t"
    "ldr r0, [r0, #8]\n\t"
    ML_DW_M0_TAP ML_DW_M0_TAP ML_DW_M0_TAP
    "ldr r0, [sp, #4]\n\t"
    "mov r1, r8\n\t"
    "str r1, [r0, #0]\n\t"
    "mov r1, r9\n\t"
    "str r1, [r0, #4]\n\t"
    "mov r1, r10\n\t"
    "str r1, [r0, #8]\n\t"
    "mov r1, r11\n\t"
    "str r1, [r0, #12]\n\t"
    "add sp, sp, #8\n\t"
    "pop {r4, r5, r6, r7}\n\t"
    "mov r8, r4\n\t"
    "mov r9, r5\n\t"
    "mov r10, r6\n\t"
    "mov r11, r7\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size ml_dw_m0_3x3, .-ml_dw_m0_3x3");

/* The word at p (4-aligned), read with LDR: int8 data read as a word without going through a
 * uint32_t lvalue. */
static inline int32_t ml_dw_m0_word(const int8_t *p)
{
    int32_t v;
    __asm__("ldr %0, [%1]" : "=l"(v) : "l"(p));
    return v;
}

/* Buffer row := input row iy's four channels at columns [-pad_w, cols - pad_w), the zero
 * point outside the image; `words`: the sources are 4-aligned. */
static void ml_dw_m0_row(int32_t *dst, const int8_t *in_batch, int32_t iy, int32_t in_h,
                         int32_t in_w, int32_t in_c, int32_t cols, int32_t pad_w, int32_t zp4,
                         int words)
{
    int32_t i = 0;
    if (iy >= 0 && iy < in_h) {
        const int32_t lo = pad_w < cols ? pad_w : cols;
        const int32_t hi = pad_w + in_w < cols ? pad_w + in_w : cols;
        for (; i < lo; ++i) {
            dst[i] = zp4;
        }
        const int8_t *s = in_batch + iy * in_w * in_c + (i - pad_w) * in_c;
        if (words) {
            for (; i < hi; ++i, s += in_c) {
                dst[i] = ml_dw_m0_word(s);
            }
        } else {
            for (; i < hi; ++i, s += in_c) {
                int8_t *d = (int8_t *)(dst + i);
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
                d[3] = s[3];
            }
        }
    }
    for (; i < cols; ++i) {
        dst[i] = zp4;
    }
}

/*
 * Stride 1 (the usual case) goes faster: the rows are copied as x + 128 (unsigned bytes, the
 * zero point's x + 128 outside the image), so LDRB with an immediate offset reads any tap of
 * the window from one row pointer, and x * w = (x + 128) * w - 128 * w moves -128 * sum(w)
 * into the channel's starting value, base = bias + (input_offset - 128) * sum(w) (a tap
 * outside the image reads zp + 128 and adds (zp + input_offset) * w = 0, as TFLM skipping it
 * does). ml_dw_m0_s1_* run two channels at two vertically neighbouring pixels (output rows
 * oy and oy + 1 read input rows iy..iy + 2 and iy + 1..iy + 3; in-place layers come two rows
 * per call, and an odd last row pairs with a dummy): per tap, one weight word (the group's weights copied as
 * int32, channel pair by channel pair), the two pixels' bytes, two MULS and two adds, 3.5
 * instructions per MAC; then the four outputs' requantization inline (ML_M0_RQ3_*). The same
 * sums as TFLM's, modulo 2^32.
 */
typedef struct {
    const uint8_t *row[4];  /* input rows iy..iy + 3 at the window's first column, group's channel 0 */
    const int32_t *w;       /* channel 2p + j at tap t (row-major): w[18p + 2t + j] */
    int8_t *out_a;          /* output (oy, 0) at the group's first channel */
    int8_t *out_b;          /* output (oy + 1, 0), or a dummy */
    int32_t step_a;         /* out_c */
    int32_t step_b;         /* out_c, or 0 with the dummy */
    int32_t count;          /* output columns, >= 1 */
    const ml_m0_rq3 *rec;   /* the group's four channels; base is the starting value */
    int32_t act_min;
    int32_t act_max;
} ml_dw_m0_job;

typedef char ml_dw_m0_job_layout[offsetof(ml_dw_m0_job, act_max) == 48 &&
                                 sizeof(ml_m0_rq3) == 24 ? 1 : -1];

void ml_dw_m0_s1_relu(const ml_dw_m0_job *job);
void ml_dw_m0_s1_any(const ml_dw_m0_job *job);

/* Tap (ky, kx) of the window, weights from word `wt` of the pair: rows `ra` (first pixel) and
 * `rb` (second); channel 0 of the pair into r8 (first pixel) and r9, channel 1 into r10 and
 * r11. Cortex-M3 (ARMv7-M) multiplies and adds in one MLA: 10 instructions for 14, the same
 * sums modulo 2^32. */
#if defined(__ARM_ARCH_7M__)
#define ML_DW_M0_VTAP(ra, rb, kx, wt)                                                            \
    "ldr r7, [r0, #" #wt "*8]\n\t"                                                               \
    "ldrb r1, [" ra ", #" #kx "*4]\n\t"                                                          \
    "ldrb r6, [" rb ", #" #kx "*4]\n\t"                                                          \
    "mla r8, r1, r7, r8\n\t"                                                                     \
    "mla r9, r6, r7, r9\n\t"                                                                     \
    "ldr r7, [r0, #" #wt "*8+4]\n\t"                                                             \
    "ldrb r1, [" ra ", #" #kx "*4+1]\n\t"                                                        \
    "ldrb r6, [" rb ", #" #kx "*4+1]\n\t"                                                        \
    "mla r10, r1, r7, r10\n\t"                                                                   \
    "mla r11, r6, r7, r11\n\t"
#else
#define ML_DW_M0_VTAP(ra, rb, kx, wt)                                                            \
    "ldr r7, [r0, #" #wt "*8]\n\t"                                                               \
    "ldrb r1, [" ra ", #" #kx "*4]\n\t"                                                          \
    "ldrb r6, [" rb ", #" #kx "*4]\n\t"                                                          \
    "muls r1, r7, r1\n\t"                                                                        \
    "muls r6, r7, r6\n\t"                                                                        \
    "add r8, r1\n\t"                                                                             \
    "add r9, r6\n\t"                                                                             \
    "ldr r7, [r0, #" #wt "*8+4]\n\t"                                                             \
    "ldrb r1, [" ra ", #" #kx "*4+1]\n\t"                                                        \
    "ldrb r6, [" rb ", #" #kx "*4+1]\n\t"                                                        \
    "muls r1, r7, r1\n\t"                                                                        \
    "muls r6, r7, r6\n\t"                                                                        \
    "add r10, r1\n\t"                                                                            \
    "add r11, r6\n\t"
#endif

/* Locals below the saved registers: [sp] the job, #4 act_min, #8..#20 the rows, #24 out_a,
 * #28 out_b, #32 columns left, #36 the pair's weights, #40 its ml_m0_rq3, #44 pairs left,
 * #48 the pair's channel offset. In the loop r0 holds the weights, r2-r5 the rows; lr act_max.
 * Both channel pairs of the group: the second reads 2 bytes further in the rows and the
 * outputs, 18 words further in the weights. */
#define ML_DW_M0_S1(name, RQ)                                                                    \
    ML_M0_ASM_FUNCTION(name)                                                                     \
    "push {r4, r5, r6, r7, lr}\n\t"                                                              \
    "mov r4, r8\n\t"                                                                             \
    "mov r5, r9\n\t"                                                                             \
    "mov r6, r10\n\t"                                                                            \
    "mov r7, r11\n\t"                                                                            \
    "push {r4, r5, r6, r7}\n\t"                                                                  \
    "sub sp, sp, #52\n\t"                                                                        \
    "str r0, [sp, #0]\n\t"                                                                       \
    "ldr r1, [r0, #44]\n\t"                                                                      \
    "str r1, [sp, #4]\n\t"                                                                       \
    "ldr r1, [r0, #48]\n\t"                                                                      \
    "mov lr, r1\n\t"                                                                             \
    "ldr r1, [r0, #16]\n\t"                                                                      \
    "str r1, [sp, #36]\n\t"                                                                      \
    "ldr r1, [r0, #40]\n\t"                                                                      \
    "str r1, [sp, #40]\n\t"                                                                      \
    "movs r1, #2\n\t"                                                                            \
    "str r1, [sp, #44]\n\t"                                                                      \
    "movs r1, #0\n\t"                                                                            \
    "str r1, [sp, #48]\n"                                                                        \
    "4:\n\t"                                                                                     \
    "ldr r0, [sp, #0]\n\t"                                                                       \
    "ldr r6, [sp, #48]\n\t"                                                                      \
    "ldm r0!, {r2, r3, r4, r5}\n\t"                                                              \
    "adds r2, r2, r6\n\t"                                                                        \
    "adds r3, r3, r6\n\t"                                                                        \
    "adds r4, r4, r6\n\t"                                                                        \
    "adds r5, r5, r6\n\t"                                                                        \
    "add r1, sp, #8\n\t"                                                                         \
    "stm r1!, {r2, r3, r4, r5}\n\t"                                                              \
    "ldr r1, [r0, #4]\n\t"          /* out_a */                                                  \
    "adds r1, r1, r6\n\t"                                                                        \
    "str r1, [sp, #24]\n\t"                                                                      \
    "ldr r1, [r0, #8]\n\t"          /* out_b */                                                  \
    "adds r1, r1, r6\n\t"                                                                        \
    "str r1, [sp, #28]\n\t"                                                                      \
    "ldr r1, [r0, #20]\n\t"         /* count */                                                  \
    "str r1, [sp, #32]\n"                                                                        \
    "1:\n\t"                                                                                     \
    "ldr r7, [sp, #40]\n\t"                                                                      \
    "ldr r6, [r7, #20]\n\t"                                                                      \
    "mov r8, r6\n\t"                                                                             \
    "mov r9, r6\n\t"                                                                             \
    "ldr r6, [r7, #44]\n\t"                                                                      \
    "mov r10, r6\n\t"                                                                            \
    "mov r11, r6\n\t"                                                                            \
    "add r1, sp, #8\n\t"                                                                         \
    "ldm r1!, {r2, r3, r4, r5}\n\t"                                                              \
    "ldr r0, [sp, #36]\n\t"                                                                      \
    ML_DW_M0_VTAP("r2", "r3", 0, 0) ML_DW_M0_VTAP("r2", "r3", 1, 1)                              \
    ML_DW_M0_VTAP("r2", "r3", 2, 2)                                                              \
    ML_DW_M0_VTAP("r3", "r4", 0, 3) ML_DW_M0_VTAP("r3", "r4", 1, 4)                              \
    ML_DW_M0_VTAP("r3", "r4", 2, 5)                                                              \
    ML_DW_M0_VTAP("r4", "r5", 0, 6) ML_DW_M0_VTAP("r4", "r5", 1, 7)                              \
    ML_DW_M0_VTAP("r4", "r5", 2, 8)                                                              \
    "adds r2, r2, #4\n\t"           /* the next column's window */                               \
    "adds r3, r3, #4\n\t"                                                                        \
    "adds r4, r4, #4\n\t"                                                                        \
    "adds r5, r5, #4\n\t"                                                                        \
    "add r6, sp, #8\n\t"                                                                         \
    "stm r6!, {r2, r3, r4, r5}\n\t"                                                              \
    "ldr r7, [sp, #40]\n\t"                                                                      \
    "ldr r6, [sp, #24]\n\t"         /* out_a */                                                  \
    "mov r0, r8\n\t"                                                                             \
    RQ("[sp, #4]")                                                                               \
    "strb r1, [r6, #0]\n\t"                                                                      \
    "mov r0, r10\n\t"                                                                            \
    "adds r7, r7, #24\n\t"                                                                       \
    RQ("[sp, #4]")                                                                               \
    "strb r1, [r6, #1]\n\t"                                                                      \
    "mov r0, r11\n\t"                                                                            \
    RQ("[sp, #4]")                                                                               \
    "ldr r6, [sp, #28]\n\t"         /* out_b */                                                  \
    "strb r1, [r6, #1]\n\t"                                                                      \
    "mov r0, r9\n\t"                                                                             \
    "subs r7, r7, #24\n\t"                                                                       \
    RQ("[sp, #4]")                                                                               \
    "strb r1, [r6, #0]\n\t"                                                                      \
    "ldr r0, [sp, #0]\n\t"                                                                       \
    "ldr r2, [sp, #24]\n\t"                                                                      \
    "ldr r3, [r0, #28]\n\t"         /* step_a */                                                 \
    "adds r2, r2, r3\n\t"                                                                        \
    "str r2, [sp, #24]\n\t"                                                                      \
    "ldr r3, [r0, #32]\n\t"         /* step_b */                                                 \
    "adds r6, r6, r3\n\t"                                                                        \
    "str r6, [sp, #28]\n\t"                                                                      \
    "ldr r2, [sp, #32]\n\t"                                                                      \
    "subs r2, r2, #1\n\t"                                                                        \
    "str r2, [sp, #32]\n\t"                                                                      \
    "beq 3f\n\t"                                                                                 \
    "b 1b\n"                                                                                     \
    "3:\n\t"                                                                                     \
    "ldr r1, [sp, #48]\n\t"                                                                      \
    "adds r1, r1, #2\n\t"                                                                        \
    "str r1, [sp, #48]\n\t"                                                                      \
    "ldr r1, [sp, #36]\n\t"                                                                      \
    "adds r1, r1, #72\n\t"                                                                       \
    "str r1, [sp, #36]\n\t"                                                                      \
    "ldr r1, [sp, #40]\n\t"                                                                      \
    "adds r1, r1, #48\n\t"                                                                       \
    "str r1, [sp, #40]\n\t"                                                                      \
    "ldr r1, [sp, #44]\n\t"                                                                      \
    "subs r1, r1, #1\n\t"                                                                        \
    "str r1, [sp, #44]\n\t"                                                                      \
    "beq 0f\n\t"                                                                                 \
    "b 4b\n"                                                                                     \
    "0:\n\t"                                                                                     \
    "add sp, sp, #52\n\t"                                                                        \
    "pop {r4, r5, r6, r7}\n\t"                                                                   \
    "mov r8, r4\n\t"                                                                             \
    "mov r9, r5\n\t"                                                                             \
    "mov r10, r6\n\t"                                                                            \
    "mov r11, r7\n\t"                                                                            \
    "pop {r4, r5, r6, r7, pc}\n\t"                                                               \
    ".size " name ", .-" name "\n\t"

__asm__(ML_M0_IF_RELU_FORM(ML_DW_M0_S1("ml_dw_m0_s1_relu", ML_M0_RQ3_RELU))
        ML_M0_IF_ANY_FORM(ML_DW_M0_S1("ml_dw_m0_s1_any", ML_M0_RQ3_ANY)));

/* How a buffer row is filled: words [0, lo) and [hi, cols) get zpu (zp + 128 in every byte),
 * words [lo, hi) the input's four channels as x + 128, in_c bytes apart (4-aligned). */
typedef struct {
    int32_t lo;
    int32_t hi;
    int32_t cols;
    int32_t in_c;
    uint32_t zpu;
    uint32_t flip;  /* 0x80808080 */
} ml_dw_m0_fill_geo;

/* Buffer row dst := that row of the input at src, or all zpu when src is NULL (a padding
 * row): 6 instructions per word. */
void ml_dw_m0_fill(uint32_t *dst, const int8_t *src, const ml_dw_m0_fill_geo *g);

__asm__(ML_M0_ASM_FUNCTION("ml_dw_m0_fill")
    "push {r4, r5, r6, r7, lr}\n\t"
    "ldm r2, {r2, r3, r4, r5, r6, r7}\n\t"  /* lo, hi, cols, in_c, zpu, flip */
    "cmp r1, #0\n\t"
    "bne 1f\n\t"
    "movs r2, r4\n\t"                /* a padding row: every word zpu */
    "movs r3, r4\n"
    "1:\n\t"
    "subs r4, r4, r3\n\t"            /* words after the image */
    "subs r3, r3, r2\n\t"            /* words of the image */
    "cmp r2, #0\n\t"
    "beq 2f\n"
    "3:\n\t"
    "stm r0!, {r6}\n\t"
    "subs r2, r2, #1\n\t"
    "bne 3b\n"
    "2:\n\t"
    "cmp r3, #0\n\t"
    "beq 4f\n"
    "5:\n\t"
    "ldr r2, [r1]\n\t"
    "eors r2, r7\n\t"
    "stm r0!, {r2}\n\t"
    "adds r1, r1, r5\n\t"
    "subs r3, r3, #1\n\t"
    "bne 5b\n"
    "4:\n\t"
    "cmp r4, #0\n\t"
    "beq 6f\n"
    "7:\n\t"
    "stm r0!, {r6}\n\t"
    "subs r4, r4, #1\n\t"
    "bne 7b\n"
    "6:\n\t"
    "pop {r4, r5, r6, r7, pc}\n\t"
    ".size ml_dw_m0_fill, .-ml_dw_m0_fill");

/* The same for an input that is not 4-aligned. */
static ML_NOINLINE void ml_dw_m0_fill_bytes(uint32_t *dst, const int8_t *src,
                                            const ml_dw_m0_fill_geo *g)
{
    int32_t i = 0;
    if (src != NULL) {
        for (; i < g->lo; ++i) {
            dst[i] = g->zpu;
        }
        for (; i < g->hi; ++i, src += g->in_c) {
            uint8_t *d = (uint8_t *)(dst + i);
            d[0] = (uint8_t)((uint8_t)src[0] ^ 0x80u);
            d[1] = (uint8_t)((uint8_t)src[1] ^ 0x80u);
            d[2] = (uint8_t)((uint8_t)src[2] ^ 0x80u);
            d[3] = (uint8_t)((uint8_t)src[3] ^ 0x80u);
        }
    }
    for (; i < g->cols; ++i) {
        dst[i] = g->zpu;
    }
}

/* The group of channels c0..c0 + 3: its weights as int32, channel pair by channel pair, and
 * its channels' ml_m0_rq3 with base = bias + (input_offset - 128) * sum(w). */
static ML_NOINLINE void ml_dw_m0_prep(int32_t *w, ml_m0_rq3 *rec, const int8_t *f,
                                      int32_t out_c, const ml_per_channel_quant *quant,
                                      int32_t c0, const int32_t *bias,
                                      const ml_depthwise_conv_params *params)
{
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int32_t t = 0; t < 18; t += 2, f += out_c) {
        const int32_t v0 = f[0], v1 = f[1], v2 = f[2], v3 = f[3];
        w[t] = v0;
        w[t + 1] = v1;
        w[t + 18] = v2;
        w[t + 19] = v3;
        s0 += v0;
        s1 += v1;
        s2 += v2;
        s3 += v3;
    }
    const int32_t sums[4] = {s0, s1, s2, s3};
    const uint32_t off = (uint32_t)(params->input_offset - 128);
    for (int32_t j = 0; j < 4; ++j) {
        (void)ml_m0_rq3_of(&rec[j], quant->multiplier[c0 + j], quant->shift[c0 + j],
                           params->output_offset);
        rec[j].base = (int32_t)((uint32_t)(bias != NULL ? bias[c0 + j] : 0) +
                                off * (uint32_t)sums[j]);
    }
}

/* Which of the two paths below takes the call: ML_DW_M0_PATH_S1 (3x3 windows at stride 1),
 * else ML_DW_M0_PATH_ROWS (any stride; ML_DW_M0_PATH_STRIPS when it goes in strips of columns),
 * or 0 (neither: portable C). Both need depth multiplier 1, 3x3 windows without dilation,
 * channels in fours, every channel on a requantization they can do and a scratch (of the
 * header's size) for their buffer rows: four of `cols` words for the stride-1 path, whose
 * channels take the ml_m0_rq3 form and whose activation form is built in; three for the row
 * path (ml_m0_rq_of), or three of at least 3 words, a strip of columns at a time. The
 * scratch's size goes to *size. */
#define ML_DW_M0_PATH_S1 1
#define ML_DW_M0_PATH_ROWS 2
#define ML_DW_M0_PATH_STRIPS 3
static int ml_dw_m0_takes(const ml_depthwise_conv_params *params,
                          const ml_per_channel_quant *quant, const void *scratch,
                          const ml_dims *filter_dims, const ml_dims *output_dims, int32_t *size)
{
    const int32_t out_c = output_dims->c;
    const int32_t cols = (output_dims->w - 1) * params->stride_w + 3;  /* buffer columns per row */
    const int32_t bytes =
        (int32_t)ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES(params, filter_dims, output_dims);
    *size = bytes;
    if (scratch == NULL || params->depth_multiplier != 1 || filter_dims->h != 3 ||
        filter_dims->w != 3 || params->dilation_h != 1 || params->dilation_w != 1 ||
        (out_c & 3) != 0 || 3 * 3 * 4 > bytes) {
        return 0;
    }
    const int relu = params->act_min == params->output_offset;
    int s1 = params->stride_h == 1 && params->stride_w == 1 && 4 * cols * 4 <= bytes &&
             (relu ? ML_M0_RELU_FORM : ML_M0_ANY_FORM);
    for (int32_t c = 0; c < out_c; ++c) {  /* the ml_m0_rq3 channels are a subset */
        if (!ml_m0_rq3_fits(quant->multiplier[c], quant->shift[c])) {
            if (!ml_m0_rq_fits(quant->multiplier[c], quant->shift[c])) {
                return 0;
            }
            s1 = 0;
        }
    }
    return s1 ? ML_DW_M0_PATH_S1 : 3 * cols * 4 <= bytes ? ML_DW_M0_PATH_ROWS : ML_DW_M0_PATH_STRIPS;
}

/*
 * The stride-1 path (ml_dw_m0_takes chose it). Also in place (output == input, the same dims,
 * pad_h <= 2): group by group (its own four channels only), it copies input rows up to
 * oy + 3 - pad_h into the ring buffer before it writes output rows oy and oy + 1, and later
 * reads only rows from oy + 4 - pad_h on, which no output has covered yet.
 */
static ML_NOINLINE void ml_dw_m0_s1(const ml_depthwise_conv_params *params,
                                    const ml_per_channel_quant *quant, void *scratch,
                                    const ml_dims *input_dims, const int8_t *input,
                                    const int8_t *filter, const int32_t *bias,
                                    const ml_dims *output_dims, int8_t *output, int32_t cols)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    ml_m0_rq3 rec[4];
    ml_dw_m0_job job;
    job.step_a = out_c;
    job.count = out_w;
    job.act_min = params->act_min;
    job.act_max = params->act_max;
    /* direct calls, not pointers: the static stack bound follows them */
    const int relu = params->act_min == params->output_offset;
    (void)relu;  /* unused when one form is left out */
    ml_dw_m0_fill_geo geo;
    geo.lo = params->pad_w < cols ? params->pad_w : cols;
    geo.hi = params->pad_w + in_w < cols ? params->pad_w + in_w : cols;
    geo.hi = geo.hi > geo.lo ? geo.hi : geo.lo;
    geo.cols = cols;
    geo.in_c = in_c;
    geo.zpu = (uint32_t)(uint8_t)(-params->input_offset + 128) * 0x01010101u;
    geo.flip = 0x80808080u;
    /* in_c and the group offsets are multiples of 4, so aligned input means aligned words */
    const int aligned = ((uintptr_t)input & 3u) == 0;
    const int32_t row_bytes = in_w * in_c;
    uint32_t *buf = (uint32_t *)scratch;  /* 4 rows of `cols` words */
    int32_t w[36];
    int8_t dummy[4];  /* an odd last row's neighbour: one byte per channel */
    for (int32_t c0 = 0; c0 < out_c; c0 += 4) {
        ml_dw_m0_prep(w, rec, filter + c0, out_c, quant, c0, bias, params);
        job.w = w;
        job.rec = rec;
        for (int32_t b = 0; b < input_dims->n; ++b) {
            const int8_t *in_batch = input + b * in_h * in_w * in_c + c0;
            int8_t *out = output + b * out_h * out_w * out_c + c0;
            /* Input row r sits in buffer row (r - first) mod 4: `next` is the next row to
             * copy, `head` its buffer row. */
            int32_t next = -params->pad_h;
            int32_t head = 0;
            /* where input row `next` has the buffer's first image column */
            int32_t src = next * row_bytes + (geo.lo - params->pad_w) * in_c;
            for (int32_t oy = 0; oy < out_h; oy += 2) {
                const int32_t iy0 = oy - params->pad_h;
                for (; next <= iy0 + 3; ++next, src += row_bytes) {
                    const int8_t *row =
                        (uint32_t)next < (uint32_t)in_h && geo.hi > geo.lo ? in_batch + src : NULL;
                    if (aligned) {
                        ml_dw_m0_fill(buf + head * cols, row, &geo);
                    } else {
                        ml_dw_m0_fill_bytes(buf + head * cols, row, &geo);
                    }
                    head = (head + 1) & 3;
                }
                /* head is now iy0's buffer row */
                for (int32_t k = 0; k < 4; ++k) {
                    job.row[k] = (const uint8_t *)(buf + ((head + k) & 3) * cols);
                }
                job.out_a = out;
                const int has_b = oy + 1 < out_h;
                job.out_b = has_b ? out + out_w * out_c : dummy;
                job.step_b = has_b ? out_c : 0;
#if ML_M0_RELU_FORM && ML_M0_ANY_FORM
                if (relu) {
                    ml_dw_m0_s1_relu(&job);
                } else {
                    ml_dw_m0_s1_any(&job);
                }
#elif ML_M0_RELU_FORM
                ml_dw_m0_s1_relu(&job);
#else
                ml_dw_m0_s1_any(&job);
#endif
                out += 2 * out_w * out_c;
            }
        }
    }
}

/* Any stride (ml_dw_m0_takes chose it), in strips of output columns as wide as `bytes` of
 * scratch hold three buffer rows for (VWW's stride-2 layer 3 has scratch for 12 of the 49
 * columns of its rows: strips of 5 outputs instead of portable C). Out of line, so that its
 * frame and ml_dw_m0_s1's are never both on the stack. Also in place at stride 1 when the rows
 * fit whole (the same dims, pad_h <= 2, one strip): group by group, the three buffer rows hold
 * input rows oy - pad_h .. oy + 2 - pad_h, each copied before output row oy is written, and
 * later rows are read only from oy + 3 - pad_h on. */
static ML_NOINLINE void ml_dw_m0_rows(const ml_depthwise_conv_params *params,
                                      const ml_per_channel_quant *quant, void *scratch,
                                      const ml_dims *input_dims, const int8_t *input,
                                      const int8_t *filter, const int32_t *bias,
                                      const ml_dims *output_dims, int8_t *output, int32_t bytes)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    ml_m0_rq q[4];
    ml_m0_act act;
    act.out_off = params->output_offset;
    act.act_min = params->act_min;
    act.act_max = params->act_max;
    ml_dw_m0_ctx ctx;
    ctx.w_dx = out_c;
    ctx.offset = params->input_offset;
    const int32_t zp4 =
        (int32_t)((uint32_t)(uint8_t)(int8_t)(-params->input_offset) * 0x01010101u);
    const int words = ((uintptr_t)input & 3u) == 0;  /* in_c and the group offsets are too */
    int32_t *buf = (int32_t *)scratch;  /* 3 rows of `cols` words */
    /* outputs per strip: its rows of (strip - 1) * stride_w + 3 words fit three times */
    int32_t strip = (bytes / 12 - 3) / params->stride_w + 1;
    strip = strip < out_w ? strip : out_w;
    for (int32_t c0 = 0; c0 < out_c; c0 += 4) {
        int32_t base[4];
        for (int32_t j = 0; j < 4; ++j) {
            (void)ml_m0_rq_of(&q[j], quant->multiplier[c0 + j], quant->shift[c0 + j]);
            base[j] = bias != NULL ? bias[c0 + j] : 0;
        }
        for (int32_t b = 0; b < input_dims->n; ++b) {
            for (int32_t x0 = 0; x0 < out_w; x0 += strip) {
                const int32_t n_x = out_w - x0 < strip ? out_w - x0 : strip;
                const int32_t cols = (n_x - 1) * params->stride_w + 3;
                const int32_t pad_w = params->pad_w - x0 * params->stride_w;  /* < 0 inside */
                const int8_t *in_batch = input + b * in_h * in_w * in_c + c0;
                int8_t *out = output + (b * out_h * out_w + x0) * out_c + c0;
                int32_t held[3];  /* the input row each buffer row holds */
                held[0] = held[1] = held[2] = INT32_MIN;
                for (int32_t oy = 0; oy < out_h; ++oy, out += (out_w - n_x) * out_c) {
                    const int32_t iy0 = oy * params->stride_h - params->pad_h;
                    const int8_t *rows[3];
                    for (int32_t ky = 0; ky < 3; ++ky) {
                        rows[ky] = NULL;
                        for (int32_t r = 0; r < 3; ++r) {
                            if (held[r] == iy0 + ky) {
                                rows[ky] = (const int8_t *)(buf + r * cols);
                            }
                        }
                    }
                    for (int32_t ky = 0; ky < 3; ++ky) {
                        if (rows[ky] != NULL) {
                            continue;
                        }
                        /* A buffer row no row of this window needs: input rows only move down. */
                        int32_t r = 0;
                        while (held[r] >= iy0 && held[r] <= iy0 + 2) {
                            ++r;
                        }
                        held[r] = iy0 + ky;
                        ml_dw_m0_row(buf + r * cols, in_batch, iy0 + ky, in_h, in_w, in_c, cols,
                                     pad_w, zp4, words);
                        rows[ky] = (const int8_t *)(buf + r * cols);
                    }
                    for (int32_t ox = 0; ox < n_x; ++ox) {
                        int32_t acc[4];
                        ml_dw_m0_3x3(rows, filter + c0, &ctx, acc);
                        out[0] = (int8_t)ml_m0_rq_apply(acc[0] + base[0], &q[0], &act);
                        out[1] = (int8_t)ml_m0_rq_apply(acc[1] + base[1], &q[1], &act);
                        out[2] = (int8_t)ml_m0_rq_apply(acc[2] + base[2], &q[2], &act);
                        out[3] = (int8_t)ml_m0_rq_apply(acc[3] + base[3], &q[3], &act);
                        out += out_c;
                        rows[0] += 4 * params->stride_w;
                        rows[1] += 4 * params->stride_w;
                        rows[2] += 4 * params->stride_w;
                    }
                }
            }
        }
    }
}

/* 1 when the layer took one of the two paths above. */
static int ml_dw_m0(const ml_depthwise_conv_params *params, const ml_per_channel_quant *quant,
                    void *scratch, const ml_dims *input_dims, const int8_t *input,
                    const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                    const ml_dims *output_dims, int8_t *output)
{
    int32_t bytes;
    const int path = ml_dw_m0_takes(params, quant, scratch, filter_dims, output_dims, &bytes);
    if (path == ML_DW_M0_PATH_S1) {
        ml_dw_m0_s1(params, quant, scratch, input_dims, input, filter, bias, output_dims, output,
                    output_dims->w + 2);
    } else if (path != 0) {
        ml_dw_m0_rows(params, quant, scratch, input_dims, input, filter, bias, output_dims, output,
                      bytes);
    }
    return path != 0;
}
#endif /* ML_M0_PATHS */

#if defined(ML_NN_DSP) && !defined(ML_NO_DW_3X3_PLANES)
/* Whether the call has the 3x3 plane layout: its data in dsp_data, or derived from the operands
 * (without that code, ML_NO_DW_3X3_DERIVE, such a call takes the group path or returns
 * ML_NO_IMPL). */
static int ml_dw_3x3_planes(const ml_depthwise_conv_params *params, const int32_t *dsp_data)
{
    if (!ML_DSP_FORM_FITS(params->output_offset)) {
        return 0;  /* ML_ONLY_RELU: the routine's requantization is the ReLU form's */
    }
#if defined(ML_NO_DW_3X3_DERIVE)
    return dsp_data != NULL && (params->dsp_layout & 3) >= ML_DW_LAYOUT_3X3;
#else
    return (params->dsp_layout & 3) >= ML_DW_LAYOUT_3X3 &&
           (dsp_data != NULL || (params->dsp_layout & ML_DW_LAYOUT_DERIVE));
#endif
}
#endif

/* Whether the output may be the input (the header): the 3x3 path in one band, which reads every
 * input line of a channel pair into its planes before it writes that pair's outputs, and writes
 * no other channel. */
static int ml_dw_in_place_ok(const ml_depthwise_conv_params *params,
                             const ml_per_channel_quant *quant, const void *scratch,
                             const int32_t *dsp_data, const ml_dims *input_dims,
                             const ml_dims *filter_dims, const ml_dims *output_dims)
{
#if defined(ML_NN_DSP) && !defined(ML_NO_DW_3X3_PLANES)
    const int32_t t = (params->dsp_layout & 3) == ML_DW_LAYOUT_3X3_T;
#if defined(ML_NO_DW_3X3_COLUMNS)
    if (t) {
        return ML_NO_IMPL;  /* the generator saw no layer take it */
    }
#endif
    (void)quant;
    (void)filter_dims;
    return scratch != NULL && ml_dw_3x3_planes(params, dsp_data) &&
           (t ? output_dims->w : output_dims->h) <= ML_DW_3X3_BAND &&
           input_dims->h == output_dims->h && input_dims->w == output_dims->w &&
           input_dims->c == output_dims->c;
#elif ML_M0_PATHS && !defined(ML_NN_DSP)
    (void)dsp_data;
    /* whole rows, not strips: a later strip would read columns an earlier one wrote over */
    int32_t bytes;
    const int path = ml_dw_m0_takes(params, quant, scratch, filter_dims, output_dims, &bytes);
    return input_dims->h == output_dims->h && input_dims->w == output_dims->w &&
           input_dims->c == output_dims->c && params->stride_h == 1 && params->stride_w == 1 &&
           params->pad_h <= 2 && (path == ML_DW_M0_PATH_S1 || path == ML_DW_M0_PATH_ROWS);
#else
    (void)params;
    (void)quant;
    (void)scratch;
    (void)dsp_data;
    (void)input_dims;
    (void)filter_dims;
    (void)output_dims;
    return 0;
#endif
}

ml_status ml_depthwise_conv2d_s8(const ml_depthwise_conv_params *params,
                                 const ml_per_channel_quant *quant, void *scratch,
                                 const int32_t *dsp_data,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
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
    const int32_t mult = params->depth_multiplier;
    const int32_t offset = params->input_offset;
    if (mult < 1 || out_c != in_c * mult || filter_dims->n != 1 || filter_dims->c != out_c ||
        output_dims->n != input_dims->n || params->stride_h < 1 || params->stride_w < 1 ||
        params->dilation_h < 1 || params->dilation_w < 1) {
        return ML_ARG_ERROR;
    }
    const int32_t row_stride = in_w * in_c;
    ml_dw_window win;
    win.in_dy = params->dilation_h * row_stride;
    win.in_dx = params->dilation_w * in_c;
    win.w_dy = k_w * out_c;
    win.w_dx = out_c;
    ml_m0_act act;
    act.out_off = params->output_offset;
    act.act_min = params->act_min;
    act.act_max = params->act_max;
    int32_t first_oc = 0;  /* channels below are done by the DSP path */
    if ((const void *)input == (const void *)output &&
        !ml_dw_in_place_ok(params, quant, scratch, dsp_data, input_dims, filter_dims, output_dims)) {
        return ML_ARG_ERROR;  /* in place only through the paths the header names */
    }
#if defined(ML_NN_DSP)
#if !defined(ML_NO_DW_3X3_PLANES)
    if (scratch != NULL && (params->dsp_layout & 3) >= ML_DW_LAYOUT_3X3) {
        if (!ml_dw_3x3_planes(params, dsp_data)) {
            return ML_NO_IMPL;  /* the layout without its data: the scratch is the 3x3 path's */
        }
        return ml_dw_3x3_run(params, quant, dsp_data, (int32_t *)scratch, input_dims, input,
                             filter, bias, output_dims, output);
    }
#else
    if ((params->dsp_layout & 3) >= ML_DW_LAYOUT_3X3) {
        return ML_NO_IMPL;  /* the generator said no layer has this layout */
    }
#endif
#if !defined(ML_NO_DW_GROUPS)
    if (scratch != NULL && mult == 1 && params->acc_bounded && k_h * k_w <= ML_DW_DSP_TAPS &&
        out_c >= 4) {
#if ML_DW_ONLY
        if (!ml_dw_only_3x3(params, quant, dsp_data, filter_dims, out_c)) {
            return ML_NO_IMPL;
        }
#endif
        ml_dw_dsp_run(params, quant, scratch,
                      params->dsp_layout == ML_DW_LAYOUT_GROUPS ? dsp_data : NULL, input_dims,
                      input, filter_dims, filter, bias, output_dims, output, out_c >> 2);
        first_oc = out_c & ~3;
        if (first_oc == out_c) {
            return ML_OK;
        }
    }
#endif /* ML_NO_DW_GROUPS */
#if defined(ML_NO_FALLBACK_DEPTHWISE_CONV2D_S8)
    return ML_NO_IMPL;  /* --optimize size: the generator saw every layer take the DSP path */
#endif
#elif ML_M0_PATHS
    (void)dsp_data;
    if (ml_dw_m0(params, quant, scratch, input_dims, input, filter_dims, filter, bias,
                 output_dims, output)) {
        return ML_OK;
    }
#if defined(ML_NO_FALLBACK_M0_DEPTHWISE_CONV2D_S8)
    return ML_NO_IMPL;  /* the generator saw every layer take the path above */
#endif
#else
    (void)scratch;
    (void)dsp_data;
#endif

    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * row_stride;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t ky_lo, ky_hi;
            ml_dw_clip_window(iy0, params->dilation_h, k_h, in_h, &ky_lo, &ky_hi);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * params->stride_w - params->pad_w;
                int32_t kx_lo, kx_hi;
                ml_dw_clip_window(ix0, params->dilation_w, k_w, in_w, &kx_lo, &kx_hi);
                const int8_t *in_tap = in_batch;  /* never read when the window is empty */
                const int8_t *w_tap = filter;
                win.rows = ky_hi - ky_lo;
                win.cols = kx_hi - kx_lo;
                if (win.rows > 0 && win.cols > 0) {
                    in_tap += (iy0 + ky_lo * params->dilation_h) * row_stride +
                              (ix0 + kx_lo * params->dilation_w) * in_c;
                    w_tap += (ky_lo * k_w + kx_lo) * out_c;
                } else {
                    win.rows = 0;
                }
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * out_c;
                int32_t oc = first_oc;
                if (mult == 1) {
                    for (; oc + 4 <= out_c; oc += 4) {
                        int32_t acc[4];
                        ml_dw_dot4(&win, in_tap + oc, w_tap + oc, offset, acc);
                        for (int32_t j = 0; j < 4; ++j) {
                            out_px[oc + j] = ml_dw_finish(acc[j], oc + j, bias, quant, &act);
                        }
                    }
                }
                for (; oc < out_c; ++oc) {
                    const int32_t acc = ml_dw_dot(&win, in_tap + oc / mult, w_tap + oc, offset);
                    out_px[oc] = ml_dw_finish(acc, oc, bias, quant, &act);
                }
            }
        }
    }
    return ML_OK;
}
