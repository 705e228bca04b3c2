#ifndef ML_ZEROS_LIKE_S8_H
#define ML_ZEROS_LIKE_S8_H

#include "ml_common.h"

typedef struct {
    int32_t size;  /* output elements */
} ml_zeros_like_params;

/*
 * ZEROS_LIKE on int8 (TFLM zeros_like.cc resetZeros<int8_t>): every output byte is 0, the
 * integer zero, whatever the output's zero point (TFLM does not look at quantization).
 * The input is passed like every operand, but only its size (in params) matters.
 */
ml_status ml_zeros_like_s8(const ml_zeros_like_params *params, const int8_t *input,
                           int8_t *output);

#endif
