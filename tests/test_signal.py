"""TFLM's signal-library custom ops (Window, FftAutoScale, Rfft, Energy, FilterBank,
FilterBankSquareRoot, FilterBankSpectralSubtraction, PCAN, FilterBankLog, Delay) against TFLM.

Every check runs a sequence of samples through TFLM, the numpy reference (one prepare() for the
whole sequence, as TFLM keeps op state between invokes) and the generated C, and demands the
same bytes from all three. Edge cases: silence, full scale (+32767 and -32768), odd sizes,
every radix KISS FFT has, wrap-arounds of TFLM's own integer arithmetic.
"""
from pathlib import Path

import flatbuffers
import numpy as np
import pytest

import microlith
from microlith.frontends.tflite import load_tflite, parse_tflite
from microlith.ir import MicrolithError, Op, Tensor
from microlith.ops import impl_for
from microlith.reference import run_reference
from microlith.verify import Oracle
from opmodels import const, single_op, write
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

DATA = Path(__file__).parent / "data" / "tflm"
PREPROCESSOR = DATA / "audio_preprocessor_int8.tflite"
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
U32_MAX, U64_MAX = (1 << 32) - 1, (1 << 64) - 1


def t(name, shape, dtype):
    return Tensor(name, tuple(shape), dtype)


def reference_matches_tflm(path, inputs, defined=None):
    """TFLM and the numpy reference agree on every sample of the sequence (on the elements
    `defined` selects, where TFLM leaves the others undefined); returns the reference outputs."""
    model = load_tflite(path)
    params = [impl_for(n.op).prepare(n, model) for n in model.nodes]  # TFLM's one Prepare
    oracle = Oracle(path.read_bytes(), model)
    ours = []
    try:
        for k, xs in enumerate(inputs):
            want = oracle.run(xs)
            got = run_reference(model, xs, params)
            for w, out in zip(want, model.outputs):
                w, o = np.asarray(w).reshape(-1), got[out].reshape(-1)
                assert w.dtype == o.dtype, (out, w.dtype, o.dtype)
                sel = np.ones(w.size, bool) if defined is None else defined
                bad = np.flatnonzero((w != o) & sel)
                assert bad.size == 0, f"sample {k} output '{out}': reference differs at {bad[:8]}"
            ours.append([got[out] for out in model.outputs])
    finally:
        oracle.close()
    return model, ours


def check(g, tmp_path, inputs, name="model"):
    """TFLM, the numpy reference and the generated C agree on every sample of the sequence."""
    path = write(g, tmp_path, name)
    model, _ = reference_matches_tflm(path, inputs)
    given = Path(tmp_path) / f"{name}_inputs.npz"
    np.savez(given, *[np.stack([case[k] for case in inputs]) for k in range(len(model.inputs))])
    res = microlith.verify(path, samples=0, inputs=str(given))
    assert res["bit_exact"], res
    return res


def int16_cases(shape, rng, n=3):
    """Silence, full scale both ways, a single -32768 first (TFLM's MaxAbs16 wraps), random."""
    size = int(np.prod(shape))
    cases = [np.zeros(size), np.full(size, I16_MAX), np.full(size, I16_MIN),
             np.r_[I16_MIN, rng.integers(-50, 50, size - 1)],
             np.where(np.arange(size) % 2, I16_MIN, I16_MAX)]
    cases += [rng.integers(I16_MIN, I16_MAX + 1, size) for _ in range(n)]
    cases += [rng.integers(-300, 300, size)]
    return [[np.asarray(c, np.int16).reshape(shape)] for c in cases]


def uint_cases(shape, rng, dtype=np.uint32, n=3):
    size = int(np.prod(shape))
    top = U32_MAX if dtype == np.uint32 else U64_MAX
    cases = [np.zeros(size, dtype), np.full(size, top, dtype), np.arange(size, dtype=dtype)]
    for _ in range(n):
        bits = rng.integers(0, 8 * np.dtype(dtype).itemsize, size)
        cases.append((rng.integers(0, 1 << 62, size, dtype=np.uint64) >> (62 - np.minimum(bits, 62)).astype(np.uint64))
                     .astype(dtype))
    return [c.reshape(shape) for c in cases]


# -- SignalWindow ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,window,shift", [
    ((1, 16), 16, 12),
    ((3, 7), 7, 0),      # odd window, several frames, no shift: saturates
    ((21,), 7, 31),      # frames laid out along one axis; the largest shift
])
def test_window(tmp_path, shape, window, shift):
    rng = np.random.default_rng(window + shift)
    w = const("w", np.r_[I16_MIN, I16_MAX, rng.integers(I16_MIN, I16_MAX + 1, window - 2)].astype(np.int16))
    g = single_op(Op.SIGNAL_WINDOW, [t("x", shape, "int16"), w], [t("y", shape, "int16")], dict(shift=shift))
    check(g, tmp_path, int16_cases(shape, rng))


