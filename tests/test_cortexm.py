"""Cortex-M targets: firmware build, QEMU runs, exact instruction counts, failure modes."""
import importlib
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.ir import MicrolithError
from microlith import profiling
from microlith.targets import cortexm, get_target, list_targets, target_names

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
AD = MODELS / "ad01_int8.tflite"
KWS = MODELS / "kws_ref_model.tflite"
KWS_INPUT = MODELS / "inputs" / "kws_input_int8.npy"
CORES = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]
BOARDS = ["stm32l4r5", "nrf52840", "stm32f746", "stm32u575", "rp2040", "nrf51822", "stm32f207"]

_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed "
                                 "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")
needs_models = pytest.mark.skipif(not AD.exists(), reason=f"{MODELS} not present")


def fake_model(root: Path, body: str, name: str = "fake") -> Path:
    """A folder shaped like codegen output whose invoke runs `body` and adds 1 to 4 int8 values."""
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    up = name.upper()
    (src / f"{name}.h").write_text(
        f"#include <stdint.h>\n#define {up}_ARENA_SIZE 0\n#define {up}_INPUT_SIZE 4\n"
        f"#define {up}_OUTPUT_SIZE 4\nint {name}_invoke(const int8_t *input, int8_t *output);\n")
    (src / f"{name}.c").write_text(
        f'#include "{name}.h"\n#ifndef ML_LAYER_BEGIN\n#define ML_LAYER_BEGIN(layer)\n#endif\n'
        "#ifndef ML_LAYER_END\n#define ML_LAYER_END(layer, data, bytes)\n#endif\n"
        f"int {name}_invoke(const int8_t *input, int8_t *output)\n{{\n    ML_LAYER_BEGIN(0);\n    {body}\n"
        "    for (int i = 0; i < 4; i++) {\n        output[i] = (int8_t)(input[i] + 1);\n    }\n"
        "    ML_LAYER_END(0, output, 4);\n    return 0;\n}\n")
    return root


def nops(n: int) -> str:
    return f'__asm__ volatile(".rept {n}\\n\\tnop\\n\\t.endr");'


SAMPLE = [[np.array([1, 2, 3, -128], np.int8)]]


# ------------------------------------------------------------------ target data (no tools needed)

def test_target_files_complete():
    names = target_names()
    assert names[:5] == CORES and sorted(names[5:]) == sorted(BOARDS)
    rows = {r["name"]: r for r in list_targets()}
    for core in CORES:
        t = get_target(core)
        assert t["cflags"][0] == f"-mcpu={core}" and t["qemu"]["machine"]
        assert t["cpi_estimate"]["kind"] == "estimate" and t["cpi_estimate"]["source"]
        assert rows[core]["qemu_machine"] == t["qemu"]["machine"]
    for board in BOARDS:
        t = get_target(board)
        assert t["core"] in CORES
        for key in ("flash_bytes", "ram_bytes", "clock_hz"):
            assert t[key]["value"] > 0 and t[key]["source"]
        for fig in t["energy"].values():
            if isinstance(fig, dict):
                assert fig["source"]
        assert rows[board]["flash_bytes"] == t["flash_bytes"]["value"]
    assert rows["stm32l4r5"]["clock_mhz"] == 120 and rows["stm32l4r5"]["ram_bytes"] == 640 * 1024


def test_unknown_target_lists_known_names():
    with pytest.raises(MicrolithError, match="unknown target 'cortex-m99'.*cortex-m4.*stm32l4r5"):
        get_target("cortex-m99")


def test_check_budget():
    assert cortexm.check_budget({"flash_bytes": 1000, "ram_bytes": 1000}, "stm32l4r5") is None
    assert cortexm.check_budget({"flash_bytes": 10 ** 9, "ram_bytes": 10 ** 9}, "cortex-m4") is None
    msg = cortexm.check_budget({"name": "big", "flash_bytes": 1048576 + 10, "ram_bytes": 256 * 1024 + 1},
                               "nrf52840")
    assert msg.startswith("big does not fit nrf52840")
    assert "flash 1,048,586 B exceeds the 1,048,576 B budget by 10 B" in msg
    assert "RAM 262,145 B exceeds the 262,144 B budget by 1 B" in msg
    only_ram = cortexm.check_budget({"flash_bytes": 10, "ram_bytes": 700 * 1024}, "stm32l4r5")
    assert "flash" not in only_ram and "by 61,440 B" in only_ram


def test_estimate_names_its_basis():
    e = cortexm.estimate(1_200_000, "stm32l4r5")
    assert e["latency_ms_est"] == pytest.approx(1_200_000 * 1.3 / 120e6 * 1e3, rel=1e-4)
    assert e["energy_uj_est"] == pytest.approx(1_200_000 * 1.3 * 110 * 3.0 * 1e-6, rel=1e-4)
    for word in ("estimate", "CPI 1.3", "120 MHz", "110 uA/MHz", "3 V"):
        assert word in e["estimate_basis"]
    assert cortexm.estimate(1000, "cortex-m4")["estimate_board"] == "stm32l4r5"
    assert cortexm.estimate(1000, "cortex-m3")["estimate_board"] == "stm32f207"
    assert cortexm.estimate(1000, "cortex-m3")["energy_uj_est"] is None   # no current figure in its file
    assert cortexm.estimate(1000, "rp2040")["energy_uj_est"] is None


