#ifndef ML_PRELU_S8_H
#define ML_PRELU_S8_H

#include "ml_math_common.h"

/*
 * x = input + input_offset
 * output = clamp(output_offset + (x >= 0 ? requantize(x, 1) : requantize(x * (alpha + alpha_offset), 2)))
 * to [-128, 127]: TFLM's reference_ops::BroadcastPrelu4DSlow. |x * alpha| <= 255 * 255.
 * Broadcasting as in ml_add_s8 (input1 = input, input2 = alpha). All tensors NHWC.
 */
ml_status ml_prelu_s8(const ml_prelu_params *params,
                      const ml_dims *input_dims, const int8_t *input,
                      const ml_dims *alpha_dims, const int8_t *alpha,
                      const ml_dims *output_dims, int8_t *output);

#endif
