"""Pooling on an emulated Cortex-M4: the DSP-extension paths (SXTAB16 sums in assembly, the
proven reciprocal division, SSUB8/SEL max) judged byte for byte by TFLM, plus the compile-time
proof of the reciprocal itself."""
import shutil

import numpy as np
import pytest

import microlith
from microlith.ir import Op
from microlith.ops.pool import avgpool_reciprocal
from microlith.targets import cortexm
from opmodels import act, single_op, write

needs_tools = pytest.mark.skipif(any(shutil.which(t) is None for t in (cortexm.CC, cortexm.QEMU)),
                                 reason="arm-none-eabi-gcc or qemu-system-arm not installed")


def tflm_average(a: np.ndarray, count: int) -> np.ndarray:
    """TFLM reference_integer_ops::AveragePool's rounding, with C's truncating division."""
    half = count // 2
    return np.where(a > 0, (a + half) // count, -((half - a) // count))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 9, 25, 64, 100, 125, 127, 128])
def test_reciprocal_is_tflm_rounding_for_every_sum(count):
    mult, shift = avgpool_reciprocal(count)
    assert mult > 0 and shift >= 16
    a = np.arange(-128 * count, 127 * count + 1, dtype=np.int64)
    biased = a + 128 * count + count // 2 - ((a < 0) & (count % 2 == 0))
    assert biased.min() >= 0 and biased.max() < 1 << 15 and int(biased.max()) * mult < 1 << 32
    # What the kernel's SMULWx + shift compute: floor(floor(a' * m / 2^16) / 2^(s - 16)).
    got = ((biased * mult) >> 16) >> (shift - 16)
    assert np.array_equal(got - 128, tflm_average(a, count))


def test_reciprocal_refuses_windows_it_cannot_prove():
    assert avgpool_reciprocal(129) == (0, 0)   # a' no longer fits a signed halfword
    assert avgpool_reciprocal(256) == (0, 0)


# (op, input shape, filter, stride, padding, activation, zero point): the MLPerf Tiny pools,
# a 1-D CNN max pool, channel counts off the 16/8/4 groups, clipped windows, an unaligned
# channel count, a window over 128 cells (divides) and one over 256 (portable sums).
CASES = [
    (Op.AVERAGE_POOL_2D, (1, 25, 5, 64), (25, 5), (1, 1), "VALID", "NONE", -128),  # KWS
    (Op.AVERAGE_POOL_2D, (1, 3, 3, 256), (3, 3), (1, 1), "VALID", "NONE", -128),   # VWW
    (Op.AVERAGE_POOL_2D, (1, 8, 8, 64), (8, 8), (1, 1), "VALID", "RELU", 3),        # ResNet-8
    (Op.AVERAGE_POOL_2D, (2, 7, 9, 28), (3, 3), (2, 2), "SAME", "RELU6", -3),
    (Op.AVERAGE_POOL_2D, (1, 6, 6, 19), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.AVERAGE_POOL_2D, (1, 12, 12, 16), (12, 12), (1, 1), "VALID", "NONE", 0),
    (Op.AVERAGE_POOL_2D, (1, 17, 17, 8), (17, 17), (1, 1), "VALID", "NONE", 0),
    # ml_avgpool_dsp_run16: global pools of 10, 11, 12 cells (one to three cells before the
    # four-cell loop), 128 cells, one cell; even and odd counts, 1 to 3 groups, batch 2, a clamp;
    # 2x2/2 windows one call per output; SAME's clipped windows beside full ones.
    (Op.AVERAGE_POOL_2D, (2, 2, 5, 32), (2, 5), (1, 1), "VALID", "NONE", 0),
    (Op.AVERAGE_POOL_2D, (1, 11, 1, 48), (11, 1), (1, 1), "VALID", "NONE", -7),
    (Op.AVERAGE_POOL_2D, (1, 3, 4, 16), (3, 4), (1, 1), "VALID", "RELU6", -128),
    (Op.AVERAGE_POOL_2D, (1, 8, 16, 16), (8, 16), (1, 1), "VALID", "NONE", 5),
    (Op.AVERAGE_POOL_2D, (1, 1, 1, 16), (1, 1), (1, 1), "VALID", "NONE", 0),
    (Op.AVERAGE_POOL_2D, (2, 6, 6, 32), (2, 2), (2, 2), "VALID", "RELU6", 9),
    (Op.AVERAGE_POOL_2D, (1, 5, 5, 32), (3, 3), (1, 1), "SAME", "NONE", -1),
    (Op.MAX_POOL_2D, (1, 1, 50, 32), (1, 2), (1, 2), "VALID", "NONE", -128),
    (Op.MAX_POOL_2D, (1, 1, 51, 24), (1, 3), (1, 2), "SAME", "RELU", -5),
    (Op.MAX_POOL_2D, (1, 1, 21, 48), (1, 2), (1, 1), "SAME", "NONE", 2),
    (Op.MAX_POOL_2D, (1, 1, 41, 32), (1, 3), (1, 2), "VALID", "NONE", -128),
    (Op.MAX_POOL_2D, (1, 1, 30, 8), (1, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 1, 31, 24), (1, 3), (1, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 2, 12, 16), (1, 3), (1, 1), "SAME", "NONE", 1),
    (Op.MAX_POOL_2D, (1, 3, 9, 16), (1, 2), (1, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 1, 40, 20), (1, 3), (1, 2), "VALID", "NONE", 7),
    (Op.MAX_POOL_2D, (2, 9, 7, 36), (3, 3), (2, 2), "SAME", "RELU6", -128),
    (Op.MAX_POOL_2D, (1, 8, 8, 16), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 7, 9, 24), (3, 3), (2, 2), "SAME", "NONE", -1),
    (Op.MAX_POOL_2D, (2, 6, 7, 32), (3, 2), (1, 1), "VALID", "NONE", 4),
    (Op.MAX_POOL_2D, (1, 5, 5, 3), (2, 2), (1, 1), "VALID", "NONE", 0),
    # ml_maxpool_dsp_tile2 (2x2/2 and 1x2/2): depth 16, 32 (the roles swapping, odd and even
    # window counts), 48 (odd groups), 64 (even groups); SAME's clipped last row and column,
    # batch 2, several rows per call, and a clamp (the old path).
    (Op.MAX_POOL_2D, (2, 7, 9, 32), (2, 2), (2, 2), "SAME", "NONE", 3),
    (Op.MAX_POOL_2D, (1, 6, 10, 32), (2, 2), (2, 2), "VALID", "NONE", -128),
    (Op.MAX_POOL_2D, (2, 5, 11, 16), (2, 2), (2, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 4, 6, 48), (2, 2), (2, 2), "VALID", "NONE", 1),
    (Op.MAX_POOL_2D, (1, 3, 14, 64), (2, 2), (2, 2), "SAME", "NONE", -2),
    (Op.MAX_POOL_2D, (1, 1, 14, 48), (1, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 1, 18, 32), (1, 2), (1, 2), "VALID", "NONE", 5),
    (Op.MAX_POOL_2D, (1, 2, 10, 16), (1, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 3, 9, 64), (1, 2), (1, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 4, 8, 32), (2, 2), (2, 2), "VALID", "RELU", -7),
    # ... with the compiler's tile (ops/pool.py maxpool_tile, VALID without a clamp): depth 32
    # two rows entered at each of the four-window loop's entries (n = 4, 5, 6, 7), batch 2,
    # overlapping rows (stride 1 down); SAME rows of 5, 6, 7 inside windows and a clipped last
    # column (the output's step between rows); one-row tiles, depth 48 and 64 two-row tiles.
    (Op.MAX_POOL_2D, (2, 6, 8, 32), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 5, 11, 32), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 4, 12, 32), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 5, 14, 32), (2, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 5, 11, 32), (2, 2), (2, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 4, 13, 32), (2, 2), (2, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 6, 15, 32), (2, 2), (2, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 3, 10, 16), (1, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 4, 6, 48), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 4, 10, 64), (2, 2), (2, 2), "VALID", "NONE", 0),
    # ml_maxpool_dsp_win (other windows, depth a multiple of 16, and every clipped edge window):
    # depth 16 (contiguous cells), 32, 48; 3x3/2 SAME, 1x3/2, 3x2/1, 2x2/1, 4x4/3, batch 2.
    (Op.MAX_POOL_2D, (2, 9, 9, 16), (3, 3), (2, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 8, 7, 32), (3, 3), (2, 2), "SAME", "NONE", -3),
    (Op.MAX_POOL_2D, (1, 6, 6, 48), (3, 3), (1, 1), "VALID", "NONE", 2),
    (Op.MAX_POOL_2D, (1, 1, 21, 32), (1, 3), (1, 2), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 5, 6, 16), (3, 2), (1, 1), "VALID", "NONE", 1),
    (Op.MAX_POOL_2D, (1, 4, 9, 16), (2, 2), (1, 1), "SAME", "NONE", 0),
    (Op.MAX_POOL_2D, (1, 7, 7, 16), (4, 4), (3, 3), "SAME", "NONE", -128),
    # its last 8 channels (depth 8 more than a multiple of 16, or 8 alone)
    (Op.MAX_POOL_2D, (1, 6, 8, 24), (2, 2), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 5, 5, 8), (3, 3), (1, 1), "SAME", "NONE", 3),
    (Op.MAX_POOL_2D, (1, 5, 9, 40), (3, 3), (2, 2), "SAME", "NONE", -4),
    # ml_maxpool_dsp_s2w3 (three cells wide at stride 2, two or three rows, whole rows with their
    # padded ends; the SAME cases above with 24, 16, 32 and 40 channels run it too): VALID with
    # one group of 8 and an odd window count without padding (the loop entered at its second
    # window, the carry moved), two windows over three columns (a left and a right padding column), two-row
    # windows (dy2 = 0) whose last row has one input row (dy = 0), rows overlapping (stride 1
    # down) with two-row windows at the top and bottom
    (Op.MAX_POOL_2D, (1, 9, 7, 8), (3, 3), (2, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 5, 3, 8), (3, 3), (2, 2), "SAME", "NONE", -2),
    (Op.MAX_POOL_2D, (1, 5, 9, 16), (2, 3), (2, 2), "SAME", "NONE", 5),
    (Op.MAX_POOL_2D, (1, 5, 10, 24), (3, 3), (1, 2), "SAME", "NONE", 0),
    # ml_maxpool_dsp_row (one-row windows of 2 or 3 cells): with and without a last 8 channels
    (Op.MAX_POOL_2D, (1, 1, 30, 24), (1, 2), (1, 2), "VALID", "NONE", 0),
    (Op.MAX_POOL_2D, (2, 2, 17, 40), (1, 3), (1, 3), "SAME", "NONE", -9),
    (Op.MAX_POOL_2D, (1, 1, 13, 32), (1, 3), (1, 1), "VALID", "NONE", 6),
]


