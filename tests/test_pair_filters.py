"""--optimize speed lays convolution filters out in channel pairs for DSP builds (issue 11):
ml_conv_dsp_pairs8 runs two output channels by three pixels over int8 weights, each column word
loaded once for both channels (28 cycles and 20 instructions per 24 MACs on Cortex-M4 against
the six-pixel routine's 31 and 18). The layout is the same bytes moved (plus zero padding to whole
blocks), only DSP builds reference it, and every layer that takes it stays byte-exact with TFLM,
with the weights in flash or in RAM:
every requantization record kind in both channels of a pair, K that ends mid-block, pixel counts
that take sixes, an overlapping six, threes and an overlapping three, layers in place, and the
other cores (M7 and M33 run the routine, M3 and M0 the plain filter)."""
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith import api
from microlith.ops.conv import pair_filter_layout
from microlith.targets import cortexm
from opmodels import write
from test_conv import conv_graph
from test_fast_kernels import CONV_CASES
from test_stage_weights import PAIR_PIXEL_GROUPS

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
RESNET = MODELS / "pretrainedResnet_quant.tflite"

_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")


def test_layout_moves_the_same_bytes_into_channel_pairs():
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(4, 3, 3, 3), dtype=np.int8)  # K = 27: 7 blocks, 1 zero each
    out = pair_filter_layout(w)
    flat = w.reshape(4, 27)
    assert out.dtype == np.int8 and out.size == 4 * 28
    for pair in range(2):
        for b in range(7):
            for ch in range(2):
                got = out[((pair * 7 + b) * 2 + ch) * 4:][:4]
                want = np.zeros(4, np.int8)
                part = flat[2 * pair + ch, 4 * b:4 * b + 4]
                want[:part.size] = part
                assert np.array_equal(got, want), (pair, b, ch)


def _compile(g, tmp_path, optimize="speed", weights_in_ram=False):
    path = write(g, tmp_path)
    return path, api.compile(path, tmp_path / f"c_{optimize}_{int(weights_in_ram)}", measure=False,
                             optimize=optimize, weights_in_ram=weights_in_ram)


@pytest.mark.parametrize("mode, in_ram", [("balanced", False), ("size", False), ("speed", False),
                                         ("speed", True)])
def test_only_speed_mode_lays_filters_out_in_pairs(tmp_path, mode, in_ram):
    """Balanced and size keep the plain filter (and leave the routine out); speed passes the
    paired copy through ML_CONV2D_S8_FILTER, declared for DSP builds only, the weights in flash or
    in RAM."""
    g = conv_graph((1, 6, 6, 8), 6, (3, 3), in_zp=-128, out_zp=3, seed=5)
    _, c = _compile(g, tmp_path, mode, in_ram)
    out = tmp_path / f"c_{mode}_{int(in_ram)}"
    src = (out / "src" / f"{c['name']}.c").read_text()
    config = next(out.rglob("ml_config.h")).read_text()
    if mode == "speed":
        assert c["pair_filters"] == [0]
        assert "ML_CONV2D_S8_FILTER(" in src and ".filter_widened = ML_CONV2D_S8_PAIRED8" in src
        assert re.search(r"#if ML_DSP_LAYOUTS\nstatic const int8_t \w+_l0_filter_pairs\[", src)
        assert "ML_CONV2D_S8_NO_PAIRS8" not in config
    else:
        assert c["pair_filters"] == [] and "filter_pairs" not in src
        assert "#define ML_CONV2D_S8_NO_PAIRS8 1" in config


def test_layers_the_routine_cannot_take_keep_the_plain_filter(tmp_path):
    """An odd channel count, a narrower clamp or fewer than 3 pixels: the six-pixel routine (or
    C) on the plain filter, as stage.widens decides for the widened copy."""
    for name, g in {"odd": conv_graph((1, 4, 4, 8), 5, (1, 1), seed=3),
                    "relu": conv_graph((1, 4, 4, 8), 6, (1, 1), activation="RELU", out_zp=-20, seed=4),
                    "two_px": conv_graph((1, 1, 2, 8), 6, (1, 1), seed=6)}.items():
        path = write(g, tmp_path, name)
        c = api.compile(path, tmp_path / name, measure=False, optimize="speed")
        assert c["pair_filters"] == [], name


