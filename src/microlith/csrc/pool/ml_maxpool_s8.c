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

/* 16 channels of the cells at p and q: LDM both, SSUB8 + SEL per word, STM to o. LDM/STM
 * need fixed ascending registers, hence assembly; r12 takes the first SSUB8's unused
 * difference. 13 instructions for 32 input values, the loop included. */
#define ML_MAXPOOL_PAIR16_LOOP                                                                  \
    "1:\n\t"                                                                                     \
    "ldmia %[p]!, {r4, r5, r6, r7}\n\t"                                                          \
    "ldmia %[q]!, {r8, r9, r10, r11}\n\t"                                                        \
    "ssub8 r12, r4, r8\n\t"                                                                      \
    "sel r4, r4, r8\n\t"                                                                         \
    "ssub8 r8, r5, r9\n\t"                                                                       \
    "sel r5, r5, r9\n\t"                                                                         \
    "ssub8 r8, r6, r10\n\t"                                                                      \
    "sel r6, r6, r10\n\t"                                                                        \
    "ssub8 r8, r7, r11\n\t"                                                                      \
    "sel r7, r7, r11\n\t"                                                                        \
    "stmia %[o]!, {r4, r5, r6, r7}\n\t"                                                          \
    "subs %[i], %[i], #1\n\t"                                                                    \
    "bne 1b\n\t"

#define ML_MAXPOOL_PAIR16_CLOBBERS                                                              \
    "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cc", "memory"

/*
 * Windows of two horizontally adjacent cells (1x2, the 1-D CNN pool), all channels, no clamp,
 * word-aligned cells and depth a multiple of 16: for each of n outputs, the max of the cells
 * at a and a + depth goes to o, then a moves on by `step` bytes and o by depth.
 */
ML_NOINLINE static void ml_maxpool_pairs16(const int8_t *a, int32_t step, int32_t depth, int32_t n, int8_t *o)
{
    if (step == 2 * depth) {
        /* The windows tile the row: after a window, q stands at the next window's first cell
         * and q - p is depth, so the whole run is one assembly block. */
        const int8_t *p = a;
        const int8_t *q = a + depth;
        int32_t i = depth >> 4;
        __asm__ volatile(
            "2:\n\t" ML_MAXPOOL_PAIR16_LOOP
            "sub r12, %[q], %[p]\n\t"
            "mov %[p], %[q]\n\t"
            "add %[q], %[q], r12\n\t"
            "lsr %[i], r12, #4\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 2b"
            : [p] "+r"(p), [q] "+r"(q), [o] "+r"(o), [i] "+r"(i), [n] "+r"(n)
            :
            : ML_MAXPOOL_PAIR16_CLOBBERS);
        return;
    }
    for (; n > 0; --n, a += step) {
        const int8_t *p = a;
        const int8_t *q = a + depth;
        int32_t i = depth >> 4;
        __asm__ volatile(ML_MAXPOOL_PAIR16_LOOP
                         : [p] "+r"(p), [q] "+r"(q), [o] "+r"(o), [i] "+r"(i)
                         :
                         : ML_MAXPOOL_PAIR16_CLOBBERS);
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
    /* ml_maxpool_pairs16's conditions, but for where the windows lie. */
    const int pairs16 = !clamp && params->filter_w == 2 && (depth & 15) == 0 &&
                        (((uintptr_t)input | (uintptr_t)output) & 3u) == 0;
    /* Outputs [ox_lo, ox_hi) have both window columns inside the input. */
    const int32_t ox_lo = (params->pad_w + params->stride_w - 1) / params->stride_w;
    const int32_t ox_hi = ml_min_i32(out_w, (in_w - 2 + params->pad_w) / params->stride_w + 1);
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
                if (pairs16 && ox == ox_lo && ox_hi > ox_lo && fy_end - fy_start == 1) {
                    const int32_t x0 = ox * params->stride_w - params->pad_w;
                    ml_maxpool_pairs16(in_batch + ((y0 + fy_start) * in_w + x0) * depth,
                                       params->stride_w * depth, depth, ox_hi - ox_lo,
                                       output + ((b * out_h + oy) * out_w + ox) * depth);
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
