#ifndef ML_SIGMOID_TABLE_U16_H
#define ML_SIGMOID_TABLE_U16_H

#include "ml_common.h"

/* sigmoid(i / 24) in unsigned 0.16 fixed point, i = 0..255: TFLM's sigmoid_table_uint16
 * (tensorflow/lite/kernels/internal/common.h), read by the int16 LOGISTIC and TANH kernels.
 * arith/sigmoid16.py holds the same values for the numpy reference. */
extern const uint16_t ml_sigmoid_table_u16[256];

/* Input rescaling of the int16 LOGISTIC and TANH kernels (TFLM's Prepare for int16). */
typedef struct {
    int32_t input_multiplier;  /* 0 for a power-of-two input scale: then 3 << input_left_shift */
    int32_t input_left_shift;  /* >= 0: x' = (x * multiplier + rounding) >> input_left_shift */
} ml_sigmoid_s16_params;

#endif
