"""Recurrent layers (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM) and the state they keep, against TFLM.

A recurrent layer's output depends on every earlier input since the last reset, so each check
runs a stream of samples in order, without reset, on TFLM (whose interpreter keeps variable
tensors between invokes), on the numpy reference (carrying its state dict) and on the generated
C (NAME_invoke, static state); then resets all three and runs the stream again. Each stream is
also checked to depend on the state (an output differs from what a fresh state gives), so a
kernel that ignored its state could not pass.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite
from microlith.frontends.tflite_writer import write_tflite
from microlith.ir import Graph, MicrolithError, Node, Op, Quant, Tensor
from microlith.reference import run_reference
from microlith.verify import HostModel, Oracle, compare, first_differing_layer, random_inputs
from opmodels import act, const, single_op, write

TFLM = Path(__file__).resolve().parent / "data" / "tflm"
F32 = np.float32


def state(name, shape, dtype, scale, zp=0):
    return Tensor(name, tuple(shape), dtype, Quant((float(scale),), (int(zp),)), None, True)


def assert_stream_exact(g: Graph, tmp_path: Path, samples: int = 8, seed: int = 0, c_samples: int | None = None,
                        inputs=None, expect_state: bool = True) -> dict:
    """Numpy reference and generated C equal TFLM on a stream of samples, then again after a reset;
    the reference's state equals TFLM's after every sample. `expect_state=False` for a model
    whose outputs do not depend on earlier samples (memory 1, or saturated)."""
    return assert_file_stream_exact(write(g, tmp_path), tmp_path, samples, seed, c_samples, inputs, expect_state)


def assert_file_stream_exact(path: Path, tmp_path: Path, samples: int = 8, seed: int = 0,
                             c_samples: int | None = None, inputs=None, expect_state: bool | None = True) -> dict:
    """assert_stream_exact on a model file (expect_state None: not checked)."""
    model = load_tflite(path)
    rng = np.random.default_rng(seed)
    stream = list(inputs or []) + [random_inputs(model, rng) for _ in range(samples)]
    oracle = Oracle(path.read_bytes(), model, preserve=True)  # preserve: its state tensors can be read
    try:
        for n_pass in range(2):
            if n_pass:
                oracle.reset_state()
            carried, state_mattered = {}, False
            for k, xs in enumerate(stream):
                want = oracle.run(xs)
                got = run_reference(model, xs, state=carried)
                fresh = run_reference(model, xs)
                for w, name in zip(want, model.outputs):
                    w = np.asarray(w).reshape(-1)
                    if w.tobytes() != got[name].reshape(-1).tobytes():
                        diff = np.abs(w.astype(np.int64) - got[name].reshape(-1).astype(np.int64))
                        raise AssertionError(f"pass {n_pass}, sample {k}: numpy reference differs from TFLM in "
                                             f"{np.count_nonzero(diff)} values, max |diff| {diff.max()}")
                    state_mattered |= w.tobytes() != fresh[name].reshape(-1).tobytes()
                for name in model.state_tensors():  # the state itself, after each sample
                    w = oracle.tensor(name).reshape(-1)
                    assert w.tobytes() == carried[name].reshape(-1).tobytes(), (n_pass, k, name)
            assert expect_state is None or state_mattered == expect_state, \
                f"the stream's dependence on the state: {state_mattered}"
    finally:
        oracle.close()
    given = tmp_path / f"{path.stem}_stream.npz"
    np.savez(given, *[np.stack([xs[i] for xs in stream]) for i in range(len(model.inputs))])
    res = microlith.verify(path, samples=0 if c_samples is None else c_samples, inputs=str(given))
    assert res["bit_exact"], res
    assert any("state" in n for n in res["notes"]), res["notes"]
    return res


# -- SVDF ------------------------------------------------------------------------------------

def svdf_model(batches=1, input_size=7, filters=6, memory=3, rank=2, state_dtype="int16", input_zp=3,
               output_zp=-5, state_zp=0, activation="NONE", seed=0, bias=True, wt_max=None,
               feature_gain=1.0, output_gain=1.0, state_scale=0.0005, wf_zp=0):
    """One SVDF with random weights; scales chosen so features and outputs mostly stay in range
    (`feature_gain`, `output_gain` > 1 push them into saturation)."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(state_dtype)
    wt_max = wt_max or (2000 if state_dtype == "int16" else 100)
    units = filters // rank
    sx, swf, swt = 0.05, 0.01, 0.002
    ss = float(state_scale) / feature_gain
    x = act("x", (batches, input_size), sx, input_zp)
    wf = const("wf", rng.integers(-127, 128, (filters, input_size)), swf, zp=wf_zp, dtype="int8")
    wt = const("wt", rng.integers(-wt_max, wt_max + 1, (filters, memory)), swt, dtype=state_dtype)
    st = state("state", (batches, filters * memory), state_dtype, ss, state_zp)
    bias_scale = float(F32(ss) * F32(swt))
    b = const("bias", rng.integers(-20000, 20000, (units,)), bias_scale, dtype="int32") if bias else None
    # a typical |output accumulator|: state values of about a third of the range, times weights
    typical = np.sqrt(memory * rank) * (int(info.max) / 3) * (wt_max / 2)
    y = act("y", (batches, units), ss * swt * typical / 60 / output_gain, output_zp)
    return single_op(Op.SVDF, [x, wf, wt, b, st], [y], dict(rank=rank, activation=activation),
                     graph_inputs=["x"])


