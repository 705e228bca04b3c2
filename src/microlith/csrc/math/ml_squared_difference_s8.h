#ifndef ML_SQUARED_DIFFERENCE_S8_H
#define ML_SQUARED_DIFFERENCE_S8_H

#include "ml_math_common.h"

/*
 * Both inputs are rescaled to twice the larger input scale (with left_shift bits of headroom),
 * subtracted, squared and requantized: TFLM's SquaredDifference<int8_t> (squared_difference.cc).
 * Output clamped to [-128, 127]. Broadcasting as in ml_add_s8. All tensors NHWC.
 */
ml_status ml_squared_difference_s8(const ml_squared_difference_params *params,
                                   const ml_dims *input1_dims, const int8_t *input1,
                                   const ml_dims *input2_dims, const int8_t *input2,
                                   const ml_dims *output_dims, int8_t *output);

#endif
