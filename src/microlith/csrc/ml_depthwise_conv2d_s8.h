#ifndef ML_DEPTHWISE_CONV2D_S8_H
#define ML_DEPTHWISE_CONV2D_S8_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h;          /* >= 1 */
    int32_t stride_w;
    int32_t dilation_h;        /* >= 1 */
    int32_t dilation_w;
    int32_t pad_h;             /* rows of implicit padding above the image, >= 0 */
    int32_t pad_w;             /* columns of implicit padding left of the image, >= 0 */
    int32_t depth_multiplier;  /* output channels per input channel, >= 1 */
    int32_t input_offset;      /* -input zero point, in [-127, 128] */
    int32_t output_offset;     /* output zero point, in [-128, 127] */
    int32_t act_min;           /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
} ml_depthwise_conv_params;

/*
 * Depthwise 2-D convolution, int8 activations and weights, int32 bias, per-output-channel
 * requantization (TFLM reference_integer_ops::DepthwiseConvPerChannel, bit for bit).
 *
 * input_dims:  {N, H, W, C_IN}         input:  NHWC
 * filter_dims: {1, KH, KW, C_OUT}      filter: [KH][KW][C_OUT]
 * output_dims: {N, OH, OW, C_OUT}      output: NHWC, C_OUT = C_IN * depth_multiplier
 * bias:        C_OUT int32 values, or NULL.
 * quant:       C_OUT multipliers and shifts (per-tensor weights repeat one entry).
 *
 * Output channel o = i * depth_multiplier + m reads input channel i only. Output pixel
 * (oy, ox) reads input rows oy * stride_h - pad_h + ky * dilation_h (and the same for
 * columns); taps outside the image contribute nothing, which is the same as padding with
 * the input zero point. The weights' zero point is ignored, as TFLM ignores it.
 *
 * The int32 accumulator holds KH * KW products of at most 128 * 255 each plus the bias.
 * No scratch memory. Returns ML_ARG_ERROR when the dims do not fit together.
 */
ml_status ml_depthwise_conv2d_s8(const ml_depthwise_conv_params *params,
                                 const ml_per_channel_quant *quant,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const ml_dims *output_dims, int8_t *output);

#endif