@pytest.mark.parametrize("kw", [
    dict(rank=1, filters=4, input_size=8, memory=5),                         # keyword model's shape, small
    dict(rank=2, filters=6, input_size=7, memory=3, batches=2),             # rank 2, odd sizes, batch 2
    dict(rank=3, filters=9, input_size=1, memory=2),                        # size-1 input
    dict(rank=1, filters=3, input_size=5, memory=1),                        # memory 1: no effect of state
    dict(input_zp=-128, output_zp=127, state_zp=5),                         # zero points at the limits
    dict(input_zp=127, output_zp=-128, activation="RELU"),                  # TFLM ignores the fused activation
    dict(feature_gain=40.0, output_gain=30.0),                              # features and outputs saturate
    dict(wt_max=32767, feature_gain=40.0, memory=6),                        # time dot products wrap int32
    dict(wf_zp=9),                                   # TFLM ignores the feature weights' zero point
])
def test_svdf_int16_state(tmp_path, kw):
    assert_stream_exact(svdf_model(**kw), tmp_path, expect_state=kw.get("memory", 3) > 1)


@pytest.mark.parametrize("kw", [
    dict(state_zp=-50),                                                     # as keyword_scrambled_8bit
    dict(state_zp=-128, rank=1, filters=5, batches=2),
    dict(state_zp=127, feature_gain=10.0),    # zero point + saturated feature leaves int8: TFLM wraps
    dict(state_zp=37, output_gain=20.0, activation="RELU6"),
])
def test_svdf_int8_state(tmp_path, kw):
    assert_stream_exact(svdf_model(state_dtype="int8", state_scale=0.05, **kw), tmp_path)


def keyword_svdf_stack(path: Path) -> Graph:
    """TFLM's keyword model between its int16 front and back QUANTIZE ops: seven SVDF layers
    (int16 or int8 state), four FULLY_CONNECTED and the int8 -> int16 SOFTMAX, with the real
    weights and state tensors. Its (scrambled) weights saturate most values and the softmax, so
    every SVDF output is a graph output too: each is compared."""
    g = load_tflite(path)
    assert [n.op for n in g.nodes][:2] == [Op.QUANTIZE, Op.SVDF] and g.nodes[13].op is Op.SOFTMAX
    nodes = g.nodes[1:14]
    names = dict.fromkeys(x for n in nodes for x in list(n.inputs) + list(n.outputs) if x)
    outputs = [n.outputs[0] for n in nodes if n.op is Op.SVDF] + [nodes[-1].outputs[0]]
    return Graph(g.name + "_svdf", {n: g.tensors[n] for n in names}, nodes, [nodes[0].inputs[0]], outputs)


