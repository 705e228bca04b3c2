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
    int32_t dsp_rows6;      /* 1: on DSP builds, filter is laid out for six rows at a time (below) */
} ml_fc_params;

/*
 * Generated code passes the filter through ML_FC_DSP_WEIGHTS(laid_out, row_major) when it set
 * dsp_rows6: builds with the DSP paths (ML_NN_DSP's condition, ml_nn_dsp.h) reference only the
 * laid-out copy, the others only the row-major one, so each keeps one of them in flash.
 */
#if ML_DSP_LAYOUTS
#define ML_FC_DSP_WEIGHTS(laid_out, row_major) ((void)(row_major), (laid_out))
#else
#define ML_FC_DSP_WEIGHTS(laid_out, row_major) (row_major)  /* laid_out is not declared there */
#endif

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
 *
 * dsp_rows6 (DSP builds; the generator sets it with depth a multiple of 4, out_depth >= 6 and
 * a bias): rows [0, 6 * G), G = out_depth / 6, are stored as G groups of depth / 4 blocks of
 * six words, word r of block k of group g holding w[6g + r][4k .. 4k + 3]; the rows after them
 * row-major as usual. The six-row routine then reads one stream of words (a build without it,
 * --optimize size, sums the same words in C).
 */
ml_status ml_fully_connected_s8(const ml_fc_params *params, const ml_per_channel_quant *quant,
                                const ml_dims *input_dims, const int8_t *input,
                                const ml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                                const ml_dims *output_dims, int8_t *output);

#endif
