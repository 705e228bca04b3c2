#ifndef ML_FULLY_CONNECTED_S8_H
#define ML_FULLY_CONNECTED_S8_H

#include "ml_common.h"

typedef struct {
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t filter_offset;  /* -filter zero point (0 for symmetric weights) */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t act_min;        /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
    int32_t per_channel;    /* 1: quant arrays hold one entry per output channel; 0: one entry */
} ml_fc_params;

/*
 * output[b][o] = clamp(requantize(sum_d (in[b][d] + input_offset) * (w[o][d] + filter_offset)
 *                                 + bias[o]) + output_offset)
 * input_dims:  {1, 1, batches, depth}     filter_dims: {1, 1, out_depth, depth} (row-major [o][d])
 * output_dims: {1, 1, batches, out_depth} bias: out_depth int32 values or NULL.
 *
 * With symmetric weights the generator folds the input offset into the bias (it passes
 * input_offset 0 and bias[o] + input_offset * sum_d w[o][d], modulo 2^32 like the sums), which
 * leaves every int32 result unchanged and the inner loop without an add. Cores with the DSP
 * extension then run four rows at a time with SMLAD (input_offset and filter_offset 0);
 * otherwise the portable loop.
 */
ml_status ml_fully_connected_s8(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                                const ml_dims *output_dims, int8_t *output);

#endif
