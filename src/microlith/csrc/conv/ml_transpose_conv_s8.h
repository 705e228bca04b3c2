#ifndef ML_TRANSPOSE_CONV_S8_H
#define ML_TRANSPOSE_CONV_S8_H

#include "ml_common.h"

typedef struct {
    int32_t stride_h;       /* >= 1 */
    int32_t stride_w;
    int32_t pad_h;          /* output rows cropped above the full transposed image, >= 0 */
    int32_t pad_w;          /* output columns cropped left of it, >= 0 */
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t act_min;        /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
} ml_transpose_conv_params;

/*
 * Transposed 2-D convolution, int8 activations and weights, int32 bias, per-output-channel
 * requantization (TFLM reference_integer_ops::TransposeConv, bit for bit).
 *
 * input_dims:  {N, H, W, C_IN}             input:  NHWC
 * filter_dims: {C_OUT, KH, KW, C_IN}       filter: [C_OUT][KH][KW][C_IN]
 * output_dims: {N, OH, OW, C_OUT}          output: NHWC
 * bias:        C_OUT int32 values, or NULL.
 * quant:       C_OUT multipliers and shifts (per-tensor weights repeat one entry).
 *
 * Input pixel (iy, ix) adds (input + input_offset) * filter[oc][ky][kx] to output pixel
 * (iy * stride_h - pad_h + ky, ix * stride_w - pad_w + kx) when that lies inside the output.
 * TFLM scatters into an int32 scratch buffer the size of the output; this kernel gathers, for
 * each output pixel, the taps that reach it, into C_OUT sums. The int32 sums wrap like TFLM's
 * (they are computed modulo 2^32, so the order of the terms does not matter), then get the
 * bias, requantization, output_offset and the clamp. The weights' zero point is ignored, as in
 * TFLM. Cores with the DSP extension take four input channels a step (SMLAD); the result is
 * the same.
 *
 * scratch: ML_TRANSPOSE_CONV_S8_SCRATCH_BYTES(output_dims) bytes aligned to 4 (the sums).
 * Returns ML_ARG_ERROR when the dims do not fit together or scratch is NULL.
 */
#define ML_TRANSPOSE_CONV_S8_SCRATCH_BYTES(output_dims) ((output_dims)->c * 4)

ml_status ml_transpose_conv_s8(const ml_transpose_conv_params *params, const ml_per_channel_quant *quant,
                               void *scratch,
                               const ml_dims *input_dims, const int8_t *input,
                               const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                               const ml_dims *output_dims, int8_t *output);

#endif
