#ifndef ML_CONCAT_S8_H
#define ML_CONCAT_S8_H

#include "ml_common.h"

typedef struct {
    int32_t num_inputs;  /* >= 1 */
} ml_concat_params;

/*
 * CONCATENATION and PACK (TFLM reference_ops::Concatenation): a byte copy, since TFLM copies
 * values without rescaling. Each tensor is seen as [outer][block]: outer is the product of the
 * dimensions before the axis, block the product of the axis and the dimensions after it, in
 * bytes; int16 and int32 tensors pass their blocks in bytes (elements x 2 or 4), so this one
 * kernel serves every element type.
 * input_dims[i]: {1, 1, outer, block_i}    output_dims: {1, 1, outer, sum_i block_i}
 */
ml_status ml_concat_s8(const ml_concat_params *params,
                       const ml_dims *const *input_dims, const int8_t *const *inputs,
                       const ml_dims *output_dims, int8_t *output);

#endif
