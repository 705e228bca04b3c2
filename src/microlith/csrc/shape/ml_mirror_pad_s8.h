#ifndef ML_MIRROR_PAD_S8_H
#define ML_MIRROR_PAD_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t before[ML_MAX_RANK];  /* padding before each dimension */
    int32_t offset;               /* 1: REFLECT (the edge is not repeated), 0: SYMMETRIC */
    int32_t block;                /* bytes per element: the trailing unpadded dimensions */
} ml_mirror_pad_params;

/*
 * MIRROR_PAD (TFLM mirror_pad.cc MirrorPad): each output element is the input element at the
 * mirrored position along every dimension (TFLM's GetInputDimension). The shapes count
 * elements of `block` bytes, so trailing dimensions without padding move as one block.
 * Padding on each side is at most dims[d] - offset (TFLM reads out of bounds beyond that);
 * anything else returns ML_ARG_ERROR.
 */
ml_status ml_mirror_pad_s8(const ml_mirror_pad_params *params,
                           const ml_shape_nd *input_shape, const int8_t *input,
                           const ml_shape_nd *output_shape, int8_t *output);

#endif
