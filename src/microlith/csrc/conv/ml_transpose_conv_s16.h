#ifndef ML_TRANSPOSE_CONV_S16_H
#define ML_TRANSPOSE_CONV_S16_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h;   /* >= 1 */
    int32_t stride_w;
    int32_t pad_h;      /* output rows cropped above the full transposed image, >= 0 */
    int32_t pad_w;      /* output columns cropped left of it, >= 0 */
    int32_t act_min;    /* fused activation clamp, in the output's int16 domain */
    int32_t act_max;
} ml_transpose_conv_s16_params;

/*
 * Transposed 2-D convolution in TFLM's 16x8 mode: int16 activations (zero point 0), int8
 * weights, int64 bias, per-output-channel requantization (TFLM reference_integer_ops::
 * TransposeConv for int16_t input with an int64 accumulator, bit for bit).
 *
 * Layouts as ml_transpose_conv_s8 (see ml_transpose_conv_s8.h): input {N, H, W, C_IN},
 * filter [C_OUT][KH][KW][C_IN], output {N, OH, OW, C_OUT}, bias C_OUT int64 values or NULL
 * (TFLM widens an int16 bias to int64; the generator stores it widened).
 *
 * Each output element is the int64 sum of input * filter over the taps that reach it (TFLM
 * scatters into an int64 scratch buffer the size of the output; the sum is the same), plus the
 * bias, requantized by TFLM's int64 MultiplyByQuantizedMultiplier: the multiplier rounded to
 * 16 bits and one rounding shift by 15 - shift, narrowed to int32. No zero points are applied,
 * as in TFLM. The generator guarantees |sum| < 2^47 and shift <= 7, the ranges TFLM assumes.
 * Cores with the DSP extension take four input channels a step (SMLALD); the sums are exact.
 *
 * scratch: ML_TRANSPOSE_CONV_S16_SCRATCH_BYTES(output_dims) bytes aligned to 8 (C_OUT int64
 * sums of the current pixel). Returns ML_ARG_ERROR when the dims do not fit together or
 * scratch is NULL.
 */
#define ML_TRANSPOSE_CONV_S16_SCRATCH_BYTES(output_dims) ((output_dims)->c * 8)

ml_status ml_transpose_conv_s16(const ml_transpose_conv_s16_params *params, const ml_per_channel_quant *quant,
                                void *scratch,
                                const ml_dims *input_dims, const int16_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                const ml_dims *output_dims, int16_t *output);

#endif
