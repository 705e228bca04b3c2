"""--stage-weights (issue 11, codegen/stage.py): convolution filters copied from flash into the
arena before their layer. The outputs stay byte-exact with TFLM (the kernels read the same bytes
from SRAM), the arena cost is reported beside the arena without staging, a budget that stages
nothing generates the same C as no budget, and on the emulated Cortex-M4 with the STM32L4R5's
flash model the filters' flash stalls fall."""
import re
import shutil
from pathlib import Path

import pytest

from microlith import api, profiling
from microlith.cli import main
from microlith.ir import MicrolithError
from microlith.targets import cortexm

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
RESNET = MODELS / "pretrainedResnet_quant.tflite"
KWS = MODELS / "kws_ref_model.tflite"

_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")


def test_staged_resnet_is_byte_exact_and_reports_its_arena(tmp_path):
    r = api.verify(str(RESNET), samples=3, stage_weights=64 * 1024, workdir=str(tmp_path))
    assert r["bit_exact"], r
    c = api.compile(str(RESNET), tmp_path / "c", measure=False, stage_weights=64 * 1024)
    st = c["staged_weights"]
    # every convolution (3x3 and the 1x1 shortcuts) reads its filter at least 3 times; the
    # fully connected layer reads its weights once and is left in flash
    assert sorted(st["layers"]) == [0, 1, 2, 4, 5, 6, 8, 9, 10]
    # widened to int16 where the copy (twice the filter) fits 64 KB; layer 9's 36,864-byte
    # filter only as it is
    assert st["widened"] == [0, 1, 2, 4, 5, 6, 8, 10]
    assert st["layers"][9] == 64 * 64 * 9 and st["layers"][8] == 2 * 64 * 32 * 9
    # layer 0's channels are 27 values: widened, each pads to 28 (7 blocks of 4)
    assert st["layers"][0] == 2 * 16 * 28
    assert st["arena_bytes_without"] == 36288 < c["arena_bytes"]
    src = (tmp_path / "c" / "src" / f"{c['name']}.c").read_text()
    assert src.count("--stage-weights: the kernel reads this filter") == 9
    # the kernel's own copy function, told whether to widen; the layer's params say so too. Layer
    # 0's odd K: Cortex-M0/M3 builds copy its filter padded to 28 bytes a channel instead
    assert len(re.findall(r"ml_conv2d_s8_stage\(.*ML_CONV_M0_FILTER\(.*, 16, 27 \+ ML_CONV_M0_PAD_BYTES, 1\);",
                          src)) == 1
    assert len(re.findall(r"ml_conv2d_s8_stage\(.*, 64, 576, 0\);", src)) == 1
    assert src.count(".filter_widened = 1") == 8


def test_budget_below_every_filter_changes_nothing(tmp_path):
    plain = api.compile(str(KWS), tmp_path / "a", measure=False)
    # what a budget could stage (profile's hint): the 5 convolutions; the 4 depthwise layers run
    # the 3x3 planes path (in one call over themselves on DSP cores), whose data is not staged
    assert sorted(plain["staged_weights"]["candidates"]) == [0, 2, 4, 6, 8]
    assert plain["staged_weights"]["layers"] == {}
    ad = api.compile(str(MODELS / "ad01_int8.tflite"), tmp_path / "ad", measure=False)
    assert ad["staged_weights"]["candidates"] == {}  # fully connected weights are read once
    tiny = api.compile(str(KWS), tmp_path / "b", measure=False, stage_weights=100)
    assert tiny["staged_weights"]["layers"] == {}
    assert tiny["arena_bytes"] == plain["arena_bytes"]
    for f in (tmp_path / "a" / "src").iterdir():
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / "src" / f.name).read_bytes(), f.name


def test_bad_budget_is_refused(tmp_path, capsys):
    with pytest.raises(MicrolithError, match="--stage-weights takes .free. or a number of bytes"):
        api.compile(str(KWS), tmp_path / "c", stage_weights=-1)
    assert not (tmp_path / "c").exists()
    code = main(["compile", str(KWS), "-o", str(tmp_path / "d"), "--stage-weights", "lots"])
    assert code != 0
    assert "expected a number of bytes" in capsys.readouterr().err


