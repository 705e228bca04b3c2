"""Generated C under AddressSanitizer + UndefinedBehaviorSanitizer (issue 8, item 7).

Each model's folder is built on the host with -fsanitize=address,undefined
-fno-sanitize-recover=all (targets/host.py build_sanitized_runner) and run on extreme inputs
(all minimum, all maximum, alternating) and random ones, with the arena, every input and
every output each malloc'd at exactly the declared size (NAME_ARENA_SIZE, NAME_*_SIZE), so
any access one byte past them stops the run; outputs must equal TFLM's byte for byte. The
arena and outputs start filled with a different byte per sample, so reading memory the code
never wrote shows up as a mismatch. Negative controls show the harness can fail: an arena one
byte short is reported by ASan, and a signed overflow by UBSan.
"""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.api import load
from microlith.ir import MicrolithError, Op
from microlith.targets.build import find_compiler
from microlith.targets.host import SANITIZE, build_sanitized_runner
from microlith.verify import Oracle
from opmodels import act, const, single_op, write
from test_activation import softmax_model
from test_conv import CONV_CASES, DEPTHWISE_CASES, conv_graph
from test_elementwise import unary
from test_inplace import CHAINS, _chain
from test_pool import mean_graph, out_hw, pool_attrs
from test_shape import slice_graph

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
MLPERF = ["kws_ref_model.tflite", "ad01_int8.tflite", "pretrainedResnet_quant.tflite", "vww_96_int8.tflite"]


def _sanitizers_work(cc: str | None = None) -> str | None:
    """None when the compiler builds and runs an ASan+UBSan program, else why not."""
    try:
        cc = cc or find_compiler()
    except MicrolithError as e:
        return str(e)
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "t.c", Path(tmp) / "t"
        src.write_text("int main(void) { return 0; }\n")
        res = subprocess.run([cc, *SANITIZE, str(src), "-o", str(exe)], capture_output=True, text=True)
        if res.returncode != 0:
            return f"{cc} cannot build with {' '.join(SANITIZE)}: {res.stderr.strip()[:200]}"
        res = subprocess.run([str(exe)], capture_output=True, text=True, env={"ASAN_OPTIONS": "detect_leaks=0"})
        if res.returncode != 0:
            return f"ASan programs do not run here: {res.stderr.strip()[:200]}"
    return None


_why_not = _sanitizers_work()
pytestmark = pytest.mark.skipif(_why_not is not None, reason=str(_why_not))


@pytest.fixture(scope="module")
def obj_cache(tmp_path_factory):
    """Kernel objects shared by every model of this module (compiled once per distinct source)."""
    return tmp_path_factory.mktemp("sanitizer-objects")


def extreme_inputs(g, rng, n_random: int) -> list[list[np.ndarray]]:
    """All minimum, all maximum, alternating minimum/maximum, then random samples."""
    lows, highs = [], []
    for name in g.inputs:
        t = g.t(name)
        if t.dtype == "float32":
            lo, hi = -1000.0, 1000.0
        else:
            info = np.iinfo(t.np_dtype)
            lo, hi = int(info.min), int(info.max)
        lows.append(np.full(t.shape, lo, t.np_dtype))
        highs.append(np.full(t.shape, hi, t.np_dtype))
    alt = []
    for lo, hi in zip(lows, highs):
        a = lo.reshape(-1).copy()
        a[1::2] = hi.reshape(-1)[1::2]
        alt.append(a.reshape(lo.shape))
    cases = [lows, highs, alt]
    for _ in range(n_random):
        xs = []
        for name in g.inputs:
            t = g.t(name)
            if t.dtype == "float32":
                xs.append(rng.uniform(-8.0, 8.0, t.shape).astype(np.float32))
            else:
                info = np.iinfo(t.np_dtype)
                xs.append(rng.integers(info.min, int(info.max) + 1, t.shape).astype(t.np_dtype))
        cases.append(xs)
    return cases


