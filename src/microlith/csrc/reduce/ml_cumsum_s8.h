#ifndef ML_CUMSUM_S8_H
#define ML_CUMSUM_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

#define ML_CUMSUM_LEFT_SHIFT 20  /* TFLM's kCumSumIntegerShift */

typedef struct {
    int32_t exclusive;          /* 1: each output sums the values before it, not including it */
    int32_t reverse;            /* 1: sum from the end of the axis towards its start */
    int32_t input_offset;       /* -input zero point */
    int32_t input_multiplier;   /* 1/2 as a Q31 mantissa ... */
    int32_t input_shift;        /* ... and its exponent (<= 0) */
    int32_t output_offset;      /* output zero point */
    int32_t output_multiplier;  /* 2 * input_scale / (2^20 * output_scale), < 1, mantissa ... */
    int32_t output_shift;       /* ... and exponent (<= 0) */
} ml_cumsum_params;

/*
 * CUMSUM of int8 along one axis, as TFLM's quantized reference_ops::CumSum: every value
 * minus the input zero point is scaled by 2^20 / 2 (MultiplyByQuantizedMultiplierSmallerThanOneExp),
 * accumulated in int32 (wrapping, as TFLM's int32 sum does), and each partial sum is
 * requantized to the output. Like TFLM, the accumulator starts at the scaled input offset
 * (-zero point), not at 0.
 * input_shape == output_shape: rank 3, {before, axis, after} (dimensions before / along / after the axis).
 */
ml_status ml_cumsum_s8(const ml_cumsum_params *params,
                       const ml_shape_nd *input_shape, const int8_t *input,
                       const ml_shape_nd *output_shape, int8_t *output);

#endif
