#ifndef ML_TANH_S8_H
#define ML_TANH_S8_H

#include "ml_common.h"
#include "ml_fixedpoint.h"

typedef struct {
    int32_t input_zero_point;    /* in [-128, 127] */
    int32_t input_range_radius;  /* |input - zero point| at or past this saturates the output */
    int32_t input_multiplier;    /* input_scale * 2^27 as a Q31 mantissa ... */
    int32_t input_left_shift;    /* ... and its exponent (frexp), so inputs become Q4.27 */
} ml_tanh_params;

/*
 * output[i] = tanh(input_scale * (input[i] - input_zero_point)), elementwise
 * (TFLM reference_integer_ops::Tanh, int8). input_dims and output_dims hold the same number
 * of elements, any layout. Output quantization is fixed: scale 1/128, zero point 0.
 */
ml_status ml_tanh_s8(const ml_tanh_params *params, const ml_dims *input_dims, const int8_t *input,
                     const ml_dims *output_dims, int8_t *output);

#endif
