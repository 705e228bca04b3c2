"""Convolutions that write their output over their own input, row by row.

A convolution with stride 1 reads, for output row y, only input rows near y. If each chunk of
output rows first copies the input rows it needs into a small window (scratch) and keeps the
rows the next chunk still needs, the output can be written over input rows that no later chunk
reads. Input and output then share one buffer (the output at a fixed distance `delta` from
the input: 0 when it is not larger, ending where the input ends when it is), and the layer
needs max(in, out) + window bytes instead of in + out (the idea of TinyEngine's in-place
depthwise convolution, here for any stride-1 convolution, with the unchanged kernels).

Safety is not argued but simulated: `row_stream` replays the chunk schedule on the actual
shapes and accepts the layer only if no chunk fetches an input row that an earlier chunk has
already overwritten.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..ir import Graph, Node, Op


@dataclass(frozen=True)
class RowStream:
    in_h: int
    in_row: int      # bytes of one input row (W * C)
    out_h: int
    out_row: int     # bytes of one output row
    stride_h: int
    pad_h: int
    eff_kh: int      # rows one output row reads: (Kh - 1) * dilation + 1
    rows: int        # output rows per kernel call
    delta: int       # output offset minus input offset
    window: int      # scratch bytes
    # the shapes the stream walks: the tensors', or for a pointwise convolution one pixel per
    # row, {1, H * W, 1, C}, so that a chunk may end inside an image row
    in_shape: tuple = ()
    out_shape: tuple = ()

    @property
    def out_w(self) -> int:
        """Output pixels per row of the stream's view."""
        return self.out_shape[2]

    @property
    def smallest_call(self) -> int:
        """Output pixels of the kernel call with the fewest."""
        return min(n for _, n, _, _ in self.chunks()) * self.out_w

    def chunks(self):
        """(first output row, rows, first input row, end input row) of each kernel call."""
        for y in range(0, self.out_h, self.rows):
            rows = min(self.rows, self.out_h - y)
            top = y * self.stride_h - self.pad_h
            yield y, rows, max(0, top), min(self.in_h, (y + rows - 1) * self.stride_h - self.pad_h + self.eff_kh)


# Output rows per kernel call: each call repeats the kernel's setup, and the DSP kernels work on
# groups of 4 output pixels, so calls should cover a whole number of groups. Bigger chunks
# cost window bytes (one input row per extra output row).
DEPTHWISE_ROWS = 2
PIXEL_GROUP = 4


