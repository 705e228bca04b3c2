/*
 * One shared copy of the loop that runs a stride-1 convolution in place, chunk of output rows
 * by chunk (codegen/inplace.py): the input rows a chunk reads are first moved into a window
 * (scratch), keeping the rows the next chunk still needs, so the output may overwrite input
 * rows that no later chunk reads. `microlith compile --optimize size` (and balanced, where it
 * pays) emits a few lines per layer around this cursor instead of the whole loop:
 *
 *   ml_row_cursor rows;
 *   ml_row_stream_begin(&rows, &stream, &in_dims, &out_dims, input, output, window);
 *   while (ml_row_stream_next(&rows)) {
 *       params.pad_h = rows.pad_h;
 *       status = kernel(&params, ..., &rows.in, window, ..., &rows.out, rows.dst);
 *   }
 */
#ifndef ML_ROW_STREAM_H
#define ML_ROW_STREAM_H

#include "ml_common.h"

/* A layer's chunk schedule: its shapes in rows and bytes per row (the generator checked that no
 * chunk fetches an input row an earlier chunk overwrote). */
typedef struct {
    int32_t in_h;
    int32_t in_row;    /* bytes of one input row */
    int32_t out_h;
    int32_t out_row;   /* bytes of one output row */
    int32_t stride_h;
    int32_t pad_h;
    int32_t eff_kh;    /* input rows one output row reads: (K_h - 1) * dilation + 1 */
    int32_t rows;      /* output rows per kernel call */
} ml_row_stream_params;

/* Where the walk is; after ml_row_stream_next returns 1, `in`, `out`, `pad_h` and `dst` describe
 * the chunk to compute: input rows in the window, `out.h` output rows written at `dst`. */
typedef struct {
    const ml_row_stream_params *s;
    const int8_t *src;
    int8_t *base;      /* the output's first row */
    int8_t *window;
    int8_t *dst;
    ml_dims in;
    ml_dims out;
    int32_t pad_h;
    int32_t y;         /* first output row of the next chunk */
    int32_t held_lo;   /* input rows now in the window: [held_lo, held_hi) */
    int32_t held_hi;
} ml_row_cursor;

void ml_row_stream_begin(ml_row_cursor *c, const ml_row_stream_params *s, const ml_dims *in_dims,
                         const ml_dims *out_dims, const int8_t *input, int8_t *output,
                         int8_t *window);

/* Fills the window for the next chunk: 1, or 0 when every output row is done. */
int ml_row_stream_next(ml_row_cursor *c);

#endif /* ML_ROW_STREAM_H */
