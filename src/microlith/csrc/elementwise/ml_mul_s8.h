#ifndef ML_MUL_S8_H
#define ML_MUL_S8_H

#include "ml_common.h"

/* TFLM's int8 MUL parameters (mul_common.cc). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] */
    int32_t output_offset;      /* output zero point, in [-128, 127] */
    int32_t output_multiplier;  /* q31 multiplier of input1 scale * input2 scale / output scale */
    int32_t output_shift;       /* any sign: the real multiplier may exceed 1 */
    int32_t act_min;            /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
} ml_mul_params;

/*
 * output = clamp(requantize((input1 + input1_offset) * (input2 + input2_offset)) + output_offset)
 * The product is at most 256 * 256 in magnitude. Broadcasting as in ml_add_s8: each input
 * dimension equals the output's or is 1. All tensors NHWC.
 */
ml_status ml_mul_s8(const ml_mul_params *params,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output);

#endif
