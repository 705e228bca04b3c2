#ifndef ML_COMPARE_S8_H
#define ML_COMPARE_S8_H

#include "ml_common.h"

typedef enum {
    ML_COMPARE_EQUAL = 0,
    ML_COMPARE_NOT_EQUAL = 1,
    ML_COMPARE_LESS = 2,
    ML_COMPARE_LESS_EQUAL = 3,
    ML_COMPARE_GREATER = 4,
    ML_COMPARE_GREATER_EQUAL = 5
} ml_comparison;

/* TFLM's int8 comparison parameters (comparisons.cc ComparisonsPrepare). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] */
    int32_t left_shift;         /* 8 */
    int32_t input1_multiplier;  /* q31 multiplier of the input1 scale itself (< 1) */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;       /* <= 0 */
    int32_t comparison;         /* an ml_comparison */
} ml_compare_params;

/*
 * output = (scaled input1) OP (scaled input2) as 0 or 1 (a bool tensor, one byte per element),
 * each input scaled as requantize((x + offset) << left_shift, multiplier, shift): TFLM's
 * reference_ops::ComparisonWithScaling / BroadcastComparison4DSlowWithScaling.
 * Broadcasting as in ml_add_s8. All tensors NHWC.
 */
ml_status ml_compare_s8(const ml_compare_params *params,
                        const ml_dims *input1_dims, const int8_t *input1,
                        const ml_dims *input2_dims, const int8_t *input2,
                        const ml_dims *output_dims, uint8_t *output);

#endif
