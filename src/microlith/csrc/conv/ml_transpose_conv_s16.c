#include "ml_transpose_conv_s16.h"

#include "ml_nn_dsp.h"
#include "ml_nn_requantize_s64.h"

#if defined(ML_NN_DSP)
/* Halfwords {a.lo, b.lo}. */
ML_DSP_INLINE int32_t ml_tconv_pkhbt(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Halfwords {b.hi, a.hi}. */
ML_DSP_INLINE int32_t ml_tconv_pkhtb(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* acc + a.lo * b.lo + a.hi * b.hi (signed halfwords) in 64 bits: exact. */
ML_DSP_INLINE int64_t ml_tconv_smlald(int32_t a, int32_t b, int64_t acc)
{
    __asm__("smlald %Q0, %R0, %1, %2" : "+r"(acc) : "r"(a), "r"(b));
    return acc;
}
#endif

/* Sum over C_IN of input * filter in int64 (exact). */
static inline int64_t ml_tconv_dot_s16(const int16_t *in, const int8_t *w, int32_t n)
{
    int64_t acc = 0;
    int32_t c = 0;
#if defined(ML_NN_DSP)
    /* Four channels a step: SXTB16 splits four weights into {k0, k2} and {k1, k3}, PKHBT/PKHTB
     * pair the inputs the same way, and SMLALD adds two products at a time. */
    for (; c + 4 <= n; c += 4) {
        int32_t x01, x23;
        memcpy(&x01, in + c, sizeof x01);  /* unaligned word loads are fine on M3 and later */
        memcpy(&x23, in + c + 2, sizeof x23);
        const int32_t k = ml_dsp_read_s8x4(w + c);
        acc = ml_tconv_smlald(ml_tconv_pkhbt(x01, x23), ml_dsp_sxtb16(k), acc);
        acc = ml_tconv_smlald(ml_tconv_pkhtb(x23, x01), ml_dsp_sxtb16_ror8(k), acc);
    }
#endif
    for (; c < n; ++c) {
        acc += (int32_t)in[c] * (int32_t)w[c];
    }
    return acc;
}

ml_status ml_transpose_conv_s16(const ml_transpose_conv_s16_params *params, const ml_per_channel_quant *quant,
                                void *scratch,
                                const ml_dims *input_dims, const int16_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                const ml_dims *output_dims, int16_t *output)
{
    const ml_transpose_conv_s16_params *p = params;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    if (scratch == NULL || input_dims->n != output_dims->n || filter_dims->c != in_c ||
        filter_dims->n != out_c || p->stride_h < 1 || p->stride_w < 1 || p->pad_h < 0 || p->pad_w < 0) {
        return ML_ARG_ERROR;
    }
    int64_t *acc = (int64_t *)scratch;   /* one sum per output channel of the current pixel */
    const int32_t channel_step = k_h * k_w * in_c;  /* filter values per output channel */
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        const int16_t *image = input + n * in_h * in_w * in_c;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            /* Taps ky = ky0, ky0 + stride, ... reach row oy, from input row (oy + pad - ky) / stride. */
            const int32_t ky0 = (oy + p->pad_h) % p->stride_h;
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t kx0 = (ox + p->pad_w) % p->stride_w;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    acc[oc] = bias != NULL ? bias[oc] : 0;
                }
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
                        const int16_t *x = image + (iy * in_w + ix) * in_c;
                        const int8_t *w = filter + (ky * k_w + kx) * in_c;
                        for (int32_t oc = 0; oc < out_c; ++oc) {
                            acc[oc] += ml_tconv_dot_s16(x, w + oc * channel_step, in_c);
                        }
                    }
                }
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int32_t v = ml_nn_requantize_s64(acc[oc], quant->multiplier[oc], quant->shift[oc]);
                    *out++ = (int16_t)(v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v));
                }
            }
        }
    }
    return ML_OK;
}
