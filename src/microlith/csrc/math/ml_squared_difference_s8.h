#ifndef ML_SQUARED_DIFFERENCE_S8_H
#define ML_SQUARED_DIFFERENCE_S8_H

#include "ml_common.h"

/* TFLM's int8 SQUARED_DIFFERENCE parameters (squared_difference.cc PrepareQuantized). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] */
    int32_t left_shift;         /* 7: (255 << 7)^2 / 2 still fits int32 */
    int32_t input1_multiplier;  /* q31 multiplier of input1 scale / (2 * max input scale) */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* q31 multiplier of (2 * max input scale)^2 / (2^14 * output scale) */
    int32_t output_shift;       /* any sign */
    int32_t output_offset;      /* output zero point, in [-128, 127] */
} ml_squared_difference_params;

/*
 * Both inputs are rescaled to twice the larger input scale (with left_shift bits of headroom),
 * subtracted, squared and requantized: TFLM's SquaredDifference<int8_t> (squared_difference.cc).
 * Output clamped to [-128, 127]. Broadcasting as in ml_add_s8. All tensors NHWC.
 */
ml_status ml_squared_difference_s8(const ml_squared_difference_params *params,
                                   const ml_dims *input1_dims, const int8_t *input1,
                                   const ml_dims *input2_dims, const int8_t *input2,
                                   const ml_dims *output_dims, int8_t *output);

#endif
