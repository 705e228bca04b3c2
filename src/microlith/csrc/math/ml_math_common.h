/*
 * Types shared by the math family's kernels for several dtypes (ml_maximum_s8/s16/s32,
 * ml_prelu_s8/s16, ml_squared_difference_s8/s16), kept apart so that a model using one of
 * them does not pull in the others.
 */
#ifndef ML_MATH_COMMON_H
#define ML_MATH_COMMON_H

#include "ml_common.h"

typedef struct {
    int32_t minimum;  /* 0: MAXIMUM, 1: MINIMUM */
} ml_maximum_params;

/* TFLM's int8 and int16 PRELU parameters (prelu_common.cc CalculatePreluParams). */
typedef struct {
    int32_t input_offset;   /* -input zero point (int8 or int16) */
    int32_t alpha_offset;   /* -alpha zero point (alpha is int8), in [-127, 128] */
    int32_t output_offset;  /* output zero point (int8 or int16) */
    int32_t multiplier_1;   /* q31 multiplier of input scale / output scale */
    int32_t shift_1;
    int32_t multiplier_2;   /* q31 multiplier of input scale * alpha scale / output scale */
    int32_t shift_2;
} ml_prelu_params;

/* TFLM's int8 and int16 SQUARED_DIFFERENCE parameters (squared_difference.cc PrepareQuantized). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] (int16: 0) */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] (int16: 0) */
    int32_t left_shift;         /* int8: 7, as (255 << 7)^2 / 2 still fits int32; int16: 0 */
    int32_t input1_multiplier;  /* q31 multiplier of input1 scale / (2 * max input scale) */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* q31 of (2 * max input scale)^2 / (4^left_shift * output scale) */
    int32_t output_shift;       /* any sign */
    int32_t output_offset;      /* output zero point, in [-128, 127] (int16: 0) */
} ml_squared_difference_params;

#endif /* ML_MATH_COMMON_H */
