#include "ml_depthwise_conv2d_s8.h"

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
                                  const ml_per_channel_quant *quant,
                                  const ml_depthwise_conv_params *params)
{
    if (bias != NULL) {
        acc += bias[oc];
    }
    acc = ml_nn_requantize(acc, quant->multiplier[oc], quant->shift[oc]);
    return ml_clamp_s8(acc + params->output_offset, params->act_min, params->act_max);
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

ml_status ml_depthwise_conv2d_s8(const ml_depthwise_conv_params *params,
                                 const ml_per_channel_quant *quant,
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
                int32_t oc = 0;
                if (mult == 1) {
                    for (; oc + 4 <= out_c; oc += 4) {
                        int32_t acc[4];
                        ml_dw_dot4(&win, in_tap + oc, w_tap + oc, offset, acc);
                        for (int32_t j = 0; j < 4; ++j) {
                            out_px[oc + j] = ml_dw_finish(acc[j], oc + j, bias, quant, params);
                        }
                    }
                }
                for (; oc < out_c; ++oc) {
                    const int32_t acc = ml_dw_dot(&win, in_tap + oc / mult, w_tap + oc, offset);
                    out_px[oc] = ml_dw_finish(acc, oc, bias, quant, params);
                }
            }
        }
    }
    return ML_OK;
}
