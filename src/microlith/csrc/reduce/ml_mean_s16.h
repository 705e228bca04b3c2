#ifndef ML_MEAN_S16_H
#define ML_MEAN_S16_H

#include "ml_common.h"
#include "ml_mean_s8.h"

/*
 * MEAN of int16 over the dimensions in params->reduce_mask: TFLM's
 * reference_ops::QuantizedMeanOrSum<int16_t> (reduce_common.cc EvalIntegerMean), for each output
 *   clamp(requantize(sum - count * input_zero_point) + output_zero_point, -32768, 32767)
 * with the 1/count factor in the multiplier. Parameters and shapes as ml_mean_s8 (zero points
 * int16 values). |sum - count * input_zero_point| <= 65535 * count: count must stay below 2^15.
 */
ml_status ml_mean_s16(const ml_mean_params *params,
                      const ml_shape_nd *input_shape, const int16_t *input,
                      const ml_shape_nd *output_shape, int16_t *output);

#endif
