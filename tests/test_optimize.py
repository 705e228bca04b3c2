"""--optimize speed|size|balanced (issue 11, code size): the generated ml_config.h, the CLI's
refusal of an unknown mode, and KWS on the emulated Cortex-M4 in size and speed mode, both
byte-exact with TFLM, with the size build's text smaller than the speed build's."""
import shutil
import subprocess
from pathlib import Path

import pytest

import microlith
from microlith import profiling
from microlith.cli import main
from microlith.codegen.optimize import layer_mode
from microlith.targets import cortexm

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
KWS = MODELS / "kws_ref_model.tflite"

_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")
needs_models = pytest.mark.skipif(not KWS.exists(), reason=f"{KWS} not present")


def test_cli_refuses_an_unknown_mode(tmp_path, capsys):
    code = main(["compile", str(KWS), "-o", str(tmp_path / "c"), "--optimize", "fast"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--optimize" in err and "'fast'" in err and "speed, size, balanced" in err
    assert not (tmp_path / "c").exists()
    with pytest.raises(microlith.ir.MicrolithError, match="speed, size, balanced"):
        microlith.api.compile(KWS, tmp_path / "d", optimize="Size")


@needs_models
@pytest.mark.parametrize("mode", ["speed", "size", "balanced"])
def test_config_header_and_layer_modes(tmp_path, mode):
    r = microlith.api.compile(KWS, tmp_path / "c", optimize=mode, measure=False)
    kernels = tmp_path / "c" / "src" / "microlith_kernels"
    config = (kernels / "ml_config.h").read_text()
    model = (tmp_path / "c" / "src" / f"{r['name']}.c").read_text()
    assert r["optimize"] == mode and r["optimize_choices"]["mode"] == mode
    assert ("#define ML_OPTIMIZE_SIZE 1" in config) == (mode == "size")
    # KWS's convolutions all take the DSP paths: outside speed their portable paths go.
    assert ("#define ML_NO_FALLBACK_CONV2D_S8 1" in config) == (mode != "speed")
    # The in-place layers: inline loops in speed, the shared cursor otherwise.
    assert ("ml_row_stream_next(&rows)" in model) == (mode != "speed")
    assert ("held_hi" in model) == (mode == "speed")
    assert (kernels / "ml_row_stream.c").exists() == (mode != "speed")
    # KWS's depthwise layers (in place) run in one call along their columns on DSP cores (the 3x3
    # plane layout), in size mode with their data derived on each call (no flash for it): the
    # group path goes, and the derivation where no layer needs it.
    assert "#define ML_NO_DW_3X3_PLANES 1" not in config
    assert ("#define ML_NO_DW_GROUPS 1" in config) == (mode != "speed")
    assert ("#define ML_NO_DW_3X3_DERIVE 1" in config) == (mode == "balanced")
    assert "ML_NO_DW_3X3_COLUMNS" not in config   # their planes are filled along the columns
    assert model.count("ML_DW_LAYOUT_3X3_T") == 4
    assert model.count("ML_DW_LAYOUT_3X3_T + ML_DW_LAYOUT_DERIVE") == (4 if mode == "size" else 0)
    assert ("dsp_channels" in model) == (mode != "size")
    # Every convolution and depthwise layer of KWS is a fused ReLU at zero point -128: the
    # routines come in their ReLU form in every mode (it costs no instruction).
    assert "#define ML_ONLY_RELU 1" in config and "ML_NO_RELU" not in config
    assert r["optimize_choices"]["activation_form"] == "ONLY_RELU"
    derived = r["optimize_choices"]["depthwise_3x3_derived"]
    assert (derived.get("layers"), derived.get("taken")) == (([1, 3, 5, 7], True) if mode == "size" else (None, None))


@needs_models
def test_vww_keeps_the_3x3_planes_it_uses(tmp_path):
    microlith.api.compile(MODELS / "vww_96_int8.tflite", tmp_path / "c", measure=False)
    model = next((tmp_path / "c" / "src").glob("*.c")).read_text()
    assert "ML_DW_LAYOUT_3X3" in model
    # ... along the rows only: the column filler is left out
    assert "ML_DW_LAYOUT_3X3_T" not in model
    config = next((tmp_path / "c").rglob("ml_config.h")).read_text()
    assert "#define ML_NO_DW_3X3_COLUMNS 1" in config
    assert "ML_NO_DW_3X3_PLANES" not in (tmp_path / "c" / "src" / "microlith_kernels" / "ml_config.h").read_text()


def test_layer_mode_defaults_to_speed_before_planning():
    g = microlith.api.load(KWS)
    assert layer_mode(g, 0) == "speed"
    from microlith.codegen.c import prepare
    prepare(g, optimize="size")
    assert {layer_mode(g, n) for n in g.nodes} == {"size"}


@needs_tools
@needs_models
def test_size_kernels_compile_strict_for_cortex_m4(tmp_path):
    """The size configuration leaves dead variants and fallbacks behind preprocessor-free
    conditions and ML_NO_IMPL returns: they must still compile warning-free."""
    microlith.api.compile(KWS, tmp_path / "c", optimize="size", measure=False)
    src = tmp_path / "c" / "src"
    flags = ["-mcpu=cortex-m4", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
             "-Wconversion", "-Wshadow", "-Wcast-qual", "-I", str(src)]
    for c in sorted(src.rglob("*.c")):
        res = subprocess.run([cortexm.CC, *flags, "-c", str(c), "-o", str(tmp_path / (c.stem + ".o"))],
                             capture_output=True, text=True, check=False)
        assert res.returncode == 0, (c.name, res.stderr)


@needs_tools
@needs_models
def test_kws_size_and_speed_on_cortex_m4(tmp_path):
    """Both modes byte-exact with TFLM on the emulated M4; size mode's text is smaller, its
    instructions more, and code + the weights the build kept is the flash."""
    runs = {}
    for mode in ("speed", "size"):
        v = microlith.api.verify(KWS, target="cortex-m4", samples=2, optimize=mode, workdir=str(tmp_path))
        assert v["bit_exact"] and v["samples"] == 2, (mode, v)
        runs[mode] = profiling.profile(KWS, "cortex-m4", workdir=tmp_path, cycles=False, optimize=mode)
        r = runs[mode]
        assert r["output_matches_host"] and r["optimize"] == mode
        # code is flash less the constant arrays this build kept (the folder may hold layouts
        # for other cores, e.g. depthwise weights pre-widened for the DSP extension)
        assert r["code_bytes"] == r["flash_bytes"] - r["weight_bytes_linked"]
        assert 0 < r["weight_bytes_linked"] <= r["weight_bytes"] + r["layout_bytes"]
        assert r["model_code_bytes"] == r["code_bytes"] - r["harness_bytes"] - r["library_bytes"]
        assert 0 < r["harness_bytes"] < r["code_bytes"] and r["library_bytes"] > 0
    speed, size = runs["speed"], runs["size"]
    # size mode lays no weights out for speed: fewer constant bytes, less code, more instructions
    # (how many more is a benchmark figure: BENCHMARKS.md, code size)
    assert size["weight_bytes_linked"] < speed["weight_bytes_linked"]
    assert size["text_bytes"] < speed["text_bytes"], (size["text_bytes"], speed["text_bytes"])
    assert size["model_code_bytes"] < speed["model_code_bytes"]
    assert speed["instructions"] < size["instructions"], (size["instructions"], speed["instructions"])


@needs_tools
@needs_models
def test_models_of_different_modes_share_kernels_built_for_both(tmp_path):
    """One firmware with KWS in size mode and KWS in speed mode (two prefixes): their ml_config.h
    differ, so the shared kernels are built with ML_CONFIG_MIXED, and both models compute what
    their host builds do."""
    import numpy as np

    from microlith.verify import HostModel, random_inputs
    g = microlith.api.load(KWS)
    a = microlith.api.compile(KWS, tmp_path / "a", name="kws_small", optimize="size", measure=False)
    b = microlith.api.compile(KWS, tmp_path / "b", name="kws_fast", optimize="speed", measure=False)
    builder = cortexm.FirmwareBuilder(tmp_path / "a", a["name"], "cortex-m4", tmp_path / "fw",
                                      others=[(tmp_path / "b", b["name"])])
    assert builder._mixed_config()
    x = random_inputs(g, np.random.default_rng(3))
    fw = builder.link([[*x, *x]])
    run = cortexm.run_firmware(fw.elf, "cortex-m4")
    # The kernels came from the size folder, yet carry what the speed model's config keeps.
    symbols = subprocess.run(["arm-none-eabi-nm", str(fw.elf)], capture_output=True, text=True, check=True).stdout
    assert "ml_conv_dsp_p6" in symbols and "ml_conv_dsp_group_any" in symbols   # speed asm, generic C
    (tmp_path / "host").mkdir()
    runner = HostModel(tmp_path / "b", g, b["name"], tmp_path / "host")
    try:
        host = runner.run(x)
    finally:
        runner.close()
    want = np.ascontiguousarray(host[0]).tobytes()
    assert run.samples[0].status == 0 and run.samples[0].outputs == [want, want]


@needs_tools
@needs_models
@pytest.mark.parametrize("edit,status", [("shift", -2), ("layout", -1), ("no_derive", -1), ("conv_clamp", -2)])
def test_size_mode_refuses_a_layer_it_left_the_paths_out_for(tmp_path, edit, status):
    """KWS in size mode runs its depthwise layers in place through the 3x3 path, their data derived
    per call (ML_DW_LAYOUT_DERIVE), and leaves the group path out (ML_NO_DW_GROUPS). A layer
    edited after generation must be refused, never computed by a path it does not fit: a channel
    off the fast requantization (ML_NO_IMPL, -2), a layer claiming the group layout or the 3x3
    layout without its data (not a path that can run over its own input: ML_ARG_ERROR, -1), and a
    convolution whose clamp the four-pixel assembly cannot apply, when every layer took it and the
    C groups were left out (ML_CONV2D_S8_ONLY_ASM: ML_NO_IMPL)."""
    import re

    import numpy as np
    r = microlith.api.compile(KWS, tmp_path / "c", optimize="size", measure=False)
    src = tmp_path / "c" / "src"
    model = src / f"{r['name']}.c"
    text = model.read_text()
    config = (src / "microlith_kernels" / "ml_config.h").read_text()
    assert "#define ML_NO_DW_GROUPS 1" in config
    assert "#define ML_SPECIALISE_CONV_P4 1" in config and "#define ML_CONV2D_S8_ONLY_ASM 1" in config
    if edit == "conv_clamp":
        text, n = re.subn(r"(_l2_params = \{[^}]*\.act_min = )-128", r"\g<1>-100", text)
    elif edit == "layout":
        text, n = re.subn(r"(_l1_params = \{[^}]*\.dsp_layout = )ML_DW_LAYOUT_[\w +]+", r"\g<1>ML_DW_LAYOUT_GROUPS", text)
    elif edit == "no_derive":
        text, n = re.subn(r"(_l1_params = \{[^}]*\.dsp_layout = ML_DW_LAYOUT_3X3_T) \+ ML_DW_LAYOUT_DERIVE", r"\g<1>",
                          text)
    else:  # one channel's shift outside the fast requantization's range
        text, n = re.subn(r"(_l1_shift\[64\] = \{\s*)-?\d+", r"\g<1>-23", text)
    assert n == 1
    model.write_text(text)
    builder = cortexm.FirmwareBuilder(tmp_path / "c", r["name"], "cortex-m4", tmp_path / "fw")
    x = [np.zeros(p.count, p.dtype) for p in builder.api.inputs]
    elf = builder.link([x]).elf
    # The harness reports each sample's status, then exits 1 because one failed.
    res = subprocess.run(cortexm.qemu_command(elf, "cortex-m4"), capture_output=True, timeout=120, check=False)
    report = [ln.split() for ln in (res.stdout + res.stderr).decode().splitlines() if ln.startswith("ML:run")]
    assert res.returncode == 1 and report and report[0][2] == str(status), report


@needs_tools
@needs_models
def test_balanced_vww_leaves_the_general_depthwise_pixel_out(tmp_path):
    """VWW's layers on the depthwise group path (its stride-2 layers) all take the 3x3 pixel, so
    balanced builds it without the general pixel (ML_DW_ONLY_3X3; byte-exact with TFLM in
    test_cortexm.py). A layer whose group data says a group is off the fast requantization,
    which only the general pixel computes, is refused with ML_NO_IMPL, not computed by the 3x3
    pixel."""
    import re

    import numpy as np
    r = microlith.api.compile(MODELS / "vww_96_int8.tflite", tmp_path / "c", measure=False)
    src = tmp_path / "c" / "src"
    assert "#define ML_DW_ONLY_3X3 1" in (src / "microlith_kernels" / "ml_config.h").read_text()
    builder = cortexm.FirmwareBuilder(tmp_path / "c", r["name"], "cortex-m4", tmp_path / "fw")
    model = src / f"{r['name']}.c"
    text, n = re.subn(r"(_l3_dsp_groups\[\d+\] = \{\s*)1,", r"\g<1>0,", model.read_text())
    assert n == 1
    model.write_text(text)
    x = [np.zeros(p.count, p.dtype) for p in builder.api.inputs]
    res = subprocess.run(cortexm.qemu_command(builder.link([x]).elf, "cortex-m4"), capture_output=True,
                         timeout=120, check=False)
    report = [ln.split() for ln in (res.stdout + res.stderr).decode().splitlines() if ln.startswith("ML:run")]
    assert res.returncode == 1 and report and report[0][2] == "-2", report


@needs_tools
@needs_models
@pytest.mark.parametrize("edit,core", [("conv_scratch", "cortex-m0"), ("dw_dilation", "cortex-m0"),
                                       ("conv_scratch", "cortex-m3")])
def test_m0_build_refuses_a_layer_its_assembly_cannot_take(tmp_path, edit, core):
    """On Cortex-M0 (and M3, which runs the same routines) every KWS convolution and depthwise
    layer takes the ARMv6-M assembly, so balanced leaves the portable paths out there
    (ML_NO_FALLBACK_M0_*): a layer edited after generation so that the assembly cannot take it
    is refused, not left to code that is not there: a convolution without scratch with ML_NO_IMPL;
    a depthwise layer with a dilated window with ML_ARG_ERROR, since it runs in one call over its
    input there (in_place_whole_on_m0), which only the assembly may do."""
    import re

    import numpy as np
    r = microlith.api.compile(KWS, tmp_path / "c", measure=False)
    src = tmp_path / "c" / "src"
    config = (src / "microlith_kernels" / "ml_config.h").read_text()
    assert "#define ML_NO_FALLBACK_M0_CONV2D_S8 1" in config
    assert "#define ML_NO_FALLBACK_M0_DEPTHWISE_CONV2D_S8 1" in config
    model = src / f"{r['name']}.c"
    if edit == "conv_scratch":
        text, n = re.subn(r"(ml_conv2d_s8\(&\w+_l0_params, &\w+_l0_quant, )\(\(void \*\)\(arena \+ \d+\)\)",
                          r"\g<1>NULL", model.read_text())
    else:
        text, n = re.subn(r"(_l1_params = \{[^}]*\.dilation_h = )1", r"\g<1>2", model.read_text())
    assert n == 1
    model.write_text(text)
    builder = cortexm.FirmwareBuilder(tmp_path / "c", r["name"], core, tmp_path / "fw")
    x = [np.zeros(p.count, p.dtype) for p in builder.api.inputs]
    res = subprocess.run(cortexm.qemu_command(builder.link([x]).elf, core), capture_output=True,
                         timeout=120, check=False)
    report = [ln.split() for ln in (res.stdout + res.stderr).decode().splitlines() if ln.startswith("ML:run")]
    assert res.returncode == 1 and report and report[0][2] == ("-2" if edit == "conv_scratch" else "-1"), report


# One layer per ARMv6-M routine and activation: (x_shape, out_c or None for depthwise, kernel, kwargs)
M0_FORMS = {
    "conv_relu": ((1, 6, 5, 8), 6, (1, 1), dict(activation="RELU", out_zp=-20)),
    "conv_none": ((1, 6, 5, 8), 6, (3, 3), dict(out_zp=7)),
    "dw_relu": ((1, 7, 6, 8), None, (3, 3), dict(activation="RELU", out_zp=3)),
    "dw_none": ((2, 7, 6, 8), None, (3, 3), dict(out_zp=-9, in_zp=5)),
}


def _exact_and_config(g, tmp_path, target, samples, seed):
    """g verified byte-exact with TFLM on target, then compiled: (compile result, its ml_config.h,
    that file's text)."""
    from test_fast_kernels import write
    path = write(g, tmp_path)
    res = microlith.verify(path, target=target, samples=samples, seed=seed)
    assert res["bit_exact"], res
    r = microlith.api.compile(path, tmp_path / "c", measure=False)
    config = tmp_path / "c" / "src" / "microlith_kernels" / "ml_config.h"
    return r, config, config.read_text()


@needs_tools
@pytest.mark.parametrize("name", list(M0_FORMS))
def test_m0_builds_one_activation_form(tmp_path, name):
    """A model whose layers all clamp at their output zero point (a fused ReLU), or none does,
    builds only that form of the ARMv6-M routines (ML_ONLY_RELU, ML_NO_RELU): byte-exact
    with TFLM on Cortex-M0. With the other form's macro forced, the layer goes the other way (the
    convolution's C pairs, the depthwise row path) and gives the same bytes."""
    import numpy as np

    from test_conv import conv_graph
    x_shape, out_c, kernel, kw = M0_FORMS[name]
    dw = out_c is None
    g = conv_graph(x_shape, out_c, kernel, depth_multiplier=1 if dw else None, seed=len(name), **kw)
    r, config, text = _exact_and_config(g, tmp_path, "cortex-m0", samples=3, seed=4)
    form, other = ("ML_ONLY_RELU", "ML_NO_RELU") if name.endswith("relu") else ("ML_NO_RELU", "ML_ONLY_RELU")
    assert f"#define {form} 1" in text and other not in text
    kernel_name = "DEPTHWISE_CONV2D_S8" if dw else "CONV2D_S8"
    assert f"#define ML_NO_FALLBACK_M0_{kernel_name} 1" in text
    rng = np.random.default_rng(9)
    outputs = []
    for macro in (form, other):
        config.write_text(text.replace(f"#define {form} 1", f"#define {macro} 1"))
        builder = cortexm.FirmwareBuilder(tmp_path / "c", r["name"], "cortex-m0", tmp_path / f"fw_{macro}")
        xs = [[rng.integers(-128, 128, p.count).astype(np.int8) for p in builder.api.inputs] for _ in range(2)] \
            if not outputs else xs
        run = cortexm.run_firmware(builder.link(xs).elf, "cortex-m0")
        assert all(s.status == 0 for s in run.samples), run
        outputs.append([s.outputs for s in run.samples])
    assert outputs[0] == outputs[1]


# Layers on the DSP routines (clamp [-128, 127]) in their ReLU form: zero point -128 and a fused
# ReLU. The convolution's six-pixel routine, the depthwise 3x3 plane routine (stride 1) and the
# group row routine (stride 2).
DSP_RELU = {
    "conv": ((1, 9, 8, 12), 16, (3, 3), (1, 1)),
    "dw_planes": ((1, 10, 9, 16), None, (3, 3), (1, 1)),
    "dw_rows": ((2, 11, 10, 16), None, (3, 3), (2, 2)),
}


def _m4_runs(tmp_path, folder, name, config, text, xs):
    """(outputs, instructions) per sample of the folder's model on Cortex-M4, with ml_config.h
    holding `text`."""
    config.write_text(text)
    builder = cortexm.FirmwareBuilder(folder, name, "cortex-m4", tmp_path / f"fw{abs(hash(text))}")
    run = cortexm.run_firmware(builder.link(xs).elf, "cortex-m4")
    return [(s.status, s.outputs) for s in run.samples], sum(s.instructions for s in run.samples)


@needs_tools
@pytest.mark.parametrize("name", list(DSP_RELU))
def test_dsp_relu_form(tmp_path, name):
    """A model of fused-ReLU layers at zero point -128 builds the DSP routines in their ReLU form
    (ML_ONLY_RELU): byte-exact with TFLM on Cortex-M4, the same bytes as the general form, and
    one instruction less per output (the rounding term for negative sums, which no output of
    such a layer depends on: ml_nn_dsp.h). Forced onto a layer with another zero point, the
    macro sends it to the portable path, never to the ReLU form: the same bytes again."""
    import numpy as np

    from test_conv import conv_graph
    from test_fast_kernels import write
    x_shape, out_c, kernel, stride = DSP_RELU[name]
    dw = out_c is None
    g = conv_graph(x_shape, out_c, kernel, stride=stride, depth_multiplier=1 if dw else None,
                   activation="RELU", out_zp=-128, in_zp=-3, seed=len(name))
    r, config, text = _exact_and_config(g, tmp_path, "cortex-m4", samples=4, seed=2)
    assert "#define ML_ONLY_RELU 1" in text
    rng = np.random.default_rng(5)
    builder = cortexm.FirmwareBuilder(tmp_path / "c", r["name"], "cortex-m4", tmp_path / "probe")
    xs = [[rng.integers(-128, 128, p.count).astype(np.int8) for p in builder.api.inputs] for _ in range(2)]
    relu, relu_n = _m4_runs(tmp_path, tmp_path / "c", r["name"], config, text, xs)
    general, general_n = _m4_runs(tmp_path, tmp_path / "c", r["name"], config,
                                  text.replace("#define ML_ONLY_RELU 1", ""), xs)
    assert relu == general and all(s == 0 for s, _ in relu)
    # a good share of the outputs are clamped negative sums, so the outputs test the form
    outputs = np.concatenate([np.frombuffer(o[0], np.int8) for _, o in relu])
    assert 0.2 < np.mean(outputs == -128) < 0.8
    # one instruction per output (the depthwise routine's pairs also compute the one past an odd
    # line's end)
    assert 0.98 * outputs.size <= general_n - relu_n <= 1.2 * outputs.size, (general_n, relu_n, outputs.size)
    # the macro on a layer it does not hold for (zero point 5, no activation): the same bytes
    # through a portable path (speed mode keeps them), or an error where the layer's data is laid
    # out for the routine (the 3x3 planes, the convolution's channel pairs), never other bytes
    g = conv_graph(x_shape, out_c, kernel, stride=stride, depth_multiplier=1 if dw else None,
                   out_zp=5, in_zp=-3, seed=len(name))
    path = write(g, tmp_path, name="other")
    r = microlith.api.compile(path, tmp_path / "o", optimize="speed", measure=False)
    config = tmp_path / "o" / "src" / "microlith_kernels" / "ml_config.h"
    text = config.read_text()
    assert "#define ML_NO_RELU 1" in text
    forced = _m4_runs(tmp_path, tmp_path / "o", r["name"], config,
                      text.replace("#define ML_NO_RELU 1", "#define ML_ONLY_RELU 1"), xs)[0]
    plain = _m4_runs(tmp_path, tmp_path / "o", r["name"], config, text, xs)[0]
    assert all(s == 0 for s, _ in plain)
    assert all(f == p or f[0] != 0 for f, p in zip(forced, plain)), forced
    assert (forced == plain) == (name == "dw_rows"), forced


# Size mode's smallest forms of the small-layer kernels: fully connected one row at a time
# (ml_fully_connected_s8.c, compact), average pooling channel by channel (ml_avgpool_s8.c,
# ML_MINIMAL): the shapes their fast forms split into paths, byte-exact on the DSP core and on
# ARMv6-M (whose average keeps its proven multiply for the division).
SMALL_LAYERS = {
    "fc_per_channel": ("fc", dict(batches=2, depth=24, units=6, per_channel=True, in_zp=-7), "cortex-m4"),
    "fc_depth_odd": ("fc", dict(batches=1, depth=33, units=7, in_zp=-128, out_zp=127, activation="RELU"),
                     "cortex-m4"),
    "fc_no_bias_tiny_scale": ("fc", dict(batches=1, depth=64, units=12, bias=False, out_scale=1e6), "cortex-m4"),
    # enough work that size mode keeps the row groups (ML_SPECIALISE_FC_ROWS), with a tail of rows
    "fc_rows_kept": ("fc", dict(batches=1, depth=516, units=98, per_channel=True, in_zp=-128), "cortex-m4"),
    "avgpool_kws": ("pool", ((1, 25, 5, 64), (25, 5), (1, 1), "VALID", "NONE", -128), "cortex-m4"),
    "avgpool_clipped_odd_c": ("pool", ((2, 7, 9, 19), (3, 3), (2, 2), "SAME", "RELU6", -3), "cortex-m4"),
    "avgpool_over_256_cells": ("pool", ((1, 17, 17, 8), (17, 17), (1, 1), "VALID", "NONE", 0), "cortex-m4"),
    "avgpool_m0": ("pool", ((1, 6, 6, 12), (2, 2), (2, 2), "VALID", "RELU", 5), "cortex-m0"),
}


@needs_tools
@pytest.mark.parametrize("name", list(SMALL_LAYERS))
def test_size_mode_small_layer_kernels_are_exact(tmp_path, name):
    import numpy as np

    from opmodels import act, single_op, write
    from test_fast_kernels import fc_graph
    kind, spec, target = SMALL_LAYERS[name]
    if kind == "fc":
        g = fc_graph(seed=len(name), **spec)
    else:
        shape, filt, stride, padding, activation, zp = spec
        n, h, w, c = shape
        oh, ow = ((-(-h // stride[0]), -(-w // stride[1])) if padding == "SAME"
                  else ((h - filt[0]) // stride[0] + 1, (w - filt[1]) // stride[1] + 1))
        g = single_op(microlith.ir.Op.AVERAGE_POOL_2D, [act("x", shape, 0.05, zp)],
                      [act("y", (n, oh, ow, c), 0.05, zp)],
                      dict(padding=padding, stride_h=stride[0], stride_w=stride[1], filter_h=filt[0],
                           filter_w=filt[1], activation=activation))
    path = write(g, tmp_path)
    r = microlith.api.compile(path, tmp_path / "c", optimize="size", measure=False)
    config = (tmp_path / "c" / "src" / "microlith_kernels" / "ml_config.h").read_text()
    assert ("#define ML_SPECIALISE_FC_ROWS 1" in config) == (name == "fc_rows_kept"), r["name"]
    x = g.t(g.inputs[0])
    rng = np.random.default_rng(5)
    # the sums' extremes (all -128, all 127), then random values
    xs = np.stack([np.full(x.shape, -128, np.int8), np.full(x.shape, 127, np.int8),
                   rng.integers(-128, 128, x.shape).astype(np.int8)])
    np.save(tmp_path / "x.npy", xs)
    r = microlith.verify(path, target=target, samples=2, inputs=str(tmp_path / "x.npy"), seed=1,
                         optimize="size")
    assert r["bit_exact"] and r["samples"] == 5 and r["mismatched_samples"] == 0, r
