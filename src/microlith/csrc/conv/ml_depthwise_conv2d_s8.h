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
    int32_t dsp_layout;        /* what the dsp_data argument holds, laid out at code generation:
                                  ML_DW_LAYOUT_NONE (the DSP path derives its group data in
                                  scratch on every call), _GROUPS, _3X3 or _3X3_T (below),
                                  the last two possibly with ML_DW_LAYOUT_DERIVE added */
} ml_depthwise_conv_params;

#define ML_DW_LAYOUT_NONE 0
#define ML_DW_LAYOUT_GROUPS 1
#define ML_DW_LAYOUT_3X3 2
#define ML_DW_LAYOUT_3X3_T 3
#define ML_DW_LAYOUT_DERIVE 4  /* added to _3X3 or _3X3_T: no dsp_data (below) */

/*
 * Generated code passes dsp_data through ML_DW_DSP_DATA, and, when that data covers every
 * channel, filter, bias and quant through ML_DW_PORTABLE_DATA: a build then references only
 * the arrays its path reads, and drops the others. The condition is ML_NN_DSP's
 * (ml_nn_dsp.h), the one that compiles the DSP paths in.
 */
#if ML_DSP_LAYOUTS
#define ML_DW_DSP_DATA(x) (x)
#define ML_DW_PORTABLE_DATA(x) ((void)(x), NULL)
#else
#define ML_DW_DSP_DATA(x) NULL  /* x is not even declared there (ML_DSP_LAYOUTS) */
#define ML_DW_PORTABLE_DATA(x) (x)
#endif

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
 * their group data (below; not with ML_DW_LAYOUT_GROUPS), and a padded copy of the
 * input under clipped windows (dsp_padded_rows 0) or under a whole output row (1); other
 * cases take the portable path, which ignores it. The results are identical.
 *
 * dsp_data (NULL with ML_DW_LAYOUT_NONE), ML_DW_LAYOUT_GROUPS: one word per group of four
 * channels, 1 when its four channels have n > 0 below (else 0); then per group, channels
 * 4g..4g+3 (ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS(taps) int32): their starting values
 * 2 * (bias + input_offset * sum of the taps' weights) (modulo 2^32); per tap (row-major) the
 * int16 pairs {2 w_c0, 2 w_c2} and {2 w_c1, 2 w_c3} (low half first); per channel
 * {multiplier, 2^(n-1) + output_offset * 2^n, n} with n = -shift when 1 <= n <= 22 and
 * multiplier >= 0, else {multiplier, shift, 0}. Everything is doubled so the requantization
 * needs no doubling (acc_bounded keeps twice the sums below 2^31).
 *
 * dsp_data, ML_DW_LAYOUT_3X3 (the generator sets it only for 3x3 windows with stride 1 and
 * dilation 1, an even channel count, every channel on the fast requantization above and
 * act_min <= -128, act_max >= 127): per channel ML_DEPTHWISE_CONV2D_S8_3X3_WORDS int32,
 * 2 * bias, then per window row the int16 pairs {2 w0, 2 w1} and {2 w1, 2 w2}, then
 * {multiplier, round, n}. Cores with the DSP extension then run the 3x3 path, with the input
 * rows under up to 8 output rows, two channels of them widened, in scratch.
 *
 * dsp_data, ML_DW_LAYOUT_3X3_T (the same conditions): the 3x3 path run on the image's columns
 * instead of its rows, for images taller than wide (KWS's 25x5): per channel 2 * bias, then
 * per window column kx the pairs {2 w[0][kx], 2 w[1][kx]} and {2 w[1][kx], 2 w[2][kx]}, then
 * {multiplier, round, n}; the scratch holds the input columns under up to 8 output columns.
 *
 * ML_DW_LAYOUT_3X3 + ML_DW_LAYOUT_DERIVE, ML_DW_LAYOUT_3X3_T + ML_DW_LAYOUT_DERIVE (the same
 * conditions; --optimize size): dsp_data is NULL, and the 3x3 path derives each channel pair's
 * data above in scratch from filter, bias and quant (no flash beyond the portable operands, a
 * few instructions per channel); it returns ML_NO_IMPL if a channel is off the fast
 * requantization.
 *
 * With a layout that covers every channel (3x3 without ML_DW_LAYOUT_DERIVE; groups when C_OUT
 * is a multiple of 4), the DSP path reads neither filter nor bias nor quant, and they may be
 * NULL there.
 *
 * In place (output == input, the output's dims the input's): on cores with the DSP extension
 * through the 3x3 path (ML_DW_LAYOUT_3X3 or _3X3_T, derived or not) with at most 8 output
 * lines (rows, or columns when transposed), which fills a channel pair's planes from every
 * input line before it writes that pair's outputs; on Cortex-M0/M0+ and M3 through their 3x3
 * paths at stride 1 (no dilation, channels in fours, each with multiplier >= 0 and shift in
 * [-22, -1], pad_h <= 2, the scratch above holding three whole rows of out_w + 2 words), which
 * copy each input row into their ring of buffer rows before an output row covers it. Any other
 * call with output == input returns ML_ARG_ERROR.
 * Returns ML_ARG_ERROR when the dims do not fit together.
 */
#define ML_DEPTHWISE_CONV2D_S8_GROUP_WORDS(taps) (4 + 2 * (taps) + 12)
#define ML_DEPTHWISE_CONV2D_S8_3X3_WORDS 10

#define ML_DEPTHWISE_CONV2D_S8_SCRATCH_BYTES(params, filter_dims, output_dims)                   \
    (((params)->dsp_layout & 3) == ML_DW_LAYOUT_3X3                                              \
         ? ML_DEPTHWISE_CONV2D_S8_3X3_SCRATCH_BYTES((output_dims)->h, (output_dims)->w) +        \
               ML_DEPTHWISE_CONV2D_S8_DERIVE_BYTES(params)                                       \
     : ((params)->dsp_layout & 3) == ML_DW_LAYOUT_3X3_T                                          \
         ? ML_DEPTHWISE_CONV2D_S8_3X3_SCRATCH_BYTES((output_dims)->w, (output_dims)->h) +        \
               ML_DEPTHWISE_CONV2D_S8_DERIVE_BYTES(params)                                       \
         : ML_DEPTHWISE_CONV2D_S8_GROUPS_SCRATCH_BYTES(params, filter_dims, output_dims))

/* The 3x3 path's: two channels' planes of the input lines under a band of up to 8 output lines
 * (rows, or columns when transposed) of `len` pixels; with ML_DW_LAYOUT_DERIVE also the
 * channel pair's data. */
#define ML_DEPTHWISE_CONV2D_S8_DERIVE_BYTES(params)                                              \
    ((params)->dsp_layout & ML_DW_LAYOUT_DERIVE ? 8 * ML_DEPTHWISE_CONV2D_S8_3X3_WORDS : 0)
#define ML_DEPTHWISE_CONV2D_S8_3X3_SCRATCH_BYTES(lines, len)                                     \
    (4 * ((((lines) < 8 ? (lines) : 8) + 2) * 2 * (((len) - 1) / 2 + 2)))

#define ML_DEPTHWISE_CONV2D_S8_GROUPS_SCRATCH_BYTES(params, filter_dims, output_dims)            \
    (((filter_dims)->c / 4 < 4 ? (filter_dims)->c / 4 : 4) * 4 *                                \
     (((params)->dsp_layout == ML_DW_LAYOUT_GROUPS ? 0                                           \
                                                    : 16 + 2 * (filter_dims)->h * (filter_dims)->w) + \
      (filter_dims)->h * ((params)->dsp_padded_rows                                              \
                              ? ((output_dims)->w - 1) * (params)->stride_w +                    \
                                    ((filter_dims)->w - 1) * (params)->dilation_w + 1            \
                              : (filter_dims)->w)))

ml_status ml_depthwise_conv2d_s8(const ml_depthwise_conv_params *params,
                                 const ml_per_channel_quant *quant, void *scratch,
                                 const int32_t *dsp_data,
                                 const ml_dims *input_dims, const int8_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const ml_dims *output_dims, int8_t *output);

#endif
