#ifndef ML_MAXIMUM_S8_H
#define ML_MAXIMUM_S8_H

#include "ml_math_common.h"

/*
 * output = max(input1, input2) (or min) on the raw int8 values, TFLM's
 * reference_ops::MaximumMinimumBroadcastSlow with MaximumOp / MinimumOp. Like TFLM, no
 * requantization: the converter gives both inputs and the output one quantization.
 * Broadcasting as in ml_add_s8: each input dimension equals the output's or is 1. NHWC.
 */
ml_status ml_maximum_s8(const ml_maximum_params *params,
                        const ml_dims *input1_dims, const int8_t *input1,
                        const ml_dims *input2_dims, const int8_t *input2,
                        const ml_dims *output_dims, int8_t *output);

#endif
