#ifndef ML_CONV2D_S16_H
#define ML_CONV2D_S16_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h;       /* >= 1 */
    int32_t stride_w;
    int32_t dilation_h;     /* >= 1 */
    int32_t dilation_w;
    int32_t pad_h;          /* rows of implicit padding above the image, >= 0 */
    int32_t pad_w;          /* columns of implicit padding left of the image, >= 0 */
    int32_t act_min;        /* fused activation clamp, in the output's int16 domain */
    int32_t act_max;
    int32_t acc32;          /* 1: TFLM accumulates in int32 (the model's bias is int32) */
} ml_conv_s16_params;

/*
 * 2-D convolution, int16 activations (zero point 0), int8 weights, per-output-channel
 * requantization: TFLM's reference_integer_ops::ConvPerChannel for int16 input (conv.cc,
 * kTfLiteInt16), bit for bit. As there, the zero points are not read (the 16x8 spec makes them
 * 0). With an int64 bias (or none) TFLM sums in int64 and requantizes with
 * MultiplyByQuantizedMultiplier(int64_t) (ml_nn_requantize_s64); with an int32 bias it sums in
 * int32, wrapping, and uses the int32 variant: acc32 selects that, and the generator then
 * passes the int32 bias widened to int64.
 *
 * input_dims:  {N, H, W, C_IN}                     input:  NHWC
 * filter_dims: {C_OUT, KH, KW, C_IN / groups}      filter: [C_OUT][KH][KW][C_IN / groups]
 * output_dims: {N, OH, OW, C_OUT}                  output: NHWC
 * bias:        C_OUT int64 values, or NULL.
 * quant:       C_OUT multipliers and shifts (per-tensor weights repeat one entry).
 * Taps outside the image contribute nothing. groups = C_IN / filter_dims->c.
 * Returns ML_ARG_ERROR when the dims do not fit together.
 */
ml_status ml_conv2d_s16(const ml_conv_s16_params *params, const ml_per_channel_quant *quant,
                        const ml_dims *input_dims, const int16_t *input,
                        const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                        const ml_dims *output_dims, int16_t *output);

#endif
