#ifndef ML_TRANSPOSE_S16_H
#define ML_TRANSPOSE_S16_H

#include "ml_common.h"
#include "ml_transpose_s8.h"

/*
 * TRANSPOSE of int16 data (TFLM reference_ops::Transpose, transpose.cc kTfLiteInt16):
 * output[i_0..i_r] = input[j] with j[perm[d]] = i[d]. Parameters and shapes as ml_transpose_s8.
 */
ml_status ml_transpose_s16(const ml_transpose_params *params,
                           const ml_shape_nd *input_shape, const int16_t *input,
                           const ml_shape_nd *output_shape, int16_t *output);

#endif
