#ifndef ML_SELECT_S16_H
#define ML_SELECT_S16_H

#include "ml_common.h"

/*
 * output = condition ? x : y, elementwise with broadcasting of all three operands (each
 * dimension equals the output's or is 1): TFLM's SELECT_V2 (select.cc, reference_ops::Select /
 * BroadcastSelect5DSlow) on int16 values. condition is a bool tensor (one byte, 0 or 1, per
 * element). Like TFLM, the values are copied without requantization. The op has no
 * parameters, so the operands come first. All tensors NHWC.
 */
ml_status ml_select_s16(const ml_dims *condition_dims, const uint8_t *condition,
                        const ml_dims *x_dims, const int16_t *x,
                        const ml_dims *y_dims, const int16_t *y,
                        const ml_dims *output_dims, int16_t *output);

#endif
