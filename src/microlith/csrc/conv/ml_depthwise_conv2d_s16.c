#include "ml_depthwise_conv2d_s16.h"

#include "ml_nn_s16.h"

ml_status ml_depthwise_conv2d_s16(const ml_depthwise_conv_s16_params *params,
                                  const ml_per_channel_quant *quant,
                                  const ml_dims *input_dims, const int16_t *input,
                                  const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                  const ml_dims *output_dims, int16_t *output)
{
    const int32_t out_c = output_dims->c;
    const int32_t mult = params->depth_multiplier;
    if (filter_dims->n != 1 || filter_dims->c != out_c || input_dims->c * mult != out_c ||
        input_dims->n != output_dims->n) {
        return ML_ARG_ERROR;
    }
    int16_t *out = output;
    for (int32_t n = 0; n < output_dims->n; ++n) {
        const int16_t *in_n = input + n * input_dims->h * input_dims->w * input_dims->c;
        for (int32_t oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                for (int32_t o = 0; o < out_c; ++o) {
                    /* Each product is below 2^23: the int64 sum is exact. */
                    int64_t acc = 0;
                    for (int32_t ky = 0; ky < filter_dims->h; ++ky) {
                        const int32_t iy = y0 + ky * params->dilation_h;
                        if (iy < 0 || iy >= input_dims->h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < filter_dims->w; ++kx) {
                            const int32_t ix = x0 + kx * params->dilation_w;
                            if (ix < 0 || ix >= input_dims->w) {
                                continue;
                            }
                            const int16_t x = in_n[(iy * input_dims->w + ix) * input_dims->c + o / mult];
                            acc += (int32_t)x * filter[(ky * filter_dims->w + kx) * out_c + o];
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[o];
                    }
                    const int32_t v = ml_nn_requantize_s64(acc, quant->multiplier[o], quant->shift[o]);
                    *out++ = ml_clamp_s16(v, params->act_min, params->act_max);
                }
            }
        }
    }
    return ML_OK;
}
