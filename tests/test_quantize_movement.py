"""The quantizer on the data-movement ops (ops/movement.py) and TRANSPOSE_CONV.

TFLM's int8 movement kernels copy (RESIZE_BILINEAR: interpolate) values without rescaling, so
each output must carry its input's scale and zero point: otherwise TFLM runs the model and
silently computes wrong values (microlith's C agrees with TFLM byte for byte either way, so
the tests also compare TFLM's dequantized output with the float model).
"""

import copy
import dataclasses

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import parse_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Tensor
from microlith.quantize.ptq import quantize_graph
from microlith.reference_float import run_float
from microlith.verify import Oracle

F32 = np.float32


class Model:
    """A float graph built op by op; every op's output is t<k>."""

    def __init__(self, x_shape):
        self.t = {}
        self.nodes = []
        self.x = self.add(Tensor("x", tuple(x_shape), "float32"))

    def add(self, tensor):
        self.t[tensor.name] = tensor
        return tensor.name

    def c(self, name, data, dtype="float32"):
        data = np.asarray(data)
        return self.add(Tensor(name, data.shape, dtype, None, data.astype(dtype)))

    def op(self, kind, ins, shape, attrs=None):
        name = f"t{len(self.nodes)}"
        self.add(Tensor(name, tuple(shape), "float32"))
        self.nodes.append(Node(kind, tuple(ins), (name,), dict(attrs or {}), name=name))
        return name

    def graph(self, out):
        g = Graph("movement", self.t, self.nodes, ["x"], [out])
        g.validate()
        return g


def dequantized(t):
    """A quantized tensor's real values (per-axis scales along its axis)."""
    q = t.quant
    shape = [1] * len(t.shape)
    if len(q.scale) > 1:
        shape[q.axis] = len(q.scale)
    scale = np.array(q.scale, np.float64).reshape(shape)
    zp = np.array(q.zero_point, np.float64).reshape(shape) if len(q.zero_point) > 1 else q.zero_point[0]
    return ((t.data.astype(np.float64) - zp) * scale).astype(F32)


def quantize_and_run(g, tmp_path, rng, tolerance_steps, activations="int8"):
    """Quantize g; check TFLM's int8 (int16) output against the float model run on the
    quantized constants and input (so only the rounding of the int8 kernels remains) to within
    tolerance_steps output steps, and our C against TFLM byte for byte. Returns the int8 graph."""
    shape = g.t("x").shape
    cal = [[rng.normal(0, 1, shape).astype(F32)] for _ in range(24)]
    gq = quantize_graph(g, cal, activations=activations)
    info = np.iinfo(activations)
    path = tmp_path / "q.tflite"
    path.write_bytes(write_tflite(gq))
    gp = parse_tflite(path.read_bytes())
    oracle = Oracle(path.read_bytes(), gp)
    # The float model with every constant the quantizer stored replaced by its stored value.
    gd = copy.deepcopy(g)
    for name, t in gd.tensors.items():
        if t.is_const and t.dtype == "float32" and name in gq.tensors and gq.t(name).quant is not None:
            gd.tensors[name] = dataclasses.replace(t, data=dequantized(gq.t(name)).reshape(t.shape))
    qx, qy = gp.t("x").quant, gp.t(g.outputs[0]).quant
    for xs in cal[:4]:
        xq = np.clip(np.round(xs[0] / qx.scale[0]) + qx.zero_point[0], info.min, info.max).astype(activations)
        got = (oracle.run([xq])[0].astype(np.float64) - qy.zero_point[0]) * qy.scale[0]
        x_real = ((xq.astype(np.float64) - qx.zero_point[0]) * qx.scale[0]).astype(F32)
        want = run_float(gd, [x_real])[g.outputs[0]]
        # The quantized weights can push the largest output a little past the calibrated range.
        want = np.clip(want, (info.min - qy.zero_point[0]) * qy.scale[0], (info.max - qy.zero_point[0]) * qy.scale[0])
        err = np.max(np.abs(got.reshape(-1) - want.reshape(-1)))
        assert err <= tolerance_steps * qy.scale[0], (err / qy.scale[0], "steps")
    res = microlith.verify(path, samples=3)
    assert res["bit_exact"], res
    return gq