def check_sanitized(model_path: Path, work: Path, cache: Path, n_random: int = 3, seed: int = 0):
    """Sanitized build of `model_path`, byte-exact with TFLM on extreme and random inputs,
    through NAME_invoke_with_arena on an exact-size heap arena and through NAME_invoke."""
    g = load(model_path)
    res = microlith.compile(g, work / "c", measure=False)
    runner = build_sanitized_runner(work / "c", res["name"], work / "san", cache_dir=cache)
    assert runner.api.arena_bytes == res["arena_bytes"]
    cases = extreme_inputs(g, np.random.default_rng(seed), n_random)
    got = runner.run(cases)
    got_static = runner.run(cases[:2], static_arena=True)  # the library's own static arena
    oracle = Oracle(Path(model_path).read_bytes(), g)
    wants = [oracle.run(xs) for xs in cases]
    oracle.close()
    for k, want in enumerate(wants):
        assert len(want) == len(got[k]) == len(g.outputs), (k, len(want), len(got[k]))
        for j, (w, c) in enumerate(zip(want, got[k])):
            w = np.ascontiguousarray(np.asarray(w).reshape(-1), dtype=c.dtype)
            assert w.size == c.size, (k, j, w.size, c.size)
            if w.tobytes() != c.tobytes():
                diff = np.abs(w.astype(np.float64) - c.astype(np.float64))
                raise AssertionError(f"{model_path.name}: sample {k} output {j}: {np.count_nonzero(diff)} of "
                                     f"{w.size} values differ from TFLM, max |diff| {diff.max()}")
        if k < len(got_static):
            assert all(a.tobytes() == b.tobytes() for a, b in zip(got[k], got_static[k]))
    return runner, cases


# ------------------------------------------------------------------------------ whole models

@pytest.mark.skipif(not (MODELS / MLPERF[0]).exists(), reason=f"{MODELS} not present")
@pytest.mark.parametrize("model", MLPERF)
def test_mlperf_tiny_sanitized(tmp_path, obj_cache, model):
    # VWW is the largest (7.5 M MACs, about 0.3 s per sample sanitized): fewer random samples.
    check_sanitized(MODELS / model, tmp_path, obj_cache, n_random=1 if model.startswith("vww") else 3)


# ------------------------------------------------------------------------------ single ops

def _fc(batches, depth, units, in_zp, out_zp, act_fn, bias=True):
    rng = np.random.default_rng(depth * 31 + units)
    x = act("x", (batches, depth), 0.07, in_zp)
    w = const("w", rng.integers(-127, 128, (units, depth)), scale=0.02, zp=0, dtype="int8")
    b = const("b", rng.integers(-3000, 3000, units), scale=0.07 * 0.02, dtype="int32") if bias else None
    return single_op(Op.FULLY_CONNECTED, [x, w, b], [act("y", (batches, units), 0.11, out_zp)],
                     dict(activation=act_fn, keep_num_dims=False))


def _pool(op, shape, fh, fw, sh, sw, padding, act_fn, scale, zp):
    n, h, w, c = shape
    oh, ow = out_hw(h, w, fh, fw, sh, sw, padding)
    return single_op(op, [act("x", shape, scale, zp)], [act("y", (n, oh, ow, c), scale, zp)],
                     pool_attrs(fh, fw, sh, sw, padding, act_fn))


def _binary(op, shape1, shape2, activation="NONE"):
    out = np.broadcast_shapes(shape1, shape2)
    return single_op(op, [act("a", shape1, 0.06, -3), act("b", shape2, 0.04, 9)],
                     [act("y", out, 0.08, 4)], dict(activation=activation))


def _pad(shape, pads, q):
    pads = np.array(pads, np.int32)
    oshape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    return single_op(Op.PAD, [act("x", shape, *q), const("pads", pads)], [act("y", oshape, *q)])


def _concat(n_inputs, axis):
    base, ins = (2, 3, 4, 5), []
    for i in range(n_inputs):
        shape = list(base)
        shape[axis] = i + 1
        ins.append(act(f"x{i}", shape, 0.07, 127))
    oshape = list(base)
    oshape[axis] = sum(range(1, n_inputs + 1))
    return single_op(Op.CONCATENATION, ins, [act("y", oshape, 0.07, 127)], dict(axis=axis, activation="NONE"))


def _transpose(shape, perm):
    return single_op(Op.TRANSPOSE, [act("x", shape, 0.1, 127), const("perm", np.array(perm, np.int32))],
                     [act("y", tuple(shape[p] for p in perm), 0.1, 127)])


def _conv(name):
    x_shape, out_c, kernel, kw = CONV_CASES[name]
    return conv_graph(x_shape, out_c, kernel, seed=len(name), **kw)


def _dw(name):
    x_shape, kernel, mult, kw = DEPTHWISE_CASES[name]
    return conv_graph(x_shape, None, kernel, depth_multiplier=mult, seed=len(name) + 100, **kw)


