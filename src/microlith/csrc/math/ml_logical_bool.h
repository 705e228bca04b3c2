#ifndef ML_LOGICAL_BOOL_H
#define ML_LOGICAL_BOOL_H

#include "ml_common.h"

typedef struct {
    int32_t logical_or;  /* 0: LOGICAL_AND, 1: LOGICAL_OR */
} ml_logical_params;

/*
 * output = input1 && input2 (or ||) on bool tensors (one byte, 0 or 1, per element), with
 * broadcasting as in ml_add_s8: TFLM's logical_common.cc LogicalImpl. All tensors NHWC.
 */
ml_status ml_logical_bool(const ml_logical_params *params,
                          const ml_dims *input1_dims, const uint8_t *input1,
                          const ml_dims *input2_dims, const uint8_t *input2,
                          const ml_dims *output_dims, uint8_t *output);

#endif
