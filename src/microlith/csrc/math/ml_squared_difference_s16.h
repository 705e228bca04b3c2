#ifndef ML_SQUARED_DIFFERENCE_S16_H
#define ML_SQUARED_DIFFERENCE_S16_H

#include "ml_math_common.h"

/*
 * ml_squared_difference_s8 for int16 tensors (TFLM's SquaredDifference<int16_t>): zero points
 * 0 and no left shift; each rescaled input stays within 2^14, so the square of their
 * difference fits int32. Output clamped to [-32768, 32767]. Broadcasting as in ml_add_s8.
 * All tensors NHWC.
 */
ml_status ml_squared_difference_s16(const ml_squared_difference_params *params,
                                    const ml_dims *input1_dims, const int16_t *input1,
                                    const ml_dims *input2_dims, const int16_t *input2,
                                    const ml_dims *output_dims, int16_t *output);

#endif