def _model(tmp_path, op, shape, filt, stride, padding, activation, zp):
    n, h, w, c = shape
    if padding == "SAME":
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - filt[0]) // stride[0] + 1, (w - filt[1]) // stride[1] + 1
    g = single_op(op, [act("x", shape, 0.05, zp)], [act("y", (n, oh, ow, c), 0.05, zp)],
                  dict(padding=padding, stride_h=stride[0], stride_w=stride[1], filter_h=filt[0],
                       filter_w=filt[1], activation=activation))
    return write(g, tmp_path)


@pytest.mark.cortexm
@needs_tools
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].value}-{'x'.join(map(str, c[1]))}-{c[4]}")
def test_pool_exact_on_cortex_m4(tmp_path, case):
    path = _model(tmp_path, *case)
    shape = case[1]
    rng = np.random.default_rng(3)
    # All -128 and all 127 are the sums' extremes; the rest random.
    xs = np.stack([np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
                   rng.integers(-128, 128, shape).astype(np.int8)])
    np.save(tmp_path / "x.npy", xs)
    # Balanced (the default) may keep a kernel's compact form for a model this small; speed
    # mode compiles every variant, the assembly routines included; size mode leaves max
    # pooling's tile2 routine out (its windows through ml_maxpool_dsp_win; average pooling's
    # size form is portable C, which test_pool.py covers).
    modes = ("balanced", "speed", "size") if case[0] is Op.MAX_POOL_2D else ("balanced", "speed")
    for optimize in modes:
        r = microlith.verify(path, target="cortex-m4", samples=2, inputs=str(tmp_path / "x.npy"),
                             seed=1, optimize=optimize)
        assert r["target"] == "cortex-m4" and r["samples"] == 5, (optimize, r)
        assert r["bit_exact"] and r["mismatched_samples"] == 0, (optimize, r)


