/*
 * One shared copy of the loop that runs a stride-1 convolution in place, chunk of output rows
 * by chunk (codegen/inplace.py): the input rows a chunk reads are first moved into a window
 * (scratch), keeping the rows the next chunk still needs, so the output may overwrite input
 * rows that no later chunk reads. `microlith compile --optimize size` (and balanced, where it
 * pays) emits a few lines per layer around this cursor instead of the whole loop:
 *
 *   ml_conv_params chunk;          (the kernel's params; the cursor fills them in)
 *   ml_row_cursor rows;
 *   ml_row_stream_begin(&rows, &layer_stream, &chunk, input, output, window);
 *   while (ml_row_stream_next(&rows)) {
 *       status = kernel(&chunk, ..., &rows.in, window, ..., &rows.out, rows.dst);
 *   }
 */
#ifndef ML_ROW_STREAM_H
#define ML_ROW_STREAM_H

#include "ml_common.h"

/* A layer's chunk schedule (the generator checked that no chunk fetches an input row an earlier
 * chunk overwrote; stride 1), and where its kernel's params keep pad_h. Small fields: one of
 * these per in-place layer sits in flash. */
typedef struct {
    const void *params;      /* the layer's kernel params */
    const ml_dims *in_dims;  /* the whole layer's: rows of W * C bytes */
    const ml_dims *out_dims;
    uint16_t params_bytes;   /* sizeof the params */
    uint16_t pad_h_at;       /* offsetof(their type, pad_h), an int32_t */
    int16_t pad_h;
    int16_t eff_kh;          /* input rows one output row reads: (K_h - 1) * dilation + 1 */
    int16_t rows;            /* output rows per kernel call */
    int16_t kept_at;         /* offsetof(their type, scratch_kept), an int32_t set to 1 for every
                                chunk after the first; -1 when the params have none */
} ml_row_stream_params;

/* Where the walk is. After ml_row_stream_next returns 1, `in` and `out` are the chunk's dims
 * (its input rows are in the window), `dst` where its output rows go, and the params copy
 * given to ml_row_stream_begin has the chunk's pad_h. */
typedef struct {
    const ml_row_stream_params *s;
    const int8_t *src;
    int8_t *base;            /* the output's first row */
    int8_t *window;
    int8_t *dst;
    int32_t *pad_h;          /* in the caller's params copy */
    int32_t *kept;           /* its scratch_kept, or NULL */
    ml_dims in;
    ml_dims out;
    int32_t in_row;          /* bytes of one input row */
    int32_t y;               /* first output row of the next chunk */
    int32_t held_lo;         /* input rows now in the window: [held_lo, held_hi) */
    int32_t held_hi;
} ml_row_cursor;

/* `params` receives a copy of s->params (s->params_bytes bytes, suitably aligned for them). */
void ml_row_stream_begin(ml_row_cursor *c, const ml_row_stream_params *s, void *params,
                         const int8_t *input, int8_t *output, int8_t *window);

/* Fills the window for the next chunk: 1, or 0 when every output row is done. */
int ml_row_stream_next(ml_row_cursor *c);

#endif /* ML_ROW_STREAM_H */