def same_quant(gq, pairs):
    for a, b in pairs:
        assert gq.t(a).quant == gq.t(b).quant, (a, gq.t(a).quant, b, gq.t(b).quant)


def test_copying_ops_take_the_input_parameters(tmp_path):
    # SLICE, DEPTH_TO_SPACE, MIRROR_PAD, RESIZE_NEAREST_NEIGHBOR, GATHER, REVERSE_V2 and PACK
    # after an ADD (own parameters). Each is a copy of part of its input, so its own calibrated
    # range would be narrower: without the rule its output would get different parameters and
    # TFLM would misread every value.
    rng = np.random.default_rng(3)
    m = Model((1, 4, 4, 4))
    t0 = m.op(Op.ADD, [m.x, m.c("c0", rng.normal(0, 1, (4,)))], (1, 4, 4, 4), dict(activation="NONE"))
    t1 = m.op(Op.SLICE, [t0, m.c("b1", [0, 1, 0, 0], "int32"), m.c("s1", [1, 2, 4, 4], "int32")], (1, 2, 4, 4))
    t2 = m.op(Op.DEPTH_TO_SPACE, [t1], (1, 4, 8, 1), dict(block_size=2))
    t3 = m.op(Op.MIRROR_PAD, [t2, m.c("p3", [[0, 0], [1, 1], [1, 1], [0, 0]], "int32")], (1, 6, 10, 1),
              dict(mode="REFLECT"))
    t4 = m.op(Op.RESIZE_NEAREST_NEIGHBOR, [t3, m.c("r4", [3, 5], "int32")], (1, 3, 5, 1),
              dict(align_corners=False, half_pixel_centers=False))
    t5 = m.op(Op.GATHER, [t4, m.c("i5", [4, 0], "int32")], (1, 3, 2, 1), dict(axis=2, batch_dims=0))
    t6 = m.op(Op.RESHAPE, [t5, m.c("s6", [3, 2], "int32")], (3, 2))
    t7 = m.op(Op.REVERSE_V2, [t6, m.c("a7", [1], "int32")], (3, 2))
    t8 = m.op(Op.PACK, [t6, t7], (2, 3, 2), dict(values_count=2, axis=0))
    gq = quantize_and_run(m.graph(t8), tmp_path, rng, tolerance_steps=1.01)
    same_quant(gq, [(t0, t) for t in (t1, t2, t3, t4, t5, t6, t7, t8)])


