#ifndef ML_CONCAT_S32_H
#define ML_CONCAT_S32_H

#include "ml_common.h"
#include "ml_concat_s8.h"

/*
 * CONCATENATION of int32 data (TFLM concatenation.cc kTfLiteInt32, reference_ops::Concatenation):
 * a copy; TFLM checks no quantization for int32 (TFLM's signal front ends use int32 tensors
 * without any). Shapes as ml_concat_s8:
 * input_dims[i]: {1, 1, outer, block_i}    output_dims: {1, 1, outer, sum_i block_i}
 */
ml_status ml_concat_s32(const ml_concat_params *params,
                        const ml_dims *const *input_dims, const int32_t *const *inputs,
                        const ml_dims *output_dims, int32_t *output);

#endif
