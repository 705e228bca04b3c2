#ifndef ML_PRELU_S8_H
#define ML_PRELU_S8_H

#include "ml_common.h"

/* TFLM's int8 PRELU parameters (prelu_common.cc CalculatePreluParams). */
typedef struct {
    int32_t input_offset;   /* -input zero point, in [-127, 128] */
    int32_t alpha_offset;   /* -alpha zero point, in [-127, 128] */
    int32_t output_offset;  /* output zero point, in [-128, 127] */
    int32_t multiplier_1;   /* q31 multiplier of input scale / output scale */
    int32_t shift_1;
    int32_t multiplier_2;   /* q31 multiplier of input scale * alpha scale / output scale */
    int32_t shift_2;
} ml_prelu_params;

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
