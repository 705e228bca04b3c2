"""Recurrent layers: GRU and LSTM, unrolled over the (static) sequence into ops TFLM runs in
int8: FULLY_CONNECTED for the input and recurrent projections, LOGISTIC and TANH gates, MUL,
ADD and SUB for the state update, STRIDED_SLICE to take a step, CONCATENATION to stack the
outputs. Semantics are the ONNX operator spec's (gate order z, r, h for GRU and i, o, f, c for
LSTM; both layouts; linear_before_reset; forward, reverse and bidirectional).

The input projections of all steps are one FULLY_CONNECTED per gate over the [S, I] sequence
(the biases of both projections folded into it); each step slices its row. With a constant
initial state (zero, as PyTorch exports it) the first step's recurrent products are folded at
conversion (arith.py), so no op runs on constants. Batch size 1 only (a microcontroller
model's case); sequence_lens must equal the sequence length.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arith
from .shape import concat_tree, strided_slice
from .values import Builder, Val

# Steps (x directions) unrolled at most: each costs about 17 ops (GRU) and their code and
# parameters; far more than any model that fits a microcontroller, and it bounds the graph an
# untrusted file can make.
MAX_UNROLLED_STEPS = 1024
_DEFAULT_ACTIVATIONS = {"GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
_GATES = {"GRU": 3, "LSTM": 4}


@dataclass(frozen=True)
class _Layer:
    """A recurrent node's operands, checked."""
    flat: Val               # the input sequence as [S, I]
    layout: int             # 0: X [S, N, I], Y [S, D, N, H]; 1: X [N, S, I], Y [N, S, D, H]
    steps: int
    dirs: int               # 1, or 2 (bidirectional; direction 1 runs backwards)
    hidden: int
    w: np.ndarray           # [D, gates * H, I]
    r: np.ndarray           # [D, gates * H, H]
    bias: np.ndarray        # [D, 2 * gates * H]: Wb then Rb
    reverse: bool           # direction "reverse"


def _common(b: Builder, node, ins, at) -> _Layer:
    """Checks and operands shared by GRU and LSTM."""
    kind = node.op_type
    x = b.plain(b.need_act(ins[0], "X"))
    if x.rank != 3:
        raise b.fail(f"X must be 3-D, got shape {list(x.shape)}")
    layout = int(at.get("layout", 0))
    if layout not in (0, 1):
        raise b.fail(f"layout {layout} is not 0 or 1")
    steps, batch, n_in = (x.shape if layout == 0 else (x.shape[1], x.shape[0], x.shape[2]))
    if batch != 1:
        raise b.fail(f"batch size {batch}: microlith unrolls recurrent layers for batch size 1 only")
    direction = at.get("direction", "forward")
    if direction not in ("forward", "reverse", "bidirectional"):
        raise b.fail(f"unknown direction '{direction}'")
    dirs = 2 if direction == "bidirectional" else 1
    if steps * dirs > MAX_UNROLLED_STEPS:
        raise b.fail(f"{steps} steps x {dirs} direction(s) would unroll into more than {MAX_UNROLLED_STEPS} "
                     "steps; too long a sequence for a microcontroller model")
    gates = _GATES[kind]
    w = b.need_const(ins[1], "W").astype(np.float32)
    r = b.need_const(ins[2], "R").astype(np.float32)
    hidden = r.shape[-1] if r.ndim == 3 else 0
    if "hidden_size" in at and int(at["hidden_size"]) != hidden:
        raise b.fail(f"hidden_size {at['hidden_size']} does not match R of shape {list(r.shape)}")
    if w.shape != (dirs, gates * hidden, n_in) or r.shape != (dirs, gates * hidden, hidden) or hidden < 1:
        raise b.fail(f"W {list(w.shape)} and R {list(r.shape)} do not fit {dirs} direction(s), {gates} gates "
                     f"and input size {n_in}")
    bias = ins[3] if len(ins) > 3 and ins[3] is not None else np.zeros((dirs, 2 * gates * hidden), np.float32)
    bias = b.need_const(bias, "B").astype(np.float32)
    if bias.shape != (dirs, 2 * gates * hidden):
        raise b.fail(f"B of shape {list(bias.shape)} does not fit {dirs} direction(s) of {gates} gates")
    if len(ins) > 4 and ins[4] is not None:
        lens = b.need_ints(ins[4], "sequence_lens")
        if any(n != steps for n in lens):
            raise b.fail(f"sequence_lens {lens} differ from the sequence length {steps}; only full "
                         "sequences are supported")
    acts = [a.decode() if isinstance(a, bytes) else a for a in at.get("activations", [])]
    if acts and acts != _DEFAULT_ACTIVATIONS[kind] * dirs:
        raise b.fail(f"activations {acts} are not supported (only the defaults "
                     f"{_DEFAULT_ACTIVATIONS[kind]})")
    if "clip" in at:
        raise b.fail("cell clipping (attribute clip) is not supported")
    flat = Val(b.reshape(x, (steps, n_in)), (steps, n_in))  # batch 1: either layout is [S, I] in memory
    return _Layer(flat, layout, steps, dirs, hidden, w, r, bias, direction == "reverse")