# Geometry edge cases (clipped and empty windows, odd sizes, strides, dilations, batches) and
# arithmetic ones (zero points at the limits, saturation) of each kernel family: the places
# where an index can step outside a buffer or an intermediate can overflow.
OP_MODELS = {
    **{f"conv_{n}": (lambda n=n: _conv(n)) for n in (
        "3x3_same_stride2_odd", "even_kernel_same_stride2", "dilation_stride_same", "window_larger_than_image",
        "dilated_taps_all_outside", "zp_min_max", "saturation", "batch3", "no_bias", "kws_first_layer",
        "pointwise_odd", "pointwise_one_pixel_odd_out", "deep_accumulation", "grouped_2_stride_dilation")},
    **{f"dw_{n}": (lambda n=n: _dw(n)) for n in (
        "3x3_same_c11", "stride2_valid_m2", "m3_one_channel", "dilation_unequal_valid",
        "dilated_taps_all_outside", "image_1x1", "kws_like_10x4", "batch3_m2_no_bias", "even_kernel_same")},
    "fc_odd_zp_limits": lambda: _fc(1, 33, 7, -128, 127, "RELU"),
    "fc_batches_no_bias": lambda: _fc(3, 10, 1, 127, -128, "RELU6", bias=False),
    "avgpool_same_odd": lambda: _pool(Op.AVERAGE_POOL_2D, (1, 7, 9, 3), 3, 3, 2, 2, "SAME", "NONE", 0.1, -3),
    "avgpool_window_larger": lambda: _pool(Op.AVERAGE_POOL_2D, (1, 3, 3, 2), 5, 5, 1, 1, "SAME", "RELU6", 0.05, -128),
    "maxpool_strides_gt_filter": lambda: _pool(Op.MAX_POOL_2D, (3, 5, 4, 7), 2, 3, 3, 1, "SAME", "RELU", 0.3, 127),
    "mean_hw_requantized": lambda: mean_graph((1, 5, 7, 4), [1, 2], True, (0.1, 3), (0.07, -5)),
    "mean_three_axes": lambda: mean_graph((2, 5, 6, 3), [0, 1, 2], False, (0.1, 3), (0.013, -100)),
    "add_5d_broadcast": lambda: _binary(Op.ADD, (2, 3, 1, 4, 5), (1, 1, 6, 1, 1)),
    "sub_outer_product": lambda: _binary(Op.SUB, (4, 1), (1, 5), "RELU"),
    "mul_lower_rank": lambda: _binary(Op.MUL, (2, 3, 4), (4,)),
    # rows of up to about 500 ties: beyond, TFLM itself stops (test_activation.py)
    "softmax_long_rows": lambda: softmax_model((1, 1, 2, 300), 0.08, -10),
    "softmax_4d_int16_out": lambda: softmax_model((2, 3, 4, 5), 0.4, -60, out_dtype="int16"),
    "logistic": lambda: single_op(Op.LOGISTIC, [act("x", (2, 3, 5, 7), 0.07, -11)],
                                  [act("y", (2, 3, 5, 7), 1 / 256, -128)]),
    "tanh": lambda: single_op(Op.TANH, [act("x", (256,), 3.0, -7)], [act("y", (256,), 1 / 128, 0)]),
    "hard_swish": lambda: unary(Op.HARD_SWISH, 0.001, 5, 0.8, -3),
    "leaky_relu": lambda: unary(Op.LEAKY_RELU, 0.2, 127, 0.01, -128, dict(alpha=-0.3)),
    "relu6_rescale": lambda: unary(Op.RELU6, 0.01, -3, 0.5, 40),
    "quantize_float": lambda: single_op(Op.QUANTIZE, [microlith.ir.Tensor("x", (2, 3, 17), "float32")],
                                        [act("y", (2, 3, 17), 1e-4, 5, "int16")]),
    "dequantize": lambda: single_op(Op.DEQUANTIZE, [act("x", (3, 50), 0.7, 127)],
                                    [microlith.ir.Tensor("y", (3, 50), "float32")]),
    "requantize": lambda: unary(Op.QUANTIZE, 0.01, -128, 0.2, 127),
    "pad_5d": lambda: _pad((2, 3, 2, 2, 3), [[0, 1], [1, 0], [0, 0], [1, 1], [0, 0]], (0.1, 9)),
    "concat_axis_minus3": lambda: _concat(3, -3),
    "slice_negative_strides": lambda: slice_graph((6, 7), [-1, -1], [0, 0], [-2, -3], (3, 3), end_mask=3),
    "slice_shrink": lambda: slice_graph((5, 6, 3), [-1, 0, -2], [0, 6, 0], [1, 1, 1], (6,), shrink_axis_mask=5),
    "transpose_5d": lambda: _transpose((2, 3, 4, 5, 2), [4, 0, 2, 1, 3]),
    **{f"inplace_{n}": (lambda n=n: _chain(CHAINS[n], seed=len(n))) for n in sorted(CHAINS)},
}