@pytest.mark.parametrize("model", ["keyword_scrambled.tflite", "keyword_scrambled_8bit.tflite"])
def test_keyword_model_svdf_stack(tmp_path, model):
    g = keyword_svdf_stack(TFLM / model)
    assert sum(n.op is Op.SVDF for n in g.nodes) == 7
    # The 8-bit model's scrambled weights saturate each new int8 feature and every output, whatever
    # came before: there only the state (compared after each sample) shows the history.
    assert_stream_exact(g, tmp_path, samples=8, expect_state="8bit" not in model)


@pytest.mark.parametrize("model", ["keyword_scrambled.tflite", "keyword_scrambled_8bit.tflite"])
def test_keyword_model_whole(model):
    """TFLM's published keyword model as it is: QUANTIZE int16 -> int8, 7 SVDF, FULLY_CONNECTED,
    SOFTMAX, QUANTIZE -> int32, over a stream of samples and again after a reset."""
    res = microlith.verify(TFLM / model, samples=6)
    assert res["bit_exact"], res


def test_svdf_refusals(tmp_path):
    def refused(g, *words):
        with pytest.raises(MicrolithError) as e:
            microlith.compile(g, tmp_path / "c", measure=False)
        for w in words:
            assert w in str(e.value), str(e.value)

    refused(svdf_model(bias=False), "no bias", "crashes")
    g = svdf_model()
    g.tensors["state"] = Tensor("state", g.t("state").shape, "int16", g.t("state").quant)  # not variable
    g.inputs.append("state")
    refused(g, "not a variable tensor")
    g = svdf_model()
    g.tensors["state"] = state("state", g.t("state").shape, "int8", 0.05)
    refused(g, "weights_time", "int16", "int8")
    g = svdf_model()
    b = g.t("bias")
    g.tensors["bias"] = Tensor("bias", b.shape, "int32", Quant((b.quant.scale[0] + 2e-5,), (0,)), b.data)
    refused(g, "bias scale", "TFLM refuses")
    g = svdf_model()
    wf = g.t("wf")
    g.tensors["wf"] = Tensor("wf", wf.shape, "int8", Quant((0.01,) * wf.shape[0], (0,) * wf.shape[0], 0), wf.data)
    refused(g, "weights_feature", "per-channel")
    g = svdf_model(filters=6, rank=2)
    g.nodes[0].attrs["rank"] = 4
    refused(g, "rank 4")
    g = svdf_model()
    g.outputs.append("state")  # the state is the model's own, never the caller's
    refused(g, "graph output #1 'state' is a state (variable) tensor")
    g = svdf_model()
    g.tensors["x"] = Tensor("x", g.t("x").shape, "int16", Quant((0.001,), (0,)))
    refused(g, "input 'x' is int16", "int8")
    g = svdf_model(batches=1, filters=6, rank=2)
    g.tensors["y"] = act("y", (1, 6), 0.1)  # filters, not units
    refused(g, "output 'y' has shape [1, 6]; expected [1, 3]")
    g = svdf_model()
    g.tensors["wf"] = Tensor("wf", g.t("wf").shape, "int8", g.t("wf").quant)  # computed, not weights
    g.inputs.append("wf")
    refused(g, "weights_feature 'wf' must be a constant")
    g = svdf_model()  # an op that writes the state as its output
    relu = Node(Op.RELU, ("y",), ("state",), {})
    g.nodes.append(relu)
    refused(g, "writes state tensor 'state' as its output")


def test_macs_count_recurrent_products():
    """inspect/profile count each recurrent layer's matrix products per invoke."""
    lstm = microlith.inspect(TFLM / "trained_lstm_int8.tflite")  # 28 steps x 4 gates x 20 x (28 + 20), FC
    assert lstm["macs"] == 28 * 4 * 20 * (28 + 20) + 10 * 560
    g = svdf_model(batches=2, input_size=7, filters=6, memory=3)
    assert microlith.inspect(g)["macs"] == 2 * 6 * (7 + 3)