# -- SignalFftAutoScale ----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 7, 480])
def test_fft_auto_scale(tmp_path, size):
    rng = np.random.default_rng(size)
    g = single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (size,), "int16")],
                  [t("y", (size,), "int16"), t("scale", (), "int32")])
    cases = int16_cases((size,), rng) + [[np.full(size, v, np.int16)] for v in (1, -1, 16384, -16384, 3)]
    check(g, tmp_path, cases)


def test_fft_auto_scale_wrapped_maximum(tmp_path):
    # TFLM's MaxAbs16 keeps -(-32768) in int16 (-32768), so a later small sample becomes the
    # "maximum": the frame is shifted up by 13 bits and -32768 wraps to 0.
    g = single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (4,), "int16")],
                  [t("y", (4,), "int16"), t("scale", (), "int32")])
    xs = [[np.array([I16_MIN, 3, -2, 1], np.int16)], [np.array([5, I16_MIN, 0, 0], np.int16)]]
    out = run_reference(g, xs[0])
    assert int(out["scale"]) == 13 and out["y"][0] == 0
    check(g, tmp_path, xs)


# -- SignalRfft ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fft_length,in_shape", [
    (512, (480,)),        # the micro_speech front end: radix 4 only, zero padding
    (4, (4,)),            # the smallest: one radix-2 stage
    (12, (2, 12)),        # radix 2 and 3, two frames
    (40, (33,)),          # radix 4 and 5
    (60, (60,)),          # radix 2, 3 and 5
    (96, (3, 90)),        # radix 4, 4, 3 and 2; three frames
])
def test_rfft(tmp_path, fft_length, in_shape):
    rng = np.random.default_rng(fft_length)
    out_shape = in_shape[:-1] + (fft_length + 2,)
    g = single_op(Op.SIGNAL_RFFT, [t("x", in_shape, "int16")], [t("y", out_shape, "int16")],
                  dict(fft_length=fft_length))
    check(g, tmp_path, int16_cases(in_shape, rng))


# -- SignalEnergy ----------------------------------------------------------------------------------

def energy_model(bins, start, end):
    return single_op(Op.SIGNAL_ENERGY, [t("x", (2 * bins,), "int16")], [t("y", (bins,), "uint32")],
                     dict(start_index=start, end_index=end))


@pytest.mark.parametrize("bins", [257, 1])
def test_energy(tmp_path, bins):
    # A bin of -32768 - 32768i has energy 2^31: TFLM's int32 sum wraps there, the uint32 holds it.
    check(energy_model(bins, 0, bins), tmp_path, int16_cases((2 * bins,), np.random.default_rng(bins)))


@pytest.mark.parametrize("bins,start,end", [(257, 5, 241), (9, 3, 4), (9, 6, 2)])
def test_energy_bin_range(tmp_path, bins, start, end):
    """TFLM writes only bins [start, end) and leaves the rest as the arena held them (the
    micro_speech model slices them away); microlith writes 0 there. So TFLM is compared on the
    bins it writes, and the C on every bin against the reference."""
    from microlith.codegen.c import generate, prepare
    from microlith.verify import HostModel
    inputs = int16_cases((2 * bins,), np.random.default_rng(bins + start))
    path = write(energy_model(bins, start, end), tmp_path, "energy")
    defined = (np.arange(bins) >= start) & (np.arange(bins) < end)
    model, ours = reference_matches_tflm(path, inputs, defined)
    gen = generate(prepare(model), tmp_path / "c", name="energy")
    host = HostModel(gen.out_dir, model, "energy", tmp_path)
    try:
        for xs, want in zip(inputs, ours):
            got = host.run(xs)[0]
            np.testing.assert_array_equal(got, want[0])
            assert not got[~defined].any()
    finally:
        host.close()


# -- SignalFilterBank ------------------------------------------------------------------------------

