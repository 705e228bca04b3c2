#ifndef ML_DEPTHWISE_CONV2D_S16_H
#define ML_DEPTHWISE_CONV2D_S16_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h;          /* >= 1 */
    int32_t stride_w;
    int32_t dilation_h;        /* >= 1 */
    int32_t dilation_w;
    int32_t pad_h;             /* rows of implicit padding above the image, >= 0 */
    int32_t pad_w;             /* columns of implicit padding left of the image, >= 0 */
    int32_t depth_multiplier;  /* output channels per input channel, >= 1 */
    int32_t act_min;           /* fused activation clamp, in the output's int16 domain */
    int32_t act_max;
} ml_depthwise_conv_s16_params;

/*
 * Depthwise 2-D convolution, int16 activations (zero point 0), int8 weights, int64 bias:
 * TFLM's reference_integer_ops::DepthwiseConvPerChannel for int16 input (depthwise_conv.cc,
 * kTfLiteInt16), bit for bit: an int64 sum and MultiplyByQuantizedMultiplier(int64_t)
 * (ml_nn_requantize_s64). TFLM reads the bias as int64 only, and no zero point.
 *
 * input_dims:  {N, H, W, C_IN}       filter_dims: {1, KH, KW, C_OUT}, C_OUT = C_IN * depth_multiplier
 * output_dims: {N, OH, OW, C_OUT}    bias: C_OUT int64 values, or NULL.
 * Output channel i * depth_multiplier + m reads input channel i. Taps outside the image
 * contribute nothing. Returns ML_ARG_ERROR when the dims do not fit together.
 */
ml_status ml_depthwise_conv2d_s16(const ml_depthwise_conv_s16_params *params,
                                  const ml_per_channel_quant *quant,
                                  const ml_dims *input_dims, const int16_t *input,
                                  const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                  const ml_dims *output_dims, int16_t *output);

#endif
