#ifndef ML_DYNAMIC_UPDATE_SLICE_S8_H
#define ML_DYNAMIC_UPDATE_SLICE_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"
#include "ml_dynamic_update_slice_common.h"

/*
 * DYNAMIC_UPDATE_SLICE on int8_t (TFLM dynamic_update_slice.cc EvalImpl<int8_t>): output is
 * operand with update written at the clamped start indices (see ml_nn_dynamic_update_slice).
 * Bytes are copied; quantization is not looked at, as in TFLM.
 */
ml_status ml_dynamic_update_slice_s8(const ml_dynamic_update_slice_params *params,
                                   const ml_shape_nd *operand_shape, const int8_t *operand,
                                   const ml_shape_nd *update_shape, const int8_t *update,
                                   const void *start_indices, int8_t *output);

#endif