def filter_tables(rng, bins, channels, negative=False):
    """Overlapping triangles: channel i covers bins [starts[i], starts[i] + widths[i])."""
    widths = rng.integers(1, 5, channels + 1)
    starts = np.minimum(np.cumsum(np.r_[0, widths[:-1]]) // 2, bins - widths)
    wstarts = np.cumsum(np.r_[0, widths[:-1]])
    total = int(widths.sum())
    lo = I16_MIN if negative else 0
    weights = rng.integers(lo, I16_MAX + 1, total)
    unweights = rng.integers(lo, I16_MAX + 1, total)
    return [const(n, np.asarray(a, np.int16)) for n, a in
            (("weights", weights), ("unweights", unweights), ("starts", starts), ("wstarts", wstarts),
             ("widths", widths))]


@pytest.mark.parametrize("bins,channels,negative", [(16, 5, False), (11, 3, True), (33, 1, True)])
def test_filter_bank(tmp_path, bins, channels, negative):
    rng = np.random.default_rng(bins)
    g = single_op(Op.SIGNAL_FILTER_BANK, [t("x", (bins,), "uint32")] + filter_tables(rng, bins, channels, negative),
                  [t("y", (channels,), "uint64")], dict(num_channels=channels))
    check(g, tmp_path, [[x] for x in uint_cases((bins,), rng)])


def test_filter_bank_real_tables(tmp_path):
    """The micro_speech front end's 40 mel channels over 257 bins."""
    sub = extract_op(9)
    x = sub.t(sub.inputs[0])
    rng = np.random.default_rng(9)
    check(sub, tmp_path, [[c] for c in uint_cases(x.shape, rng)])


# -- SignalFilterBankSquareRoot --------------------------------------------------------------------

def test_filter_bank_square_root(tmp_path):
    """The shift comes from FftAutoScale at run time, as in the front end (a frame of k-bit
    samples gives 15 - k; silence gives 0). The oracle takes no 0-d graph inputs, so the
    scale is computed by FftAutoScale here too."""
    from microlith.ir import Graph, Node
    rng = np.random.default_rng(1)
    ts = [t("frame", (3,), "int16"), t("scaled", (3,), "int16"), t("bits", (), "int32"),
          t("x", (9,), "uint64"), t("y", (9,), "uint32")]
    g = Graph("sqrt", {x.name: x for x in ts},
              [Node(Op.SIGNAL_FFT_AUTO_SCALE, ("frame",), ("scaled", "bits"), {}),
               Node(Op.SIGNAL_FILTER_BANK_SQUARE_ROOT, ("x", "bits"), ("y",), {})],
              ["frame", "x"], ["y"])
    edges = np.array([0, 1, 2, 3, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, U64_MAX, U64_MAX - 1], np.uint64)
    frames = [np.array(f, np.int16) for f in ([0, 0, 0], [1, 0, 0], [-300, 2, 5], [I16_MAX, 0, 0])]
    cases = [[f, edges] for f in frames]
    cases += [[frames[k % 4], x] for k, x in enumerate(uint_cases((9,), rng, np.uint64))]
    check(g, tmp_path, cases)


def test_filter_bank_square_root_scalar_input(tmp_path):
    """The scale as a 0-d graph input of its own (any int32: TFLM's shift is undefined outside
    [0, 31], its x86 build uses the count's low 5 bits, and so does the kernel)."""
    g = single_op(Op.SIGNAL_FILTER_BANK_SQUARE_ROOT, [t("x", (5,), "uint64"), t("bits", (), "int32")],
                  [t("y", (5,), "uint32")])
    x = np.array([0, 3, (1 << 32) + 5, U64_MAX, 1 << 40], np.uint64)
    check(g, tmp_path, [[x, np.array(b, np.int32)] for b in (0, 7, 31, 32, 33, -1)])


# -- SignalFilterBankSpectralSubtraction (keeps a noise estimate across invokes) -------------------

REAL_SUBTRACTION = dict(alternate_one_minus_smoothing=15401, alternate_smoothing=983, clamping=False,
                        min_signal_remaining=819, num_channels=40, one_minus_smoothing=15975, smoothing=409,
                        smoothing_bits=10, spectral_subtraction_bits=14)


def subtraction_model(channels, **changes):
    opts = {**REAL_SUBTRACTION, "num_channels": channels, **changes}
    return single_op(Op.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, [t("x", (channels,), "uint32")],
                     [t("y", (channels,), "uint32"), t("noise", (channels,), "uint32")], opts)


@pytest.mark.parametrize("channels,changes", [
    (40, {}),
    (5, dict(clamping=True)),
    (7, dict(smoothing_bits=0, spectral_subtraction_bits=0, min_signal_remaining=0)),
    (3, dict(smoothing_bits=31, spectral_subtraction_bits=63, smoothing=-1, one_minus_smoothing=-1)),
])
def test_spectral_subtraction_sequence(tmp_path, channels, changes):
    rng = np.random.default_rng(channels)
    # quiet, loud, full scale, then quiet again: the estimate carries over between invokes
    xs = [rng.integers(0, 1 << 12, channels).astype(np.uint32) for _ in range(3)]
    xs += [rng.integers(0, 1 << 20, channels).astype(np.uint32), np.full(channels, U32_MAX, np.uint32)]
    xs += [np.zeros(channels, np.uint32)] + [rng.integers(0, 1 << 12, channels).astype(np.uint32) for _ in range(3)]
    check(subtraction_model(channels, **changes), tmp_path, [[x] for x in xs])


def test_spectral_subtraction_reset(tmp_path):
    """NAME_reset() zeroes the noise estimate: a sequence after it repeats the one from start."""
    from microlith.codegen.c import generate, prepare
    from microlith.verify import HostModel
    g = subtraction_model(4)
    path = write(g, tmp_path, "sub")
    model = load_tflite(path)
    gen = generate(prepare(model), tmp_path / "c", name="sub")
    source = (tmp_path / "c" / "src" / "sub.c").read_text()
    assert "void sub_reset(void)" in source and "memset(sub_l0_noise_estimate" in source
    assert "void sub_reset(void);" in (tmp_path / "c" / "src" / "sub.h").read_text()
    assert "sub_reset()" in (tmp_path / "c" / "README.md").read_text()
    xs = [[np.array([1000, 2000, 3000, 4000], np.uint32) * (k + 1)] for k in range(3)]
    host = HostModel(gen.out_dir, model, "sub", tmp_path)
    try:
        first = [host.run(x)[1] for x in xs]
        host._child.request({"op": "call", "calls": [{"fn": "sub_reset", "args": []}]}, [])
        again = [host.run(x)[1] for x in xs]
    finally:
        host.close()
    assert first[2].any() and not np.array_equal(first[0], first[2])  # the state does change the output
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


# -- SignalDelay (keeps the delayed samples across invokes) -------------------------------------

@pytest.mark.parametrize("shape,delay", [((5,), 3), ((3,), 7), ((2, 4), 4), ((4,), 0)])
def test_delay_sequence(tmp_path, shape, delay):
    rng = np.random.default_rng(delay * 10 + len(shape))
    g = single_op(Op.SIGNAL_DELAY, [t("x", shape, "int16")], [t("y", shape, "int16")], dict(delay_length=delay))
    frames = [[rng.integers(I16_MIN, I16_MAX + 1, shape).astype(np.int16)] for _ in range(6)]
    frames.insert(2, [np.full(shape, I16_MIN, np.int16)])
    check(g, tmp_path, frames)


# -- SignalPCAN ------------------------------------------------------------------------------------

def real_gain_lut():
    sub = extract_op(12)
    return const("lut", sub.t(sub.nodes[0].inputs[2]).data.astype(np.int16))


@pytest.mark.parametrize("channels,snr_shift", [(40, 6), (5, 0), (3, 63)])
def test_pcan(tmp_path, channels, snr_shift):
    rng = np.random.default_rng(channels)
    g = single_op(Op.SIGNAL_PCAN, [t("x", (channels,), "uint32"), t("noise", (channels,), "uint32"),
                                   real_gain_lut()], [t("y", (channels,), "uint32")], dict(snr_shift=snr_shift))
    xs, noise = uint_cases((channels,), rng), uint_cases((channels,), rng)
    noise[2] = np.arange(channels, dtype=np.uint32) % 4  # 0, 1, 2 read the table directly
    check(g, tmp_path, [[x, n] for x in xs for n in noise[:4]])


def test_pcan_extreme_table(tmp_path):
    """A table of int16 extremes: the interpolation's int32 products at their largest."""
    lut = const("lut", np.where(np.arange(125) % 3 == 0, I16_MIN, I16_MAX).astype(np.int16))
    g = single_op(Op.SIGNAL_PCAN, [t("x", (6,), "uint32"), t("noise", (6,), "uint32"), lut],
                  [t("y", (6,), "uint32")], dict(snr_shift=6))
    rng = np.random.default_rng(3)
    xs = uint_cases((6,), rng)
    check(g, tmp_path, [[x, n] for x in xs[:3] for n in uint_cases((6,), rng)])


# -- SignalFilterBankLog ---------------------------------------------------------------------------

@pytest.mark.parametrize("bits,scale", [(3, 64), (0, 1), (31, 64), (0, 1 << 20), (2, -5)])
def test_filter_bank_log(tmp_path, bits, scale):
    rng = np.random.default_rng(bits)
    g = single_op(Op.SIGNAL_FILTER_BANK_LOG, [t("x", (11,), "uint32")], [t("y", (11,), "int16")],
                  dict(input_correction_bits=bits, output_scale=scale))
    edges = np.array([0, 1, 2, 3, 255, 256, 65535, 65536, 1 << 31, U32_MAX, 12345], np.uint32)
    check(g, tmp_path, [[edges]] + [[x] for x in uint_cases((11,), rng)])


# -- the micro_speech front end -------------------------------------------------------------------

def _cut(ops: list[int], rewire: dict | None = None, changes: dict | None = None):
    """A model made of some ops of the real preprocessor: TFLM's own tables and options."""
    buf = PREPROCESSOR.read_bytes()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(buf, 0))
    sg = m.subgraphs[0]
    kept = [sg.operators[i] for i in ops]
    for (i, k), tensor in (rewire or {}).items():
        ins = [int(x) for x in sg.operators[i].inputs]
        ins[k] = tensor
        sg.operators[i].inputs = ins
    for i, raw in (changes or {}).items():
        sg.operators[i].customOptions = list(raw)
    sg.operators = kept
    produced = {x for o in kept for x in o.outputs}
    consumed = [x for o in kept for x in o.inputs]
    sg.inputs = [x for x in dict.fromkeys(consumed) if x not in produced and m.buffers[sg.tensors[x].buffer].data is None]
    sg.outputs = [x for x in kept[-1].outputs]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def extract_op(i):
    return parse_tflite(_cut([i]), f"{PREPROCESSOR.name}#op{i}")


