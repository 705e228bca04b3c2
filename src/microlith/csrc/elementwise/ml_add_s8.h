#ifndef ML_ADD_S8_H
#define ML_ADD_S8_H

#include "ml_common.h"

/* TFLM's int8 ADD and SUB parameters (add_common.cc / sub_common.cc). */
typedef struct {
    int32_t input1_offset;      /* -input1 zero point, in [-127, 128] */
    int32_t input2_offset;      /* -input2 zero point, in [-127, 128] */
    int32_t left_shift;         /* 20 for int8: headroom before the input rescale */
    int32_t input1_multiplier;  /* q31 multiplier of input1 / (2 * max input scale) */
    int32_t input1_shift;       /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;       /* <= 0 */
    int32_t output_multiplier;  /* q31 multiplier of 2 * max input scale / (2^20 output scale) */
    int32_t output_shift;       /* <= 0 */
    int32_t output_offset;      /* output zero point, in [-128, 127] */
    int32_t act_min;            /* fused activation clamp, in the output's int8 domain */
    int32_t act_max;
    int32_t subtract;           /* 0: input1 + input2 (ADD); 1: input1 - input2 (SUB) */
} ml_add_params;

/* Scratch the kernel uses when given: one table of 256 int32 per input. */
#define ML_ADD_S8_SCRATCH_BYTES (2 * 256 * 4)

/*
 * output = clamp(requantize(scale1(input1) +/- scale2(input2)) + output_offset)
 * where scaleK(x) = requantize((x + inputK_offset) << left_shift, inputK_multiplier, inputK_shift).
 *
 * SUB shares this kernel through `subtract` rather than a negated input2 multiplier: the
 * rounding high multiply rounds halves toward +infinity, so negating the multiplier is not
 * the same as negating the product and would not match TFLM's sub bit for bit.
 *
 * scratch: NULL, or ML_ADD_S8_SCRATCH_BYTES, 4-byte aligned, for operands of the output's
 * shape: then scale1 and scale2 are tabulated over the 256 int8 values once per call, and
 * each element is two table loads and the output's requantization (the generator passes it
 * for layers large enough to repay the tables).
 *
 * Broadcasting: each input dimension equals the output's or is 1 (numpy rules, after the
 * generator has collapsed the shapes to at most 4-D). All tensors NHWC.
 */
ml_status ml_add_s8(const ml_add_params *params, void *scratch,
                    const ml_dims *input1_dims, const int8_t *input1,
                    const ml_dims *input2_dims, const int8_t *input2,
                    const ml_dims *output_dims, int8_t *output);

#endif
