#include "ml_avgpool_s8.h"
#include "ml_nn_dsp.h"

/*
 * Channels run innermost, as they lie in memory: for each output pixel and group of channels
 * the window is walked once with the group's sums in registers.
 */

/* The in-image part of one output pixel's window. */
typedef struct {
    const int8_t *first;  /* channel 0 of the first cell */
    int32_t rows, cols;   /* cells in range */
    int32_t dy;           /* bytes between vertically adjacent cells */
    int32_t count;        /* rows * cols of the window before any flattening */
} ml_pool_window;

/* TFLM's rounding division of a window sum (halves away from zero), then the clamp. */
static inline int8_t ml_avgpool_out(int32_t acc, int32_t count, const ml_avgpool_params *params)
{
    /* C division truncates, so bias away from zero first: rounds halves outward. */
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return ml_clamp_s8(acc, params->act_min, params->act_max);
}

#if defined(ML_NN_DSP)
/* Four channels from their halfword sums: {0, 2} in s02, {1, 3} in s13. */
static void ml_avgpool_out4(int32_t s02, int32_t s13, int32_t count,
                            const ml_avgpool_params *params, int8_t *out)
{
    out[0] = ml_avgpool_out((int16_t)s02, count, params);
    out[1] = ml_avgpool_out((int16_t)s13, count, params);
    out[2] = ml_avgpool_out(s02 >> 16, count, params);
    out[3] = ml_avgpool_out(s13 >> 16, count, params);
}

/*
 * Channels [0, c_end) in pairs of words, returning where it stopped: SXTAB16 adds bytes
 * {0, 2} and {1, 3} of a word to two halfword sums each. A window of at most 256 cells keeps
 * every sum within [-32768, 32512], so the halfwords never wrap (the caller checks the count).
 */
static int32_t ml_avgpool_dsp(const ml_pool_window *win, int32_t depth, int32_t c_end,
                              const ml_avgpool_params *params, int8_t *out)
{
    int32_t c = 0;
    for (; c + 8 <= c_end; c += 8) {
        int32_t a02 = 0, a13 = 0, b02 = 0, b13 = 0;  /* channels {0,2} {1,3} {4,6} {5,7} */
        const int8_t *row = win->first + c;
        for (int32_t r = win->rows; r > 0; --r, row += win->dy) {
            const int8_t *q = row;
            for (int32_t k = win->cols; k > 0; --k, q += depth) {
                const int32_t x = ml_dsp_read_s8x4(q);
                const int32_t y = ml_dsp_read_s8x4(q + 4);
                a02 = ml_dsp_sxtab16(a02, x);
                a13 = ml_dsp_sxtab16_ror8(a13, x);
                b02 = ml_dsp_sxtab16(b02, y);
                b13 = ml_dsp_sxtab16_ror8(b13, y);
            }
        }
        ml_avgpool_out4(a02, a13, win->count, params, out + c);
        ml_avgpool_out4(b02, b13, win->count, params, out + c + 4);
    }
    return c;
}
#endif

/* Channels [c, c_end) four at a time (c_end - c a multiple of 4), portable C.
 * |sum| <= 128 * filter_h * filter_w: exact in int32. */
static void ml_avgpool_c4(const ml_pool_window *win, int32_t depth, int32_t c, int32_t c_end,
                          const ml_avgpool_params *params, int8_t *out)
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
        out[c] = ml_avgpool_out(s0, win->count, params);
        out[c + 1] = ml_avgpool_out(s1, win->count, params);
        out[c + 2] = ml_avgpool_out(s2, win->count, params);
        out[c + 3] = ml_avgpool_out(s3, win->count, params);
    }
}

/* Channels [c, depth) one at a time. */
static void ml_avgpool_c1(const ml_pool_window *win, int32_t depth, int32_t c,
                          const ml_avgpool_params *params, int8_t *out)
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
        out[c] = ml_avgpool_out(s, win->count, params);
    }
}

ml_status ml_avgpool_s8(const ml_avgpool_params *params,
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
                win.first = in_batch + ((y0 + fy_start) * in_w + x0 + fx_start) * depth;
                if (win.cols == in_w) {  /* whole rows: one run of cells */
                    win.cols = win.count;
                    win.rows = 1;
                }
                int32_t c = 0;
#if defined(ML_NN_DSP)
                if (win.count <= 256) {
                    c = ml_avgpool_dsp(&win, depth, c4, params, out);
                }
#endif
                ml_avgpool_c4(&win, depth, c, c4, params, out);
                ml_avgpool_c1(&win, depth, c4, params, out);
            }
        }
    }
    return ML_OK;
}