def test_speed_mode_resnet_pairs_the_filters_it_does_not_stage(tmp_path):
    """Every ResNet-8 convolution has an even channel count, the full clamp and many pixels: the
    ones speed mode does not stage (widened, where the arena is free) are the paired ones."""
    c = api.compile(str(RESNET), tmp_path / "r", measure=False, optimize="speed")
    g = microlith.load(str(RESNET))
    convs = {i for i, n in enumerate(g.nodes) if n.op.name == "CONV_2D"}
    staged = set(c["staged_weights"]["layers"])
    assert staged and staged < convs
    assert c["pair_filters"] == sorted(convs - staged)


def _verify(g, tmp_path, samples=3, target="cortex-m4", weights_in_ram=False):
    path, c = _compile(g, tmp_path)
    assert c["pair_filters"] == [0], c["pair_filters"]
    res = microlith.verify(path, target=target, samples=samples, seed=1, optimize="speed",
                           weights_in_ram=weights_in_ram, workdir=str(tmp_path))
    assert res["bit_exact"], res


@needs_tools
@pytest.mark.parametrize("in_c,kernel", [(3, (3, 3)), (8, (1, 1))], ids=["k27", "pointwise"])
def test_paired_routine_takes_every_record_kind(tmp_path, in_c, kernel):
    from test_conv_dsp import mixed_records_conv
    # 10 channels in pairs fast/fast, fast/wide, wide/general, general/general, wide/fast; the
    # pointwise case with the weights in RAM
    _verify(mixed_records_conv(in_c, kernel, out_c=10), tmp_path, samples=4, weights_in_ram=in_c == 8)


@needs_tools
@pytest.mark.parametrize("shape,kernel", list(PAIR_PIXEL_GROUPS.values()), ids=list(PAIR_PIXEL_GROUPS))
def test_paired_routine_pixel_groups(tmp_path, shape, kernel):
    _verify(conv_graph(shape, 6, kernel, in_zp=-128, out_zp=3, seed=shape[1] * 7 + shape[2] + 1), tmp_path)


@needs_tools
@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33", "cortex-m3", "cortex-m0"])
def test_paired_filters_on_the_other_cores(tmp_path, target):
    """The other DSP cores run the same routine; the M3 and M0 (no DSP extension) link the plain
    filter and run their own loops."""
    _verify(conv_graph((1, 5, 7, 8), 6, (3, 3), in_zp=-128, out_zp=3, seed=22), tmp_path, target=target)


@needs_tools
def test_speed_mode_resnet_is_byte_exact(tmp_path):
    """ResNet-8 on the emulated Cortex-M4: the paired layers (two of them in place by chunks of
    rows) byte-exact with TFLM."""
    res = microlith.verify(str(RESNET), target="cortex-m4", samples=2, seed=1, optimize="speed",
                           workdir=str(tmp_path))
    assert res["bit_exact"], res


@needs_tools
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_speed_mode_convolution_cases(tmp_path, name):
    """Every convolution case of the DSP kernels' tests in speed mode: the layers the two-channel
    routine takes (K = 1, 27 and 40, strides, padding wider than the image, saturating shifts, no
    bias, batches) and those it leaves to the other paths (odd channels, narrow clamps, groups,
    dilation), byte-exact with TFLM."""
    x_shape, out_c, kernel, kw = CONV_CASES[name]
    path = write(conv_graph(x_shape, out_c, kernel, seed=len(name), **kw), tmp_path)
    res = microlith.verify(path, target="cortex-m4", samples=2, seed=1, optimize="speed", workdir=str(tmp_path))
    assert res["bit_exact"], res
