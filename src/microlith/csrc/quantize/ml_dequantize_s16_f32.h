#ifndef ML_DEQUANTIZE_S16_F32_H
#define ML_DEQUANTIZE_S16_F32_H

#include "ml_common.h"
#include "ml_nn_float.h"

/*
 * output = scale * (input - zero_point): DEQUANTIZE int16 -> float32 (TFLM's Dequantize; see
 * ml_nn_dequantize_f32). quant: the INPUT's quantization.
 * input_dims and output_dims hold the same number of elements (any layout).
 */
ml_status ml_dequantize_s16_f32(const ml_float_quant *quant,
                                const ml_dims *input_dims, const int16_t *input,
                                const ml_dims *output_dims, float *output);

#endif
