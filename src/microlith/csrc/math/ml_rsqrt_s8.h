#ifndef ML_RSQRT_S8_H
#define ML_RSQRT_S8_H

#include "ml_common.h"

typedef struct {
    const int8_t *table;       /* 256 entries: the output for input x is table[x + 128] */
    int32_t input_zero_point;  /* inputs below it stand for negative numbers */
} ml_rsqrt_params;

/*
 * TFLM's int8 RSQRT (elementwise.cc RsqrtEvalQuantized), whose output depends on one input
 * value only: the generator fills the table with TFLM's fixed-point 1/sqrt for every input.
 * Like TFLM's Eval, fails (ML_ARG_ERROR) on an input below the zero point, a negative number;
 * the elements before it are written. input_dims and output_dims hold the same number of
 * elements (any layout); input may equal output.
 */
ml_status ml_rsqrt_s8(const ml_rsqrt_params *params,
                      const ml_dims *input_dims, const int8_t *input,
                      const ml_dims *output_dims, int8_t *output);

#endif
