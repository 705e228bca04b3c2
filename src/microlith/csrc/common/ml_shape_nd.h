/*
 * microlith kernel library: shapes of any rank up to ML_MAX_RANK, for the data-movement
 * kernels (pad, transpose, strided slice, mean) whose tensors are not always 4-D NHWC.
 *
 * dims[0] is the outermost dimension, dims[rank - 1] the innermost (row-major, as TFLite).
 * Entries at index >= rank are ignored. rank 0 is a scalar (one element).
 */
#ifndef ML_SHAPE_ND_H
#define ML_SHAPE_ND_H

#include "ml_common.h"

#define ML_MAX_RANK 6

typedef struct {
    int32_t rank;               /* in [0, ML_MAX_RANK] */
    int32_t dims[ML_MAX_RANK];  /* each >= 0 */
} ml_shape_nd;

static inline int32_t ml_shape_nd_size(const ml_shape_nd *shape)
{
    int32_t n = 1;
    for (int32_t i = 0; i < shape->rank; ++i) {
        n *= shape->dims[i];
    }
    return n;
}

/* Element strides of a row-major shape; returns 0 when the rank is out of range. */
static inline int ml_shape_nd_strides(const ml_shape_nd *shape, int32_t strides[ML_MAX_RANK])
{
    if (shape->rank < 0 || shape->rank > ML_MAX_RANK) {
        return 0;
    }
    int32_t s = 1;
    for (int32_t i = shape->rank - 1; i >= 0; --i) {
        strides[i] = s;
        s *= shape->dims[i];
    }
    return 1;
}

/*
 * How TRANSPOSE walks a permutation (ml_transpose_s8, ml_transpose_s16): one output dimension
 * runs innermost, an odometer over the others moves the input and output offsets. The inner one
 * is the output's last (its writes contiguous) unless the output dimension read from the
 * input's last is longer (its reads contiguous): an NCL -> NLC input transpose of a 1-D CNN,
 * 6 x 100, then runs 100-element loops instead of 6-element ones, whose odometer step cost more
 * than their copies (about 10 instructions per element on Cortex-M4, now about 6).
 */
typedef struct {
    int32_t rank;
    int32_t inner;                  /* the output dimension run innermost */
    int32_t dims[ML_MAX_RANK];      /* the output's */
    int32_t in_step[ML_MAX_RANK];   /* input elements between neighbours along output dimension d */
    int32_t out_step[ML_MAX_RANK];  /* output elements between them */
    int32_t total;                  /* output elements */
} ml_transpose_walk;

/* The walk of output[i] = input[j], j[perm[d]] = i[d]; returns 0 when the shapes and the
 * permutation do not match. */
static inline int ml_transpose_walk_of(ml_transpose_walk *w, const int32_t perm[ML_MAX_RANK],
                                       const ml_shape_nd *input_shape,
                                       const ml_shape_nd *output_shape)
{
    const int32_t rank = input_shape->rank;
    int32_t in_strides[ML_MAX_RANK];
    if (rank < 1 || output_shape->rank != rank || !ml_shape_nd_strides(input_shape, in_strides) ||
        !ml_shape_nd_strides(output_shape, w->out_step)) {
        return 0;
    }
    w->rank = rank;
    w->inner = rank - 1;
    for (int32_t d = 0; d < rank; ++d) {
        const int32_t p = perm[d];
        if (p < 0 || p >= rank || input_shape->dims[p] != output_shape->dims[d]) {
            return 0;
        }
        w->dims[d] = output_shape->dims[d];
        w->in_step[d] = in_strides[p];
    }
    for (int32_t d = 0; d < rank; ++d) {
        if (perm[d] == rank - 1 && w->dims[d] > w->dims[rank - 1]) {
            w->inner = d;
        }
    }
    w->total = ml_shape_nd_size(output_shape);
    return 1;
}

/* The odometer's step over every output dimension but the inner one. */
static inline void ml_transpose_walk_next(const ml_transpose_walk *w, int32_t idx[ML_MAX_RANK],
                                          int32_t *in_base, int32_t *out_base)
{
    for (int32_t d = w->rank - 1; d >= 0; --d) {
        if (d == w->inner) {
            continue;
        }
        *in_base += w->in_step[d];
        *out_base += w->out_step[d];
        if (++idx[d] < w->dims[d]) {
            return;
        }
        *in_base -= w->dims[d] * w->in_step[d];
        *out_base -= w->dims[d] * w->out_step[d];
        idx[d] = 0;
    }
}

/* The copy a walk describes, elements of `size` bytes (a constant where this is inlined, so the
 * memcpy is one load and one store; int16 on Cortex-M0, which cannot assume the alignment,
 * copies bytes). */
static inline void ml_transpose_walk_copy(const ml_transpose_walk *w, const void *input,
                                          void *output, int32_t size)
{
    const int32_t n = w->dims[w->inner];
    const int32_t in_step = w->in_step[w->inner] * size;
    const int32_t out_step = w->out_step[w->inner] * size;
    int32_t idx[ML_MAX_RANK] = {0};
    int32_t in_base = 0;
    int32_t out_base = 0;
    for (int32_t r = w->total / n; r > 0; --r) {
        const uint8_t *p = (const uint8_t *)input + in_base * size;
        uint8_t *q = (uint8_t *)output + out_base * size;
        for (int32_t k = n; k > 0; --k, p += in_step, q += out_step) {
            memcpy(q, p, (size_t)size);
        }
        ml_transpose_walk_next(w, idx, &in_base, &out_base);
    }
}

#endif /* ML_SHAPE_ND_H */
