"""Cortex-M0 (ARMv6-M) paths against TFLM on the emulated core: the requantization routines of
csrc/common/ml_nn_m0.h (through every kernel that calls them; the three-product form also
against TFLM's arithmetic on the host, data/m0_rq3_check.c), the two-pixels-per-MULS conv, the
depthwise 3x3 paths and the same-shape ADD/SUB rescale. The conv/depthwise/FC geometry cases
for M0 and M3 are in test_fast_kernels.py (test_m0_m3_*)."""
import numpy as np
import pytest

import microlith
from microlith.ir import Op
from microlith.ops import impl_for
from opmodels import act, single_op, write
from test_fast_kernels import on_cortexm, verify_on
from test_conv import conv_graph

EVERY_INT8 = np.arange(-128, 128, dtype=np.int8)


@pytest.mark.parametrize("form", ["three_products", "long"])
def test_three_product_requantization_matches_tflm_on_host(tmp_path, form):
    """ml_m0_rq3_ref (the steps of the M0 assembly) against ml_nn_requantize: every output step
    and rounding tie, the +-2^19 guard, the int32 limits, random accumulators, ~12 M cases; and
    the same for the Cortex-M3's record of the same channels (ML_M0_RQ3_LONG: one SMLAL)."""
    import shutil
    import subprocess
    from pathlib import Path
    from microlith.csrc import include_dirs
    cc = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if cc is None:
        pytest.skip("no host C compiler")
    src = Path(__file__).resolve().parent / "data" / "m0_rq3_check.c"
    exe = tmp_path / "m0_rq3_check"
    subprocess.run([cc, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
                    *(["-DML_M0_RQ3_LONG=1"] if form == "long" else []),
                    *[f"-I{d}" for d in include_dirs()], str(src), "-o", str(exe)], check=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "mismatched 0" in res.stdout, res.stdout[-2000:]


# Same-shape ADD/SUB on M0: every pair of int8 values; input shifts from the scales' ratio, the
# output shift from 0 (requantization's slow path) to -25, clamps narrower than int8.
@on_cortexm
@pytest.mark.parametrize("tables", (True, False), ids=("tables", "no-tables"))
@pytest.mark.parametrize("op", (Op.ADD, Op.SUB))
@pytest.mark.parametrize("s1,z1,s2,z2,so,zo,activation", [
    (0.05, 0, 0.05, 0, 0.1, 0, "NONE"),
    (0.02, -128, 0.9, 127, 0.3, -128, "RELU"),
    (0.5, 127, 0.01, -128, 0.05, 127, "RELU6"),
    (0.3, -20, 0.4, 30, 0.001, 5, "NONE"),
    (0.05, 3, 0.07, -5, 6.4, 100, "NONE"),
])
def test_add_sub_every_pair_on_m0(tmp_path, monkeypatch, tables, op, s1, z1, s2, z2, so, zo, activation):
    if not tables:  # the per-element rescale instead of the input tables (ml_add_s8_table)
        monkeypatch.setattr(type(impl_for(Op.ADD)), "TABLE_MIN_ELEMENTS", 1 << 30)
    shape = (1, 65536)
    a, b = act("a", shape, s1, z1), act("b", shape, s2, z2)
    g = single_op(op, [a, b], [act("y", shape, so, zo)], dict(activation=activation))
    x = np.stack(np.meshgrid(EVERY_INT8, EVERY_INT8, indexing="ij")).reshape(2, -1)
    np.savez(tmp_path / "pairs.npz", a=x[0][None], b=x[1][None])
    res = microlith.verify(write(g, tmp_path), target="cortex-m0", samples=1, seed=0,
                           inputs=str(tmp_path / "pairs.npz"))
    assert res["bit_exact"], res


# Depthwise 3x3 on M0 (groups of four channels over copied rows, assembly taps): padding on
# every side, strides, odd widths, a one-column image, batches, clamps, zero points at the
# limits, no bias, per-tensor weights, and a left shift (the portable fallback).
DW_CASES = {
    "same_c4": ((1, 6, 5, 4), dict()),
    "same_stride2_c12": ((1, 9, 7, 12), dict(stride=(2, 2), in_zp=-128, out_zp=127)),
    "valid_stride_2_1": ((1, 8, 9, 8), dict(padding="VALID", stride=(2, 1), in_zp=127)),
    "one_column": ((1, 5, 1, 8), dict(activation="RELU6", out_scale=0.03, out_zp=-128)),
    "batch2_no_bias": ((2, 4, 6, 4), dict(bias="omit", activation="RELU")),
    "per_tensor": ((1, 7, 3, 16), dict(per_channel=False)),
    "left_shift": ((1, 5, 5, 8), dict(out_scale=1e-4, out_zp=3)),
    # stride 1 (vertical pixel pairs, inline requantization): an odd row count, clamps
    # narrower than int8 with out_zp != act_min (the general requantization), zero points at
    # the limits, a tiny output scale (accumulators past the +-2^19 guard saturate)
    "s1_odd_rows_any": ((1, 5, 4, 8), dict(in_zp=127, out_zp=100)),
    "s1_relu6_limits": ((1, 6, 3, 12), dict(activation="RELU6", in_zp=-128, out_zp=-128,
                                            out_scale=0.02)),
    "s1_saturate": ((1, 4, 6, 4), dict(in_zp=-128, out_zp=0, out_scale=0.004)),
    # rows wider than the scratch holds three times: the row path in strips of columns (VWW's
    # stride-2 layer 3), the first and last strips against the padding, a last strip narrower
    "stride2_strips": ((1, 20, 31, 16), dict(stride=(2, 2), in_zp=-128, out_zp=5)),
    "valid_stride_2_1_strips": ((2, 8, 25, 8), dict(padding="VALID", stride=(2, 1), in_zp=100,
                                                    activation="RELU")),
}


@on_cortexm
@pytest.mark.parametrize("name", list(DW_CASES))
def test_depthwise_3x3_on_m0(tmp_path, name):
    shape, kw = DW_CASES[name]
    g = conv_graph(shape, None, (3, 3), depth_multiplier=1, seed=len(name), **kw)
    verify_on(g, tmp_path, target="cortex-m0", samples=3)


@on_cortexm
@pytest.mark.parametrize("name", ["stride2_strips", "valid_stride_2_1_strips"])
def test_depthwise_strips_on_m3(tmp_path, name):
    """Cortex-M3 runs the same row path (its taps in MLA form) in the same strips."""
    shape, kw = DW_CASES[name]
    g = conv_graph(shape, None, (3, 3), depth_multiplier=1, seed=len(name), **kw)
    verify_on(g, tmp_path, target="cortex-m3", samples=3)


# Conv on M0 (two pixels per MULS): channel chunks past 32 with an odd last channel, an odd tap
# count, windows clipped on every side, a pixel count that leaves one unpaired, a deep window,
# and channels whose requantization table does not fit the scratch (pointwise, small K).
CONV_CASES = {
    "chunks_odd_out": ((1, 5, 3, 8), 41, (3, 3), dict(in_zp=-128)),
    "odd_taps_stride2": ((1, 7, 7, 3), 6, (3, 3), dict(stride=(2, 2), in_zp=127, out_zp=-128)),
    "deep_window": ((1, 4, 3, 200), 5, (3, 3), dict(in_zp=-128, activation="RELU")),
    "pointwise_small_k": ((1, 5, 5, 3), 34, (1, 1), dict(out_zp=90)),
    # the fused channel-pair routine: general requantization (no activation, out_zp inside),
    # ReLU, an odd number of tap pairs, 64+ channels with an odd one out, one output pixel
    "pairs_any": ((1, 4, 5, 16), 12, (1, 1), dict(out_zp=7)),
    "pairs_relu_odd_taps": ((1, 5, 4, 6), 10, (1, 1), dict(activation="RELU", in_zp=-128)),
    "pairs_wide_odd_out": ((1, 3, 3, 8), 67, (3, 3), dict(in_zp=5, out_zp=-128)),
    "pairs_one_pixel": ((1, 1, 1, 10), 6, (1, 1), dict(in_zp=127, out_zp=-3)),
    "pairs_deep_any": ((1, 3, 3, 128), 4, (3, 3), dict(in_zp=-128, out_zp=20)),
    # tap pairs 2 and 3 modulo 4: the unrolled loop's other two entries
    "pairs_k12": ((1, 3, 5, 12), 8, (1, 1), dict(in_zp=-100, out_zp=-128)),
    "pairs_k14": ((1, 4, 3, 14), 6, (1, 1), dict(activation="RELU")),
    # shifts on both sides of the three-product form's limit (-10): mixed pairs go to C
    "pairs_mixed_shifts": ((1, 4, 4, 16), 12, (1, 1), dict(in_zp=-128, out_zp=-128,
                                                          activation="RELU", out_scale=0.8)),
    "pairs_mixed_any": ((1, 4, 4, 16), 12, (1, 1), dict(in_zp=9, out_zp=-20, out_scale=0.8)),
    # right shifts past 22 (ml_m0_requant_fast through the general pair path)
    "shift_past_22": ((1, 4, 4, 32), 6, (3, 3), dict(in_zp=3, out_zp=5, out_scale=3e4)),
    # an odd K through the pair routine on the generator's filter padded with a zero weight
    # (ML_CONV_M0_FILTER): a first layer's 3x3x3 with an odd channel out and a narrow clamp,
    # K = 1, and K = 75 in chunks of channels
    "odd_k27_odd_out_relu6": ((1, 9, 8, 3), 7, (3, 3), dict(stride=(2, 2), activation="RELU6",
                                                            in_zp=-128, out_zp=-128)),
    "odd_k1": ((1, 5, 6, 1), 4, (1, 1), dict(in_zp=17, out_zp=-9)),
    "odd_k75_chunks": ((1, 6, 6, 3), 70, (5, 5), dict(in_zp=-128, activation="RELU")),
}


@on_cortexm
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv_on_m0(tmp_path, name):
    shape, out_c, kernel, kw = CONV_CASES[name]
    g = conv_graph(shape, out_c, kernel, seed=len(name) + 7, **kw)
    verify_on(g, tmp_path, target="cortex-m0", samples=3)


@on_cortexm
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m3"])
@pytest.mark.parametrize("stage", [0, 1 << 20])
def test_odd_k_filter_padded_for_the_pair_routine(tmp_path, target, stage):
    """An odd K (3x3x3) reaches the M0 pair routine through the generator's filter padded with a
    zero weight per channel, which M0 and M3 builds link instead of the TFLite filter, or copy
    into the arena when the filter is staged (one more byte a channel); TFLM's bytes either way."""
    g = conv_graph((1, 11, 9, 3), 10, (3, 3), stride=(2, 2), in_zp=-128, out_zp=4, seed=5)
    path = write(g, tmp_path, "odd_k")
    c = microlith.api.compile(path, tmp_path / "c", measure=False, stage_weights=stage)
    src = (tmp_path / "c" / "src" / f"{c['name']}.c").read_text()
    assert ".m0_layout = ML_CONV_M0_FOLDED | ML_CONV_M0_PADDED" in src
    assert ("ML_CONV_M0_FILTER(" in src) and (("27 + ML_CONV_M0_PAD_BYTES" in src) == bool(stage))
    res = microlith.verify(path, target=target, samples=3, seed=1, stage_weights=stage)
    assert res["bit_exact"], res


def test_filter_cache_of_a_board():
    """compile --target BOARD chunks the Cortex-M0/M3 convolution for the board's flash cache only
    where there is one worth it: the RP2040's XIP cache (16 KB, two ways), not a core name (code
    for any board with it), not an STM32 ART's few hundred bytes, not a DSP core's board."""
    from microlith.targets.memmodel import filter_cache_bytes
    assert filter_cache_bytes("rp2040") == (8192, 16384)
    for target in ("cortex-m0", "cortex-m3", "stm32f207", "stm32l4r5", "nrf51822", "host", None):
        assert filter_cache_bytes(target) is None, target


# compile --target rp2040: a filter past 3/4 of the XIP cache goes in channel chunks of one way
# (8 KB): K = 576 (ResNet-8's last window) in chunks of 14, the last one odd (51 channels), with
# ReLU and with the general requantization; 20 channels (11.5 KB) stay whole.
@on_cortexm
@pytest.mark.parametrize("out_c,activation,chunked", [(51, "RELU", True), (40, "NONE", True),
                                                      (20, "NONE", False)])
def test_conv_in_filter_cache_chunks_on_rp2040(tmp_path, out_c, activation, chunked):
    from microlith import profiling
    g = conv_graph((1, 4, 3, 64), out_c, (3, 3), activation=activation, seed=out_c,
                   in_zp=-128 if activation == "RELU" else 3, out_zp=-128 if activation == "RELU" else 6)
    path = write(g, tmp_path)
    c = microlith.api.compile(path, tmp_path / "c", measure=False, tune_for="rp2040")
    config = next((tmp_path / "c").rglob("ml_config.h")).read_text()
    assert c["m0_filter_cache_bytes"] == 8192 and c["tuned_for"] == "rp2040"
    assert "#define ML_CONV_M0_FILTER_CACHE 8192" in config and "#define ML_CONV_M0_FILTER_CACHE_ALL 16384" in config
    res = microlith.verify(path, target="rp2040", samples=3, seed=1)
    assert res["bit_exact"], res
    # the chunks gather each pixel pair's column once per chunk: more instructions than the same
    # core's build for any board, where the filter goes whole
    tuned = profiling.profile(path, "rp2040", workdir=str(tmp_path))
    plain = profiling.profile(path, "cortex-m0", workdir=str(tmp_path))
    assert tuned["m0_filter_cache_bytes"] == 8192 and plain["m0_filter_cache_bytes"] is None
    extra = tuned["instructions"] - plain["instructions"]
    assert (extra > 1000) if chunked else (abs(extra) < 100), extra
    if chunked and activation == "RELU":  # a filter staged in RAM (ML_CONV_M0_IN_RAM) goes whole
        g = conv_graph((1, 6, 6, 64), out_c, (3, 3), activation=activation, seed=out_c, in_zp=-128, out_zp=-128)
        path = write(g, tmp_path, "staged")
        staged = microlith.api.compile(path, tmp_path / "s", measure=False, tune_for="rp2040", stage_weights=1 << 20)
        assert staged["staged_weights"]["layers"], staged["staged_weights"]
        assert "ML_CONV_M0_IN_RAM" in (tmp_path / "s" / "src" / f"{staged['name']}.c").read_text()
        tuned = profiling.profile(path, "rp2040", workdir=str(tmp_path), stage_weights=1 << 20)
        plain = profiling.profile(path, "cortex-m0", workdir=str(tmp_path), stage_weights=1 << 20)
        assert tuned["output_matches_host"] and abs(tuned["instructions"] - plain["instructions"]) < 100


@on_cortexm
def test_m0_assembly_paths_are_linked(tmp_path):
    """A broken feature test (__ARM_ARCH_6M__) would fall back to portable C silently: the M0
    build of KWS must link the assembly routines of its conv, depthwise and requantization."""
    import subprocess
    from pathlib import Path
    from microlith.api import compile as compile_model
    from microlith.targets.cortexm import FirmwareBuilder
    models = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
    kws = models / "kws_ref_model.tflite"
    if not kws.exists():
        pytest.skip(f"{kws} not present")
    res = compile_model(kws, tmp_path / "c", measure=False)
    b = FirmwareBuilder(tmp_path / "c", res["name"], "cortex-m0", tmp_path / "fw")
    fw = b.link([[np.zeros(p.count, p.dtype) for p in b.api.inputs]])
    syms = subprocess.run(["arm-none-eabi-nm", str(fw.elf)], capture_output=True, text=True,
                          check=True).stdout
    names = {line.split()[-1] for line in syms.splitlines() if line.strip()}
    for sym in ("ml_conv_m0_pairs_relu", "ml_conv_m0_pack", "ml_dw_m0_s1_relu", "ml_dw_m0_fill"):
        assert sym in names, sym
