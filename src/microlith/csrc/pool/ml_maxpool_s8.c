#include "ml_maxpool_s8.h"
#include "ml_nn_dsp.h"

/*
 * Channels run innermost, as they lie in memory: for each output pixel and group of channels
 * the window is walked once with the group's running maxima in registers. The maxima start at
 * -128, as TFLM's do, so a window with no cell inside the input yields the clamp of -128.
 */

/* The in-image part of one output pixel's window. */
typedef struct {
    const int8_t *first;  /* channel 0 of the first cell */
    int32_t rows, cols;   /* cells in range; rows = 0 when none */
    int32_t dy;           /* bytes between vertically adjacent cells */
} ml_pool_window;

#if defined(ML_NN_DSP)
/* Channels [0, c_end) in pairs of words, returning where it stopped: SSUB8 + SEL per word and
 * cell, the clamp the same way on the bytes {act_min} and {act_max}. */
static int32_t ml_maxpool_dsp(const ml_pool_window *win, int32_t depth, int32_t c_end, int32_t lo4,
                              int32_t hi4, int clamp, int8_t *out)
{
    int32_t c = 0;
    for (; c + 8 <= c_end; c += 8) {
        int32_t a = (int32_t)0x80808080u;
        int32_t b = (int32_t)0x80808080u;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                a = ml_dsp_max_s8x4(ml_dsp_read_s8x4(q), a);
                b = ml_dsp_max_s8x4(ml_dsp_read_s8x4(q + 4), b);
            }
        }
        if (clamp) {
            a = ml_dsp_min_s8x4(ml_dsp_max_s8x4(a, lo4), hi4);
            b = ml_dsp_min_s8x4(ml_dsp_max_s8x4(b, lo4), hi4);
        }
        ml_dsp_write_s8x4(out + c, a);
        ml_dsp_write_s8x4(out + c + 4, b);
    }
    return c;
}

/* r4-r7 = bytewise max(r4-r7, the 16 bytes at ptr), ptr moved past them: LDM, then SSUB8 +
 * SEL per word; r12 takes the first SSUB8's unused difference, the loaded words the others. */
#define ML_MAXPOOL_MAX16(ptr)                                                                   \
    "ldmia %[" ptr "]!, {r8, r9, r10, r11}\n\t"                                                  \
    "ssub8 r12, r4, r8\n\t"                                                                      \
    "sel r4, r4, r8\n\t"                                                                         \
    "ssub8 r8, r5, r9\n\t"                                                                       \
    "sel r5, r5, r9\n\t"                                                                         \
    "ssub8 r8, r6, r10\n\t"                                                                      \
    "sel r6, r6, r10\n\t"                                                                        \
    "ssub8 r8, r7, r11\n\t"                                                                      \
    "sel r7, r7, r11\n\t"

/* The same without r12, for the three-pointer loop: one word comes by LDR after the others,
 * so a loaded register is free for the first difference. */
#define ML_MAXPOOL_MAX16_NO_R12(ptr)                                                            \
    "ldmia %[" ptr "]!, {r8, r9, r10}\n\t"                                                       \
    "ssub8 r11, r4, r8\n\t"                                                                      \
    "sel r4, r4, r8\n\t"                                                                         \
    "ssub8 r8, r5, r9\n\t"                                                                       \
    "sel r5, r5, r9\n\t"                                                                         \
    "ssub8 r8, r6, r10\n\t"                                                                      \
    "sel r6, r6, r10\n\t"                                                                        \
    "ldr r8, [%[" ptr "]], #4\n\t"                                                               \
    "ssub8 r9, r7, r8\n\t"                                                                       \
    "sel r7, r7, r8\n\t"

/* i times: 16 channels of the cells at p and q (and r) to o. LDM/STM need fixed ascending
 * registers, hence assembly: 13 instructions per 16 channels of a pair, the loop included,
 * 24 of a triple (whose five pointers and counter leave no room for r12). */
#define ML_MAXPOOL_LOOP2                                                                        \
    "1:\n\t"                                                                                     \
    "ldmia %[p]!, {r4, r5, r6, r7}\n\t" ML_MAXPOOL_MAX16("q")                                   \
    "stmia %[o]!, {r4, r5, r6, r7}\n\t"                                                          \
    "subs %[i], %[i], #1\n\t"                                                                    \
    "bne 1b\n\t"

#define ML_MAXPOOL_LOOP3                                                                        \
    "1:\n\t"                                                                                     \
    "ldmia %[p]!, {r4, r5, r6, r7}\n\t"                                                          \
    ML_MAXPOOL_MAX16_NO_R12("q") ML_MAXPOOL_MAX16_NO_R12("r")                                    \
    "stmia %[o]!, {r4, r5, r6, r7}\n\t"                                                          \
    "subs %[i], %[i], #1\n\t"                                                                    \
    "bne 1b\n\t"