@pytest.mark.parametrize("name", sorted(OP_MODELS))
def test_op_model_sanitized(tmp_path, obj_cache, name):
    path = write(OP_MODELS[name](), tmp_path, name)
    check_sanitized(path, tmp_path, obj_cache, n_random=3, seed=len(name))


# ------------------------------------------------------------------------------ the harness can fail

@pytest.mark.skipif(not (MODELS / MLPERF[0]).exists(), reason=f"{MODELS} not present")
def test_arena_one_byte_short_is_caught(tmp_path, obj_cache):
    # The build that passes above, given an arena one byte smaller than declared: KWS's last
    # layers use the arena's end, so ASan must stop the run.
    res = microlith.compile(MODELS / MLPERF[0], tmp_path / "c", measure=False)
    runner = build_sanitized_runner(tmp_path / "c", res["name"], tmp_path / "san", cache_dir=obj_cache)
    x = [np.zeros(runner.api.inputs[0].count, np.int8)]
    runner.run([x])  # exact size: clean
    with pytest.raises(MicrolithError, match="AddressSanitizer: heap-buffer-overflow"):
        runner.run([x], arena_shortfall=1)


def _fake_folder(root: Path, body: str, name: str = "fake") -> Path:
    """A folder shaped like codegen output (4 int8 in, 4 out, an 8-byte arena) running `body`."""
    src = root / "src"
    src.mkdir(parents=True)
    up = name.upper()
    (src / f"{name}.h").write_text(
        f"#ifndef {up}_H\n#define {up}_H\n#include <stdint.h>\n#define {up}_ARENA_SIZE 8\n"
        f"#define {up}_INPUT_SIZE 4\n#define {up}_OUTPUT_SIZE 4\n"
        f"int {name}_invoke(const int8_t *input, int8_t *output);\n"
        f"int {name}_invoke_with_arena(const int8_t *input, int8_t *output, void *arena);\n#endif\n")
    (src / f"{name}.c").write_text(
        f'#include "{name}.h"\nstatic int32_t {name}_arena[2];\n'
        f"int {name}_invoke_with_arena(const int8_t *input, int8_t *output, void *arena)\n{{\n"
        "    int32_t *a = (int32_t *)arena;\n"
        f"    {body}\n"
        "    for (int i = 0; i < 4; i++) {\n        output[i] = (int8_t)(input[i] + a[0]);\n    }\n"
        "    return 0;\n}\n"
        f"int {name}_invoke(const int8_t *input, int8_t *output)\n{{\n"
        f"    return {name}_invoke_with_arena(input, output, {name}_arena);\n}}\n")
    return root


def test_undefined_behaviour_is_caught(tmp_path):
    sample = [[np.array([1, 2, 3, 100], np.int8)]]
    ok = build_sanitized_runner(_fake_folder(tmp_path / "ok", "a[0] = input[0];"), "fake", tmp_path / "w1")
    assert [o.tolist() for o in ok.run(sample)[0]] == [[2, 3, 4, 101]]
    # INT32_MAX + a positive input: signed overflow, undefined; UBSan must stop the run.
    bad = build_sanitized_runner(_fake_folder(tmp_path / "bad", "a[0] = 2147483647; a[0] += input[0];"),
                                 "fake", tmp_path / "w2")
    with pytest.raises(MicrolithError, match="runtime error: signed integer overflow"):
        bad.run(sample)


def test_overrun_of_an_exact_size_output_is_caught(tmp_path):
    # Writing output[4] (one past NAME_OUTPUT_SIZE) must be reported, not silently absorbed.
    body = "a[0] = 0; output[4] = 1;"
    bad = build_sanitized_runner(_fake_folder(tmp_path / "bad", body), "fake", tmp_path / "w")
    with pytest.raises(MicrolithError, match="AddressSanitizer: heap-buffer-overflow"):
        bad.run([[np.zeros(4, np.int8)]])


def test_clang_build_also_clean(tmp_path):
    clang = shutil.which("clang")
    why = "clang not installed" if clang is None else _sanitizers_work(clang)
    if why:
        pytest.skip(why)
    path = write(_dw("kws_like_10x4"), tmp_path, "clang_dw")
    g = load(path)
    res = microlith.compile(g, tmp_path / "c", measure=False)
    runner = build_sanitized_runner(tmp_path / "c", res["name"], tmp_path / "san", compiler=clang)
    cases = extreme_inputs(g, np.random.default_rng(0), 2)
    oracle = Oracle(path.read_bytes(), g)
    wants = [oracle.run(xs) for xs in cases]
    oracle.close()
    for want, got in zip(wants, runner.run(cases)):
        assert np.asarray(want[0]).reshape(-1).tobytes() == got[0].tobytes()
