#ifndef ML_DIV_S32_H
#define ML_DIV_S32_H

#include "ml_common.h"

typedef struct {
    int32_t act_min;  /* the fused activation's clamp (CalculateActivationRange<int32_t>) */
    int32_t act_max;
} ml_div_s32_params;

/*
 * output = clamp(input1 / input2) on unquantized int32 tensors, the quotient truncated toward
 * zero: TFLM's reference_ops::Div / BroadcastDivSlow for int32_t (div.cc EvalDiv). TFLM
 * divides without checking, so a zero divisor or INT32_MIN / -1 is undefined there (a crash
 * on x86); this kernel returns ML_ARG_ERROR for them instead. Broadcasting as in ml_add_s8.
 * All tensors NHWC.
 */
ml_status ml_div_s32(const ml_div_s32_params *params,
                     const ml_dims *input1_dims, const int32_t *input1,
                     const ml_dims *input2_dims, const int32_t *input2,
                     const ml_dims *output_dims, int32_t *output);

#endif