# -- the state API of the generated C ----------------------------------------------------------

_HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "NAME.h"

#define N SAMPLES
static const int8_t streams[2][N][UP_INPUT_SIZE] = { STREAMS };
static union { uint8_t b[UP_STATE_SIZE]; int64_t a; } state_a, state_b;
static union { uint8_t b[UP_ARENA_SIZE + 1]; int64_t a; } arena;

int main(void)
{
    static int8_t out[4][2][N][UP_OUTPUT_SIZE];
    int s, k, i;
    /* 0: stream 0 then stream 1 on the static state, a reset between them */
    for (s = 0; s < 2; ++s) {
        if (s) { NAME_reset(); }
        for (k = 0; k < N; ++k) { if (NAME_invoke(streams[s][k], out[0][s][k])) return 1; }
    }
    /* 1: after a reset, stream 0 again */
    NAME_reset();
    for (k = 0; k < N; ++k) { if (NAME_invoke_with_arena(streams[0][k], out[1][0][k], arena.b)) return 1; }
    /* 2: both streams interleaved, each on its own caller state */
    NAME_reset_state(state_a.b);
    NAME_reset_state(state_b.b);
    for (k = 0; k < N; ++k) {
        if (NAME_invoke_with_state(streams[0][k], out[2][0][k], arena.b, state_a.b)) return 1;
        if (NAME_invoke_with_state(streams[1][k], out[2][1][k], arena.b, state_b.b)) return 1;
    }
    for (s = 0; s < 2; ++s) {
        for (k = 0; k < N; ++k) {
            for (i = 0; i < UP_OUTPUT_SIZE; ++i) { printf("%d ", (int)out[0][s][k][i]); }
            printf("\n");
        }
    }
    printf("%s %s %s\n", memcmp(out[1][0], out[0][0], sizeof out[0][0]) ? "reset-differs" : "reset-ok",
           memcmp(out[2][0], out[0][0], sizeof out[0][0]) ? "a-differs" : "a-ok",
           memcmp(out[2][1], out[0][1], sizeof out[0][1]) ? "b-differs" : "b-ok");
    return 0;
}
"""


@pytest.mark.parametrize("state_dtype,state_zp", [("int16", 0), ("int8", -50)])
def test_state_api_streams(tmp_path, state_dtype, state_zp):
    """NAME_invoke keeps state; NAME_reset restarts it (also to an int8 state's zero point, which
    a zeroed .bss is not); NAME_invoke_with_state runs independent streams on caller buffers;
    and the first stream equals TFLM's outputs."""
    g = svdf_model(state_dtype=state_dtype, state_zp=state_zp, batches=1, rank=1, filters=4, memory=4,
                   state_scale=0.0005 if state_dtype == "int16" else 0.05)
    path = write(g, tmp_path)
    model = load_tflite(path)
    res = microlith.compile(model, tmp_path / "c", name="rnn", measure=False)
    assert res["state_bytes"] == model.t("state").nbytes
    header = (tmp_path / "c" / "src" / "rnn.h").read_text()
    for sym in ("RNN_STATE_SIZE", "void rnn_reset(void);", "void rnn_reset_state(void *state);",
                "int rnn_invoke_with_state("):
        assert sym in header
    assert "## State (recurrent layers)" in (tmp_path / "c" / "README.md").read_text()
    rng = np.random.default_rng(3)
    n = 6
    streams = [[random_inputs(model, rng) for _ in range(n)] for _ in range(2)]
    body = ", ".join("{ " + ", ".join("{ " + ", ".join(str(int(v)) for v in xs[0].reshape(-1)) + " }"
                                      for xs in st) + " }" for st in streams)
    c = (_HARNESS.replace("NAME", "rnn").replace("UP_", "RNN_").replace("SAMPLES", str(n))
         .replace("STREAMS", body))
    (tmp_path / "main.c").write_text(c)
    src = tmp_path / "c" / "src"
    exe = tmp_path / "harness"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-I", str(src),
                    "-I", str(src / "microlith_kernels"), str(tmp_path / "main.c"), *map(str, src.rglob("*.c")),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert lines[-1] == "reset-ok a-ok b-ok", lines[-1]
    got = np.array([[int(v) for v in line.split()] for line in lines[:-1]])
    oracle = Oracle(path.read_bytes(), model)
    try:
        want = []
        for s, st in enumerate(streams):
            if s:
                oracle.reset_state()
            want += [oracle.run(xs)[0].reshape(-1) for xs in st]
    finally:
        oracle.close()
    assert np.array_equal(got, np.array(want))


