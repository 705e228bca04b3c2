/*
 * Types shared by the math family's kernels for several dtypes (ml_maximum_s8/s16/s32,
 * ml_prelu_s8/s16), kept apart so that a model using one of them does not pull in the others.
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

#endif /* ML_MATH_COMMON_H */
