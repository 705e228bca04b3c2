#ifndef ML_PRELU_S16_H
#define ML_PRELU_S16_H

#include "ml_math_common.h"

/*
 * ml_prelu_s8 for int16 input and output with an int8 alpha (TFLM's 16x8 PRELU,
 * reference_ops::BroadcastPrelu4DSlow<int16_t, int8_t>): the same two requantizations, the
 * output clamped to [-32768, 32767]. |x * alpha| <= 65535 * 255 fits int32.
 * Broadcasting as in ml_add_s8 (input1 = input, input2 = alpha). All tensors NHWC.
 */
ml_status ml_prelu_s16(const ml_prelu_params *params,
                       const ml_dims *input_dims, const int16_t *input,
                       const ml_dims *alpha_dims, const int8_t *alpha,
                       const ml_dims *output_dims, int16_t *output);

#endif
