"""`microlith report`: one HTML page with measured figures and two plots."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_report_page_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "new_folder" / "ad.html"  # a missing folder is created, as compile -o does
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "report", str(MODELS / "ad01_int8.tflite"),
                          "--target", "cortex-m4", "-o", str(out), "--samples", "5"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    for text in ("byte-exact with TFLM", "instructions per inference (exact)", "latency (estimate)",
                 "data:image/png;base64,", "FULLY_CONNECTED", "cycles (estimate, stm32l4r5 flash)",
                 "cycles per MAC", "cycles per inference (estimate)", "with stm32l4r5 flash"):
        assert text in page, text
    for png in (out.parent / "ad.memory.png", out.parent / "ad.layers.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # one row per layer in the layer table
    assert page.count("<tr><td>") >= 10


def test_report_rejects_unknown_target(tmp_path):
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "report", str(MODELS / "ad01_int8.tflite"),
                          "--target", "cortex-m99", "-o", str(tmp_path / "r.html")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "cortex-m99" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.cortexm
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_report_no_in_place_names_its_arena(tmp_path):
    """--no-in-place and --weights-in-ram reach the page's memory rows."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "kws.html"
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "report", str(MODELS / "kws_ref_model.tflite"),
                          "--target", "cortex-m4", "-o", str(out), "--samples", "2", "--no-in-place",
                          "--weights-in-ram"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    from microlith import api
    whole = api.compile(str(MODELS / "kws_ref_model.tflite"), tmp_path / "c", measure=False,
                        strategy="greedy-noinplace")
    assert whole["arena_bytes_in_place"] < whole["arena_bytes"]
    assert (f"{whole['arena_bytes']:,} B; every layer run whole (--no-in-place), "
            f"{whole['arena_bytes_in_place']:,} B with layers in place") in page
    assert "(--weights-in-ram: copied from flash at start-up, read without flash wait states)" in page
