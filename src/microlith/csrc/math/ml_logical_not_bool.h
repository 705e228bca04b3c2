#ifndef ML_LOGICAL_NOT_BOOL_H
#define ML_LOGICAL_NOT_BOOL_H

#include "ml_common.h"

/*
 * output = !input on a bool tensor (one byte, 0 or 1, per element): TFLM's LOGICAL_NOT
 * (elementwise.cc LogicalNotEval). The op has no parameters, so the operands come first.
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_logical_not_bool(const ml_dims *input_dims, const uint8_t *input,
                              const ml_dims *output_dims, uint8_t *output);

#endif