def _chain_model() -> bytes:
    """The preprocessor's signal ops in a row (FilterBank reads Energy directly; Energy then
    writes every bin, since TFLM leaves unwritten ones undefined)."""
    from microlith.frontends.flexopts import write_custom_options
    energy_all_bins = write_custom_options(Op.SIGNAL_ENERGY, dict(start_index=0, end_index=257))
    return _cut([0, 1, 2, 3, 4, 9, 10, 11, 12, 13], rewire={(9, 0): 24}, changes={4: energy_all_bins})


def test_signal_chain_of_the_real_preprocessor(tmp_path):
    """Window .. FilterBankLog with TFLM's tables, minus the int32 bin mask (STRIDED_SLICE /
    CONCATENATION / CASTs), over a sequence of frames: the noise estimate carries over."""
    path = Path(tmp_path) / "chain.tflite"
    path.write_bytes(_chain_model())
    g = load_tflite(path)
    assert [n.op for n in g.nodes][-1] is Op.SIGNAL_FILTER_BANK_LOG and len(g.nodes) == 10
    rng = np.random.default_rng(7)
    frames = int16_cases((1, 480), rng, n=2)
    tone = (8000 * np.sin(np.arange(480) * 0.3)).astype(np.int16).reshape(1, 480)
    frames += [[tone], [tone], [frames[5][0]], [tone // 64]]
    reference_matches_tflm(path, frames)
    given = Path(tmp_path) / "frames.npz"
    np.savez(given, np.stack([f[0] for f in frames]))
    res = microlith.verify(path, samples=0, inputs=str(given))
    assert res["bit_exact"], res


@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m4"])
def test_signal_chain_on_cortex_m(tmp_path, core):
    """The chain's firmware on emulated cores (M0: no divider, no DSP; M4: DSP), all frames in
    one run so the noise estimate carries over, equal to TFLM frame by frame."""
    import shutil
    from microlith.targets import cortexm
    if shutil.which(cortexm.CC) is None or shutil.which(cortexm.QEMU) is None:
        pytest.skip("arm-none-eabi-gcc or qemu-system-arm not installed")
    path = Path(tmp_path) / "chain.tflite"
    path.write_bytes(_chain_model())
    frames = int16_cases((1, 480), np.random.default_rng(3), n=1)
    given = Path(tmp_path) / "frames.npz"
    np.savez(given, np.stack([f[0] for f in frames]))
    res = microlith.verify(path, target=core, samples=0, inputs=str(given))
    assert res["bit_exact"] and res["samples"] == len(frames), res


def test_signal_chain_sanitized(tmp_path):
    """The chain's C under ASan + UBSan (exact-size heap arena refilled with a new byte per
    frame, so memory read before it is written shows up), equal to TFLM frame after frame."""
    test_sanitizers = pytest.importorskip("test_sanitizers")
    if test_sanitizers._why_not is not None:
        pytest.skip(test_sanitizers._why_not)
    from microlith.targets.host import build_sanitized_runner
    path = Path(tmp_path) / "chain.tflite"
    path.write_bytes(_chain_model())
    g = load_tflite(path)
    res = microlith.compile(g, tmp_path / "c", measure=False)
    runner = build_sanitized_runner(tmp_path / "c", res["name"], tmp_path / "san")
    frames = int16_cases((1, 480), np.random.default_rng(11), n=2)
    got = runner.run(frames)
    oracle = Oracle(path.read_bytes(), g)
    try:
        for k, xs in enumerate(frames):
            np.testing.assert_array_equal(got[k][0], oracle.run(xs)[0].reshape(-1), err_msg=f"frame {k}")
    finally:
        oracle.close()


def _builtin_tail(log_out: np.ndarray, consts: dict) -> np.ndarray:
    """The preprocessor's int32 builtins after FilterBankLog, as TFLM computes them: CAST
    int16 -> int32, MUL, ADD, DIV (C division, truncating), ADD, MINIMUM, MAXIMUM, and CAST
    int32 -> int8 (a plain C conversion; TFLM's CAST ignores the int8 output's quantization)."""
    v = log_out.astype(np.int64) * consts["mul"] + consts["add"]
    v = np.trunc(v / consts["div"]).astype(np.int64) + consts["add_1"]
    v = np.maximum(np.minimum(v, consts["min"]), consts["max"])
    return v.astype(np.int8)


def test_full_preprocessor_signal_references():
    """The whole preprocessor in numpy: our references of its nine signal ops, and its int32
    builtins (the bin mask: CAST uint32 -> int32, STRIDED_SLICE [5:241], CONCATENATION with
    zeros, CAST back; then _builtin_tail) written out here, against TFLM's int8 output over a
    sequence of frames (the noise estimate carries over)."""
    buf = PREPROCESSOR.read_bytes()
    model = fb.Model.GetRootAs(buf, 0)
    sg = model.Subgraphs(0)
    names = [sg.Tensors(j).Name().decode() for j in range(sg.TensorsLength())]

    def scalar(j):
        return int(model.Buffers(sg.Tensors(j).Buffer()).DataAsNumpy().view("<i4")[0])

    consts = dict(mul=scalar(17), add=scalar(4), div=scalar(18), add_1=scalar(16), min=scalar(14), max=scalar(16))
    assert consts == dict(mul=256, add=333, div=666, add_1=-128, min=127, max=-128)
    subs = {i: extract_op(i) for i in (0, 2, 3, 4, 9, 10, 11, 12, 13)}
    params = {i: impl_for(g.nodes[0].op).prepare(g.nodes[0], g) for i, g in subs.items()}

    def run(i, *live):
        g = subs[i]
        node = g.nodes[0]
        ins = list(live) + [g.t(n).data for n in node.inputs[len(live):]]
        return impl_for(node.op).reference(node, g, params[i], ins)

    from microlith.ir import Graph
    fake = Graph("m", {n: Tensor(n, (1,), "int8") for n in names}, [], [names[0]], [names[42]],
                 meta={"tflite_index": {n: k for k, n in enumerate(names)}})
    oracle = Oracle(buf, fake)
    rng = np.random.default_rng(0)
    frames = int16_cases((1, 480), rng, n=2)
    tone = (8000 * np.sin(np.arange(480) * 0.3)).astype(np.int16).reshape(1, 480)
    frames += [[tone], [tone], [tone // 64]]
    try:
        for k, (x,) in enumerate(frames):
            want = oracle.run([x])[0].reshape(-1)
            scaled, bits = run(2, run(0, x)[0].reshape(480))
            energy = run(4, run(3, scaled)[0])[0].view(np.int32)
            masked = np.concatenate([np.zeros(5, np.int32), energy[5:241], np.zeros(16, np.int32)])
            sub, noise = run(11, run(10, run(9, masked.view(np.uint32))[0], bits)[0])
            got = _builtin_tail(run(13, run(12, sub, noise)[0])[0], consts)
            np.testing.assert_array_equal(got, want, err_msg=f"frame {k}")
    finally:
        oracle.close()


def test_full_preprocessor(tmp_path):
    """The whole micro_speech preprocessor, once its int32 builtins (CAST, DIV, MINIMUM,
    MAXIMUM on int32/uint32) exist."""
    needed = ("CAST", "DIV", "MINIMUM", "MAXIMUM")
    if not all(hasattr(Op, n) for n in needed):
        pytest.skip("CAST, DIV, MINIMUM and MAXIMUM are not ops of this microlith yet")
    rng = np.random.default_rng(0)
    frames = int16_cases((1, 480), rng, n=3)
    given = Path(tmp_path) / "frames.npz"
    np.savez(given, np.stack([f[0] for f in frames]))
    try:
        res = microlith.verify(str(PREPROCESSOR), samples=20, inputs=str(given))
    except MicrolithError as e:  # after a merge: says which builtin still lacks int32/uint32
        pytest.fail(f"the preprocessor's int32/uint32 builtins (CAST uint32<->int32, int16->int32, int32->int8; "
                    f"MUL, ADD, DIV, MINIMUM, MAXIMUM, STRIDED_SLICE, CONCATENATION on int32) are not all "
                    f"supported yet: {e}")
    assert res["bit_exact"], res


# -- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("make,match", [
    (lambda: single_op(Op.SIGNAL_WINDOW, [t("x", (10,), "int16"), const("w", np.ones(4, np.int16))],
                       [t("y", (10,), "int16")], dict(shift=1)), "whole number of 4-sample windows"),
    (lambda: single_op(Op.SIGNAL_WINDOW, [t("x", (4,), "int16"), const("w", np.ones(4, np.int16))],
                       [t("y", (4,), "int16")], dict(shift=32)), r"shift=32 is outside \[0, 31\]"),
    (lambda: single_op(Op.SIGNAL_WINDOW, [t("x", (4,), "int8"), const("w", np.ones(4, np.int16))],
                       [t("y", (4,), "int16")], dict(shift=1)), "is int8; TFLM's kernel takes int16"),
    (lambda: single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (4,), "int16")],
                       [t("y", (5,), "int16"), t("s", (), "int32")]), "has 4 elements but 'y' has 5"),
    (lambda: single_op(Op.SIGNAL_RFFT, [t("x", (14,), "int16")], [t("y", (16,), "int16")],
                       dict(fft_length=14)), "prime factor 7"),
    (lambda: single_op(Op.SIGNAL_RFFT, [t("x", (9,), "int16")], [t("y", (11,), "int16")],
                       dict(fft_length=9)), "needs an even length"),
    (lambda: single_op(Op.SIGNAL_RFFT, [t("x", (20,), "int16")], [t("y", (18,), "int16")],
                       dict(fft_length=16)), "do not fit fft_length=16"),
    (lambda: single_op(Op.SIGNAL_RFFT, [t("x", (16,), "int16")], [t("y", (16,), "int16")],
                       dict(fft_length=16)), "last dimension of 18"),
    (lambda: single_op(Op.SIGNAL_ENERGY, [t("x", (8,), "int16")], [t("y", (4,), "uint32")],
                       dict(start_index=0, end_index=5)), r"bins \[0, 5\) do not lie"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK, [t("x", (4,), "uint32"), const("w", np.ones(4, np.int16)),
                                               const("u", np.ones(4, np.int16)), const("f", np.array([0, 2], np.int16)),
                                               const("s", np.array([0, 1], np.int16)),
                                               const("c", np.array([2, 3], np.int16))],
                       [t("y", (1,), "uint64")], dict(num_channels=1)), "channel 1 reads input bins"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK, [t("x", (4,), "uint32"), t("w", (4,), "int16"),
                                               const("u", np.ones(4, np.int16)), const("f", np.array([0, 2], np.int16)),
                                               const("s", np.array([0, 1], np.int16)),
                                               const("c", np.array([2, 2], np.int16))],
                       [t("y", (1,), "uint64")], dict(num_channels=1)), "weights 'w' is not a constant"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK, [t("x", (4,), "uint32")] + [const(n, np.zeros(1, np.int16))
                                                                          for n in "wufsc"],
                       [t("y", (1,), "uint64")], dict(num_channels=1)), "num_channels=1 needs 2"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK_SQUARE_ROOT, [t("x", (4,), "uint64"),
                                                           const("b", np.array(40, np.int32))],
                       [t("y", (4,), "uint32")]), r"scale bits 40 lie outside \[0, 31\]"),
    (lambda: subtraction_model(4, num_channels=5), "num_channels=5 but"),
    (lambda: subtraction_model(4, smoothing_bits=32), r"smoothing_bits=32 is outside \[0, 31\]"),
    (lambda: subtraction_model(4, spectral_subtraction_bits=64), r"spectral_subtraction_bits=64 is outside"),
    (lambda: single_op(Op.SIGNAL_PCAN, [t("x", (4,), "uint32"), t("n", (4,), "uint32"),
                                        const("lut", np.zeros(124, np.int16))],
                       [t("y", (4,), "uint32")], dict(snr_shift=6)), "reads up to 125"),
    (lambda: single_op(Op.SIGNAL_PCAN, [t("x", (4,), "uint32"), t("n", (3,), "uint32"),
                                        const("lut", np.zeros(125, np.int16))],
                       [t("y", (4,), "uint32")], dict(snr_shift=6)), "noise estimate has 3 channels"),
    (lambda: single_op(Op.SIGNAL_PCAN, [t("x", (4,), "uint32"), t("n", (4,), "uint32"),
                                        const("lut", np.zeros(125, np.int16))],
                       [t("y", (4,), "uint32")], dict(snr_shift=64)), r"snr_shift=64 is outside \[0, 63\]"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK_LOG, [t("x", (4,), "uint32")], [t("y", (4,), "int16")],
                       dict(input_correction_bits=32, output_scale=1)), r"input_correction_bits=32 is outside"),
    (lambda: single_op(Op.SIGNAL_DELAY, [t("x", (4,), "int16")], [t("y", (4,), "int16")],
                       dict(delay_length=-1)), r"delay_length=-1 is outside"),
    (lambda: single_op(Op.SIGNAL_DELAY, [t("x", (4,), "int16")], [t("y", (4,), "int16")],
                       dict(delay_length=1 << 25)), "kept in static memory"),
    (lambda: single_op(Op.SIGNAL_DELAY, [t("x", (4,), "int16")], [t("y", (5,), "int16")],
                       dict(delay_length=1)), "has 4 elements but 'y' has 5"),
    (lambda: single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (2, 4), "int16")],
                       [t("y", (8,), "int16"), t("s", (), "int32")]), "needs 1 dimension"),
    (lambda: single_op(Op.SIGNAL_WINDOW, [t("x", (1, 4), "int16"), const("w", np.ones(4, np.int16))],
                       [t("y", (4,), "int16")], dict(shift=1)), "need the same rank"),
    (lambda: single_op(Op.SIGNAL_RFFT, [t("x", (1, 16), "int16")], [t("y", (18,), "int16")],
                       dict(fft_length=16)), "need the same rank"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK, [t("x", (4,), "uint32"), const("w", np.ones(4, np.int16)),
                                               const("u", np.ones(4, np.int16)), const("f", np.array([0, 2], np.int16)),
                                               const("s", np.array([0, 1], np.int16)),
                                               const("c", np.array([2, 2], np.int16))],
                       [t("y", (2,), "uint64")], dict(num_channels=1)), "output has 2 elements; num_channels=1"),
    (lambda: single_op(Op.SIGNAL_FILTER_BANK, [t("x", (4,), "uint32")] + [const(n, np.zeros(1, np.int16))
                                                                          for n in "wufsc"],
                       [t("y", (1,), "uint64")], dict(num_channels=-1)), r"num_channels=-1 is outside"),
])
def test_refusals(tmp_path, make, match):
    g = write(make(), tmp_path, "bad")
    with pytest.raises(MicrolithError, match=match):
        microlith.compile(str(g), str(tmp_path / "out"))


