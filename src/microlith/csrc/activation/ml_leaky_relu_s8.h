#ifndef ML_LEAKY_RELU_S8_H
#define ML_LEAKY_RELU_S8_H

#include "ml_common.h"

/* TFLM's int8 LEAKY_RELU parameters (leaky_relu_common.cc). */
typedef struct {
    int32_t input_offset;         /* -input zero point, in [-127, 128] */
    int32_t output_offset;        /* output zero point, in [-128, 127] */
    int32_t identity_multiplier;  /* q31 multiplier of input scale / output scale */
    int32_t identity_shift;
    int32_t alpha_multiplier;     /* q31 multiplier of |alpha| * input scale / output scale */
    int32_t alpha_shift;
    int32_t alpha_negative;       /* 1 when alpha < 0: the scaled negative side is negated */
} ml_leaky_relu_params;

/*
 * x = input + input_offset
 * output = clamp(output_offset + (x >= 0 ? requantize(x, identity) : +/-requantize(x, alpha)))
 * to [-128, 127]. alpha may exceed 1 (the shifts then are positive). input_dims and
 * output_dims hold the same number of elements (any layout).
 */
ml_status ml_leaky_relu_s8(const ml_leaky_relu_params *params,
                           const ml_dims *input_dims, const int8_t *input,
                           const ml_dims *output_dims, int8_t *output);

#endif