def test_shape_ops_padv2_and_pack_requantize(tmp_path):
    # SPACE_TO_DEPTH, PADV2 (its float pad value stored with the output's parameters, which
    # widen to hold it), SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND, EXPAND_DIMS, BROADCAST_TO,
    # GATHER_ND and RESIZE_BILINEAR; then a PACK of a copy and a LOGISTIC output, whose fixed
    # parameters need an int8 -> int8 QUANTIZE in front (as for CONCATENATION).
    rng = np.random.default_rng(5)
    m = Model((1, 4, 4, 2))
    t0 = m.op(Op.MUL, [m.x, m.c("c0", rng.uniform(0.5, 1.5, (2,)))], (1, 4, 4, 2), dict(activation="NONE"))
    t1 = m.op(Op.SPACE_TO_DEPTH, [t0], (1, 2, 2, 8), dict(block_size=2))
    t2 = m.op(Op.PADV2, [t1, m.c("p2", [[0, 0], [1, 0], [1, 1], [0, 0]], "int32"), m.c("v2", np.float32(6.0))],
              (1, 3, 4, 8))
    # Zero paddings: TFLM fills SPACE_TO_BATCH_ND's padding with an uninitialized value.
    t3 = m.op(Op.SPACE_TO_BATCH_ND, [t2, m.c("k3", [1, 2], "int32"), m.c("p3", [[0, 0], [0, 0]], "int32")],
              (2, 3, 2, 8))
    t4 = m.op(Op.BATCH_TO_SPACE_ND, [t3, m.c("k4", [1, 2], "int32"), m.c("c4", [[0, 0], [0, 0]], "int32")],
              (1, 3, 4, 8))
    t5 = m.op(Op.GATHER_ND, [t4, m.c("i5", [[0, 2], [0, 0]], "int32")], (2, 4, 8))
    t6 = m.op(Op.EXPAND_DIMS, [t5, m.c("a6", np.int32(0), "int32")], (1, 2, 4, 8))
    t7 = m.op(Op.BROADCAST_TO, [t6, m.c("s7", [2, 2, 4, 8], "int32")], (2, 2, 4, 8))
    t8 = m.op(Op.RESIZE_BILINEAR, [t7, m.c("r8", [3, 5], "int32")], (2, 3, 5, 8),
              dict(align_corners=False, half_pixel_centers=True))
    t9 = m.op(Op.LOGISTIC, [t8], (2, 3, 5, 8))
    t10 = m.op(Op.PACK, [t8, t9], (2, 2, 3, 5, 8), dict(values_count=2, axis=0))
    gq = quantize_and_run(m.graph(t10), tmp_path, rng, tolerance_steps=1.01)
    same_quant(gq, [(t0, t) for t in (t1, t2, t3, t4, t5, t6, t7, t8, t10)] + [("v2", t2)])
    pad = gq.t("v2")
    assert round((6.0 / pad.quant.scale[0]) + pad.quant.zero_point[0]) == int(pad.data.reshape(-1)[0])
    requant = [n for n in gq.nodes if n.op is Op.QUANTIZE]
    assert [n.inputs for n in requant] == [(t9,)]


# -- TRANSPOSE_CONV -------------------------------------------------------------------------

@pytest.mark.parametrize("activations", ["int8", "int16"])
@pytest.mark.parametrize("padding,stride,out_hw,activation", [("SAME", 2, 6, "NONE"), ("VALID", 1, 5, "RELU")])
def test_transpose_conv_quantizes_per_channel(tmp_path, activations, padding, stride, out_hw, activation):
    # Inputs (output shape, weights, data, bias): the data input is the third. Channel weight
    # ranges differ by 300x, so per-tensor weights would lose the small channels.
    rng = np.random.default_rng(11)
    m = Model((1, 3, 3, 4))
    spread = np.array([1, 0.01, 3, 0.2, 1], F32)[:, None, None, None]
    w = m.c("w", rng.normal(0, 0.5, (5, 3, 3, 4)) * spread)
    bias = m.c("b", rng.normal(0, 0.2, (5,)))
    y = m.op(Op.TRANSPOSE_CONV, [m.c("os", [1, out_hw, out_hw, 5], "int32"), w, m.x, bias], (1, out_hw, out_hw, 5),
             dict(padding=padding, stride_h=stride, stride_w=stride, activation=activation))
    gq = quantize_and_run(m.graph(y), tmp_path, rng, tolerance_steps=1.01, activations=activations)
    wq, bq = gq.t("w").quant, gq.t("b")
    assert gq.t("w").dtype == "int8" and wq.axis == 0 and len(wq.scale) == 5
    assert bq.dtype == ("int32" if activations == "int8" else "int64")
    want = F32(gq.t("x").quant.scale[0]) * np.array(wq.scale, F32)
    assert np.array_equal(np.array(bq.quant.scale, F32), want)
    assert gq.t("os").dtype == "int32" and np.array_equal(gq.t("os").data, [1, out_hw, out_hw, 5])


def test_transpose_conv_shape_mismatch_is_refused():
    m = Model((1, 3, 3, 4))
    y = m.op(Op.TRANSPOSE_CONV, [m.c("os", [1, 6, 6, 5], "int32"), m.c("w", np.ones((5, 3, 3, 2))), m.x],
             (1, 6, 6, 5), dict(padding="SAME", stride_h=2, stride_w=2, activation="NONE"))
    with pytest.raises(MicrolithError, match="weights 'w' are \\[5, 3, 3, 2\\]"):
        quantize_graph(m.graph(y), [[np.zeros((1, 3, 3, 4), F32)]])