def test_stateless_model_has_no_state_api(tmp_path):
    g = single_op(Op.RELU, [act("x", (1, 4))], [act("y", (1, 4))])
    microlith.compile(write(g, tmp_path), tmp_path / "c", name="plain", measure=False)
    header = (tmp_path / "c" / "src" / "plain.h").read_text()
    assert "STATE" not in header and "reset" not in header


def test_state_lives_outside_the_arena():
    from microlith.codegen.c import prepare
    g = keyword_svdf_stack(TFLM / "keyword_scrambled.tflite")
    plan = prepare(g).plan
    states = g.state_tensors()
    assert len(states) == 7 and not set(states) & set(plan.offsets)
    ends = sorted((plan.state_offsets[n], plan.state_offsets[n] + g.t(n).nbytes) for n in states)
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:])) and all(o % 4 == 0 for o, _ in ends)
    assert plan.state_size == ends[-1][1] == sum(g.t(n).nbytes for n in states)


def test_broken_reset_is_caught_by_verify(tmp_path):
    """The second pass (after NAME_reset) is what catches a reset that does nothing."""
    g = svdf_model(rank=1, filters=4, memory=4)
    path = write(g, tmp_path)
    model = load_tflite(path)
    microlith.compile(model, tmp_path / "c", name="rnn", measure=False)
    src = tmp_path / "c" / "src" / "rnn.c"
    text = src.read_text()
    assert text.count("memset(state + ") == 1
    src.write_text(re.sub(r"memset\(state \+ [^;]*;", "(void)state;", text))
    rng = np.random.default_rng(0)
    stream = [random_inputs(model, rng) for _ in range(5)]
    for with_reset in (False, True):
        host = HostModel(tmp_path / "c", model, "rnn", tmp_path)  # a fresh library: state in .bss
        try:
            res = compare(model, path.read_bytes(), host.run, stream, reset_c=host.reset if with_reset else None)
        finally:
            host.close()
        # the zeroed .bss hides the broken reset from one pass; the pass after the reset shows it
        assert (res["mismatched_samples"] > 0) == with_reset, res


def test_diagnosis_replays_the_stream(tmp_path):
    """On a stateful model the first differing layer is found after replaying the samples
    before the bad one, so a clean build reports no layer even late in a stream."""
    g = keyword_svdf_stack(TFLM / "keyword_scrambled.tflite")
    path = tmp_path / "kw.tflite"
    path.write_bytes(write_tflite(g))
    model = load_tflite(path)
    microlith.compile(model, tmp_path / "c", name="kw", measure=False)
    host = HostModel(tmp_path / "c", model, "kw", tmp_path)
    try:
        rng = np.random.default_rng(4)
        stream = [random_inputs(model, rng) for _ in range(4)]
        assert first_differing_layer(model, path.read_bytes(), host, stream[3], history=stream[:3]) is None
    finally:
        host.close()


# -- UNIDIRECTIONAL_SEQUENCE_LSTM --------------------------------------------------------------

