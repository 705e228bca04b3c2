#ifndef ML_ADD_N_S8_H
#define ML_ADD_N_S8_H

#include "ml_common.h"

/* TFLM's int8 ADD_N parameters (add_n.cc CalculateOpData). */
typedef struct {
    int32_t num_inputs;         /* 2 to 15: the int32 sum of rescaled terms cannot overflow */
    int32_t input_offset;       /* -zero point shared by every input, in [-127, 128] */
    int32_t left_shift;         /* 20 */
    int32_t input_multiplier;   /* q31 multiplier of 1/2 (input scale / twice the input scale) */
    int32_t input_shift;        /* <= 0 */
    int32_t output_multiplier;  /* q31 multiplier of 2 * input scale / (2^20 * output scale) */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* output zero point, in [-128, 127] */
} ml_add_n_params;

/*
 * output = clamp(requantize(sum) + output_offset) to [-128, 127], where sum adds the rescaled
 * (x + input_offset) << left_shift of every input AND, first, the rescaled input_offset alone:
 * TFLM's reference_ops::AddN starts its sum from "x = params.input1_offset" (commented
 * "x = 0"), an extra term for any nonzero zero point, which is part of TFLM's results.
 * Every input and the output hold the same number of elements (any layout).
 */
ml_status ml_add_n_s8(const ml_add_n_params *params,
                      const ml_dims *input_dims, const int8_t *const *inputs,
                      const ml_dims *output_dims, int8_t *output);

#endif
