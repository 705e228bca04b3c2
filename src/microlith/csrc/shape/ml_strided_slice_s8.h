#ifndef ML_STRIDED_SLICE_S8_H
#define ML_STRIDED_SLICE_S8_H

#include "ml_common.h"
#include "ml_shape_nd.h"

typedef struct {
    int32_t begin[ML_MAX_RANK];   /* first input index along each dimension, resolved */
    int32_t stride[ML_MAX_RANK];  /* step along each dimension, may be negative; 0 repeats
                                     one element (BROADCAST_TO) */
} ml_strided_slice_params;

/*
 * STRIDED_SLICE (TFLM reference_ops::StridedSlice): out[i_0..i_r] = in[begin + i * stride].
 * The generator resolves masks, negative indices and clamping (TFLM's
 * StridedSliceStartForAxis/EndForAxis), so the kernel only gathers.
 * input_shape:  the input's shape.
 * output_shape: same rank; dims[d] is the number of elements taken along input dimension d
 *               (a shrunk axis counts 1; the output tensor's own shape drops it).
 */
ml_status ml_strided_slice_s8(const ml_strided_slice_params *params,
                              const ml_shape_nd *input_shape, const int8_t *input,
                              const ml_shape_nd *output_shape, int8_t *output);

#endif
