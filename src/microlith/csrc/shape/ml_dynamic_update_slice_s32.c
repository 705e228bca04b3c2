#include "ml_dynamic_update_slice_s32.h"

ml_status ml_dynamic_update_slice_s32(const ml_dynamic_update_slice_params *params,
                                    const ml_shape_nd *operand_shape, const int32_t *operand,
                                    const ml_shape_nd *update_shape, const int32_t *update,
                                    const void *start_indices, int32_t *output)
{
    return ml_nn_dynamic_update_slice(params, operand_shape, operand, update_shape, update,
                                      start_indices, output, sizeof(int32_t));
}
