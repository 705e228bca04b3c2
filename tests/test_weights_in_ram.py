"""--weights-in-ram (issue 11, codegen/c.py _IN_RAM_NOTE): every constant array of the model in a
.data section of its own, so that the start-up code copies it to RAM and no weight load meets the
flash's wait states. The arithmetic is untouched (byte-exact with TFLM), the folder still builds
clean under -Werror with gcc and clang, the linker map still tells weights from code, and on the
emulated Cortex-M4 with the STM32L4R5's flash model the data-load stalls of the anomaly detector
(fully connected layers, whose weights --stage-weights cannot help with) disappear."""
import re
import shutil
import subprocess

import pytest

from microlith import api, profiling
from microlith.cli import main
from microlith.targets import cortexm
from test_stage_weights import KWS, MODELS, needs_tools  # the other way weights leave flash

AD = MODELS / "ad01_int8.tflite"


def test_in_ram_folder_is_byte_exact_and_places_every_constant(tmp_path):
    r = api.verify(str(KWS), samples=3, weights_in_ram=True, workdir=str(tmp_path))
    assert r["bit_exact"], r
    plain = api.compile(str(KWS), tmp_path / "flash", measure=False)
    ram = api.compile(str(KWS), tmp_path / "ram", measure=False, weights_in_ram=True)
    assert ram["weights_in_ram"] and not plain["weights_in_ram"]
    assert ram["constants_crc32"] == plain["constants_crc32"]  # the same bytes, elsewhere
    src = (tmp_path / "ram" / "src" / f"{ram['name']}.c").read_text()
    flash_src = (tmp_path / "flash" / "src" / f"{plain['name']}.c").read_text()
    up = ram["name"].upper()
    # the model's constant arrays (NAME_l<layer>_...), not the self-test's CRC table
    arrays = re.findall(rf"^static const \w+ ({ram['name']}_l\d+_\w+)\[\d+\]", flash_src, re.M)
    placed = re.findall(rf"^static const \w+ (\w+)\[\d+\] {up}_IN_RAM\((\w+)\) = \{{", src, re.M)
    assert len(arrays) > 20 and sorted(a for a, _ in placed) == sorted(arrays)
    assert all(a == b for a, b in placed)
    # without the option nothing changes: no macro in the default folder
    assert "_IN_RAM" not in flash_src
    # the linker-map accounting of weights (code = flash - weights) finds the same arrays
    assert cortexm.constant_arrays([tmp_path / "ram" / "src" / f"{ram['name']}.c"]) == \
        cortexm.constant_arrays([tmp_path / "flash" / "src" / f"{plain['name']}.c"])


@needs_tools
@pytest.mark.parametrize("cc,arch,objdump", [
    ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb"], "arm-none-eabi-objdump"),
    ("clang", [], "objdump"),  # the host's ELF: the same attribute, another compiler
])
def test_in_ram_arrays_land_in_data_sections(tmp_path, cc, arch, objdump):
    if shutil.which(cc) is None or shutil.which(objdump) is None:
        pytest.skip(f"{cc} or {objdump} not installed")
    r = api.compile(str(KWS), tmp_path / "c", measure=False, weights_in_ram=True)
    src = tmp_path / "c" / "src"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", *arch, "-fdata-sections",
                    "-I", str(src), "-c", str(src / f"{r['name']}.c"), "-o", str(tmp_path / "m.o")],
                   check=True, capture_output=True, text=True)
    heads = subprocess.run([objdump, "-h", str(tmp_path / "m.o")], check=True, capture_output=True,
                           text=True).stdout
    data = set(re.findall(rf"\.data\.({r['name']}_l\w+)", heads))
    rodata = set(re.findall(rf"\.rodata\.({r['name']}_l\w+)", heads))
    arrays = set(re.findall(rf"^static const \w+ ({r['name']}_l\d+_\w+)\[", (src / f"{r['name']}.c").read_text(),
                            re.M))
    # every constant array in RAM; the layers' parameter structs (a few bytes each) stay in flash
    # (a build compiles the copies laid out for its own core family's kernels only)
    assert len(data) > 20 and data <= arrays and not rodata & arrays, sorted(rodata & arrays)[:5]
    assert any(s.endswith("_params") for s in rodata)


@needs_tools
def test_in_ram_removes_the_fully_connected_weights_flash_stalls(tmp_path, capsys):
    """AD on the STM32L4R5's flash model: 271 KB of fully connected weights read once per inference
    stall 27% of the board estimate from flash; from RAM they stall never, the board estimate falls
    to within 3% of the zero-wait one, and RAM grows by the weights (flash and code stay)."""
    base = profiling.profile(str(AD), "stm32l4r5", workdir=str(tmp_path))
    ram = profiling.profile(str(AD), "stm32l4r5", workdir=str(tmp_path), weights_in_ram=True)
    assert base["output_matches_host"] and ram["output_matches_host"]
    assert ram["instructions"] == base["instructions"]
    before = base["memory_model"]["flash_load_stall_cycles"]
    after = ram["memory_model"]["flash_load_stall_cycles"]
    assert before > 0.2 * base["cycles_est_board"] and after < 0.01 * before, (before, after)
    assert ram["cycles_est_board"] < 1.03 * ram["cycles_est"]
    assert ram["weight_bytes_linked"] == base["weight_bytes_linked"] > 250_000
    assert ram["code_bytes"] == base["code_bytes"] and ram["flash_bytes"] == base["flash_bytes"]
    assert ram["ram_bytes"] - base["ram_bytes"] >= base["weight_bytes_linked"]
    assert ram["fits_budget"]  # 272 KB of the part's 640 KB
    # the profile's hint names the option where flash data loads cost more than a tenth
    assert main(["profile", str(AD), "--target", "stm32l4r5"]) == 0
    assert "--weights-in-ram reads every constant from RAM" in capsys.readouterr().out


@needs_tools
def test_weights_that_do_not_fit_the_ram_are_refused_with_the_way_out(tmp_path, capsys):
    # KWS: 10 KB arena + 33 KB of constants in RAM against the nRF51822's 16 KB
    code = main(["compile", str(KWS), "-o", str(tmp_path / "c"), "--target", "nrf51822", "--weights-in-ram"])
    err = capsys.readouterr().err
    assert code != 0 and "RAM" in err and "in RAM by --weights-in-ram: leave it out to keep them in flash" in err, err