def _initial(b: Builder, v, what: str, c: _Layer) -> list[np.ndarray]:
    """Per direction, the [1, H] initial state (a constant; zero when absent)."""
    dirs, hidden = c.dirs, c.hidden
    if v is None:
        return [np.zeros((1, hidden), np.float32)] * dirs
    if isinstance(v, Val):
        raise b.fail(f"{what} is computed at run time; only a constant initial state is supported")
    v = v.astype(np.float32)
    want = (dirs, 1, hidden) if c.layout == 0 else (1, dirs, hidden)
    if v.shape != want:
        raise b.fail(f"{what} of shape {list(v.shape)} does not fit {list(want)}")
    return [v.reshape(dirs, hidden)[d].reshape(1, hidden) for d in range(dirs)]


def _input_projections(b: Builder, c: _Layer, d: int, biases: list[np.ndarray]) -> list[Val]:
    """x @ W_k^T + bias_k for every step at once, one [S, H] value per gate k."""
    w, hidden = c.w[d], c.hidden
    return [arith.dense(b, c.flat, w[k * hidden:(k + 1) * hidden], biases[k]) for k in range(len(biases))]


def _row(b: Builder, v: Val, t: int) -> Val:
    """Step t's [1, H] row of an [S, H] value."""
    return strided_slice(b, v, {0: range(t, t + 1)}, None)


def _order(c: _Layer, d: int) -> range:
    backwards = c.reverse or d == 1
    return range(c.steps - 1, -1, -1) if backwards else range(c.steps)


def _gru_direction(b: Builder, c: _Layer, d: int, h, linear_before_reset: bool) -> dict[int, object]:
    hidden = c.hidden
    wb, rb = c.bias[d][:3 * hidden], c.bias[d][3 * hidden:]
    z_, r_, h_ = (slice(k * hidden, (k + 1) * hidden) for k in range(3))
    rz, rr, rh = c.r[d][z_], c.r[d][r_], c.r[d][h_]
    zeros = np.zeros(hidden, np.float32)
    # Both biases of z and r add to the input projection; Rb_h too unless it sits inside r * (.)
    xz, xr, xh = _input_projections(b, c, d, [wb[z_] + rb[z_], wb[r_] + rb[r_],
                                              wb[h_] + (zeros if linear_before_reset else rb[h_])])
    out = {}
    for t in _order(c, d):
        z = arith.sigmoid(b, arith.add(b, _row(b, xz, t), arith.dense(b, h, rz, zeros)))
        r = arith.sigmoid(b, arith.add(b, _row(b, xr, t), arith.dense(b, h, rr, zeros)))
        if linear_before_reset:
            recurrent = arith.mul(b, r, arith.dense(b, h, rh, rb[h_]))
        else:
            recurrent = arith.dense(b, arith.mul(b, r, h), rh, zeros)
        n = arith.tanh(b, arith.add(b, _row(b, xh, t), recurrent))
        # H = (1 - z) * n + z * H_prev = n + z * (H_prev - n): three ops, two when H_prev is 0
        if isinstance(h, np.ndarray) and not h.any():
            h = arith.sub(b, n, arith.mul(b, z, n))
        else:
            h = arith.add(b, n, arith.mul(b, z, arith.sub(b, h, n)))
        out[t] = h
    return out


