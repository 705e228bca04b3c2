#ifndef ML_ADD_S32_H
#define ML_ADD_S32_H

#include "ml_common.h"
#include "ml_add_s8.h"

/*
 * int32 ADD: TFLM's add.cc kTfLiteInt32 (reference_ops::Add / BroadcastAdd6DSlow), the raw
 * sum wrapped to 32 bits (TFLM's plain int32 sum wraps on its targets). TFLM ignores the fused
 * activation for int32 (it clamps to the whole int32 range), so the generator sets act_min and
 * act_max to INT32_MIN and INT32_MAX; no other field of params is read. No quantization.
 * Broadcasting as in ml_add_s8: each input dimension equals the output's or is 1. NHWC.
 */
ml_status ml_add_s32(const ml_add_params *params,
                    const ml_dims *input1_dims, const int32_t *input1,
                    const ml_dims *input2_dims, const int32_t *input2,
                    const ml_dims *output_dims, int32_t *output);

#endif