def _rows_per_call(op: Op, out_w: int) -> int:
    if op is Op.DEPTHWISE_CONV_2D:
        return DEPTHWISE_ROWS
    rows = max(1, -(-2 * PIXEL_GROUP // out_w))
    while (rows * out_w) % PIXEL_GROUP and rows < PIXEL_GROUP:
        rows += 1
    return rows


def row_stream(node: Node, g: Graph, p: dict, rows: int | None = None) -> RowStream | None:
    if node.op not in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D) or p.get("stride_h") != 1:
        return None
    if p.get("dtype", "int8") != "int8":  # rows are counted in bytes and the s8 kernels' calls
        return None
    x, w, y = g.t(node.inputs[0]), g.t(node.inputs[1]), g.t(node.outputs[0])
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
        return None
    _, in_h, in_w, in_c = x.shape
    _, out_h, out_w, out_c = y.shape
    if (node.op is Op.CONV_2D and tuple(w.shape[1:3]) == (1, 1) and p.get("stride_w") == 1
            and p["pad_h"] == 0 and p.get("pad_w") == 0 and (in_h, in_w) == (out_h, out_w)):
        # --- issue 11: each output pixel reads only its own input pixel, so the stream may cut
        # the image anywhere: a row per pixel lets a chunk hold whole groups of six
        in_h, in_w, out_h, out_w = in_h * in_w, 1, out_h * out_w, 1
    in_row, out_row = in_w * in_c, out_w * out_c
    in_size, out_size = in_h * in_row, out_h * out_row
    delta = 0 if out_size <= in_size else -((out_size - in_size + 3) // 4 * 4)
    eff_kh = (w.shape[1] - 1) * p["dilation_h"] + 1
    rows = min(out_h, rows or _rows_per_call(node.op, out_w))
    shapes = (1, in_h, in_w, in_c), (1, out_h, out_w, out_c)
    s = RowStream(in_h, in_row, out_h, out_row, 1, p["pad_h"], eff_kh, rows, delta, 0, *shapes)
    held_hi, window_rows = 0, 0
    for y0, n, lo, hi in s.chunks():
        if hi <= lo:
            return None  # a chunk entirely in padding: keep the plain layer
        fetch = max(held_hi, lo)
        written = delta + y0 * out_row  # end of what earlier chunks wrote
        if fetch < hi and written > fetch * in_row:
            return None
        held_hi = max(held_hi, hi)
        window_rows = max(window_rows, hi - lo)
    window = -(-window_rows * in_row // 8) * 8
    if window * 2 > min(in_size, out_size):
        return None  # the window would eat what sharing saves
    return RowStream(in_h, in_row, out_h, out_row, 1, p["pad_h"], eff_kh, rows, delta, window, *shapes)


# --- issue 11: chunks the arena can afford. The first schedule (_rows_per_call) keeps the window
# small; once the memory plan is known, a convolution whose window can grow without raising the
# arena's peak takes the chunk height whose pixel groups cost least: the DSP assembly runs groups
# of 6 pixels at 18 instructions per 24 MACs and groups of 4 at 13 per 16 (ml_conv2d_s8.c), a
# chunk's last group overlaps the one before to end on its last pixel, and every call repeats the
# kernel's set-up and the cursor's row copy.
P6_COST, P4_COST, C_PATH_COST = 1.0, 13 / 16 / (18 / 24), 2.0   # per pixel, against a group of 6
CALL_INSTRUCTIONS = 300                                           # set-up, copy and cursor per call


def _groups_cost(pixels: int, p6: bool = True) -> float:
    """What ml_conv2d_s8's pixel groups make of one call of `pixels` pixels, in pixels of a group
    of 6 (the kernel's ml_conv_dsp_group_px, and its overlapping last group). Without p6 (a
    --optimize size build) every group has 4 pixels."""
    cost, first = 0.0, 0
    while first < pixels:
        left = pixels - first
        px = 6 if p6 and (left >= 9 or 5 <= left <= 7) else 4
        if px > pixels:
            px = 4 if pixels >= 4 else 0
        if px == 0:
            return pixels * C_PATH_COST   # fewer than 4 pixels in all: the C groups
        if px > left:
            first = pixels - px
        cost += px * (P6_COST if px == 6 else P4_COST)
        first += px
    return cost


def stream_cost(node: Node, g: Graph, s: RowStream, p6: bool = True) -> float:
    """Estimated instructions of a convolution's calls under schedule `s`."""
    out_w, out_c = s.out_w, s.out_shape[3]
    k = int(np.prod(g.t(node.inputs[1]).shape[1:]))
    per_pixel = out_c * (0.75 * k + 8)   # MACs at the groups-of-6 rate, requantization, upkeep
    return sum(_groups_cost(n * out_w, p6) * per_pixel + CALL_INSTRUCTIONS for _, n, _, _ in s.chunks())


def cheaper_streams(node: Node, g: Graph, p: dict, s: RowStream, p6: bool = True,
                    max_rows: int = 16) -> list[RowStream]:
    """Other chunk heights for a convolution in place, cheapest first, each cheaper than `s` and
    none with a smaller call than `s` has (the generator may have left out the C groups, which
    calls of fewer than 4 pixels need). p6: the build has the six-pixel groups (not --optimize
    size)."""
    if node.op is not Op.CONV_2D:
        return []
    out_w = s.out_w
    smallest = s.smallest_call
    base = stream_cost(node, g, s, p6)
    found = []
    # rows of a pixel view are pixels: as many as 16 rows of its image
    limit = max_rows if out_w > 1 else max_rows * max(1, g.t(node.outputs[0]).shape[2])
    for rows in range(1, min(s.out_h, limit) + 1):
        if rows == s.rows or (t := row_stream(node, g, p, rows)) is None:
            continue
        if t.smallest_call < min(smallest, 4):
            continue
        if (cost := stream_cost(node, g, t, p6)) < base:
            found.append((cost, rows, t))
    return [t for _, _, t in sorted(found, key=lambda x: (x[0], x[1]))]


def _split_call(call: str) -> tuple[str, list[str]]:
    name, rest = call.split("(", 1)
    assert rest.endswith(")"), call
    args, depth, cur = [], 0, ""
    for ch in rest[:-1]:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        cur += ch
    args.append(cur.strip())
    return name.strip(), args


# Kernel params with a scratch_kept field: set for every chunk after a layer's first, it lets the
# kernel reuse what it derived from the layer's constants into its scratch on the first chunk
# (the window and the scratch are apart, and nothing else runs between the chunks).
KEEPS_SCRATCH = ("ml_conv_params",)


def emit_row_stream(call: str, s: RowStream, in_expr: str, out_expr: str, window_expr: str,
                    declarations: dict[str, str], dims: tuple[str, str]) -> list[str]:
    """Wrap a kernel call (params first; every operand as dims, data) into the chunk loop.
    `dims`: the declared ml_dims of the stream's view of the input and the output."""
    fn, args = _split_call(call)
    i_in, i_out = args.index(in_expr), len(args) - 1 - args[::-1].index(out_expr)
    params = args[0].lstrip("&")
    ctype = re.match(r"static const (\w+) ", declarations[params]).group(1)
    in_dims, out_dims = (d.lstrip("&") for d in dims)
    assert ".pad_h" in declarations[params], f"{fn}: params have no pad_h to move per chunk"
    args[0], args[i_in - 1], args[i_in] = "&chunk_params", "&chunk_in", "window"
    args[i_out - 1], args[i_out] = "&chunk_out", "dst + y * " + str(s.out_row)
    return [
        "    {",
        f"        /* in place: output at input {s.delta:+d} bytes; input rows stream through a",
        f"         * {s.window}-byte window so no row is overwritten before it is read */",
        f"        {ctype} chunk_params = {params};",
        f"        ml_dims chunk_in = {in_dims};",
        f"        ml_dims chunk_out = {out_dims};",
        f"        int8_t *const window = (int8_t *){window_expr};",
        f"        const int8_t *const src = {in_expr};",
        f"        int8_t *const dst = {out_expr};",
        "        int32_t held_lo = 0;",
        "        int32_t held_hi = 0; /* input rows now in the window: [held_lo, held_hi) */",
        f"        for (int32_t y = 0; y < {s.out_h}; y += {s.rows}) {{",
        f"            const int32_t rows = ml_min_i32({s.rows}, {s.out_h} - y);",
        f"            const int32_t top = y * {s.stride_h} - {s.pad_h};",
        "            const int32_t lo = ml_max_i32(0, top);",
        f"            const int32_t hi = ml_min_i32({s.in_h}, (y + rows - 1) * {s.stride_h} - {s.pad_h} + {s.eff_kh});",
        "            const int32_t keep = held_hi > lo ? held_hi - lo : 0;",
        "            if (keep > 0) {",
        f"                memmove(window, window + (lo - held_lo) * {s.in_row}, (size_t)keep * {s.in_row});",
        "            }",
        f"            memcpy(window + keep * {s.in_row}, src + (lo + keep) * {s.in_row}, "
        f"(size_t)(hi - lo - keep) * {s.in_row});",
        "            held_lo = lo;",
        "            held_hi = hi;",
        "            chunk_params.pad_h = lo - top;",
        *(["            chunk_params.scratch_kept = y > 0; /* the first chunk's scratch is reused */"]
          if ctype in KEEPS_SCRATCH else []),
        "            chunk_in.h = hi - lo;",
        "            chunk_out.h = rows;",
        f"            status = {fn}({', '.join(args)});",
        "            if (status != ML_OK) {",
        "                return (int)status;",
        "            }",
        "        }",
        "    }",
    ]
