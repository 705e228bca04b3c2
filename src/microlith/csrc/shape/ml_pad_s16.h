#ifndef ML_PAD_S16_H
#define ML_PAD_S16_H

#include "ml_common.h"
#include "ml_pad_s8.h"

/*
 * PAD of int16 data with a constant (TFLM reference_ops::Pad, pad.cc kTfLiteInt16):
 * output[i] = input[i - before] inside the input, pad_value elsewhere. Parameters and
 * shapes as ml_pad_s8; pad_value is an int16 value. TFLM fills int16 with 0 (not the
 * output zero point) unless the model gives constant_values; the generator passes that.
 */
ml_status ml_pad_s16(const ml_pad_params *params,
                     const ml_shape_nd *input_shape, const int16_t *input,
                     const ml_shape_nd *output_shape, int16_t *output);

#endif