def _with_options(op_index: int, raw: bytes) -> bytes:
    return _cut([op_index], changes={op_index: raw})


@pytest.mark.parametrize("op_index,raw,match", [
    (0, b"", "has no custom options"),
    (0, b"\x01\x02\x03\x04", "not a valid FlexBuffers map|not a FlexBuffers map"),
    (0, bytes([0x05, 0x0c, 0x01]), "not a FlexBuffers map"),  # a bare integer, not a map
    (13, None, r"keys \[output_scale\]; TFLM reads them by position"),
    (0, None, "not an int32 integer"),
    (3, None, "int16 RFFT only"),
    (11, None, "option clamping is str, not a boolean"),
])
def test_option_refusals(op_index, raw, match):
    from flatbuffers import flexbuffers
    if raw is None:
        fbb = flexbuffers.Builder()
        with fbb.Map():
            if op_index == 13:
                fbb.Int("output_scale", 64)
            elif op_index == 0:
                fbb.Int("shift", 1 << 40)
            elif op_index == 11:
                for key, v in REAL_SUBTRACTION.items():
                    if key == "clamping":
                        fbb.String(key, "yes")
                    else:
                        fbb.Int(key, v)
            else:
                fbb.Int("T", 9)
                fbb.Int("fft_length", 512)
        raw = bytes(fbb.Finish())
    with pytest.raises(MicrolithError, match=match):
        parse_tflite(_with_options(op_index, raw), "bad.tflite")


def test_two_outputs_are_required_by_the_frontend():
    buf = PREPROCESSOR.read_bytes()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(buf, 0))
    sg = m.subgraphs[0]
    op = sg.operators[2]  # SignalFftAutoScale
    op.outputs = [int(op.outputs[0])]
    sg.operators, sg.inputs, sg.outputs = [op], [int(op.inputs[0])], [int(op.outputs[0])]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with pytest.raises(MicrolithError, match="takes 1 input.* and 2 outputs"):
        parse_tflite(bytes(b.Output()), "bad.tflite")


def test_two_outputs_are_required():
    g = single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (4,), "int16")], [t("y", (4,), "int16")])
    with pytest.raises(MicrolithError, match="writes exactly 2"):
        g.validate_for_codegen()


def test_no_float_form():
    """The float reference (used to calibrate float models) refuses signal ops by name."""
    from microlith.reference_float import run_float
    g = single_op(Op.SIGNAL_FFT_AUTO_SCALE, [t("x", (4,), "int16")], [t("y", (4,), "int16"), t("s", (), "int32")])
    with pytest.raises(MicrolithError, match="integer-only signal op"):
        run_float(g, [np.zeros(4, np.int16)])
