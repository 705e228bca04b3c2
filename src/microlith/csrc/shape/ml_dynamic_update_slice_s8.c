#include "ml_dynamic_update_slice_s8.h"

ml_status ml_dynamic_update_slice_s8(const ml_dynamic_update_slice_params *params,
                                   const ml_shape_nd *operand_shape, const int8_t *operand,
                                   const ml_shape_nd *update_shape, const int8_t *update,
                                   const void *start_indices, int8_t *output)
{
    return ml_nn_dynamic_update_slice(params, operand_shape, operand, update_shape, update,
                                      start_indices, output, sizeof(int8_t));
}