def _lstm_direction(b: Builder, c: _Layer, d: int, h, cell) -> tuple[dict[int, object], object]:
    hidden = c.hidden
    gate = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]     # i, o, f, c
    bias = c.bias[d][:4 * hidden] + c.bias[d][4 * hidden:]
    xi, xo, xf, xc = _input_projections(b, c, d, [bias[g] for g in gate])
    ri, ro, rf, rc = (c.r[d][g] for g in gate)
    zeros = np.zeros(hidden, np.float32)
    out = {}
    for t in _order(c, d):
        i = arith.sigmoid(b, arith.add(b, _row(b, xi, t), arith.dense(b, h, ri, zeros)))
        f = arith.sigmoid(b, arith.add(b, _row(b, xf, t), arith.dense(b, h, rf, zeros)))
        g = arith.tanh(b, arith.add(b, _row(b, xc, t), arith.dense(b, h, rc, zeros)))
        o = arith.sigmoid(b, arith.add(b, _row(b, xo, t), arith.dense(b, h, ro, zeros)))
        cell = arith.add(b, arith.mul(b, f, cell), arith.mul(b, i, g))
        h = arith.mul(b, o, arith.tanh(b, cell))
        out[t] = h
    return out, cell


def _as_val(b: Builder, v, what: str) -> Val:
    if not isinstance(v, Val):  # only with an input that cannot reach the output
        raise b.fail(f"{what} does not depend on the input")
    return v


def _stack(b: Builder, parts: list[Val], name: str | None) -> Val:
    """[1, H] values -> [len(parts), H]."""
    if len(parts) == 1:
        return parts[0]
    hidden = parts[0].shape[1]
    out = concat_tree(b, [p.name for p in parts], [p.shape for p in parts], 0, name)
    return Val(out, (len(parts), hidden))


def _outputs(b: Builder, node, c: _Layer, per_dir: list[dict[int, object]], finals: list[list]) -> list:
    """Y ([S, D, 1, H] or [1, S, D, H]) and the final states ([D, 1, H] or [1, D, H])."""
    steps, dirs, hidden, layout = c.steps, c.dirs, c.hidden, c.layout
    outs: list = [None] * len(node.output)
    if node.output[0]:
        ys = [_stack(b, [_as_val(b, seq[t], "Y") for t in range(steps)], None) for seq in per_dir]
        shape = (steps, dirs, 1, hidden) if layout == 0 else (1, steps, dirs, hidden)
        if dirs == 1:
            y = ys[0]
        else:  # [S, H] per direction -> [S, 1, H] -> [S, 2, H]
            parts = [Val(b.reshape(v, (steps, 1, hidden)), (steps, 1, hidden)) for v in ys]
            y = Val(concat_tree(b, [p.name for p in parts], [p.shape for p in parts], 1, None),
                    (steps, 2, hidden))
        outs[0] = Val(b.reshape(y, shape, node.output[0]), shape)
    for k, states in enumerate(finals, start=1):
        if k < len(node.output) and node.output[k]:
            v = _stack(b, [_as_val(b, s, node.output[k]) for s in states], None)
            shape = (dirs, 1, hidden) if layout == 0 else (1, dirs, hidden)
            outs[k] = Val(b.reshape(v, shape, node.output[k]), shape)
    return outs


def gru(b: Builder, node, ins, at) -> list:
    c = _common(b, node, ins, at)
    h0 = _initial(b, ins[5] if len(ins) > 5 else None, "initial_h", c)
    lbr = bool(at.get("linear_before_reset", 0))
    per_dir = [_gru_direction(b, c, d, h0[d], lbr) for d in range(c.dirs)]
    last = [seq[_order(c, d)[-1]] for d, seq in enumerate(per_dir)]
    return _outputs(b, node, c, per_dir, [last])


def lstm(b: Builder, node, ins, at) -> list:
    c = _common(b, node, ins, at)
    if int(at.get("input_forget", 0)):
        raise b.fail("input_forget=1 (coupled input and forget gates) is not supported")
    if len(ins) > 7 and ins[7] is not None and np.any(b.need_const(ins[7], "P")):
        raise b.fail("peephole weights (input P) are not supported")
    h0 = _initial(b, ins[5] if len(ins) > 5 else None, "initial_h", c)
    c0 = _initial(b, ins[6] if len(ins) > 6 else None, "initial_c", c)
    runs = [_lstm_direction(b, c, d, h0[d], c0[d]) for d in range(c.dirs)]
    per_dir = [seq for seq, _ in runs]
    last_h = [seq[_order(c, d)[-1]] for d, seq in enumerate(per_dir)]
    return _outputs(b, node, c, per_dir, [last_h, [cell for _, cell in runs]])