@needs_tools
def test_staging_removes_the_filters_flash_stalls_on_the_m4(tmp_path):
    """KWS on cortex-m4 (stm32l4r5 flash model): its pointwise filters (4 KB each) are read 21
    times per inference; staged, the flash load stalls fall by more than half and the board
    estimate drops, for the largest filter's bytes of arena."""
    base = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path))
    staged = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path), stage_weights=4096)
    assert base["output_matches_host"] and staged["output_matches_host"]
    before = base["memory_model"]["flash_load_stall_cycles"]
    after = staged["memory_model"]["flash_load_stall_cycles"]
    assert after < 0.5 * before, (before, after)
    assert staged["cycles_est_board"] < base["cycles_est_board"]
    assert sorted(staged["staged_weights"]["layers"]) == [0, 2, 4, 6, 8]
    assert staged["arena_bytes"] - base["arena_bytes"] <= 4096 + 8


@needs_tools
def test_widened_filters_run_the_two_channel_routine(tmp_path):
    """KWS at 8 KB: every convolution filter widened (its pointwise 64x64 filters are 8,192 B so),
    so the convolutions run in ml_conv_dsp_pairs, not the six-pixel routine (a macro that left the
    routine out would still give the right bytes from plain copies, slowly: this catches it), and
    the widened build spends fewer instructions and board cycles than staging the filters as they
    are (4 KB)."""
    plain = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path), stage_weights=4096)
    wide = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path), stage_weights=8192)
    assert plain["output_matches_host"] and wide["output_matches_host"]
    assert wide["staged_weights"]["widened"] == [0, 2, 4, 6, 8]
    fx = wide["cycles_by_function"]
    assert "ml_conv_dsp_p6" not in fx and "ml_conv_dsp_p4" not in fx, sorted(fx)
    assert fx["ml_conv_dsp_pairs"]["instructions"] > 0.5 * wide["instructions"]
    assert "ml_conv_dsp_pairs" not in plain["cycles_by_function"]
    assert wide["instructions"] < 0.97 * plain["instructions"]
    assert wide["cycles_est_board"] < 0.95 * plain["cycles_est_board"]


def test_free_stages_only_where_the_arena_has_room(tmp_path):
    """'free' keeps the arena of the plan without staging: on ResNet-8 the filters of layers 0,
    4, 6 and 10 fit where the arena is free at their layer, the 3x3 filters of the first and last
    stages do not; byte-exact all the same."""
    r = api.verify(str(RESNET), samples=2, stage_weights="free", workdir=str(tmp_path))
    assert r["bit_exact"], r
    c = api.compile(str(RESNET), tmp_path / "c", measure=False, stage_weights="free")
    st = c["staged_weights"]
    assert c["arena_bytes"] == st["arena_bytes_without"] == 36288
    assert sorted(st["layers"]) == [0, 4, 6, 10]


@pytest.mark.parametrize("optimize, budget, same_as", [("speed", None, "free"), ("speed", 0, 0),
                                                     ("balanced", 0, 0), ("size", None, 0)])
def test_speed_mode_stages_where_the_arena_is_free_by_default(tmp_path, optimize, budget, same_as):
    """--optimize speed defaults to 'free' (the same arena, the faster routine); an explicit budget
    holds (0: none), and size stages nothing unless asked: each default builds exactly what the
    budget it stands for builds."""
    c = api.compile(str(RESNET), tmp_path / "d", measure=False, optimize=optimize, stage_weights=budget)
    ref = api.compile(str(RESNET), tmp_path / "r", measure=False, optimize=optimize, stage_weights=same_as)
    assert c["staged_weights"]["requested"] == (budget is not None)
    mine, theirs = ({k: v for k, v in r["staged_weights"].items() if k != "requested"} for r in (c, ref))
    assert mine == theirs and c["staged_weights"]["budget_bytes"] == same_as
    assert c["constants_crc32"] == ref["constants_crc32"]
    name = c["name"]
    assert (tmp_path / "d" / "src" / f"{name}.c").read_text() == (tmp_path / "r" / "src" / f"{name}.c").read_text()
    assert bool(c["staged_weights"]["layers"]) == (same_as == "free")  # ResNet-8 has filters to stage
    assert c["arena_bytes"] == c["staged_weights"]["arena_bytes_without"]


