"""--stage-weights (issue 11, codegen/stage.py): convolution filters copied from flash into the
arena before their layer. The outputs stay byte-exact with TFLM (the kernels read the same bytes
from SRAM), the arena cost is reported beside the arena without staging, a budget that stages
nothing generates the same C as no budget, and on the emulated Cortex-M4 with the STM32L4R5's
flash model the filters' flash stalls fall."""
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
    assert st["layers"][9] == 64 * 64 * 9
    assert st["arena_bytes_without"] == 36288 < c["arena_bytes"]
    src = (tmp_path / "c" / "src" / f"{c['name']}.c").read_text()
    assert src.count("--stage-weights: the kernel reads this filter") == 9
    # layer 0's channels are 27 bytes, so its 432-byte filter ends mid-word: the copy zeroes the
    # 4 bytes after it (stage.OVERRUN); the filters of whole words get no memset
    assert src.count("memset(((int8_t *)(arena + ") == 1 and "+ 432, 0, 4);" in src


def test_budget_below_every_filter_changes_nothing(tmp_path):
    plain = api.compile(str(KWS), tmp_path / "a", measure=False)
    # what a budget could stage (profile's hint): the 5 convolutions and 4 depthwise layers
    assert sorted(plain["staged_weights"]["candidates"]) == list(range(9))
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
    times per inference, its depthwise layers' DSP group data (2,240 B) once per output row;
    staged, the flash load stalls fall by more than half and the board estimate drops, for the
    largest filter's bytes of arena."""
    base = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path))
    staged = profiling.profile(str(KWS), "cortex-m4", workdir=str(tmp_path), stage_weights=4096)
    assert base["output_matches_host"] and staged["output_matches_host"]
    before = base["memory_model"]["flash_load_stall_cycles"]
    after = staged["memory_model"]["flash_load_stall_cycles"]
    assert after < 0.5 * before, (before, after)
    assert staged["cycles_est_board"] < base["cycles_est_board"]
    assert sorted(staged["staged_weights"]["layers"]) == list(range(9))
    assert staged["arena_bytes"] - base["arena_bytes"] <= 4096 + 8


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
    assert "layers 0, 1, 2, 4, 5, 6, 10: 21,424 B copied from flash" in page


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