/* The last 8 channels when depth is 8 more than a multiple of 16: LDM of two words. */
#define ML_MAXPOOL_MAX8(ptr)                                                                    \
    "ldmia %[" ptr "]!, {r8, r9}\n\t"                                                            \
    "ssub8 r10, r4, r8\n\t"                                                                      \
    "sel r4, r4, r8\n\t"                                                                         \
    "ssub8 r8, r5, r9\n\t"                                                                       \
    "sel r5, r5, r9\n\t"

#define ML_MAXPOOL_TAIL2                                                                        \
    "ldmia %[p]!, {r4, r5}\n\t" ML_MAXPOOL_MAX8("q") "stmia %[o]!, {r4, r5}\n\t"

#define ML_MAXPOOL_TAIL3                                                                        \
    "ldmia %[p]!, {r4, r5}\n\t" ML_MAXPOOL_MAX8("q") ML_MAXPOOL_MAX8("r")                       \
    "stmia %[o]!, {r4, r5}\n\t"

#define ML_MAXPOOL_CLOBBERS "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cc", "memory"
#define ML_MAXPOOL_CLOBBERS3 "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory"

/* o = bytewise max of the depth bytes at p and q (depth a multiple of 8; o may be p). */
ML_DSP_INLINE void ml_maxpool_max2(const int8_t *p, const int8_t *q, int8_t *o, int32_t depth)
{
    int32_t i = depth >> 4;
    if (i > 0) {
        __asm__ volatile(ML_MAXPOOL_LOOP2
                         : [p] "+r"(p), [q] "+r"(q), [o] "+r"(o), [i] "+r"(i)
                         :
                         : ML_MAXPOOL_CLOBBERS);
    }
    if (depth & 8) {
        __asm__ volatile(ML_MAXPOOL_TAIL2
                         : [p] "+r"(p), [q] "+r"(q), [o] "+r"(o)
                         :
                         : ML_MAXPOOL_CLOBBERS);
    }
}

/* o = bytewise max of the depth bytes at p, q and r (depth a multiple of 8; o may be p). */
ML_DSP_INLINE void ml_maxpool_max3(const int8_t *p, const int8_t *q, const int8_t *r, int8_t *o,
                                   int32_t depth)
{
    int32_t i = depth >> 4;
    if (i > 0) {
        __asm__ volatile(ML_MAXPOOL_LOOP3
                         : [p] "+r"(p), [q] "+r"(q), [r] "+r"(r), [o] "+r"(o), [i] "+r"(i)
                         :
                         : ML_MAXPOOL_CLOBBERS3);
    }
    if (depth & 8) {
        __asm__ volatile(ML_MAXPOOL_TAIL3
                         : [p] "+r"(p), [q] "+r"(q), [r] "+r"(r), [o] "+r"(o)
                         :
                         : ML_MAXPOOL_CLOBBERS3);
    }
}

/*
 * One-row windows of k = 2 or 3 cells (1x2 and 1x3: the 1-D CNN pools), all channels, no
 * clamp, word-aligned cells and depth a multiple of 8: for each of n outputs, the max over the
 * cells at a, a + depth (and a + 2 depth) goes to o, then a moves on by `step` bytes and o by
 * depth. Kept out of line, and apart from the taller windows, so that its assembly has the
 * registers to itself and the loop over outputs spills nothing.
 */
ML_NOINLINE static void ml_maxpool_row16(const int8_t *a, int32_t step, int32_t depth, int32_t k,
                                         int32_t n, int8_t *o)
{
    if (k == 2 && step == 2 * depth && (depth & 15) == 0) {
        /* The windows tile the row: after a window, q stands at the next window's first cell
         * and q - p is depth, so the whole row is one assembly block. */
        const int8_t *p = a;
        const int8_t *q = a + depth;
        int32_t i = depth >> 4;
        __asm__ volatile(
            "2:\n\t" ML_MAXPOOL_LOOP2
            "sub %[i], %[q], %[p]\n\t"
            "mov %[p], %[q]\n\t"
            "add %[q], %[q], %[i]\n\t"
            "lsr %[i], %[i], #4\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 2b"
            : [p] "+r"(p), [q] "+r"(q), [o] "+r"(o), [i] "+r"(i), [n] "+r"(n)
            :
            : ML_MAXPOOL_CLOBBERS);
        return;
    }
    if (k == 2) {
        for (; n > 0; --n, a += step, o += depth) {
            ml_maxpool_max2(a, a + depth, o, depth);
        }
    } else {
        for (; n > 0; --n, a += step, o += depth) {
            ml_maxpool_max3(a, a + depth, a + 2 * depth, o, depth);
        }
    }
}

/*
 * The same for windows of rows > 1 rows (2x2, 3x3...), rows dy bytes apart: the first row's
 * maxima go to o, each further row is folded in with o as one more cell.
 */
