#ifndef ML_BATCH_TO_SPACE_ND_S8_H
#define ML_BATCH_TO_SPACE_ND_S8_H

#include "ml_common.h"

typedef struct {
    int32_t block_h, block_w;  /* block_shape (block_w 1 for 3-D tensors) */
    int32_t top, left;         /* crops at the start of height and width */
} ml_batch_to_space_nd_params;

/*
 * BATCH_TO_SPACE_ND (TFLM reference_ops::BatchToSpaceND): input batch b = (sh * block_w + sw)
 * * output_n + n holds the pixels of output image n at rows h * block_h + sh - top and
 * columns w * block_w + sw - left; pixels cropped away are skipped. 3-D tensors [N, H, C]
 * arrive as [N, H, 1, C]. Bytes are copied.
 */
ml_status ml_batch_to_space_nd_s8(const ml_batch_to_space_nd_params *params,
                                  const ml_dims *input_dims, const int8_t *input,
                                  const ml_dims *output_dims, int8_t *output);

#endif
