/*
 * Shared by the SVDF kernels (ml_svdf_s8, ml_svdf_s8_s16): parameters and the steps that do
 * not depend on the state's type. Header only.
 */
#ifndef ML_SVDF_COMMON_H
#define ML_SVDF_COMMON_H

#include "ml_common.h"

/*
 * SVDF (TFLM svdf_common.cc, EvalIntegerSvdfReference), integer: sizes and requantization.
 * Tensors, all row-major:
 *   input           [batches, input_size]        int8
 *   weights_feature [filters, input_size]        int8 (its zero point is not used, as in TFLM)
 *   weights_time    [filters, memory]            int8 or int16, the type of the state
 *   bias            [units] int32, or NULL       units = filters / rank
 *   state           [batches, filters * memory]  int8 or int16, updated in place
 *   scratch         batches * (filters + units) int32
 *   output          [batches, units]             int8
 */
typedef struct {
    int32_t batches, input_size, filters, memory, rank;
    int32_t input_offset;      /* -input zero point */
    int32_t state_zero_point;  /* of the state (and so of each new feature) */
    int32_t output_offset;     /* output zero point */
    int32_t feature_multiplier, feature_shift;  /* input x weights_feature -> state (effective_scale_1) */
    int32_t output_multiplier, output_shift;    /* state x weights_time -> output (effective_scale_2) */
} ml_svdf_params;

static inline int ml_svdf_params_ok(const ml_svdf_params *p)
{
    return p->batches > 0 && p->input_size > 0 && p->filters > 0 && p->memory > 0 && p->rank > 0 &&
           p->filters % p->rank == 0;
}

/* Wrapping adds: TFLM's int32 sums overflow (in practice as two's complement) for extreme
 * weights; unsigned arithmetic gives the same bits here without undefined behaviour. */
static inline int32_t ml_svdf_add_wrap(int32_t a, int32_t b)
{
    const uint32_t s = (uint32_t)a + (uint32_t)b;
    return s > (uint32_t)INT32_MAX ? (int32_t)(s - 0x80000000u) - INT32_MAX - 1 : (int32_t)s;
}

/* Feature dot product of one filter: sum (input + input_offset) * weight, wrapping. */
static inline int32_t ml_svdf_feature_dot(const int8_t *x, const int8_t *w, int32_t n, int32_t input_offset)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc = ml_svdf_add_wrap(acc, (int32_t)w[i] * ((int32_t)x[i] + input_offset));
    }
    return acc;
}

/* The last step, on the time dot products in scratch[0 .. batches*filters): each unit sums its
 * `rank` filters onto its bias, is requantized, offset and saturated to int8. */
static inline void ml_svdf_reduce_output(const ml_svdf_params *p, const int32_t *bias,
                                         const int32_t *time_dots, int8_t *output)
{
    const int32_t units = p->filters / p->rank;
    int32_t b, u, r;
    for (b = 0; b < p->batches; ++b) {
        const int32_t *dots = time_dots + b * p->filters;
        for (u = 0; u < units; ++u) {
            int32_t acc = bias != NULL ? bias[u] : 0;
            int32_t y;
            for (r = 0; r < p->rank; ++r) {
                acc = ml_svdf_add_wrap(acc, dots[u * p->rank + r]);
            }
            y = ml_nn_requantize(acc, p->output_multiplier, p->output_shift) + p->output_offset;
            output[b * units + u] = ml_clamp_s8(y, INT8_MIN, INT8_MAX);
        }
    }
}

#endif
