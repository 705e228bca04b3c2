#ifndef ML_FULLY_CONNECTED_S16_H
#define ML_FULLY_CONNECTED_S16_H

#include "ml_common.h"

typedef struct {
    int32_t filter_offset;  /* -filter zero point of per-tensor weights (TFLM applies it there) */
    int32_t act_min;        /* fused activation clamp, in the output's int16 domain */
    int32_t act_max;
    int32_t per_channel;    /* 1: quant arrays hold one entry per output row; 0: one entry */
    int32_t acc32;          /* 1: TFLM accumulates in int32 (the model's bias is int32) */
} ml_fc_s16_params;

/*
 * output[b][o] = clamp(requantize(sum_d in[b][d] * (w[o][d] + filter_offset) + bias[o]))
 * for int16 activations (zero point 0) and int8 weights: TFLM's
 * reference_integer_ops::FullyConnected / FullyConnectedPerChannel with int16 input and output
 * (fully_connected.cc, kTfLiteInt16). With an int64 bias (or none) TFLM sums in int64 and
 * requantizes with MultiplyByQuantizedMultiplier(int64_t) (ml_nn_requantize_s64); with an int32
 * bias it sums in int32, wrapping, and uses the int32 variant: acc32 selects that, and the
 * generator then passes the int32 bias widened to int64.
 * per_channel ignores filter_offset, as TFLM's per-channel kernel does.
 *
 * input_dims:  {1, 1, batches, depth}     filter_dims: {1, 1, out_depth, depth} (row-major [o][d])
 * output_dims: {1, 1, batches, out_depth} bias: out_depth int64 values or NULL.
 */
ml_status ml_fully_connected_s16(const ml_fc_s16_params *params, const ml_per_channel_quant *quant,
                                 const ml_dims *input_dims, const int16_t *input,
                                 const ml_dims *filter_dims, const int8_t *filter, const int64_t *bias,
                                 const ml_dims *output_dims, int16_t *output);

#endif
