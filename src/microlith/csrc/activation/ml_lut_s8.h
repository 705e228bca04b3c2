#ifndef ML_LUT_S8_H
#define ML_LUT_S8_H

#include "ml_common.h"

typedef struct {
    const int8_t *table;  /* 256 entries: the output for input x is table[x + 128] */
} ml_lut_params;

/*
 * output[i] = table[input[i] + 128]: any int8 -> int8 function of one element.
 *
 * The generator fills the table at compile time from the op's own integer reference (RELU,
 * RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH, int8 QUANTIZE), so the kernel is exact by
 * construction and costs a few instructions per element whatever the function. input_dims and
 * output_dims hold the same number of elements (any layout); input may equal output.
 * Returns ML_ARG_ERROR when the element counts differ.
 */
ml_status ml_lut_s8(const ml_lut_params *params,
                    const ml_dims *input_dims, const int8_t *input,
                    const ml_dims *output_dims, int8_t *output);

#endif
