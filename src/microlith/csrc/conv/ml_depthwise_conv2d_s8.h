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
    int32_t acc_bounded;       /* 1 when every channel's |bias + sum of products| < 2^30 for
                                  any input (the generator checks the weights); 0 if unknown */
    int32_t dsp_padded_rows;   /* DSP path: 1 copies each output row's input rows padded (for
                                  narrow images), 0 copies only the windows the image clips */
    const int32_t *dsp_groups; /* DSP path: every group's data laid out at code generation
                                  (ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS each, see below), or NULL
                                  to derive it in scratch on every call */
    const int32_t *dsp_channels; /* DSP path for 3x3 windows (see below), or NULL */
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
 *
 * scratch: ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES(params, filter_dims, output_dims) bytes
 * aligned to 4, or NULL. Cores with the DSP extension use it, when depth_multiplier is 1,
 * acc_bounded is set and the window has at most 64 taps, for up to 16 channels at a time:
 * their group data (below; not when params->dsp_groups has it), and a padded copy of the
 * input under clipped windows (dsp_padded_rows 0) or under a whole output row (1); other
 * cases take the portable path, which ignores it. The results are identical.
 *
 * dsp_groups: per group of four channels one word, 1 when its four channels have n > 0 below
 * (else 0); then for each group, channels 4g..4g+3 (ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS(taps)
 * int32):
 * their starting values 2 * (bias + input_offset * sum of the taps' weights) (modulo 2^32);
 * per tap (row-major) the int16 pairs {2 w_c0, 2 w_c2} and {2 w_c1, 2 w_c3} (low half first);
 * per channel {multiplier, 2^(n-1) + output_offset * 2^n, n} with n = -shift when
 * 1 <= n <= 22 and multiplier >= 0, else {multiplier, shift, 0}. Everything is doubled so
 * the requantization needs no doubling (acc_bounded keeps twice the sums below 2^31).
 *
 * dsp_channels (the generator sets it only for 3x3 windows with stride 1 and dilation 1, an even channel count, every channel on the fast requantization above and
 * act_min <= -128, act_max >= 127): per channel ML_DEPTHWISE_CONV2D_S8_3X3_WORDS int32,
 * 2 * bias, then per window row the int16 pairs {2 w0, 2 w1} and {2 w1, 2 w2}, then
 * {multiplier, round, n}. Cores with the DSP extension then run the 3x3 path, with the
 * input rows under up to 8 output rows, two channels of them widened, and those output rows'
 * sums in scratch.
 * Returns ML_ARG_ERROR when the dims do not fit together.
 */
#define ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS(taps) (4 + 2 * (taps) + 12)
#define ML_DEPTHWISE_CONV2D_S8_3X3_WORDS 10

#define ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES(params, filter_dims, output_dims)                   \
    ((params)->dsp_channels != NULL                                                              \
         ? 4 * ((((output_dims)->h < 8 ? (output_dims)->h : 8) + 2) * 2 *                       \
                    (((output_dims)->w - 1) / 2 + 2) +                                          \
                ((output_dims)->h < 8 ? (output_dims)->h : 8) * ((output_dims)->w + 1))         \
         : ML_DEPTHWISE_CONV2D_S8_GROUPS_SCRATCH_BYTES(params, filter_dims, output_dims))

#define ML_DEPTHWISE_CONV2D_S8_GROUPS_SCRATCH_BYTES(params, filter_dims, output_dims)            \
    (((filter_dims)->c / 4 < 4 ? (filter_dims)->c / 4 : 4) * 4 *                                \
     (((params)->dsp_groups != NULL ? 0 : 16 + 2 * (filter_dims)->h * (filter_dims)->w) +       \
      (filter_dims)->h * ((params)->dsp_padded_rows                                              \
                              ? ((output_dims)->w - 1) * (params)->stride_w +                    \
                                    ((filter_dims)->w - 1) * (params)->dilation_w + 1            \
                              : (filter_dims)->w)))

ml_status ml_depthwise_conv2d_s8(const ml_depthwise_conv_params *params,
                                 const ml_per_channel_quant *quant, void *scratch,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const ml_dims *output_dims, int8_t *output);

#endif