# ------------------------------------------------------------------ emulated runs

@pytest.mark.cortexm
@needs_tools
@needs_models
@pytest.mark.parametrize("core", CORES)
def test_profile_ad_and_kws(core):
    ad = profiling.profile(AD, core)
    assert ad["output_matches_host"] is True
    assert ad["core"] == core and ad["board"] is None and ad["macs"] == 264192
    assert ad["flash_bytes"] > ad["weight_bytes"] and ad["input_bytes_excluded"] == 640
    assert ad["ram_bytes"] >= ad["arena_bytes"] + ad["stack_bytes"] and 0 < ad["stack_bytes"] < 4096
    assert 1.0 < ad["instructions_per_mac"] < 40
    assert ad["latency_ms_est"] > 0 and ad["estimate_board"]
    r = profiling.profile(KWS, core, inputs=KWS_INPUT)
    assert r["output_matches_host"] is True and r["macs"] == 2656768
    assert r["ram_bytes"] >= r["arena_bytes"] and r["flash_bytes"] > r["weight_bytes"]
    again = profiling.profile(KWS, core, inputs=KWS_INPUT)
    assert (again["instructions"], again["stack_bytes"], again["flash_bytes"]) == \
        (r["instructions"], r["stack_bytes"], r["flash_bytes"])


@pytest.mark.cortexm
@needs_tools
@needs_models
def test_profile_board_is_deterministic_with_layers():
    a = profiling.profile(AD, "stm32l4r5", per_layer=True)
    b = profiling.profile(AD, "stm32l4r5", per_layer=True)
    keys = ("instructions", "flash_bytes", "ram_bytes", "stack_bytes", "latency_ms_est", "energy_uj_est")
    assert [a[k] for k in keys] == [b[k] for k in keys]
    assert a["per_layer"] == b["per_layer"]
    assert a["board"] == "stm32l4r5" and a["core"] == "cortex-m4" and a["fits_budget"] is True
    # latency comes from the cycle estimate (the traced instruction stream, the TRM's timings)
    assert "120 MHz" in a["estimate_basis"] and "cycles" in a["estimate_basis"] and "TRM" in a["estimate_basis"]
    # the headline latency includes the board's flash wait states behind its ART accelerator
    assert a["latency_ms_est_zero_wait"] == round(a["cycles_est"] / 120e6 * 1e3, 4)
    assert a["latency_ms_est"] == round(a["cycles_est_board"] / 120e6 * 1e3, 4)
    assert a["cycles_est_board"] > a["cycles_est"]
    layers = a["per_layer"]
    assert [x["index"] for x in layers] == list(range(10))
    assert sum(x["macs"] for x in layers) == a["macs"]
    # the layers account for the whole inference, less the layer calls' glue
    total = sum(x["instructions"] for x in layers)
    assert 0 <= a["instructions"] - total < 200
    # a profile without layers measures the same total
    assert profiling.profile(AD, "cortex-m4")["instructions"] == a["instructions"]
    # --- issue 11: cycles per layer, from the per-layer firmware's trace cut at the layer hooks:
    # each layer costs at least a cycle per instruction, the board's flash only adds, and the
    # layers hold the model's cycles less the glue between them (and plus the hooks' calls)
    for x in layers:
        assert x["cycles_est_board"] >= x["cycles_est"] >= x["instructions"]
        assert x["cycles_per_mac_est"] == (round(x["cycles_est"] / x["macs"], 3) if x["macs"] else None)
    in_layers = sum(x["cycles_est"] for x in layers)
    assert abs(in_layers - a["cycles_est"]) < 400
    assert "estimate" in a["per_layer_cycles_basis"]
    assert re.search(r"within \d instructions", a["per_layer_cycles_basis"])


@pytest.mark.cortexm
@needs_tools
@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m4", "cortex-m33"])
def test_counts_are_exact(tmp_path, core):
    counts = []
    for n in (200, 400):
        fw = cortexm.build_firmware(fake_model(tmp_path / f"n{n}", nops(n)), "fake", core, SAMPLE,
                                    tmp_path / f"w{n}", per_layer=True)
        run = cortexm.run_firmware(fw.elf, core, timeout=30)
        assert run.samples[0].outputs == [bytes([2, 3, 4, 0x81])]
        counts.append((run.samples[0].instructions, run.layers[0]))
    assert counts[1][0] - counts[0][0] == 200
    assert counts[1][1] - counts[0][1] == 200


