#include "ml_conv2d_s16.h"

#include "ml_nn_s16.h"

/* The taps k in [0, taps) with 0 <= origin + k * dilation < size, as [*lo, *hi). */
static void ml_conv2d_s16_taps(int32_t origin, int32_t dilation, int32_t size, int32_t taps,
                               int32_t *lo, int32_t *hi)
{
    *lo = origin < 0 ? (-origin + dilation - 1) / dilation : 0;
    *hi = size - origin <= 0 ? 0 : ml_min_i32(taps, (size - origin + dilation - 1) / dilation);
    if (*hi < *lo) {
        *hi = *lo;
    }
}

/* The window's products for one output pixel and channel; taps outside the image are skipped.
 * Each product is below 2^22 in magnitude, so the int64 sum is exact (and its low 32 bits are
 * TFLM's int32 sum). Without groups and with column dilation 1 the taps of one kernel row are
 * contiguous in both the input and the filter: one dot product per row. */
static int64_t ml_conv2d_s16_window(const ml_conv_s16_params *p, const ml_dims *in_d,
                                    const int16_t *in_n, const ml_dims *f_d, const int8_t *w,
                                    int32_t y0, int32_t x0, int32_t c0)
{
    int32_t ky_lo, ky_hi, kx_lo, kx_hi;
    ml_conv2d_s16_taps(y0, p->dilation_h, in_d->h, f_d->h, &ky_lo, &ky_hi);
    ml_conv2d_s16_taps(x0, p->dilation_w, in_d->w, f_d->w, &kx_lo, &kx_hi);
    const int contiguous = p->dilation_w == 1 && f_d->c == in_d->c;
    int64_t acc = 0;
    for (int32_t ky = ky_lo; ky < ky_hi; ++ky) {
        const int16_t *row = in_n + (y0 + ky * p->dilation_h) * in_d->w * in_d->c + c0;
        const int8_t *wk = w + ky * f_d->w * f_d->c;
        if (contiguous) {
            acc = ml_nn_dot_s16_s8(row + (x0 + kx_lo) * in_d->c, wk + kx_lo * f_d->c,
                                   (kx_hi - kx_lo) * f_d->c, acc);
            continue;
        }
        for (int32_t kx = kx_lo; kx < kx_hi; ++kx) {
            acc = ml_nn_dot_s16_s8(row + (x0 + kx * p->dilation_w) * in_d->c, wk + kx * f_d->c,
                                   f_d->c, acc);
        }
    }
    return acc;
}

ml_status ml_conv2d_s16(const ml_conv_s16_params *params, const ml_per_channel_quant *quant,
                        const ml_dims *input_dims, const int16_t *input,
                        const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                        const ml_dims *output_dims, int16_t *output)
{
    const int32_t out_c = output_dims->c;
    if (filter_dims->c < 1 || input_dims->c % filter_dims->c != 0 || filter_dims->n != out_c ||
        input_dims->n != output_dims->n || out_c % (input_dims->c / filter_dims->c) != 0) {
        return ML_ARG_ERROR;
    }
    const int32_t per_group = out_c / (input_dims->c / filter_dims->c);
    const int32_t taps = filter_dims->h * filter_dims->w * filter_dims->c;
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        const int16_t *in_n = input + n * input_dims->h * input_dims->w * input_dims->c;
        for (int32_t oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                for (int32_t o = 0; o < out_c; ++o) {
                    int64_t acc = ml_conv2d_s16_window(params, input_dims, in_n, filter_dims,
                                                       filter + o * taps, y0, x0,
                                                       (o / per_group) * filter_dims->c);
                    if (bias != NULL) {
                        acc += bias[o];
                    }
                    const int32_t v = ml_nn_requantize_acc(acc, params->acc32, quant->multiplier[o],
                                                           quant->shift[o]);
                    *out++ = ml_clamp_s16(v, params->act_min, params->act_max);
                }
            }
        }
    }
    return ML_OK;
}