def lstm_model(batches=1, steps=4, n_in=5, units=3, time_major=False, input_zp=-128, hidden_zp=0,
               hidden_scale=1 / 128, cell_scale=2.0 ** -11, cell_clip=0.0, weight_gain=1.0, weight_zp=0,
               activation="TANH", seed=0, extra=None, dtype="int8"):
    """One integer LSTM as TFLite's converter writes it (24 inputs, absent ones as None); scales
    put the gates' Q3.12 inputs at a few units (weight_gain > 1 saturates them). dtype "int16":
    TFLM's 16x8 LSTM (int16 input, hidden state and output, int64 bias)."""
    rng = np.random.default_rng(seed)
    wide = 256.0 if dtype == "int16" else 1.0  # int16 steps are 1/256 of int8's for the same range
    sx = 0.02 / wide
    hidden_scale /= wide
    x_shape = (steps, batches, n_in) if time_major else (batches, steps, n_in)
    x = act("x", x_shape, sx, input_zp, dtype=dtype)
    h = state("hidden", (batches, units), dtype, hidden_scale, hidden_zp)
    c = state("cell", (batches, units), "int16", cell_scale)
    ins: list = [x] + [None] * 23
    for gate, (wi, wr, b) in {"i": (1, 5, 12), "f": (2, 6, 13), "c": (3, 7, 14), "o": (4, 8, 15)}.items():
        sw_in = 3.0 * weight_gain / (sx * wide * np.sqrt(n_in) * 60 * 127)
        sw_rec = 2.0 * weight_gain / (hidden_scale * wide * np.sqrt(units) * 60 * 127)
        ins[wi] = const(f"w_{gate}", rng.integers(-127, 128, (units, n_in)), sw_in, zp=weight_zp, dtype="int8")
        ins[wr] = const(f"r_{gate}", rng.integers(-127, 128, (units, units)), sw_rec, zp=weight_zp, dtype="int8")
        ins[b] = const(f"b_{gate}", rng.integers(-3000, 3000, (units,)) * int(wide), sx * sw_in,
                       dtype="int64" if dtype == "int16" else "int32")
    ins[18], ins[19] = h, c
    for k, t in (extra or {}).items():
        ins[k] = t
    y = act("y", x_shape[:2] + (units,), hidden_scale, hidden_zp, dtype=dtype)
    attrs = dict(activation=activation, cell_clip=float(cell_clip), proj_clip=0.0, time_major=time_major)
    return single_op(Op.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [y], attrs, graph_inputs=["x"])


@pytest.mark.parametrize("kw", [
    dict(),                                                          # batch-major, one batch
    dict(batches=2, steps=3, n_in=7, units=5),                       # each batch its own state row
    dict(batches=3, steps=2, time_major=True, units=4),              # time-major: batches in one step
    dict(steps=1, n_in=1, units=1),                                  # size 1 everywhere
    dict(cell_scale=2.0 ** -15, hidden_zp=127, input_zp=127),         # tanh with a rounding right shift
    dict(cell_scale=2.0 ** -8, hidden_zp=-128),                      # tanh with a left shift (3 << 4)
    dict(cell_scale=0.0003),                                         # not a power of two: TFLM rounds log2
    dict(cell_clip=0.05, cell_scale=2.0 ** -12),                     # the cell state is clipped
    dict(weight_gain=12.0, hidden_scale=0.01, hidden_zp=-3),         # gates saturate (table's end)
    dict(weight_zp=3, batches=2, time_major=True),                   # weight zero points (TFLM subtracts them)
])
def test_lstm(tmp_path, kw):
    assert_stream_exact(lstm_model(**kw), tmp_path, samples=5)


@pytest.mark.parametrize("kw", [
    dict(),                                                          # batch-major
    dict(batches=2, steps=2, time_major=True, n_in=6, units=5, hidden_zp=-300, cell_scale=2.0 ** -15),
    dict(weight_gain=12.0, cell_clip=0.1, cell_scale=2.0 ** -12, input_zp=7),   # saturation, clip
])
def test_lstm_16x8(tmp_path, kw):
    """TFLM's 16x8 LSTM: int16 activations, int64 bias, 64-bit requantization in the FCs."""
    kw = {"input_zp": 0, **kw}
    assert_stream_exact(lstm_model(dtype="int16", **kw), tmp_path, samples=4)


def _lstm_outputs_too(path: Path) -> Graph:
    """The model with every LSTM's output a graph output too (TFLM's examples end in a saturating
    softmax or classifier, which hides small differences)."""
    g = load_tflite(path)
    extra = [n.outputs[0] for n in g.nodes if n.op is Op.UNIDIRECTIONAL_SEQUENCE_LSTM]
    return Graph(g.name + "_lstm", g.tensors, g.nodes, g.inputs, extra + [o for o in g.outputs if o not in extra])


