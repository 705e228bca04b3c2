#ifndef ML_STRIDED_SLICE_S16_H
#define ML_STRIDED_SLICE_S16_H

#include "ml_common.h"
#include "ml_strided_slice_s8.h"

/*
 * STRIDED_SLICE of int16 data (TFLM reference_ops::StridedSlice, strided_slice.cc
 * kTfLiteInt16): out[i_0..i_r] = in[begin + i * stride]. Parameters and shapes as
 * ml_strided_slice_s8 (the generator resolves masks and negative indices).
 */
ml_status ml_strided_slice_s16(const ml_strided_slice_params *params,
                               const ml_shape_nd *input_shape, const int16_t *input,
                               const ml_shape_nd *output_shape, int16_t *output);

#endif
