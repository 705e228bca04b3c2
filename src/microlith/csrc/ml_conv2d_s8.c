#include "ml_conv2d_s8.h"

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
                                    const ml_per_channel_quant *quant, const ml_conv_params *params)
{
    if (bias != NULL) {
        acc += bias[oc];
    }
    acc = ml_nn_requantize(acc, quant->multiplier[oc], quant->shift[oc]);
    return ml_clamp_s8(acc + params->output_offset, params->act_min, params->act_max);
}

/* The in-image part of a window as `rows` runs of `n` values, consecutive runs `in_step`
 * apart in the input and `w_step` apart in the filter. */
typedef struct {
    int32_t rows;
    int32_t n;
    int32_t in_step;
    int32_t w_step;
} ml_conv_runs;

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
            int32_t acc[4] = {0, 0, 0, 0};
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
            out0[oc] = ml_conv_finish(acc[0], oc, bias, quant, params);
            if (paired) {
                out0[oc + 1] = ml_conv_finish(acc[1], oc + 1, bias, quant, params);
            }
            if (out1 != NULL) {
                out1[oc] = ml_conv_finish(acc[2], oc, bias, quant, params);
                if (paired) {
                    out1[oc + 1] = ml_conv_finish(acc[3], oc + 1, bias, quant, params);
                }
            }
        }
    }
}

ml_status ml_conv2d_s8(const ml_conv_params *params, const ml_per_channel_quant *quant,
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