@needs_tools
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m4"])
def test_staged_kws_is_byte_exact_on_the_emulated_cores(tmp_path, target):
    """The M4 build reads the staged filters through its assembly routines and the staged
    depthwise group data; the M0 build reads the same filters through its own loops and leaves
    the DSP data out (its copy is compiled only where ML_DSP_LAYOUTS)."""
    r = api.verify(str(KWS), target=target, samples=2, stage_weights=4096, workdir=str(tmp_path))
    assert r["bit_exact"], r


@needs_tools
def test_report_shows_the_staged_filters(tmp_path):
    from microlith.report.html import build_report
    build_report(str(RESNET), "cortex-m4", tmp_path / "r.html", samples=2, stage_weights=9216)
    page = (tmp_path / "r.html").read_text()
    assert "filters staged in the arena (--stage-weights)" in page
    # 9 KB: the widened copies of layers 0, 1, 2, 4, 6 and 10 fit, layer 5's filter only as it is
    assert "layers 0, 1, 2, 4, 5, 6, 10: 33,664 B copied from flash before their layer (0, 1, 2, 4, 6, 10 " \
        "widened to int16" in page


@pytest.mark.parametrize("model, budget", [("kws_ref_model", 4096), ("kws_ref_model", 65536),
                                           ("vww_96_int8", "free"), ("vww_96_int8", 65536),
                                           ("pretrainedResnet_quant", "free"), ("pretrainedResnet_quant", 4096),
                                           ("pretrainedResnet_quant", 65536)])
def test_staged_buffers_never_share_bytes_with_live_buffers(model, budget):
    from microlith.codegen.c import prepare
    from microlith.planner import overlapping, stage_name
    prep = prepare(api.load(str(MODELS / f"{model}.tflite")), stage_weights=budget)
    assert prep.staged, "nothing staged: the case tests nothing"
    assert overlapping(prep.plan) == []
    for i, size in prep.staged.items():
        assert prep.plan.offsets[stage_name(i)] % 8 == 0
        assert prep.plan.offsets[stage_name(i)] + size <= prep.plan.arena_size


# --- The widened copy: on DSP cores a staged filter is widened to int16 for the two-channel,
# three-pixel routine (ml_conv_dsp_pairs). These layers put every record kind in both channels
# of a pair (fast, wide, general in C), K that ends mid-block, and pixel counts that take sixes,
# a final overlapping six, threes and an overlapping three.

def _verify_widened(g, tmp_path, samples=3, target="cortex-m4"):
    import microlith
    from opmodels import write
    path = write(g, tmp_path)
    c = api.compile(path, tmp_path / "c", measure=False, stage_weights=1 << 20)
    assert c["staged_weights"]["widened"] == [0], c["staged_weights"]
    res = microlith.verify(path, target=target, samples=samples, seed=1, stage_weights=1 << 20,
                           workdir=str(tmp_path))
    assert res["bit_exact"], res


@needs_tools
@pytest.mark.parametrize("in_c,kernel", [(3, (3, 3)), (8, (1, 1))], ids=["k27", "pointwise"])
def test_widened_routine_takes_every_record_kind(tmp_path, in_c, kernel):
    from test_conv_dsp import mixed_records_conv
    # 10 channels in pairs fast/fast, fast/wide, wide/general, general/general, wide/fast
    _verify_widened(mixed_records_conv(in_c, kernel, out_c=10), tmp_path, samples=4)


