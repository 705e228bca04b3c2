#ifndef ML_MEAN_S8_H
#define ML_MEAN_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t reduce_mask;        /* bit i set: dimension i of the input is averaged away */
    int32_t input_zero_point;   /* in [-128, 127] */
    int32_t output_zero_point;  /* in [-128, 127] */
    int32_t multiplier;         /* input_scale / output_scale / count as q31 mantissa ... */
    int32_t shift;              /* ... and power-of-two exponent, >= -31 */
} ml_mean_params;

/*
 * MEAN of int8 over the dimensions in params->reduce_mask, as TFLM's
 * reference_ops::QuantizedMeanOrSum: for each output,
 *   clamp(requantize(sum - count * input_zero_point) + output_zero_point, -128, 127)
 * where, for MEAN, the multiplier already includes the 1/count factor. SUM runs on this
 * kernel too (QuantizedMeanOrSum with compute_sum), with the plain scale ratio.
 * input_shape:  any rank up to ML_MAX_RANK (row-major, innermost last).
 * output_shape: the kept dimensions of the input, in order (their product is the output
 *               size; keep_dims only inserts ones, which do not change the layout).
 * |sum - count * input_zero_point| <= 255 * count: count must stay below 2^23.
 */
ml_status ml_mean_s8(const ml_mean_params *params,
                     const ml_shape_nd *input_shape, const int8_t *input,
                     const ml_shape_nd *output_shape, int8_t *output);

#endif
