#include "ml_transpose_conv_s8.h"
#include "ml_nn_dsp.h"

/* The first filter row k (ky or kx) whose tap lands on output position `out` (the taps are
 * k, k + stride, ...: those with (out + pad - k) divisible by stride). */
static inline int32_t ml_tconv_first_tap(int32_t out, int32_t pad, int32_t stride)
{
    return (out + pad) % stride;
}

/* Sum over C_IN of (input + offset) * filter, modulo 2^32 (TFLM's int32 accumulator wraps;
 * unsigned arithmetic wraps the same way without signed overflow). */
static inline uint32_t ml_tconv_dot(const int8_t *in, const int8_t *w, int32_t n, int32_t offset)
{
    uint32_t acc = 0;
    int32_t c = 0;
#if defined(ML_NN_DSP)
    /* Four channels a step: SXTAB16 adds the offset to two inputs at once (|x + offset| <= 255
     * fits a halfword), SXTB16 widens two weights, and SMLAD adds both products modulo 2^32. */
    const int32_t offsets = ml_dsp_pair16(offset);
    int32_t acc4 = 0;
    for (; c + 4 <= n; c += 4) {
        const int32_t x = ml_dsp_read_s8x4(in + c);
        const int32_t k = ml_dsp_read_s8x4(w + c);
        acc4 = ml_dsp_smlad(ml_dsp_sxtab16(offsets, x), ml_dsp_sxtb16(k), acc4);
        acc4 = ml_dsp_smlad(ml_dsp_sxtab16_ror8(offsets, x), ml_dsp_sxtb16_ror8(k), acc4);
    }
    acc = (uint32_t)acc4;
#endif
    for (; c < n; ++c) {
        acc += (uint32_t)((in[c] + offset) * w[c]);
    }
    return acc;
}

ml_status ml_transpose_conv_s8(const ml_transpose_conv_params *params, const ml_per_channel_quant *quant,
                               void *scratch,
                               const ml_dims *input_dims, const int8_t *input,
                               const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                               const ml_dims *output_dims, int8_t *output)
{
    const ml_transpose_conv_params *p = params;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    if (scratch == NULL || input_dims->n != output_dims->n || filter_dims->c != in_c ||
        filter_dims->n != out_c || p->stride_h < 1 || p->stride_w < 1 || p->pad_h < 0 || p->pad_w < 0) {
        return ML_ARG_ERROR;
    }
    uint32_t *acc = (uint32_t *)scratch;   /* one sum per output channel of the current pixel */
    const int32_t channel_step = k_h * k_w * in_c;  /* filter values per output channel */
    int8_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        const int8_t *image = input + n * in_h * in_w * in_c;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t ky0 = ml_tconv_first_tap(oy, p->pad_h, p->stride_h);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t kx0 = ml_tconv_first_tap(ox, p->pad_w, p->stride_w);
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    acc[oc] = bias != NULL ? (uint32_t)bias[oc] : 0u;
                }
                /* iy = (oy + pad - ky) / stride falls as ky rises: stop below row 0. */
                for (int32_t ky = ky0; ky < k_h; ky += p->stride_h) {
                    const int32_t iy = (oy + p->pad_h - ky) / p->stride_h;
                    if (iy < 0) {
                        break;
                    }
                    if (iy >= in_h) {
                        continue;
                    }
                    for (int32_t kx = kx0; kx < k_w; kx += p->stride_w) {
                        const int32_t ix = (ox + p->pad_w - kx) / p->stride_w;
                        if (ix < 0) {
                            break;
                        }
                        if (ix >= in_w) {
                            continue;
                        }
                        const int8_t *x = image + (iy * in_w + ix) * in_c;
                        const int8_t *w = filter + (ky * k_w + kx) * in_c;
                        for (int32_t oc = 0; oc < out_c; ++oc) {
                            acc[oc] += ml_tconv_dot(x, w + oc * channel_step, in_c, p->input_offset);
                        }
                    }
                }
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    /* Back to int32 two's complement: the value TFLM's wrapped sum holds. */
                    const int32_t v = ML_NN_REQUANTIZE((int32_t)acc[oc], quant->multiplier[oc], quant->shift[oc]);
                    *out++ = ml_clamp_s8(v + p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
    return ML_OK;
}
