#ifndef ML_QUANTIZE_F32_S8_H
#define ML_QUANTIZE_F32_S8_H

#include "ml_common.h"
#include "ml_nn_float.h"

/*
 * output = clamp(round(input / scale) + zero_point, -128, 127): QUANTIZE float32 -> int8
 * (TFLM's AffineQuantize; see ml_nn_quantize_f32). quant: the OUTPUT's quantization.
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_quantize_f32_s8(const ml_float_quant *quant,
                             const ml_dims *input_dims, const float *input,
                             const ml_dims *output_dims, int8_t *output);

#endif