@pytest.mark.parametrize("model,samples", [("trained_lstm_int8.tflite", 4), ("micro_speech_lstm.tflite", 2),
                                           ("dtln_noise_suppression.tflite", 6)])
def test_tflm_lstm_models(tmp_path, model, samples):
    """TFLM's published LSTM models (all int8 with int16 cell state: TFLM runs them integer-only)."""
    res = assert_file_stream_exact(TFLM / model, tmp_path, samples=samples, expect_state=None)
    assert res["samples"] == samples
    assert_stream_exact(_lstm_outputs_too(TFLM / model), tmp_path, samples=samples)


def test_lstm_refusals(tmp_path):
    def refused(g, *words):
        with pytest.raises(MicrolithError) as e:
            microlith.compile(g, tmp_path / "c", measure=False)
        for w in words:
            assert w in str(e.value), str(e.value)

    peep = const("peep", np.ones(3, np.int16), 0.001, dtype="int16")
    refused(lstm_model(extra={9: peep}), "peephole", "standard LSTM")
    proj = const("proj", np.ones((3, 3), np.int8), 0.01, dtype="int8")
    refused(lstm_model(extra={16: proj}), "projection")
    norm = const("norm", np.ones(3, np.int16), 0.001, dtype="int16")
    refused(lstm_model(extra={20: norm}), "layer norm")
    refused(lstm_model(extra={1: None, 5: None, 12: None}), "CIFG")
    refused(lstm_model(activation="RELU"), "RELU", "TANH")
    g = lstm_model()
    c = g.t("cell")
    g.tensors["cell"] = state("cell", c.shape, "int8", 0.01)
    refused(g, "cell state", "int16")
    g = lstm_model()
    w = g.t("w_f")
    g.tensors["w_f"] = Tensor("w_f", w.shape, "int8", Quant((0.01,) * 3, (0,) * 3, 0), w.data)
    refused(g, "per-channel")
    g = lstm_model()
    g.tensors["hidden"] = Tensor("hidden", (1, 3), "int8", g.t("hidden").quant)
    g.inputs.append("hidden")
    refused(g, "not a variable tensor")
    g = lstm_model()
    x = g.t("x")
    g.tensors["x"] = Tensor("x", x.shape, "int16", Quant((0.001,), (0,)))  # hidden state stays int8
    refused(g, "hidden (output) state 'hidden' is int8", "int16")
    g = lstm_model(dtype="int16", input_zp=0)
    b = g.t("b_o")
    g.tensors["b_o"] = Tensor("b_o", b.shape, "int32", b.quant, b.data.astype(np.int32))
    refused(g, "output gate bias 'b_o' is int32", "int64")
    refused(lstm_model(cell_scale=8.0), "cell state", "overflows")
    g = lstm_model(batches=2, units=3)
    g.tensors["cell"] = state("cell", (1, 3), "int16", 2.0 ** -11)  # one batch's worth
    refused(g, "cell state 'cell' has 3 values", "6")
    g = lstm_model(units=3, n_in=5)
    w = g.t("r_c")
    g.tensors["r_c"] = Tensor("r_c", (3, 5), "int8", w.quant, np.zeros((3, 5), np.int8))
    refused(g, "cell gate recurrent weights 'r_c' has shape [3, 5]; expected [3, 3]")
    g = lstm_model(steps=4, n_in=5)
    g.tensors["x"] = act("x", (4, 5), 0.02, -128)
    g.tensors["y"] = act("y", (4, 3), 1 / 128)
    refused(g, "must be 3-D")


# -- undefined behaviour and out-of-bounds access ------------------------------------------------

@pytest.mark.parametrize("which", ["svdf_wrap_int16", "svdf_int8_wrap", "lstm_saturating", "lstm_16x8",
                                   "mnist_lstm"])