@pytest.mark.cortexm
@needs_tools
@needs_models
def test_verify_on_board_matches_tflm_and_batches(tmp_path):
    r = microlith.verify(AD, target="cortex-m4", samples=3)
    assert r["bit_exact"] and r["samples"] == 3 and r["target"] == "cortex-m4"
    g = microlith.load(AD)
    res = microlith.compile(g, tmp_path / "c", measure=False)
    board = cortexm.BoardModel(tmp_path / "c", g, res["name"], "cortex-m0", tmp_path)
    host = importlib.import_module("microlith.verify").HostModel(tmp_path / "c", g, res["name"], tmp_path)
    rng = np.random.default_rng(5)
    samples = [[rng.integers(-128, 128, (1, 640)).astype(np.int8)] for _ in range(4)]
    outs = board.run_many(samples)
    assert len(outs) == 4 and len(board.last_run.samples) == 4   # one QEMU run for all four
    assert outs[0][0].dtype == np.int8 and outs[0][0].shape == (1, 640)
    assert np.array_equal(board.run(samples[2])[0], outs[2][0])
    for xs, got in zip(samples, outs):
        assert np.array_equal(host.run(xs)[0], got[0])


# ------------------------------------------------------------------ failures: one clear error, quickly

@pytest.mark.cortexm
@needs_models
def test_missing_toolchain(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    t0 = time.perf_counter()
    with pytest.raises(MicrolithError, match="arm-none-eabi-gcc not found on PATH.*apt-get install"):
        profiling.profile(AD, "cortex-m4")
    assert time.perf_counter() - t0 < 10


@pytest.mark.cortexm
@needs_tools
def test_missing_emulator(monkeypatch, tmp_path):
    fw = cortexm.build_firmware(fake_model(tmp_path / "m", nops(1)), "fake", "cortex-m4", SAMPLE, tmp_path / "w")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / cortexm.CC).symlink_to(shutil.which(cortexm.CC))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MicrolithError, match="qemu-system-arm not found on PATH"):
        cortexm.run_firmware(fw.elf, "cortex-m4")


@pytest.mark.cortexm
@needs_tools
def test_hang_times_out(tmp_path):
    fw = cortexm.build_firmware(fake_model(tmp_path / "m", 'for (;;) { __asm__ volatile("nop"); }'), "fake",
                                "cortex-m4", SAMPLE, tmp_path / "w")
    t0 = time.perf_counter()
    with pytest.raises(MicrolithError, match="did not finish within 1 s on QEMU mps2-an386"):
        cortexm.run_firmware(fw.elf, "cortex-m4", timeout=1)
    assert time.perf_counter() - t0 < 5


@pytest.mark.cortexm
@needs_tools
@pytest.mark.parametrize("core", ["cortex-m0", "cortex-m4"])
def test_lockup_is_reported(tmp_path, core):
    # SP pointed at unmapped memory, then a fault: exception entry cannot stack, the core locks up.
    body = '__asm__ volatile("mov sp, %0\\n\\tldr r0, [%0]" :: "r"(0xF0000000u) : "r0");'
    fw = cortexm.build_firmware(fake_model(tmp_path / "m", body), "fake", core, SAMPLE, tmp_path / "w")
    with pytest.raises(MicrolithError, match="locked up on QEMU .* during sample 0"):
        cortexm.run_firmware(fw.elf, core, timeout=20)


@pytest.mark.cortexm
@needs_tools
def test_fault_is_reported(tmp_path):
    fw = cortexm.build_firmware(fake_model(tmp_path / "m", "*(volatile int *)0xF0000000u = 1;"), "fake",
                                "cortex-m4", SAMPLE, tmp_path / "w")
    with pytest.raises(MicrolithError, match="crashed \\(HardFault\\) on QEMU mps2-an386 during sample 0"):
        cortexm.run_firmware(fw.elf, "cortex-m4", timeout=20)


@needs_tools
def test_bad_samples_and_folder(tmp_path):
    model = fake_model(tmp_path / "m", nops(1))
    with pytest.raises(MicrolithError, match="input 'input' has 3 values, the model takes 4"):
        cortexm.build_firmware(model, "fake", "cortex-m4", [[np.zeros(3, np.int8)]], tmp_path / "w")
    with pytest.raises(MicrolithError, match="no generated model 'other'"):
        cortexm.build_firmware(model, "other", "cortex-m4", SAMPLE, tmp_path / "w")


MLPERF = ["kws_ref_model.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite"]


@pytest.mark.slow
@pytest.mark.cortexm
@needs_tools
@needs_models
@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("model", MLPERF)
def test_mlperf_models_exact_on_every_core(model, core):
    """Each core compiles its own kernel paths (M0 and M3 assembly, SMLAD on M4/M7/M33), so
    TFLM judges every MLPerf Tiny model on every core, not the host build. Three random
    inputs per run (KWS adds its real MFCC input), one QEMU run each: the 20 cases took 32 s
    together on 2 busy cores, the slowest (VWW on M33, on M0) under 3 s each."""
    inputs = str(KWS_INPUT) if model == KWS.name else None
    r = microlith.verify(MODELS / model, target=core, samples=3, inputs=inputs, seed=5)
    want = 4 if inputs else 3
    assert r["target"] == core and r["samples"] == want, r
    assert r["bit_exact"] and r["mismatched_samples"] == 0 and r["max_abs_diff"] == 0, r
