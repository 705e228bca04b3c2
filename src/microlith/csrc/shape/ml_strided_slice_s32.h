#ifndef ML_STRIDED_SLICE_S32_H
#define ML_STRIDED_SLICE_S32_H

#include "ml_common.h"
#include "ml_strided_slice_s8.h"

/*
 * STRIDED_SLICE of int32 data (TFLM reference_ops::StridedSlice, strided_slice.cc
 * kTfLiteInt32): out[i_0..i_r] = in[begin + i * stride]. Parameters and shapes as
 * ml_strided_slice_s8 (the generator resolves masks and negative indices).
 */
ml_status ml_strided_slice_s32(const ml_strided_slice_params *params,
                               const ml_shape_nd *input_shape, const int32_t *input,
                               const ml_shape_nd *output_shape, int32_t *output);

#endif
