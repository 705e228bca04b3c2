/*
 * Types shared by the math family's kernels for several dtypes (ml_maximum_s8/s16/s32), kept
 * apart so that a model using one of them does not pull in the others.
 */
#ifndef ML_MATH_COMMON_H
#define ML_MATH_COMMON_H

#include "ml_common.h"

typedef struct {
    int32_t minimum;  /* 0: MAXIMUM, 1: MINIMUM */
} ml_maximum_params;

#endif /* ML_MATH_COMMON_H */
