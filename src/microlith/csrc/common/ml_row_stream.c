#include "ml_row_stream.h"

void ml_row_stream_begin(ml_row_cursor *c, const ml_row_stream_params *s, const ml_dims *in_dims,
                         const ml_dims *out_dims, const int8_t *input, int8_t *output,
                         int8_t *window)
{
    c->s = s;
    c->src = input;
    c->base = output;
    c->window = window;
    c->dst = output;
    c->in = *in_dims;
    c->out = *out_dims;
    c->pad_h = 0;
    c->y = 0;
    c->held_lo = 0;
    c->held_hi = 0;
}

int ml_row_stream_next(ml_row_cursor *c)
{
    const ml_row_stream_params *s = c->s;
    const int32_t y = c->y;
    if (y >= s->out_h) {
        return 0;
    }
    const int32_t rows = ml_min_i32(s->rows, s->out_h - y);
    const int32_t top = y * s->stride_h - s->pad_h;
    const int32_t lo = ml_max_i32(0, top);
    const int32_t hi = ml_min_i32(s->in_h, (y + rows - 1) * s->stride_h - s->pad_h + s->eff_kh);
    const int32_t keep = c->held_hi > lo ? c->held_hi - lo : 0;
    /* The rows this chunk shares with the last one move to the window's start (the regions
     * may overlap); the rest come from the input, which no earlier chunk wrote over there. */
    if (keep > 0) {
        memmove(c->window, c->window + (lo - c->held_lo) * s->in_row, (size_t)(keep * s->in_row));
    }
    memcpy(c->window + keep * s->in_row, c->src + (lo + keep) * s->in_row,
           (size_t)((hi - lo - keep) * s->in_row));
    c->held_lo = lo;
    c->held_hi = hi;
    c->pad_h = lo - top;
    c->in.h = hi - lo;
    c->out.h = rows;
    c->dst = c->base + y * s->out_row;
    c->y = y + rows;
    return 1;
}
