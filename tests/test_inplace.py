"""In-place convolutions (output written over the input, rows streamed through a window):
byte-exact with TFLM on chains that exercise each layout of the shared buffer."""
import shutil

import numpy as np
import pytest

import microlith
from microlith.codegen.c import prepare
from microlith.frontends.tflite import load_tflite
from microlith.ir import Graph, Node, Op
from opmodels import act, const, write


def _conv(rng, name, x, cout, k, stride=1, padding="SAME", dilation=1, depthwise=False, zp=0, activation=None,
          w_scale=(0.005, 0.02)):
    n, h, w, cin = x.shape
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = (h - eff) // stride + 1, (w - eff) // stride + 1
    if depthwise:
        wt = const(name + "_w", rng.integers(-127, 128, (1, k, k, cout)), scale=rng.uniform(*w_scale, cout),
                   axis=3, dtype="int8")
    else:
        wt = const(name + "_w", rng.integers(-127, 128, (cout, k, k, cin)), scale=rng.uniform(0.005, 0.02, cout),
                   dtype="int8")
    b = const(name + "_b", rng.integers(-2000, 2000, cout), dtype="int32")
    y = act(name, (n, oh, ow, cout), 0.08 + 0.01 * rng.random(), zp)
    attrs = dict(padding=padding, stride_h=stride, stride_w=stride, dilation_h=dilation, dilation_w=dilation,
                 activation=activation or ("RELU" if rng.random() < 0.5 else "NONE"))
    if depthwise:
        attrs["depth_multiplier"] = 1
    node = Node(Op.DEPTHWISE_CONV_2D if depthwise else Op.CONV_2D, (x.name, wt.name, b.name), (y.name,), attrs)
    return node, [wt, b, y]


def _chain(specs, in_shape=(1, 40, 9, 6), seed=0):
    rng = np.random.default_rng(seed)
    x = act("x", in_shape, 0.1, -128)
    tensors, nodes, cur = [x], [], x
    for k, spec in enumerate(specs):
        node, ts = _conv(rng, f"t{k}", cur, **spec)
        nodes.append(node)
        tensors += ts
        cur = ts[-1]
    return Graph("inplace_chain", {t.name: t for t in tensors}, nodes, ["x"], [cur.name])


