#ifndef ML_MAXIMUM_S16_H
#define ML_MAXIMUM_S16_H

#include "ml_math_common.h"

/*
 * output = max(input1, input2) (or min) on the raw int16 values, TFLM's
 * reference_ops::MaximumMinimumBroadcastSlow with MaximumOp / MinimumOp. Like TFLM, no
 * requantization whatever the tensors' quantization (TFLM's signal front ends use int16
 * tensors without any).
 * Broadcasting as in ml_add_s8: each input dimension equals the output's or is 1. NHWC.
 */
ml_status ml_maximum_s16(const ml_maximum_params *params,
                         const ml_dims *input1_dims, const int16_t *input1,
                         const ml_dims *input2_dims, const int16_t *input2,
                         const ml_dims *output_dims, int16_t *output);

#endif