ML_NOINLINE static void ml_maxpool_rows16(const int8_t *a, int32_t step, int32_t depth, int32_t k,
                                          int32_t rows, int32_t dy, int32_t n, int8_t *o)
{
    for (; n > 0; --n, a += step, o += depth) {
        const int8_t *row = a;
        if (k == 2) {
            ml_maxpool_max2(row, row + depth, o, depth);
            for (int32_t r = rows - 1; r > 0; --r) {
                row += dy;
                ml_maxpool_max3(o, row, row + depth, o, depth);
            }
        } else {
            ml_maxpool_max3(row, row + depth, row + 2 * depth, o, depth);
            for (int32_t r = rows - 1; r > 0; --r) {
                row += dy;
                ml_maxpool_max3(o, row, row + depth, o, depth);
                ml_maxpool_max2(o, row + 2 * depth, o, depth);
            }
        }
    }
}
#endif

/* Channels [c, c_end) four at a time (c_end - c a multiple of 4), portable C. */
static void ml_maxpool_c4(const ml_pool_window *win, int32_t depth, int32_t c, int32_t c_end,
                          const ml_maxpool_params *params, int8_t *out)
{
    for (; c < c_end; c += 4) {
        int32_t m0 = INT8_MIN, m1 = INT8_MIN, m2 = INT8_MIN, m3 = INT8_MIN;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                m0 = q[0] > m0 ? q[0] : m0;
                m1 = q[1] > m1 ? q[1] : m1;
                m2 = q[2] > m2 ? q[2] : m2;
                m3 = q[3] > m3 ? q[3] : m3;
            }
        }
        out[c] = ml_clamp_s8(m0, params->act_min, params->act_max);
        out[c + 1] = ml_clamp_s8(m1, params->act_min, params->act_max);
        out[c + 2] = ml_clamp_s8(m2, params->act_min, params->act_max);
        out[c + 3] = ml_clamp_s8(m3, params->act_min, params->act_max);
    }
}

/* Channels [c, depth) one at a time. */
static void ml_maxpool_c1(const ml_pool_window *win, int32_t depth, int32_t c,
                          const ml_maxpool_params *params, int8_t *out)
{
    for (; c < depth; ++c) {
        int32_t m = INT8_MIN;
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                m = *q > m ? *q : m;
            }
        }
        out[c] = ml_clamp_s8(m, params->act_min, params->act_max);
    }
}

ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output)
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
    const int32_t c4 = depth & ~3;
#if defined(ML_NN_DSP)
    const int32_t lo4 = (int32_t)((uint32_t)(uint8_t)params->act_min * 0x01010101u);
    const int32_t hi4 = (int32_t)((uint32_t)(uint8_t)params->act_max * 0x01010101u);
    const int clamp = params->act_min > INT8_MIN || params->act_max < INT8_MAX;
    /* ml_maxpool_rows16's conditions, but for where the windows lie. */
    const int32_t fw = params->filter_w;
    const int row16 = !clamp && (fw == 2 || fw == 3) && (depth & 7) == 0 &&
                      (((uintptr_t)input | (uintptr_t)output) & 3u) == 0;
    /* Outputs [ox_lo, ox_hi) have every window column inside the input. */
    const int32_t ox_lo = (params->pad_w + params->stride_w - 1) / params->stride_w;
    const int32_t ox_hi = ml_min_i32(out_w, (in_w - fw + params->pad_w) / params->stride_w + 1);
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
#if defined(ML_NN_DSP)
                if (row16 && ox == ox_lo && ox_hi > ox_lo && fy_end > fy_start) {
                    const int32_t x0 = ox * params->stride_w - params->pad_w;
                    const int8_t *a = in_batch + ((y0 + fy_start) * in_w + x0) * depth;
                    int8_t *o = output + ((b * out_h + oy) * out_w + ox) * depth;
                    if (fy_end - fy_start == 1) {
                        ml_maxpool_row16(a, params->stride_w * depth, depth, fw, ox_hi - ox_lo, o);
                    } else {
                        ml_maxpool_rows16(a, params->stride_w * depth, depth, fw,
                                          fy_end - fy_start, win.dy, ox_hi - ox_lo, o);
                    }
                    ox = ox_hi - 1;
                    continue;
                }
#endif
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = ml_max_i32(0, -x0);
                const int32_t fx_end = ml_min_i32(params->filter_w, in_w - x0);
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
                win.rows = fy_end > fy_start && fx_end > fx_start ? fy_end - fy_start : 0;
                win.cols = fx_end - fx_start;
                win.first = in_batch + ((y0 + fy_start) * in_w + x0 + fx_start) * depth;
                if (win.cols == in_w) {  /* whole rows: one run of cells */
                    win.cols *= win.rows;
                    win.rows = win.rows > 0;
                }
                int32_t c = 0;
#if defined(ML_NN_DSP)
                c = ml_maxpool_dsp(&win, depth, c4, lo4, hi4, clamp, out);
#endif
                ml_maxpool_c4(&win, depth, c, c4, params, out);
                ml_maxpool_c1(&win, depth, c4, params, out);
            }
        }
    }
    return ML_OK;
}
