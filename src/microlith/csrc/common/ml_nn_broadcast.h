/*
 * Numpy-style broadcasting for the binary elementwise kernels (ADD, SUB, MUL).
 *
 * The generator collapses any broadcast of rank <= 8 into at most four dimensions
 * (adjacent dimensions that broadcast the same way are merged), so kernels only ever
 * walk an NHWC output and read each input through strides that are 0 along the
 * dimensions that input repeats.
 */
#ifndef ML_NN_BROADCAST_H
#define ML_NN_BROADCAST_H

#include "ml_common.h"

/* stride[0..3]: elements to advance in `in` per step of n, h, w, c of `out`.
 * Returns ML_ARG_ERROR unless every dimension of `in` equals `out`'s or is 1. */
static inline ml_status ml_nn_broadcast_strides(const ml_dims *in, const ml_dims *out, int32_t stride[4])
{
    const int32_t in_dim[4] = {in->n, in->h, in->w, in->c};
    const int32_t out_dim[4] = {out->n, out->h, out->w, out->c};
    int32_t step = 1;
    for (int32_t i = 3; i >= 0; --i) {
        if (in_dim[i] != out_dim[i] && in_dim[i] != 1) {
            return ML_ARG_ERROR;
        }
        stride[i] = in_dim[i] == 1 ? 0 : step;
        step *= in_dim[i];
    }
    return ML_OK;
}

#endif /* ML_NN_BROADCAST_H */
