#ifndef ML_MUL_S32_H
#define ML_MUL_S32_H

#include "ml_common.h"
#include "ml_mul_s8.h"

/*
 * int32 MUL: TFLM's mul_common.cc kTfLiteInt32 (reference_ops::Mul / BroadcastMul6DSlow
 * with WrappingMul): the raw product wrapped to 32 bits, then clamped to the fused activation
 * range act_min..act_max (CalculateActivationRange on int32: RELU6 is [0, 6]). No other field
 * of params is read. No quantization.
 * Broadcasting as in ml_add_s8: each input dimension equals the output's or is 1. NHWC.
 */
ml_status ml_mul_s32(const ml_mul_params *params,
                    const ml_dims *input1_dims, const int32_t *input1,
                    const ml_dims *input2_dims, const int32_t *input2,
                    const ml_dims *output_dims, int32_t *output);

#endif
