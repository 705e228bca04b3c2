#ifndef ML_MAXIMUM_S32_H
#define ML_MAXIMUM_S32_H

#include "ml_math_common.h"

/*
 * output = max(input1, input2) (or min) on the raw int32 values, TFLM's
 * reference_ops::MaximumMinimumBroadcastSlow with MaximumOp / MinimumOp. Like TFLM, no
 * requantization whatever the tensors' quantization (TFLM's signal front ends use int32
 * tensors without any).
 * Broadcasting as in ml_add_s8: each input dimension equals the output's or is 1. NHWC.
 */
ml_status ml_maximum_s32(const ml_maximum_params *params,
                         const ml_dims *input1_dims, const int32_t *input1,
                         const ml_dims *input2_dims, const int32_t *input2,
                         const ml_dims *output_dims, int32_t *output);

#endif
