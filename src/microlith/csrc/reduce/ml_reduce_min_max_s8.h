#ifndef ML_REDUCE_MIN_MAX_S8_H
#define ML_REDUCE_MIN_MAX_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t reduce_mask;  /* bit i set: dimension i of the input is reduced away */
    int32_t is_max;       /* 1: REDUCE_MAX, 0: REDUCE_MIN */
} ml_reduce_min_max_params;

/*
 * REDUCE_MAX / REDUCE_MIN of int8 over the dimensions in params->reduce_mask, as TFLM's
 * reference_ops::ReduceGeneric with MinMaxReducerCompare: each output starts at -128 (max)
 * or 127 (min) and keeps the largest (smallest) input reduced into it. Input and output
 * share quantization (TFLM requires it), so values are compared raw.
 * input_shape:  any rank up to ML_MAX_RANK (row-major, innermost last).
 * output_shape: the kept dimensions of the input, in order (keep_dims only inserts ones).
 */
ml_status ml_reduce_min_max_s8(const ml_reduce_min_max_params *params,
                               const ml_shape_nd *input_shape, const int8_t *input,
                               const ml_shape_nd *output_shape, int8_t *output);

#endif