@pytest.mark.parametrize("shape,filt,stride,padding,activation,tiled", [
    ((1, 16, 16, 32), (2, 2), (2, 2), "VALID", "NONE", True),   # the 2x2/2 of a small CNN
    ((1, 1, 50, 32), (1, 2), (1, 2), "VALID", "NONE", True),    # a 1-D CNN's 1x2/2
    ((1, 7, 9, 32), (2, 2), (2, 2), "SAME", "NONE", False),     # padding: the kernel's checks
    ((1, 8, 8, 32), (2, 2), (2, 2), "VALID", "RELU", False),    # a clamp
    ((1, 8, 8, 24), (2, 2), (2, 2), "VALID", "NONE", False),    # channels not a multiple of 16
    ((1, 9, 9, 16), (3, 3), (2, 2), "VALID", "NONE", False),    # three cells wide
])
def test_max_pool_tile_decided_at_build_time(tmp_path, shape, filt, stride, padding, activation, tiled):
    """The compiler describes the layer (ml_maxpool_tile) exactly where the DSP tile routine's
    run-time conditions hold, and says none applies (n = -1: the kernel skips the checks)
    elsewhere. The tile's strides are judged by TFLM in test_pool_exact_on_cortex_m4 (VALID
    cases above), which runs them."""
    path = _model(tmp_path, Op.MAX_POOL_2D, shape, filt, stride, padding, activation, 0)
    microlith.compile(path, tmp_path / "out")
    src = "\n".join(f.read_text() for f in (tmp_path / "out").rglob("*.c") if "microlith_kernels" not in f.parts)
    assert (".tile = { .n = -1 }" not in src) == tiled
    assert ".tile = { .n = " in src  # every int8 max pool says which


