#ifndef ML_CONCAT_S16_H
#define ML_CONCAT_S16_H

#include "ml_common.h"
#include "ml_concat_s8.h"

/*
 * CONCATENATION of int16 data (TFLM concatenation.cc kTfLiteInt16, reference_ops::Concatenation):
 * a copy. TFLM requires zero point 0 on every int16 tensor and, unlike int8, does not compare
 * the scales: it copies the values whatever they are. Shapes as ml_concat_s8:
 * input_dims[i]: {1, 1, outer, block_i}    output_dims: {1, 1, outer, sum_i block_i}
 */
ml_status ml_concat_s16(const ml_concat_params *params,
                        const ml_dims *const *input_dims, const int16_t *const *inputs,
                        const ml_dims *output_dims, int16_t *output);

#endif