@needs_tools
@pytest.mark.parametrize("target", ["cortex-m7", "cortex-m33", "cortex-m3", "cortex-m0"])
def test_widened_staging_on_the_other_cores(tmp_path, target):
    """The other DSP cores run the same routine; the M3 and M0 (no DSP extension) copy the filter
    as it is into the same buffer and read it with their own loops."""
    from test_conv import conv_graph
    _verify_widened(conv_graph((1, 5, 7, 8), 6, (3, 3), in_zp=-128, out_zp=3, seed=21), tmp_path,
                    target=target)


# Pixel counts per call that take sixes, a final overlapping six, threes and an overlapping
# three (the two-channel routines run three pixels at a time); K ending mid-block in the last two.
PAIR_PIXEL_GROUPS = {"3px": ((6, 1, 3, 8), (1, 1)), "4px": ((5, 1, 4, 8), (1, 1)),
                     "5px": ((4, 1, 5, 12), (1, 1)), "8px": ((2, 2, 4, 8), (1, 1)),
                     "9px": ((2, 3, 3, 16), (1, 1)), "13px": ((1, 13, 1, 8), (1, 1)),
                     "k27_33px": ((1, 11, 3, 3), (3, 3)), "k20_54px": ((1, 6, 9, 5), (2, 2))}


@needs_tools
@pytest.mark.parametrize("shape,kernel", list(PAIR_PIXEL_GROUPS.values()), ids=list(PAIR_PIXEL_GROUPS))
def test_widened_routine_pixel_groups(tmp_path, shape, kernel):
    from test_conv import conv_graph
    _verify_widened(conv_graph(shape, 6, kernel, in_zp=-128, out_zp=3, seed=shape[1] * 7 + shape[2]),
                    tmp_path)


def test_odd_channels_and_narrow_clamp_are_staged_as_they_are(tmp_path):
    """The two-channel routine needs an even channel count and the full clamp (and 3 pixels):
    other layers' filters are staged as they are, and stay byte-exact."""
    import microlith
    from opmodels import write
    from test_conv import conv_graph
    for name, g in {"odd": conv_graph((1, 4, 4, 8), 5, (1, 1), seed=3),
                    "relu": conv_graph((1, 4, 4, 8), 6, (1, 1), activation="RELU", out_zp=-20, seed=4)}.items():
        path = write(g, tmp_path, name)
        c = api.compile(path, tmp_path / name, measure=False, stage_weights=1 << 20)
        st = c["staged_weights"]
        assert list(st["layers"]) == [0] and st["widened"] == [], (name, st)
        assert st["layers"][0] == g.t(g.nodes[0].inputs[1]).nbytes
        if shutil.which(cortexm.CC) and shutil.which(cortexm.QEMU):
            res = microlith.verify(path, target="cortex-m4", samples=2, seed=1, stage_weights=1 << 20,
                                   workdir=str(tmp_path))
            assert res["bit_exact"], res


def test_size_mode_stages_as_it_is_and_the_hint_names_the_budget_for_all(tmp_path):
    """--optimize size builds have no two-channel routine: their staged copies are the filters as
    they are (no arena spent on widening). compile names the budget that stages every filter,
    widened where the build can: KWS's 64x64 pointwise filters widened are 8,192 B."""
    size = api.compile(str(KWS), tmp_path / "s", measure=False, optimize="size", stage_weights=8192)
    assert size["staged_weights"]["widened"] == []
    assert size["staged_weights"]["layers"][2] == 64 * 64
    assert size["staged_weights"]["budget_for_all"] == 64 * 64
    src = (tmp_path / "s" / "src" / f"{size['name']}.c").read_text()
    assert ".filter_widened" not in src
    assert "#define ML_CONV2D_S8_NO_PAIRS 1" in next((tmp_path / "s").rglob("ml_config.h")).read_text()
    bal = api.compile(str(KWS), tmp_path / "b", measure=False, stage_weights=8192)
    assert bal["staged_weights"]["widened"] == [0, 2, 4, 6, 8]
    assert bal["staged_weights"]["budget_for_all"] == 2 * 64 * 64
    assert "#define ML_CONV2D_S8_NO_PAIRS 1" not in next((tmp_path / "b").rglob("ml_config.h")).read_text()
    plain = api.compile(str(KWS), tmp_path / "p", measure=False)
    assert "#define ML_CONV2D_S8_NO_PAIRS 1" in next((tmp_path / "p").rglob("ml_config.h")).read_text()
    # the default ('free') stages nothing and copies as they are, but the budget it names for all
    # is a byte budget's, which widens in balanced mode: the configuration that meets issue 11's
    # KWS instruction target
    assert plain["staged_weights"]["layers"] == {} and plain["staged_weights"]["budget_for_all"] == 2 * 64 * 64