CHAINS = {
    # shrink (output at the input's start), grow (output ending where the input ends), equal
    "pointwise_shrink_grow": [dict(cout=12, k=3, stride=2), dict(cout=8, k=1), dict(cout=20, k=1),
                              dict(cout=5, k=1)],
    "depthwise_3x3_and_5x5_dilated": [dict(cout=10, k=3), dict(cout=10, k=3, depthwise=True),
                                      dict(cout=10, k=5, depthwise=True, dilation=2), dict(cout=4, k=1)],
    "dense_3x3_same_grow": [dict(cout=6, k=3), dict(cout=9, k=3), dict(cout=9, k=4), dict(cout=3, k=1)],
    "even_kernel_valid": [dict(cout=8, k=1), dict(cout=8, k=2, padding="VALID"), dict(cout=16, k=1),
                          dict(cout=2, k=3, stride=2)],
    # no clamp, so the DSP cores take the assembly groups, whose requantization records (and the
    # zero-padded copy of the last channel: K = 54, 63, 7) the chunks after a layer's first reuse
    "unclamped_odd_depth": [dict(cout=6, k=3, activation="NONE"), dict(cout=7, k=3, activation="NONE"),
                            dict(cout=5, k=1, activation="NONE"), dict(cout=3, k=1, activation="NONE")],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_inplace_chain_is_exact(tmp_path, chain):
    g = _chain(CHAINS[chain], seed=len(chain))
    path = write(g, tmp_path, chain)
    model = load_tflite(path)
    prep = prepare(model)
    assert prep.streams, "expected at least one in-place layer"
    assert prep.plan.arena_size < prepare(model, strategy="greedy-noinplace").plan.arena_size
    res = microlith.verify(path, samples=30, seed=3)
    assert res["bit_exact"], res


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("chain", ["unclamped_odd_depth", "pointwise_shrink_grow"])
@pytest.mark.parametrize("optimize", ["speed", "balanced"])
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0"])
def test_inplace_chain_is_exact_on_the_core(tmp_path, chain, optimize, core):
    """On Cortex-M4 and M0 the chunks of an in-place layer after its first reuse the records the
    first left in the scratch: the inlined chunk loop (speed) and the shared cursor (balanced) both
    say so, and the outputs stay TFLM's (pointwise layers stream through their pixel view)."""
    g = _chain(CHAINS[chain], seed=len(chain))
    path = write(g, tmp_path, chain)
    res = microlith.verify(path, target=core, samples=6, seed=3, optimize=optimize)
    assert res["bit_exact"], res


def test_in_place_only_where_it_saves_arena(tmp_path):
    """A layer away from the arena's peak runs whole (one call, no window copies); one at the
    peak stays in place. A tall narrow depthwise layer run whole takes the 3x3 path along its
    columns; streamed in chunks of rows it keeps the group path."""
    # t0 (40x9x6 -> 40x9x24) is the peak; t1 shrinks to 4 channels; the depthwise t2 and the
    # pointwise t3 work far below it
    g = _chain([dict(cout=24, k=3), dict(cout=4, k=1, activation="NONE"),
                dict(cout=4, k=3, depthwise=True, activation="NONE"), dict(cout=4, k=1, activation="NONE")],
               in_shape=(1, 40, 5, 6), seed=4)
    path = write(g, tmp_path, "peak_first")
    model = load_tflite(path)
    prep = prepare(model)
    assert sorted(prep.streams) == [1]   # t1 writes over t0, the peak
    assert prep.params[2]["dsp_transposed"]
    assert prep.plan.arena_size < prepare(model, strategy="greedy-noinplace").plan.arena_size
    assert microlith.verify(path, samples=10, seed=3)["bit_exact"]
    # the same depthwise layer at the peak (its input the model's widest tensor) stays in place
    g2 = _chain([dict(cout=4, k=1, activation="NONE"), dict(cout=16, k=1, activation="NONE"),
                 dict(cout=16, k=3, depthwise=True, activation="NONE"), dict(cout=2, k=1, activation="NONE")],
                in_shape=(1, 40, 5, 2), seed=5)
    prep2 = prepare(load_tflite(write(g2, tmp_path, "peak_depthwise")))
    # in chunks of rows through the group path on every core: in one call along its columns its
    # planes of 40-pixel columns would take 1,996 B of scratch, more than the chunks' 656 B
    # (test_depthwise_in_place_in_one_call_on_dsp_and_m0_cores has the shapes where they take less)
    assert 2 in prep2.streams and not prep2.params[2]["dsp_transposed"] and 2 not in prep2.dsp_whole


# A depthwise layer at the arena's peak (its input the widest tensor), by image shape and layer:
# whether DSP builds run it in one call over itself, through the 3x3 path in one band of at most 8
# lines, and whether Cortex-M0/M0+ and M3 builds do, through their stride-1 3x3 path or (shifts
# below -10) their row path
DEPTHWISE_WHOLE = {
    "columns": ((1, 20, 5, 2), {}, True, True),   # 5 columns of 20 pixels (KWS's: 25)
    "rows": ((1, 8, 16, 2), {}, True, True),      # 8 rows of 16
    # 12 rows: a second band would read rows the first wrote over, so DSP builds run chunks
    "rows_in_bands": ((1, 12, 16, 2), {}, False, True),
    "m0_row_path": ((1, 12, 16, 2), {"w_scale": (0.0002, 0.0006)}, False, True),   # shifts -10 to -12
    # 62 channels, not in fours: no Cortex-M0 path takes it, and portable C would read rows
    # written over
    "channels_not_in_fours": ((1, 8, 16, 2), {"cout": 62}, True, False),
}


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("case", sorted(DEPTHWISE_WHOLE))
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m0", "cortex-m3"])
def test_depthwise_in_place_in_one_call_on_dsp_and_m0_cores(tmp_path, case, core):
    """The same folder runs the layer in one call over itself on the cores whose path allows it
    and in chunks of rows on the others and the host, with the same params: TFLM's bytes on each,
    in the same arena. (The kernel refuses an in-place call its path cannot honour, so a build
    that ran the layer whole where it should not would fail here rather than pass wrong bytes.)"""
    shape, layer, dsp, m0 = DEPTHWISE_WHOLE[case]
    layer = {"cout": 64, **layer}
    g = _chain([dict(cout=4, k=1, activation="NONE"), dict(cout=layer["cout"], k=1, activation="NONE"),
                dict(k=3, depthwise=True, activation="NONE", **layer),
                dict(cout=2, k=1, activation="NONE")], in_shape=shape, seed=5)
    path = write(g, tmp_path, case)
    model = load_tflite(path)
    prep = prepare(model)
    assert 2 in prep.streams and (2 in prep.dsp_whole, 2 in prep.m0_whole) == (dsp, m0)
    assert prep.params[2]["dsp_channels"] is not None   # the 3x3 path, in one call or per chunk
    if case == "m0_row_path":
        assert min(prep.params[2]["shift"]) < -10 <= max(prep.params[2]["shift"])
    assert prep.plan.arena_size < prepare(model, strategy="greedy-noinplace").plan.arena_size
    if core == "cortex-m4":
        assert microlith.verify(path, samples=10, seed=3)["bit_exact"]
    res = microlith.verify(path, target=core, samples=6, seed=3)
    assert res["bit_exact"], res


KWS = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny" / \
    "kws_ref_model.tflite"


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_no_in_place_option_on_kws(tmp_path, capsys):
    """--no-in-place: every KWS layer runs whole, its 25x5 depthwise layers along their columns;
    a larger arena, reported, and the outputs still TFLM's (with staged filters too)."""
    import json
    from microlith.cli import main
    assert main(["compile", str(KWS), "-o", str(tmp_path / "a"), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["compile", str(KWS), "-o", str(tmp_path / "b"), "--no-in-place", "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    # the arena beside it is the default build's
    assert whole["arena_bytes_in_place"] == default["arena_bytes"] < whole["arena_bytes"]
    assert default["arena_bytes_in_place"] is None
    # the default build names its in-place layers and the arena --no-in-place would take
    assert default["in_place_layers"] == list(range(1, 9)) and whole["in_place_layers"] == []
    assert default["arena_bytes_whole"] == whole["arena_bytes"] and whole["arena_bytes_whole"] is None
    assert main(["compile", str(KWS), "-o", str(tmp_path / "c")]) == 0
    assert (f"layers 1, 2, 3, 4, 5, 6, 7, 8 write their output over their input (in chunks of rows; on DSP "
            f"cores all in one call; on Cortex-M0/M0+/M3 1, 3, 5, 7 in one call) to save arena; --no-in-place "
            f"runs every layer whole, without the chunks' copies and calls: arena {whole['arena_bytes']:,} B") \
        in capsys.readouterr().out
    src = (tmp_path / "b" / "src" / "kws_ref_model.c").read_text()
    assert src.count("ML_DW_LAYOUT_3X3_T") == 4 and "ml_row_stream_begin" not in src
    # in place, the depthwise layers take the same path on DSP cores, in one call over themselves
    assert default["in_place_whole_on_dsp"] == list(range(1, 9)) and whole["in_place_whole_on_dsp"] == []
    # and on Cortex-M0/M0+ and M3 the depthwise layers too, through their stride-1 3x3 path
    assert default["in_place_whole_on_m0"] == [1, 3, 5, 7] and whole["in_place_whole_on_m0"] == []
    assert (tmp_path / "a" / "src" / "kws_ref_model.c").read_text().count("ML_DW_LAYOUT_3X3_T") == 4
    assert main(["verify", str(KWS), "--target", "cortex-m4", "--samples", "2", "--no-in-place",
                 "--stage-weights", "8K"]) == 0
    assert "2/2 samples identical" in capsys.readouterr().out


# A 64 -> 64 pointwise layer at the arena's peak, by pixel count and path: DSP builds run it in one
# call over itself; a last group that would overlap the group before runs first, into scratch
POINTWISE_WHOLE = {
    "p6_tail_overlaps": ((1, 25, 5, 2), "NONE", 0),     # 125 pixels: sixes, the last from 119
    "p4_tail_overlaps": ((1, 3, 9, 2), "NONE", 0),      # 27 pixels: four sixes, a four from 23
    "no_overlap": ((1, 3, 6, 2), "NONE", 0),            # 18 pixels: three sixes
    "c_groups": ((1, 25, 5, 2), "RELU", 0),             # a narrower clamp: the C groups of four
    "pairs_tail_overlaps": ((1, 25, 5, 2), "NONE", 16384),  # staged widened: sixes from 119
}


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("case", sorted(POINTWISE_WHOLE))
def test_pointwise_in_place_in_one_call_on_dsp_cores(tmp_path, case):
    shape, activation, stage = POINTWISE_WHOLE[case]
    g = _chain([dict(cout=64, k=1, activation="NONE"), dict(cout=64, k=1, activation=activation),
                dict(cout=2, k=1, activation="NONE")], in_shape=shape, seed=7)
    path = write(g, tmp_path, case)
    prep = prepare(load_tflite(path), stage_weights=stage)
    assert 1 in prep.streams and 1 in prep.dsp_whole
    assert (1 in prep.staged) == bool(stage)
    assert microlith.verify(path, samples=10, seed=3, stage_weights=stage)["bit_exact"]
    res = microlith.verify(path, target="cortex-m4", samples=6, seed=3, stage_weights=stage)
    assert res["bit_exact"], res


KERNEL_IN_PLACE_REFUSED = r"""
#include <stdio.h>
#include "ml_conv2d_s8.h"
#include "ml_depthwise_conv2d_s8.h"

int main(void)
{
    static int8_t buf[4 * 4 * 8];
    static int8_t filter[8 * 3 * 3 * 8];
    static int32_t scratch[1024];
    static const int32_t mult[8] = {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30};
    static const int32_t shift[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    const ml_per_channel_quant quant = {mult, shift};
    const ml_dims io = {1, 4, 4, 8};
    const ml_dims f3 = {8, 3, 3, 8};
    const ml_dims f1 = {8, 1, 1, 8};
    const ml_dims fd = {1, 3, 3, 8};
    ml_conv_params cp = {1, 1, 1, 1, 1, 1, 0, 0, -128, 127, 1, 0, 0, 0, 0};
    ml_depthwise_conv_params dp = {1, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127, 1, 0, ML_DW_LAYOUT_NONE};
    /* a 3x3 convolution reads neighbouring pixels after their outputs cover them: refused */
    printf("%d\n", (int)ml_conv2d_s8(&cp, &quant, scratch, &io, buf, &f3, filter, NULL, &io, buf));
    /* a depthwise layer off the 3x3 path: refused */
    printf("%d\n", (int)ml_depthwise_conv2d_s8(&dp, &quant, scratch, NULL, &io, buf, &fd, filter, NULL,
                                               &io, buf));
    /* a pointwise layer: only the DSP path takes it in place (here: on DSP cores only) */
    cp.pad_h = cp.pad_w = 0;
    printf("%d\n", (int)ml_conv2d_s8(&cp, &quant, scratch, &io, buf, &f1, filter, NULL, &io, buf));
    /* the same calls out of place run */
    static int8_t out[4 * 4 * 8];
    printf("%d\n", (int)ml_conv2d_s8(&cp, &quant, scratch, &io, buf, &f1, filter, NULL, &io, out));
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_kernels_refuse_in_place_calls_they_cannot_honour(tmp_path):
    """A convolution or depthwise call with output == input that its path would compute wrongly
    returns ML_ARG_ERROR (-1) instead of wrong bytes (host build: no DSP path)."""
    import subprocess
    from microlith.csrc import include_dirs, kernel_file
    (tmp_path / "t.c").write_text(KERNEL_IN_PLACE_REFUSED)
    srcs = [str(kernel_file(n)) for n in ("ml_conv2d_s8.c", "ml_depthwise_conv2d_s8.c")]
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *[f"-I{d}" for d in include_dirs()],
                    str(tmp_path / "t.c"), *srcs, "-o", str(tmp_path / "t")], check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["-1", "-1", "-1", "0"], out
