"""Randomized differential campaign: random int8 and int16 layers, ops and small graphs, each
compiled, built for the given targets (the host, or emulated Cortex-M cores) and compared byte
for byte with TFLM on random inputs (`microlith verify`).

The unit tests pin chosen edge cases; this walks the shape space around them: odd sizes, images
smaller than their windows, batch 2, strides, dilation, zero points anywhere, fused ReLU layers
at zero point -128 (the DSP routines' ReLU form), in place chains, the 16x8 (int16 activation)
layers, and every --optimize mode; elementwise ops over random broadcasts, a residual block with a
classifier head, chains of data-movement and activation ops, transposed convolutions, one op of
the math, reduction and matrix families (ELU to BATCH_MATMUL) at log-uniform scales, and one of
the slicing family (STRIDED_SLICE with masks, GATHER, MIRROR_PAD, SPLIT_V, PACK, ...).
It is how the bugs of the assembly paths that no test named were found (a 4x5 window over a 2x3
image faulted the Cortex-M4 build). Reproducible: model i of seed S is the same on every run.

    python3 bench/campaign.py --count 200 --seed 1 --targets cortex-m4,cortex-m0
    python3 bench/campaign.py --count 50 --seed 7 --kinds relu,chain --save /tmp/found

Prints a table of models, verifications, mismatches and errors per kind and target; --save DIR
writes every failing model there (with what failed in a .txt beside it). Exit status 1 when
anything failed.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from microlith import api  # noqa: E402
from microlith.targets import core_of  # noqa: E402
from microlith.frontends.tflite_writer import write_tflite  # noqa: E402
from microlith.ir import Graph, MicrolithError, Node, Op  # noqa: E402
from opmodels import act, const, single_op  # noqa: E402
from test_conv import out_size  # noqa: E402
from test_matmul import bmm_graph, tconv_graph  # noqa: E402
from test_reduce import arg_graph, cumsum_graph, l2norm_graph, log_softmax_graph, reduce_graph  # noqa: E402

KINDS = ("conv", "dw", "relu", "fc", "pool", "chain", "int16", "eltwise", "residual", "graph", "tconv",
         "math", "slice")
DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33")  # the cores (of a core or board target) with ml_conv_dsp_pairs
MODES = ("balanced", "speed", "size")
IN_SCALE = 0.04


def _conv(rng, name, x, *, depthwise, out_c, kernel, stride, dilation, padding, activation, out_zp):
    """One CONV_2D or DEPTHWISE_CONV_2D after x, weights per channel, an output scale that spreads
    the outputs over most of the int8 range (or, now and then, a much smaller or larger one)."""
    n, h, w, c = x.shape
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = kernel, stride, dilation
    if depthwise:
        out_c, w_shape, axis, taps = c, (1, k_h, k_w, c), 3, k_h * k_w
    else:
        w_shape, axis, taps = (out_c, k_h, k_w, c), 0, k_h * k_w * c
    w_scales = rng.uniform(0.002, 0.02, out_c)
    in_scale = x.quant.scale[0]
    weights = const(name + "_w", rng.integers(-127, 128, w_shape), scale=w_scales, axis=axis, dtype="int8")
    bias = const(name + "_b", rng.integers(-20 * taps * 64, 20 * taps * 64, out_c),
                 scale=in_scale * w_scales, dtype="int32")
    out_scale = in_scale * float(np.mean(w_scales)) * 75 * 73 * math.sqrt(taps) / 50
    out_scale *= float(rng.choice([1, 1, 1, 0.1, 8]))
    shape = (n, out_size(h, k_h, s_h, d_h, padding), out_size(w, k_w, s_w, d_w, padding), out_c)
    y = act(name, shape, out_scale, out_zp)
    attrs = dict(padding=padding, stride_h=s_h, stride_w=s_w, dilation_h=d_h, dilation_w=d_w,
                 activation=activation)
    if depthwise:
        attrs["depth_multiplier"] = 1
    op = Op.DEPTHWISE_CONV_2D if depthwise else Op.CONV_2D
    return Node(op, (x.name, weights.name, bias.name), (y.name,), attrs), [weights, bias, y]


def _window(rng, h, w, square3=0.5):
    """A kernel, stride, dilation and padding that fit an h x w input."""
    kernel = (3, 3) if rng.random() < square3 else (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    stride = (1, 1) if rng.random() < 0.5 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilation = (1, 1) if rng.random() < 0.85 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = "VALID" if rng.random() < 0.3 else "SAME"
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if padding == "VALID" and (spans[0] > h or spans[1] > w):
        padding = "SAME"
    return dict(kernel=kernel, stride=stride, dilation=dilation, padding=padding)


def _graph(name, tensors, nodes, x, y):
    return Graph(name, {t.name: t for t in tensors}, nodes, [x.name], [y.name])


def model(kind: str, rng) -> tuple[Graph, str]:
    """A random model of this kind and a one-line description of it."""
    batch = int(rng.choice([1, 1, 2]))
    if kind in ("conv", "dw", "relu"):
        h, w = int(rng.integers(1, 26)), int(rng.integers(1, 26))
        c = int(rng.choice([1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 64]))
        depthwise = kind == "dw" or (kind == "relu" and rng.random() < 0.5)
        if depthwise and c < 2:
            c = 8
        win = _window(rng, h, w)
        relu = kind == "relu"
        activation = str(rng.choice(["RELU", "RELU6"] if relu else ["NONE", "RELU", "RELU6"]))
        x = act("x", (batch, h, w, c), IN_SCALE, int(rng.integers(-128, 128)))
        node, ts = _conv(rng, "y", x, depthwise=depthwise, out_c=int(rng.integers(1, 70)),
                         activation=activation, out_zp=-128 if relu else int(rng.integers(-128, 128)),
                         **win)
        return _graph(kind, [x, *ts], [node], x, ts[-1]), \
            f"{node.op.value} x{x.shape} out{ts[-1].shape} {win} {activation} zp {ts[-1].quant.zero_point[0]}"
    if kind == "fc":
        depth, units = int(rng.integers(1, 300)), int(rng.integers(1, 80))
        x = act("x", (batch, depth), IN_SCALE, int(rng.integers(-128, 128)))
        w_scale = float(rng.uniform(0.002, 0.02))
        wt = const("w", rng.integers(-127, 128, (units, depth)), scale=[w_scale], dtype="int8")
        b = const("b", rng.integers(-5000, 5000, units), scale=[IN_SCALE * w_scale], dtype="int32")
        y = act("y", (batch, units), IN_SCALE * w_scale * 100 * math.sqrt(depth), int(rng.integers(-128, 128)))
        fc_act = str(rng.choice(["NONE", "RELU"]))
        node = Node(Op.FULLY_CONNECTED, ("x", "w", "b"), ("y",), dict(activation=fc_act))
        return _graph(kind, [x, wt, b, y], [node], x, y), f"FULLY_CONNECTED {depth} -> {units} batch {batch} {fc_act}"
    if kind == "pool":
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        c = int(rng.choice([1, 3, 4, 8, 16, 24, 32, 40, 64]))
        fh, fw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        padding = "VALID" if rng.random() < 0.4 and fh <= h and fw <= w else "SAME"
        op = Op.MAX_POOL_2D if rng.random() < 0.5 else Op.AVERAGE_POOL_2D
        wide = rng.random() < 0.25   # 16x8 mode: int16 at zero point 0
        dt, zp, scale = ("int16", 0, IN_SCALE / 256) if wide else ("int8", int(rng.integers(-128, 128)), IN_SCALE)
        x = act("x", (batch, h, w, c), scale, zp, dt)
        y = act("y", (batch, out_size(h, fh, sh, 1, padding), out_size(w, fw, sw, 1, padding), c), scale, zp, dt)
        activation = str(rng.choice(["NONE", "RELU", "RELU6"]))
        node = Node(op, ("x",), ("y",), dict(padding=padding, stride_h=sh, stride_w=sw, filter_h=fh,
                                             filter_w=fw, activation=activation))
        return _graph(kind, [x, y], [node], x, y), f"{dt} {op.value} {x.shape} {fh}x{fw}/{sh}x{sw} {padding} " \
            f"{activation}"
    if kind == "int16":
        return _int16(rng, batch)
    if kind == "eltwise":
        return _eltwise(rng)
    if kind == "residual":
        return _residual(rng, batch)
    if kind == "graph":
        return _movement_chain(rng, batch)
    if kind == "tconv":
        return _tconv(rng, batch)
    if kind == "math":
        return _math(rng, batch)
    if kind == "slice":
        return _slice(rng, batch)
    # chain: conv, depthwise 3x3, pointwise, depthwise 3x3 (stride 1 or 2), pointwise; all fused
    # ReLU at zero point -128 (the ReLU form) or zero points anywhere
    relu = rng.random() < 0.5
    c = int(rng.choice([4, 8, 12, 16, 20, 32]))
    c2 = int(rng.choice([c, 2 * c]))
    x = act("x", (batch, int(rng.integers(3, 30)), int(rng.integers(2, 14)), int(rng.choice([1, 3, 4, 8]))),
             IN_SCALE, int(rng.integers(-128, 128)))
    specs = [(False, c, (3, 3), 1), (True, c, (3, 3), int(rng.choice([1, 1, 2]))), (False, c2, (1, 1), 1),
             (True, c2, (3, 3), 1), (False, int(rng.integers(2, 12)), (1, 1), 1)]
    tensors, nodes, cur = [x], [], x
    for k, (dw, out_c, kernel, s) in enumerate(specs):
        node, ts = _conv(rng, f"t{k}", cur, depthwise=dw, out_c=out_c, kernel=kernel, stride=(s, s),
                         dilation=(1, 1), padding="SAME",
                         activation="RELU" if relu else str(rng.choice(["NONE", "RELU"])),
                         out_zp=-128 if relu else int(rng.integers(-128, 128)))
        nodes.append(node)
        tensors += ts
        cur = ts[-1]
    return _graph("chain", tensors, nodes, x, cur), f"chain of 5 from {x.shape}, channels {c}/{c2}, " \
        + ("fused ReLU at zero point -128" if relu else "zero points anywhere")


def _int16(rng, batch):
    """TFLite's 16x8 mode: int16 activations at zero point 0, int8 weights, an int64 bias (now and
    then int32, not for the depthwise convolution, or none): a CONV_2D, DEPTHWISE_CONV_2D (depth
    multiplier 1 or 2) or FULLY_CONNECTED, outputs spread over the int16 range (now and then
    saturating)."""
    op = [Op.CONV_2D, Op.DEPTHWISE_CONV_2D, Op.FULLY_CONNECTED][int(rng.integers(3))]
    in_scale = 0.0004
    bias_type = str(rng.choice(["int64", "int64", "int32", "none"]))
    if op is Op.DEPTHWISE_CONV_2D and bias_type == "int32":
        bias_type = "int64"   # TFLM's int16 depthwise reads any bias as int64; microlith refuses int32
    if op is Op.FULLY_CONNECTED:
        depth, units = int(rng.integers(1, 200)), int(rng.integers(1, 40))
        x = act("x", (batch, depth), in_scale, 0, "int16")
        w_shape, axis, taps, out_c, attrs = (units, depth), 0, depth, units, dict(activation="NONE")
        y_shape = (batch, units)
        desc = f"int16 FULLY_CONNECTED {depth} -> {units}"
    else:
        h, w, c = int(rng.integers(1, 14)), int(rng.integers(1, 14)), int(rng.choice([1, 2, 3, 4, 8, 16]))
        win = _window(rng, h, w)
        (k_h, k_w), (s_h, s_w), (d_h, d_w), padding = win["kernel"], win["stride"], win["dilation"], win["padding"]
        x = act("x", (batch, h, w, c), in_scale, 0, "int16")
        mult = int(rng.choice([1, 2])) if op is Op.DEPTHWISE_CONV_2D else 1
        out_c = c * mult if op is Op.DEPTHWISE_CONV_2D else int(rng.integers(1, 24))
        if op is Op.DEPTHWISE_CONV_2D:
            w_shape, axis, taps = (1, k_h, k_w, out_c), 3, k_h * k_w
        else:
            w_shape, axis, taps = (out_c, k_h, k_w, c), 0, k_h * k_w * c
        attrs = dict(padding=padding, stride_h=s_h, stride_w=s_w, dilation_h=d_h, dilation_w=d_w,
                     activation=str(rng.choice(["NONE", "RELU"])))
        if op is Op.DEPTHWISE_CONV_2D:
            attrs["depth_multiplier"] = mult
        y_shape = (batch, out_size(h, k_h, s_h, d_h, padding), out_size(w, k_w, s_w, d_w, padding), out_c)
        desc = f"int16 {op.value} x{x.shape} out{y_shape} {win} {attrs['activation']}"
    w_scales = rng.uniform(0.001, 0.006, out_c)
    wt = const("w", rng.integers(-127, 128, w_shape), scale=w_scales, axis=axis, dtype="int8")
    out_scale = in_scale * float(np.mean(w_scales)) * 172 * math.sqrt(taps)  # sums' spread: 8000
    out_scale *= float(rng.choice([1, 1, 1, 0.01]))
    y = act("y", y_shape, out_scale, 0, "int16")
    inputs = ["x", "w"]
    tensors = [x, wt, y]
    if bias_type != "none":
        tensors.append(const("b", rng.integers(-10 ** 6, 10 ** 6, out_c), scale=in_scale * w_scales, dtype=bias_type))
        inputs.append("b")
    node = Node(op, tuple(inputs), ("y",), attrs)
    return _graph("int16", tensors, [node], x, y), f"{desc}, bias {bias_type}"


ELTWISE = (Op.ADD, Op.SUB, Op.MUL, Op.MAXIMUM, Op.MINIMUM, Op.SQUARED_DIFFERENCE)


def _eltwise(rng):
    """A binary op over broadcast shapes of rank 0-4 (each operand's dimension a drawn size or
    1, now and then of lower rank), scales and zero points anywhere, a fused activation where
    the op has one; int8, or int16 (16x8 mode) now and then. MAXIMUM and MINIMUM compare stored
    values: one quantization for all three."""
    op = ELTWISE[int(rng.integers(len(ELTWISE)))]
    wide = rng.random() < 0.3   # 16x8 mode: int16 at zero point 0 (TFLM's ADD and SUB take any)
    dt = "int16" if wide else "int8"
    rank = int(rng.integers(0, 5))
    out = tuple(int(rng.choice([1, 2, 3, 4, 5, 7, 8, 16, 33])) for _ in range(rank))

    def operand():
        shape = tuple(d if rng.random() < 0.6 else 1 for d in out)
        if shape and rng.random() < 0.2:
            shape = shape[int(rng.integers(0, len(shape) + 1)):]   # lower rank, aligned right
        return shape

    s1, s2 = (float(10 ** rng.uniform(-3, -0.5)) / (256 if wide else 1) for _ in range(2))
    z1, z2, zo = (int(rng.integers(-128, 128)) if not wide or op in (Op.ADD, Op.SUB) and rng.random() < 0.3 else 0
                  for _ in range(3))
    if op in (Op.MAXIMUM, Op.MINIMUM):
        s2, z2, so, zo = s1, z1, s1, z1
    elif op is Op.MUL:
        so = s1 * s2 * (32768 if wide else 128) * float(rng.choice([0.1, 1, 1, 10]))
    elif op is Op.SQUARED_DIFFERENCE:
        so = max(s1, s2) ** 2 * (32768 if wide else 256) * float(rng.choice([0.1, 1, 1, 10]))
    else:
        so = 2 * max(s1, s2) * float(rng.choice([0.1, 1, 1, 4]))
    a, b = act("a", operand(), s1, z1, dt), act("b", operand(), s2, z2, dt)
    out = tuple(np.broadcast_shapes(a.shape, b.shape))   # a dimension of 1 in both stays 1
    y = act("y", out, so, zo, dt)
    attrs = {}
    if op in (Op.ADD, Op.SUB, Op.MUL):
        attrs["activation"] = str(rng.choice(["NONE", "NONE", "RELU", "RELU6"]))
    node = Node(op, ("a", "b"), ("y",), attrs)
    g = Graph("eltwise", {t.name: t for t in (a, b, y)}, [node], ["a", "b"], ["y"])
    return g, f"{dt} {op.value} {a.shape} {b.shape} -> {out} {attrs.get('activation', '')}"


def _residual(rng, batch):
    """A ResNet block and a classifier head: conv 3x3 (ReLU), conv 3x3, ADD of the block's input
    (ReLU), then a global AVERAGE_POOL_2D or MEAN, FULLY_CONNECTED and SOFTMAX. The skip keeps the
    input alive across both convolutions, which the planner and the in-place chunks must honour."""
    h, w, c = int(rng.integers(2, 24)), int(rng.integers(2, 24)), int(rng.choice([4, 8, 12, 16, 32]))
    x = act("x", (batch, h, w, c), IN_SCALE, int(rng.integers(-128, 128)))
    win = dict(kernel=(3, 3), stride=(1, 1), dilation=(1, 1), padding="SAME")
    relu = rng.random() < 0.5
    n1, t1 = _conv(rng, "c1", x, depthwise=False, out_c=c, activation="RELU",
                   out_zp=-128 if relu else int(rng.integers(-128, 128)), **win)
    n2, t2 = _conv(rng, "c2", t1[-1], depthwise=False, out_c=c, activation="NONE",
                   out_zp=int(rng.integers(-128, 128)), **win)
    s_add = 2 * max(IN_SCALE, t2[-1].quant.scale[0]) * float(rng.choice([0.5, 1, 2]))
    added = act("sum", x.shape, s_add, -128 if relu else int(rng.integers(-128, 128)))
    nodes = [n1, n2, Node(Op.ADD, ("x", t2[-1].name), ("sum",), dict(activation="RELU"))]
    tensors = [x, *t1, *t2, added]
    pooled = act("pooled", (batch, 1, 1, c), s_add * float(rng.choice([0.5, 1])), int(rng.integers(-128, 128)))
    if rng.random() < 0.5:
        nodes.append(Node(Op.AVERAGE_POOL_2D, ("sum",), ("pooled",),
                          dict(padding="VALID", stride_h=1, stride_w=1, filter_h=h, filter_w=w, activation="NONE")))
        pooled = act("pooled", (batch, 1, 1, c), s_add, added.quant.zero_point[0])   # pooling keeps it
    else:
        axis = const("axis", np.array([1, 2], np.int32))
        tensors.append(axis)
        nodes.append(Node(Op.MEAN, ("sum", "axis"), ("pooled",), dict(keep_dims=True)))
    flat = act("flat", (batch, c), pooled.quant.scale[0], pooled.quant.zero_point[0])
    shape = const("shape", np.array([batch, c], np.int32))
    classes = int(rng.integers(2, 12))
    w_scale = float(rng.uniform(0.002, 0.02))
    wt = const("fc_w", rng.integers(-127, 128, (classes, c)), scale=[w_scale], dtype="int8")
    b = const("fc_b", rng.integers(-3000, 3000, classes), scale=[flat.quant.scale[0] * w_scale], dtype="int32")
    logits = act("logits", (batch, classes), flat.quant.scale[0] * w_scale * 60 * math.sqrt(c),
                 int(rng.integers(-128, 128)))
    probs = act("probs", (batch, classes), 1 / 256, -128)
    nodes += [Node(Op.RESHAPE, ("pooled", "shape"), ("flat",), {}),
              Node(Op.FULLY_CONNECTED, ("flat", "fc_w", "fc_b"), ("logits",), dict(activation="NONE")),
              Node(Op.SOFTMAX, ("logits",), ("probs",), dict(beta=1.0))]
    tensors += [pooled, flat, shape, wt, b, logits, probs]
    return _graph("residual", tensors, nodes, x, probs), \
        f"residual block {x.shape} ({'ReLU at -128' if relu else 'zero points anywhere'}), " \
        f"{nodes[3].op.value} head, {classes} classes"


def _movement_chain(rng, batch):
    """Two to five ops drawn from the data-movement and activation families on a 4-D tensor (each
    keeps it 4-D):
    PAD, TRANSPOSE, CONCATENATION (with the graph's input or with itself), RESIZE_NEAREST_NEIGHBOR,
    MEAN, LOGISTIC, TANH, SOFTMAX, LEAKY_RELU and HARD_SWISH, each with random parameters. Movement
    ops keep their input's quantization (TFLM requantizes none of them); the others get the output
    quantization TFLite fixes for them or a random one."""
    wide = rng.random() < 0.3   # 16x8 mode: int16 at zero point 0, no HARD_SWISH (TFLM has none)
    dt = "int16" if wide else "int8"

    def zp():
        return 0 if wide else int(rng.integers(-128, 128))

    x = act("x", (batch, int(rng.integers(1, 12)), int(rng.integers(1, 12)), int(rng.integers(1, 17))),
            IN_SCALE / (256 if wide else 1), zp(), dt)
    tensors, nodes, cur, steps = [x], [], x, []
    for k in range(int(rng.integers(2, 6))):
        s, z, shape = cur.quant.scale[0], cur.quant.zero_point[0], cur.shape
        name, what = f"t{k}", str(rng.choice(["pad", "transpose", "concat", "resize", "mean", "logistic",
                                                "tanh", "softmax", "leaky"] + ([] if wide else ["hswish"])))
        ins, attrs, extra = [cur.name], {}, []
        if what == "pad":
            pads = rng.integers(0, 3, (len(shape), 2))
            extra = [const(name + "_p", pads.astype(np.int32))]
            out = act(name, tuple(int(d + a + b) for d, (a, b) in zip(shape, pads)), s, z, dt)
            op = Op.PAD
        elif what == "transpose":
            perm = rng.permutation(len(shape))
            extra = [const(name + "_perm", perm.astype(np.int32))]
            out, op = act(name, tuple(shape[i] for i in perm), s, z, dt), Op.TRANSPOSE
        elif what == "concat":
            axis = int(rng.integers(0, len(shape)))
            fits = x.quant == cur.quant and all(a == b for i, (a, b) in enumerate(zip(x.shape, shape)) if i != axis)
            other = x if fits and rng.random() < 0.5 else cur
            ins = [cur.name, other.name]
            out = act(name, tuple(d + (other.shape[i] if i == axis else 0) for i, d in enumerate(shape)), s, z, dt)
            op, attrs = Op.CONCATENATION, dict(axis=axis, activation="NONE")
        elif what == "resize":
            size = (int(rng.integers(1, 13)), int(rng.integers(1, 13)))
            flags = [(False, False), (True, False), (False, True), (True, True)][int(rng.integers(4))]
            extra = [const(name + "_size", np.array(size, np.int32))]
            out = act(name, (shape[0], size[0], size[1], shape[3]), s, z, dt)
            op, attrs = Op.RESIZE_NEAREST_NEIGHBOR, dict(align_corners=flags[0], half_pixel_centers=flags[1])
        elif what == "mean":
            extra = [const(name + "_axes", np.array([1, 2], np.int32))]
            out = act(name, (shape[0], 1, 1, shape[3]), s * float(rng.choice([0.5, 1, 2])), zp(), dt)
            op, attrs = Op.MEAN, dict(keep_dims=True)
        elif what in ("logistic", "tanh", "softmax"):
            op = {"logistic": Op.LOGISTIC, "tanh": Op.TANH, "softmax": Op.SOFTMAX}[what]
            if wide:
                out = act(name, shape, 1 / 32768, 0, dt)
            else:
                out = act(name, shape, 1 / 128, 0) if op is Op.TANH else act(name, shape, 1 / 256, -128)
            if op is Op.SOFTMAX:
                attrs = dict(beta=float(rng.choice([1.0, 1.0, 0.5, 2.0])))
        else:
            op = Op.LEAKY_RELU if what == "leaky" else Op.HARD_SWISH
            out = act(name, shape, s * float(rng.uniform(0.3, 2)), zp(), dt)
            if op is Op.LEAKY_RELU:
                attrs = dict(alpha=float(rng.choice([0.1, 0.2, 0.01, 0.5])))
        for t in extra:
            ins.append(t.name)
        nodes.append(Node(op, tuple(ins), (out.name,), attrs))
        tensors += [*extra, out]
        steps.append(op.value)
        cur = out
    return _graph("graph", tensors, nodes, x, cur), f"{dt}: {' -> '.join(steps)} from {x.shape}"


def _tconv(rng, batch):
    """A TRANSPOSE_CONV (the tests' tconv_graph) with a random kernel, stride, padding, activation,
    zero points, per-tensor or per-channel weights and a bias present, absent or omitted; int8, or
    16x8 now and then."""
    wide = rng.random() < 0.3
    x_shape = (batch, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 17)))
    kernel = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    kw = dict(stride=stride, padding=str(rng.choice(["SAME", "VALID"])),
              activation=str(rng.choice(["NONE", "RELU", "RELU6"])),
              per_channel=bool(rng.random() < 0.7), bias=[True, True, False, "omit"][int(rng.integers(4))],
              dtype="int16" if wide else "int8", seed=int(rng.integers(1 << 30)))
    if not wide:
        kw.update(in_zp=int(rng.integers(-128, 128)), out_zp=int(rng.integers(-128, 128)))
    return tconv_graph(x_shape, int(rng.integers(1, 20)), kernel, **kw), f"{kw['dtype']} TRANSPOSE_CONV x{x_shape} kernel {kernel} {kw['padding']} stride {stride} " \
              f"{kw['activation']} bias {kw['bias']}"


MATH_OPS = ("elu", "abs", "rsqrt", "prelu", "div", "quantize", "relu", "log_softmax", "l2norm", "reduce",
            "sum", "cumsum", "arg", "batch_matmul")


def _scale(rng, lo, hi):
    """A scale drawn log-uniformly from [lo, hi]: the multipliers and shifts derived from it land
    anywhere, not only at the two scale pairs tests/test_math.py pins where float32 and double
    derivations part."""
    return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


def _math(rng, batch):
    """One op of the math, reduction and matrix families on a random shape, with scales drawn
    log-uniformly and zero points anywhere (int16: 0, where TFLM's kernel wants it): ELU, ABS,
    RSQRT (zero point -128: TFLM fails on a negative input), PRELU (alpha a constant or an input),
    DIV, QUANTIZE between int8 and int16, RELU and RELU6 with a rescale, LOG_SOFTMAX,
    L2_NORMALIZATION, REDUCE_MAX/MIN, SUM, CUMSUM, ARG_MAX/MIN and BATCH_MATMUL (the tests'
    builders, tests/test_reduce.py and test_matmul.py). Output scales follow the op's range times
    a random factor, so outputs both saturate and use their range."""
    what = MATH_OPS[int(rng.integers(len(MATH_OPS)))]
    rank = int(rng.integers(1, 5))
    shape = (batch,) * (rank > 1) + tuple(int(rng.choice([1, 2, 3, 5, 8, 13, 16, 33])) for _ in range(rank - 1)) \
        if rank > 1 else (int(rng.choice([1, 7, 64, 200])),)
    zp = lambda: int(rng.integers(-128, 128))  # noqa: E731
    si, zi = _scale(rng, 0.002, 0.5), zp()
    span = lambda lo, hi: (hi - lo) / 255 * _scale(rng, 0.4, 2.5)  # noqa: E731  an output scale for [lo, hi]
    lo, hi = (-128 - zi) * si, (127 - zi) * si   # the input's real range
    x = act("x", shape, si, zi)
    if what == "elu":
        g = single_op(Op.ELU, [x], [act("y", shape, span(max(lo, -1.0), max(hi, 0.01)), zp())])
    elif what == "abs":
        if rng.random() < 0.3:
            s16 = si / 256
            g = single_op(Op.ABS, [act("x", shape, s16, 0, "int16")],
                          [act("y", shape, s16 * _scale(rng, 0.3, 3), 0, "int16")])
        else:
            g = single_op(Op.ABS, [x], [act("y", shape, span(0, max(-lo, hi)), zp())])
    elif what == "rsqrt":
        x = act("x", shape, si, -128)
        g = single_op(Op.RSQRT, [x], [act("y", shape, span(0, 1 / math.sqrt(si)), zp())])
    elif what == "prelu":
        a_shape = shape[-1:] if rng.random() < 0.5 else tuple(d if rng.random() < 0.5 else 1 for d in shape)
        sa, za = _scale(rng, 0.001, 0.02), zp()
        alpha = const("alpha", rng.integers(-128, 128, a_shape), scale=sa, zp=za, dtype="int8") \
            if rng.random() < 0.6 else act("alpha", a_shape, sa, za)
        amax = 255 * sa   # |alpha| at most; negative inputs (lo <= 0) give alpha * x in +-lo * amax
        g = single_op(Op.PRELU, [x, alpha], [act("y", shape, span(lo * amax, max(hi, -lo * amax)), zp())])
    elif what == "div":
        b_shape = tuple(d if rng.random() < 0.6 else 1 for d in shape)
        sb, zb = _scale(rng, 0.005, 0.5), zp()
        b = act("b", b_shape, sb, zb)
        g = single_op(Op.DIV, [x, b], [act("y", shape, si / sb * _scale(rng, 0.05, 3), zp())],
                      dict(activation=str(rng.choice(["NONE", "NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))))
    elif what == "quantize":
        src, dst = (str(rng.choice(["int8", "int8", "int16"])) for _ in range(2))
        s_in = si / (256 if src == "int16" else 1)
        ratio = _scale(rng, 0.05, 20) * (256 if src == "int8" and dst == "int16" else 1) \
            / (256 if src == "int16" and dst == "int8" else 1)
        g = single_op(Op.QUANTIZE, [act("x", shape, s_in, 0 if src == "int16" else zi, src)],
                      [act("y", shape, s_in / ratio, 0 if dst == "int16" else zp(), dst)])
    elif what == "relu":
        op = (Op.RELU, Op.RELU6)[int(rng.integers(2))]
        if rng.random() < 0.3:
            s16 = si / 256
            g = single_op(op, [act("x", shape, s16, 0, "int16")],
                          [act("y", shape, s16 * _scale(rng, 0.3, 3), 0, "int16")])
        else:
            g = single_op(op, [x], [act("y", shape, span(0.0, max(hi, 0.01) if op is Op.RELU else 6.0), zp())])
    elif what == "log_softmax":
        g = log_softmax_graph(shape, _scale(rng, 0.004, 2.0), zi)
    elif what == "l2norm":
        g = l2norm_graph(shape, si, zi)
    elif what in ("reduce", "sum"):
        axes = [i for i in range(rank) if rng.random() < 0.5] or [rank - 1]
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]   # negative axes now and then
        count = int(np.prod([shape[a] for a in axes]))
        op = Op.SUM if what == "sum" else (Op.REDUCE_MAX, Op.REDUCE_MIN)[int(rng.integers(2))]
        out_q = (si * math.sqrt(count) * _scale(rng, 0.5, 4), zp()) if op is Op.SUM else (si, zi)
        g = reduce_graph(op, shape, axes, bool(rng.random() < 0.5), (si, zi), out_q)
    elif what == "cumsum":
        axis = int(rng.integers(-rank, rank))
        g = cumsum_graph(shape, axis, (si, zi), (si * math.sqrt(shape[axis]) * _scale(rng, 0.5, 4), zp()),
                         exclusive=bool(rng.random() < 0.5), reverse=bool(rng.random() < 0.5))
    elif what == "arg":
        g = arg_graph((Op.ARG_MAX, Op.ARG_MIN)[int(rng.integers(2))], shape, int(rng.integers(-rank, rank)), zi)
    else:
        wide = rng.random() < 0.3
        rows, depth, cols = (int(rng.integers(1, 20)) for _ in range(3))
        bshape = tuple(int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3))))
        adj_x, adj_y = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
        lhs = bshape + ((depth, rows) if adj_x else (rows, depth))
        rhs = tuple(d if rng.random() < 0.6 else 1 for d in bshape) + ((cols, depth) if adj_y else (depth, cols))
        if rng.random() < 0.3:
            rhs = rhs[-2:]   # a rank-2 right operand under a batched left one
        kw = dict(adj_x=adj_x, adj_y=adj_y, rhs_const=bool(rng.random() < 0.4), dtype="int16" if wide else "int8",
                  seed=int(rng.integers(1 << 30)))
        if not wide:
            kw.update(lhs_zp=zp(), rhs_zp=zp(), out_zp=zp())
        g = bmm_graph(lhs, rhs, **kw)
    node = g.nodes[0]
    ins = ", ".join(f"{g.t(n).dtype}{list(g.t(n).shape)}" for n in node.inputs if n)
    return g, f"{node.op.value}({ins}) -> {g.t(node.outputs[0]).dtype}{list(g.t(node.outputs[0]).shape)} " \
        f"{node.attrs or ''}"


def _strided_slice_shape(shape, begin, end, strides, begin_mask, end_mask, shrink):
    """The output shape of TFLite's STRIDED_SLICE (numpy's slicing, which it follows; a shrunk axis
    is an index and drops out). Derived here, not taken from microlith's ops/shape.py: the model
    declares it, and microlith and TFLM must both agree with it."""
    out = []
    for i, d in enumerate(shape):
        if shrink >> i & 1:
            continue
        b = None if begin_mask >> i & 1 else begin[i]
        e = None if end_mask >> i & 1 else end[i]
        out.append(len(range(*slice(b, e, strides[i]).indices(d))))
    return tuple(out)


def _slice(rng, batch):
    """One op of the slicing and rearranging family on a random shape, zero point anywhere:
    STRIDED_SLICE (begins and ends anywhere, out of range too, strides of either sign, begin, end
    and shrink masks), GATHER (constant indices of rank 0-2 on any axis), MIRROR_PAD (REFLECT and
    SYMMETRIC to their limits), DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPLIT_V and PACK; int16 now and
    then where TFLM's kernel takes it (STRIDED_SLICE, SPLIT_V, PACK)."""
    what = str(rng.choice(["strided_slice", "strided_slice", "gather", "mirror_pad", "depth_to_space",
                           "space_to_depth", "split_v", "pack"]))
    rank = int(rng.integers(1, 5))
    shape = tuple(int(rng.choice([1, 2, 3, 4, 5, 7, 9, 16])) for _ in range(rank))
    wide = what in ("strided_slice", "split_v", "pack") and rng.random() < 0.3
    dt, zp = ("int16", 0) if wide else ("int8", int(rng.integers(-128, 128)))
    s_x = IN_SCALE / (256 if wide else 1)
    x = act("x", shape, s_x, zp, dt)
    i32 = lambda v: np.array(v, np.int32)  # noqa: E731
    if what == "strided_slice":
        strides = [int(rng.choice([1, 1, 2, 3, -1, -2])) for _ in shape]
        begin = [int(rng.integers(-d - 2, d + 2)) for d in shape]
        end = [int(rng.integers(-d - 2, d + 2)) for d in shape]
        bm, em = (int(rng.integers(0, 1 << rank)) for _ in range(2))
        shrink = 0
        for i, d in enumerate(shape):
            if rng.random() < 0.2:   # an index in range, no masks on that axis
                shrink |= 1 << i
                begin[i], end[i], strides[i] = (k := int(rng.integers(-d, d))), k + 1 if k != -1 else 0, 1
                bm &= ~(1 << i)
                em &= ~(1 << i)
        for i in range(rank):   # an axis the slice would leave empty spans its whole length instead
            if not shrink >> i & 1 and 0 in _strided_slice_shape(shape[i:i + 1], begin[i:i + 1], end[i:i + 1],
                                                                  strides[i:i + 1], bm >> i, em >> i, 0):
                bm, em = bm | 1 << i, em | 1 << i
        oshape = _strided_slice_shape(shape, begin, end, strides, bm, em, shrink)
        attrs = dict(begin_mask=bm, end_mask=em, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=shrink,
                     offset=False)
        g = single_op(Op.STRIDED_SLICE, [x, const("begin", i32(begin)), const("end", i32(end)),
                                         const("strides", i32(strides))], [act("y", oshape, s_x, zp, dt)], attrs)
    elif what == "gather":
        axis = int(rng.integers(-rank, rank))
        a = axis % rank
        idx = i32(rng.integers(0, shape[a], tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(0, 3))))))
        g = single_op(Op.GATHER, [x, const("idx", idx)], [act("y", shape[:a] + idx.shape + shape[a + 1:], s_x, zp)],
                      dict(axis=axis, batch_dims=0))
    elif what == "mirror_pad":
        mode = str(rng.choice(["REFLECT", "SYMMETRIC"]))
        top = lambda d: d - 1 if mode == "REFLECT" else d  # noqa: E731
        pads = [[int(rng.integers(0, top(d) + 1)), int(rng.integers(0, top(d) + 1))] for d in shape]
        oshape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
        g = single_op(Op.MIRROR_PAD, [x, const("pads", i32(pads))], [act("y", oshape, s_x, zp)], dict(mode=mode))
    elif what in ("depth_to_space", "space_to_depth"):
        b = int(rng.choice([1, 2, 2, 3]))
        h, w, c = (int(rng.integers(1, 5)) for _ in range(3))
        if what == "depth_to_space":
            shape, oshape, op = (batch, h, w, c * b * b), (batch, h * b, w * b, c), Op.DEPTH_TO_SPACE
        else:
            shape, oshape, op = (batch, h * b, w * b, c), (batch, h, w, c * b * b), Op.SPACE_TO_DEPTH
        g = single_op(op, [act("x", shape, s_x, zp)], [act("y", oshape, s_x, zp)], dict(block_size=b))
    elif what == "split_v":
        axis = int(rng.integers(-rank, rank))
        a = axis % rank
        cuts = np.sort(rng.integers(0, shape[a] + 1, int(rng.integers(0, 3))))
        sizes = [int(v) for v in np.diff(np.concatenate([[0], cuts, [shape[a]]])) if v > 0]
        outs = [act(f"y{k}", tuple(n if i == a else d for i, d in enumerate(shape)), s_x, zp, dt)
                for k, n in enumerate(sizes)]
        g = single_op(Op.SPLIT_V, [x, const("sizes", i32(sizes)), const("axis", i32(axis))], outs,
                      dict(num_splits=len(sizes)))
    else:
        n = int(rng.integers(1, 4))
        axis = int(rng.integers(-rank - 1, rank + 1))
        a = axis + rank + 1 if axis < 0 else axis
        ins = [act(f"x{k}", shape, s_x, zp, dt) for k in range(n)]
        g = single_op(Op.PACK, ins, [act("y", shape[:a] + (n,) + shape[a:], s_x, zp, dt)],
                      dict(values_count=n, axis=axis))
    node = g.nodes[0]
    return g, f"{dt} {node.op.value} {g.t(node.inputs[0]).shape} -> " \
        f"{[g.t(o).shape for o in node.outputs]} {node.attrs or ''}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default="cortex-m4", help="comma-separated: host and core names")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--all-modes", type=float, default=0.3,
                    help="share of models also verified in speed and size mode (the rest: balanced)")
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--save", help="write each failing model here")
    ap.add_argument("--stage-weights", default=None, metavar="free|BYTES",
                    help="as for verify: with a budget, convolution filters are staged, and on DSP cores "
                         "widened for the two-channel routine (ml_conv_dsp_pairs), which the default "
                         "builds of small layers seldom take")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    targets = args.targets.split(",")
    if bad := [k for k in kinds if k not in KINDS]:
        ap.error(f"unknown kind {bad[0]!r}: use {', '.join(KINDS)}")
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    stage = args.stage_weights
    if stage is not None and stage != "free":
        stage = int(stage)
    table = {(k, t): [0, 0, 0, 0] for k in kinds for t in targets}  # models, verified, mismatches, errors
    widened = 0  # verifications on a DSP core with a filter widened for the two-channel routine
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="campaign-") as tmp:
        for i in range(args.count):
            rng = np.random.default_rng([args.seed, i])
            kind = kinds[int(rng.integers(len(kinds)))]
            g, desc = model(kind, rng)
            path = Path(tmp) / f"s{args.seed}_{i}_{kind}.tflite"
            path.write_bytes(write_tflite(g))
            modes = MODES if rng.random() < args.all_modes else MODES[:1]
            for target in targets:
                row = table[(kind, target)]
                row[0] += 1
                for mode in modes:
                    row[1] += 1
                    try:
                        res = api.verify(path, target=target, samples=args.samples, seed=i, optimize=mode,
                                         stage_weights=stage)
                        what = None if res["bit_exact"] else "MISMATCH"
                        if target != "host" and core_of(target)["name"] in DSP_CORES and \
                                (res.get("staged_weights") or {}).get("widened"):
                            widened += 1
                    except MicrolithError as e:
                        what = f"ERROR {e}"
                    if what is None:
                        continue
                    row[2 if what == "MISMATCH" else 3] += 1
                    line = f"model {i} ({kind}) on {target}, --optimize {mode}: {what[:300]}\n  {desc}"
                    print(line, flush=True)
                    if save:
                        (save / path.name).write_bytes(path.read_bytes())
                        with open(save / (path.stem + ".txt"), "a") as f:
                            f.write(line + "\n")
    print(f"\ncampaign seed {args.seed}, {args.count} models, {time.perf_counter() - t0:.0f} s")
    print(f"{'kind':8s} {'target':12s} {'models':>7s} {'verified':>9s} {'mismatches':>11s} {'errors':>7s}")
    for (kind, target), (n, v, m, e) in table.items():
        print(f"{kind:8s} {target:12s} {n:7d} {v:9d} {m:11d} {e:7d}")
    if stage is not None:
        print(f"{widened} verifications ran a filter widened for the two-channel routine (DSP cores)")
    failed = sum(r[2] + r[3] for r in table.values())
    print("campaign: " + (f"{failed} FAILED" if failed else "every verification byte-exact"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