@pytest.mark.parametrize("side,mode,quads", [
    (16, "speed", True),        # speed: every unrolled loop
    (16, "balanced", False),    # 64 windows save 48 instructions for about 0.5 KB
    (206, "balanced", True),    # 10,609 windows: 7,957 saved, above 16 per byte
])
def test_max_pool_four_window_loop_by_mode(tmp_path, side, mode, quads):
    """Balanced keeps the depth-32 two-row loop over four windows per turn only where it saves
    BALANCED_MIN_GAIN instructions per byte of it (codegen/optimize.py); the shorter loop computes
    the same bytes (test_pool_exact_on_cortex_m4 runs both: speed and balanced)."""
    from microlith.codegen.optimize import BALANCED_MIN_GAIN, MAXPOOL_QUADS_BYTES, MAXPOOL_QUADS_SAVED_PER_WINDOW
    windows = (side // 2) ** 2
    assert (windows * MAXPOOL_QUADS_SAVED_PER_WINDOW >= BALANCED_MIN_GAIN * MAXPOOL_QUADS_BYTES) == (side == 206)
    path = _model(tmp_path, Op.MAX_POOL_2D, (1, side, side, 32), (2, 2), (2, 2), "VALID", "NONE", 0)
    microlith.compile(path, tmp_path / "out", optimize=mode)
    config = next((tmp_path / "out").rglob("ml_config.h")).read_text()
    assert ("ML_MAXPOOL_S8_NO_QUADS" not in config) == quads


@pytest.mark.cortexm
@needs_tools
def test_max_pool_three_wide_stride_two_routine(tmp_path):
    """A 3x3/2 SAME max pool (both padded columns, two-row windows at the top and bottom) runs in
    ml_maxpool_dsp_s2w3 on Cortex-M4, window clipping included, where the window-by-window routine
    took 2.56 instructions per input (test_pool_exact_on_cortex_m4 judges its bytes); a model with
    no layer it takes leaves it out (ML_MAXPOOL_S8_NO_S2W3), as does a clamp, and balanced keeps it
    only where it saves BALANCED_MIN_GAIN instructions per byte (codegen/optimize.py)."""
    from microlith import profiling
    from microlith.codegen.optimize import BALANCED_MIN_GAIN, MAXPOOL_S2W3_BYTES, MAXPOOL_S2W3_SAVED_PER_WINDOW
    path = _model(tmp_path, Op.MAX_POOL_2D, (1, 15, 15, 16), (3, 3), (2, 2), "SAME", "NONE", 0)
    r = profiling.profile(path, "cortex-m4", workdir=str(tmp_path), optimize="speed")
    fns = r["cycles_by_function"]
    assert r["output_matches_host"]
    assert fns["ml_maxpool_dsp_s2w3"]["instructions"] > 0.8 * sum(v["instructions"] for v in fns.values()), fns
    assert not any(k.startswith(("ml_maxpool_dsp_win", "ml_maxpool_dsp_row", "ml_maxpool_c")) for k in fns), fns
    # 128 windows of 8 channels save too little for balanced; 32x32x32 has 1,024
    assert 128 * MAXPOOL_S2W3_SAVED_PER_WINDOW < BALANCED_MIN_GAIN * MAXPOOL_S2W3_BYTES <= \
        1024 * MAXPOOL_S2W3_SAVED_PER_WINDOW
    for side, activation, filt, mode, taken in ((15, "NONE", (3, 3), "speed", True),
                                                (15, "NONE", (3, 3), "balanced", False),
                                                (32, "NONE", (3, 3), "balanced", True),
                                                (32, "RELU", (3, 3), "balanced", False),
                                                (32, "NONE", (2, 2), "balanced", False)):
        d = tmp_path / f"{side}{activation}{filt[0]}{mode}"
        d.mkdir()
        microlith.compile(_model(d, Op.MAX_POOL_2D, (1, side, side, 16 * (side // 15)), filt, (2, 2),
                                 "SAME", activation, 0), d / "out", optimize=mode)
        config = next((d / "out").rglob("ml_config.h")).read_text()
        assert ("ML_MAXPOOL_S8_NO_S2W3" not in config) == taken, (side, activation, filt, mode)
