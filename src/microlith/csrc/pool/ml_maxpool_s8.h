#ifndef ML_MAXPOOL_S8_H
#define ML_MAXPOOL_S8_H

#include "ml_common.h"

/*
 * A layer whose every window is two cells side by side at stride 2 (2x2/2 or 1x2/2), wholly
 * inside the input, over channels in multiples of 16 without a clamp, described for the
 * Cortex-M DSP routine that pools it (ml_maxpool_dsp_tile2): filled by the compiler, which
 * knows every shape (ops/pool.py), so that the kernel skips its run-time checks; n = -1 where
 * none applies (the checks skipped too), all zero when not described; ignored where that
 * routine is not built (portable C, M0/M3, size mode).
 */
typedef struct {
    int32_t n;         /* windows in a row (the output's width); 0: not described (the kernel
                        * looks for a tile at run time); -1: the compiler found none applies */
    int32_t depth;     /* channels, a multiple of 16 */
    int32_t dy;        /* input bytes between a window's rows: W_in * C */
    int32_t rows;      /* the window's rows, 1 or 2 */
    int32_t in_row;    /* input bytes from one row of windows to the next: stride_h * W_in * C */
    int32_t out_row;   /* output bytes from one row to the next: W_out * C */
    int32_t rows_out;  /* rows of windows: H_out */
} ml_maxpool_tile;

typedef struct {
    int32_t stride_h, stride_w;  /* >= 1 */
    int32_t filter_h, filter_w;  /* >= 1 */
    int32_t pad_h, pad_w;        /* top and left padding, >= 0 */
    int32_t act_min, act_max;    /* fused activation clamp, in [-128, 127] */
    ml_maxpool_tile tile;        /* int8 only; all zero: decided at run time */
} ml_maxpool_params;

/*
 * Max pooling, TFLM reference_integer_ops::MaxPool: the maximum over the window cells
 * inside the input (padding never wins), then the activation clamp. Input and output
 * share scale and zero point.
 * input_dims:  {N, H_in, W_in, C}    output_dims: {N, H_out, W_out, C}; NHWC int8.
 * A window with no cell inside the input yields the clamp of -128, as in TFLM.
 */
ml_status ml_maxpool_s8(const ml_maxpool_params *params,
                        const ml_dims *input_dims, const int8_t *input,
                        const ml_dims *output_dims, int8_t *output);

#endif