def test_recurrent_under_sanitizers(tmp_path, which):
    """ASan + UBSan (targets/host.py): the kernels' wrapping sums and int8 state stores are
    defined behaviour, and state, scratch and arena stay in bounds, over a stream of extreme
    and random inputs that still equals TFLM's."""
    from microlith.targets.host import build_sanitized_runner
    try:
        from test_sanitizers import _why_not
    except ImportError:
        _why_not = None
    if _why_not is not None:
        pytest.skip(_why_not)
    models = {"svdf_wrap_int16": lambda: svdf_model(wt_max=32767, feature_gain=40.0, memory=6),
              "svdf_int8_wrap": lambda: svdf_model(state_dtype="int8", state_scale=0.05, state_zp=127,
                                                   feature_gain=10.0),
              "lstm_saturating": lambda: lstm_model(weight_gain=12.0, batches=2, cell_scale=2.0 ** -15),
              "lstm_16x8": lambda: lstm_model(dtype="int16", input_zp=0, weight_gain=12.0, hidden_zp=-300)}
    path = TFLM / "trained_lstm_int8.tflite" if which == "mnist_lstm" else write(models[which](), tmp_path)
    model = load_tflite(path)
    res = microlith.compile(model, tmp_path / "c", measure=False)
    runner = build_sanitized_runner(tmp_path / "c", res["name"], tmp_path / "san")
    rng = np.random.default_rng(5)
    t = model.t(model.inputs[0])
    info = np.iinfo(t.np_dtype)
    stream = [[np.full(t.shape, v, t.np_dtype)] for v in (info.min, info.max, info.max, info.min)]
    stream += [random_inputs(model, rng) for _ in range(4)]
    got = runner.run(stream)
    oracle = Oracle(path.read_bytes(), model)
    try:
        for k, xs in enumerate(stream):
            want = oracle.run(xs)
            assert all(np.asarray(w).reshape(-1).tobytes() == c.tobytes() for w, c in zip(want, got[k])), k
    finally:
        oracle.close()


# -- on an emulated Cortex-M -------------------------------------------------------------------

def _arm_tools_missing() -> list[str]:
    import shutil
    from microlith.targets import cortexm
    return [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]


@pytest.mark.skipif(bool(_arm_tools_missing()), reason="arm-none-eabi-gcc or qemu-system-arm not installed")
@pytest.mark.parametrize("target", ["cortex-m4"])
def test_recurrent_on_cortex_m(tmp_path, target):
    """One firmware runs the stream in order with the state in .bss; the M4 build takes the
    LSTM's SMLAD dot product (input sizes not multiples of 4, a folded hidden offset). Equal
    to TFLM (the portable C path is the host's)."""
    lstm = write(lstm_model(batches=2, n_in=7, units=5, hidden_zp=-3, cell_scale=2.0 ** -12), tmp_path)
    svdf = write(svdf_model(state_dtype="int8", state_zp=-50, state_scale=0.05), tmp_path)
    lstm16 = write(lstm_model(dtype="int16", input_zp=0, steps=3, units=4), tmp_path, name="lstm16x8")
    for path in (lstm, svdf, lstm16):
        res = microlith.verify(path, target=target, samples=4)
        assert res["bit_exact"] and res["samples"] == 4, res


@pytest.mark.skipif(bool(_arm_tools_missing()), reason="arm-none-eabi-gcc or qemu-system-arm not installed")
def test_firmware_restarts_reset_the_oracle_too(tmp_path, monkeypatch):
    """A long stream takes several firmware runs, each starting from reset state: verify resets
    TFLM at the same samples instead of reporting a false mismatch."""
    from microlith.targets import cortexm
    g = lstm_model(steps=3, n_in=4, units=3)
    path = write(g, tmp_path)
    monkeypatch.setattr(cortexm, "_MAX_INPUT_BYTES", 2 * 3 * 4)  # two samples per firmware run
    res = microlith.verify(path, target="cortex-m4", samples=5)
    assert res["bit_exact"], res
    assert any("restarted" in n and "[2, 4]" in n for n in res["notes"]), res["notes"]
