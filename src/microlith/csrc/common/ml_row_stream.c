#include "ml_row_stream.h"

void ml_row_stream_begin(ml_row_cursor *c, const ml_row_stream_params *s, void *params,
                         const int8_t *input, int8_t *output, int8_t *window)
{
    memcpy(params, s->params, s->params_bytes);
    c->s = s;
    c->src = input;
    c->base = output;
    c->window = window;
    c->dst = output;
    c->pad_h = (int32_t *)(void *)((uint8_t *)params + s->pad_h_at);
    c->kept = s->kept_at >= 0 ? (int32_t *)(void *)((uint8_t *)params + s->kept_at) : NULL;
    c->in = *s->in_dims;
    c->out = *s->out_dims;
    c->in_row = c->in.w * c->in.c;
    c->y = 0;
    c->held_lo = 0;
    c->held_hi = 0;
}

/* n bytes from `from` down to `to` <= from (the regions may overlap). For size, a loop of our
 * own rather than memmove, which a firmware would link for this alone (about 250 bytes): words
 * while both stay aligned, as they do for rows of a multiple of 4 bytes in the 8-byte-aligned
 * arena. Otherwise memmove, whose block copies take fewer instructions. */
static void ml_row_stream_move_down(int8_t *to, const int8_t *from, int32_t n)
{
#if defined(ML_OPTIMIZE_SIZE)
    if ((((uintptr_t)to | (uintptr_t)from | (uint32_t)n) & 3u) == 0) {
        int32_t *tw = (int32_t *)(void *)to;
        const int32_t *fw = (const int32_t *)(const void *)from;
        for (int32_t i = 0; i < n / 4; ++i) {
            tw[i] = fw[i];
        }
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        to[i] = from[i];
    }
#else
    memmove(to, from, (size_t)n);
#endif
}

int ml_row_stream_next(ml_row_cursor *c)
{
    const ml_row_stream_params *s = c->s;
    const int32_t y = c->y;
    const int32_t out_h = s->out_dims->h;
    const int32_t in_row = c->in_row;
    if (y >= out_h) {
        return 0;
    }
    const int32_t rows = ml_min_i32(s->rows, out_h - y);
    const int32_t top = y - s->pad_h;
    const int32_t lo = ml_max_i32(0, top);
    const int32_t hi = ml_min_i32(s->in_dims->h, y + rows - 1 - s->pad_h + s->eff_kh);
    const int32_t keep = c->held_hi > lo ? c->held_hi - lo : 0;
    /* The rows this chunk shares with the last one move to the window's start (lo only grows,
     * so they move down); the rest come from the input, which no earlier chunk wrote there. */
    if (keep > 0) {
        ml_row_stream_move_down(c->window, c->window + (lo - c->held_lo) * in_row,
                                keep * in_row);
    }
    memcpy(c->window + keep * in_row, c->src + (lo + keep) * in_row,
           (size_t)((hi - lo - keep) * in_row));
    c->held_lo = lo;
    c->held_hi = hi;
    *c->pad_h = lo - top;
    if (c->kept != NULL) {
        *c->kept = y > 0;  /* the kernel's scratch holds what the layer's first chunk left */
    }
    c->in.h = hi - lo;
    c->out.h = rows;
    c->dst = c->base + y * c->out.w * c->out.c;
    c->y = y + rows;
    return 1;
}