def test_balanced_stages_plain_copies_where_the_arena_is_free_by_default(tmp_path):
    """--optimize balanced (the default) stages 'free' too, but copies the filters as they are:
    the flash reads go, the two-channel routine's code (about 1.4 KB) stays out. An explicit
    'free' widens them as in speed mode. Same arena either way, byte-exact."""
    c = api.compile(str(RESNET), tmp_path / "d", measure=False)
    st = c["staged_weights"]
    assert st["budget_bytes"] == "free" and not st["requested"]
    assert sorted(st["layers"]) == [0, 4, 6, 10] and st["widened"] == []
    assert c["arena_bytes"] == st["arena_bytes_without"] == 36288
    config = (tmp_path / "d" / "src" / "microlith_kernels" / "ml_config.h").read_text()
    assert "ML_CONV2D_S8_NO_PAIRS" in config   # no widened filter: the routine is left out
    asked = api.compile(str(RESNET), tmp_path / "a", measure=False, stage_weights="free")["staged_weights"]
    assert sorted(asked["layers"]) == [0, 4, 6, 10] and asked["widened"] == [0, 4, 6, 10]
    r = api.verify(str(RESNET), samples=2, workdir=str(tmp_path))
    assert r["bit_exact"], r


@pytest.mark.parametrize("key", [int, str])   # profile's result in process, and read back from --json
def test_flash_load_hint_names_the_filters_left_in_flash(key):
    """profile's hint on flash load stalls: with some filters staged (ResNet-8's default stages 4
    of its 9), the ones left read 3 or more times are named with the budget that stages them all;
    with none left and the stalls large (AD's fully connected weights, read once), --weights-in-ram;
    below 2% of the cycles, nothing."""
    from microlith.cli import _flash_load_hint
    cands = {0: 448, 1: 2304, 2: 2304, 4: 4608, 5: 9216, 6: 512, 8: 18432, 9: 36864, 10: 2048}
    st = {"budget_bytes": "free", "layers": {key(k): cands[k] for k in (0, 4, 6, 10)},
          "candidates": {key(k): v for k, v in cands.items()}, "budget_for_all": 73728}
    r = {"cycles_est_board": 22_009_191, "memory_model": {"flash_load_stall_cycles": 1_167_715},
         "staged_weights": st, "weight_bytes": 81440}
    hint = _flash_load_hint(r)
    assert "1,167,715 stall on data loads from flash (5.3%)" in hint
    assert "layers 1, 2, 5, 8, 9 also read their filters (up to 36,864 B)" in hint
    assert "(73,728 stages them all, widened for the two-channel routine)" in hint
    assert _flash_load_hint({**r, "memory_model": {"flash_load_stall_cycles": 400_000}}) is None
    # every candidate staged: nothing to stage, and stalls under 10% are left alone
    done = {**st, "layers": st["candidates"]}
    assert _flash_load_hint({**r, "staged_weights": done}) is None
    ad = {"cycles_est_board": 631_423, "memory_model": {"flash_load_stall_cycles": 171_960},
          "staged_weights": {"budget_bytes": "free", "layers": {}, "candidates": {}}, "weight_bytes": 270_960}
    assert "--weights-in-ram reads every constant from RAM instead (270,960 B more RAM)" in _flash_load_hint(ad)
    assert _flash_load_hint({**ad, "weights_in_ram": True}) is None
