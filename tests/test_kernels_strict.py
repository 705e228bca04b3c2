"""Every C kernel in csrc/, of every family, compiles clean on its own under the strictest
warnings we promise (and a few more), with gcc and clang. New kernels are picked up by
walking the source tree, so a family added later cannot skip this check."""
import shutil
import subprocess

import pytest

from microlith.csrc import CSRC, include_dirs

FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wdouble-promotion",
         "-Wfloat-conversion", "-Wconversion", "-Wshadow", "-Wcast-qual", "-O2", "-c", "-o", "/dev/null"]
SOURCES = sorted(CSRC.rglob("*.c"))


def test_kernel_tree_is_not_empty():
    assert len(SOURCES) > 40 and any(p.parent.name == "conv" for p in SOURCES)


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_every_kernel_compiles_strict(compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    inc = [f"-I{d}" for d in include_dirs()]
    failed = []
    for src in SOURCES:
        res = subprocess.run([compiler, *FLAGS, *inc, str(src)], capture_output=True, text=True)
        if res.returncode != 0:
            failed.append(f"{src.relative_to(CSRC)}: {res.stderr.strip()[:400]}")
    assert not failed, "\n".join(failed)


# newlib's headers for the bare-metal targets (Debian's libnewlib-arm-none-eabi)
NEWLIB = "/usr/lib/arm-none-eabi/include"


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m33"])
def test_every_kernel_compiles_strict_with_clang_for_cortex_m(cpu):
    """The same warnings with clang for each Cortex-M architecture (ARMv6-M, ARMv7-M, ARMv7E-M,
    ARMv8-M), whose builds compile the assembly paths the host never sees: e.g. clang, unlike gcc,
    flags a static inline helper that one architecture's build leaves unused. Without -pedantic:
    the assembly routines are string literals longer than the 4,095 characters C99 promises
    every compiler reads, which both gcc and clang accept."""
    import os
    if shutil.which("clang") is None or not os.path.exists(f"{NEWLIB}/string.h"):
        pytest.skip("clang or newlib's arm-none-eabi headers (libnewlib-arm-none-eabi) not installed")
    inc = [f"-I{d}" for d in include_dirs()]
    flags = [f for f in FLAGS if f != "-pedantic"]
    target = ["--target=arm-none-eabi", f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=soft",
              "--sysroot=/usr/lib/arm-none-eabi", "-isystem", NEWLIB]
    failed = []
    for src in SOURCES:
        res = subprocess.run(["clang", *target, *flags, *inc, str(src)], capture_output=True, text=True)
        if res.returncode != 0:
            failed.append(f"{src.relative_to(CSRC)}: {res.stderr.strip()[:400]}")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m3"])
def test_board_tuned_convolution_compiles_strict(cpu):
    """The channel chunks a board's flash cache sets (ML_CONV_M0_FILTER_CACHE, which only
    `compile --target rp2040` writes into ml_config.h) under the same warnings."""
    import os
    if shutil.which("clang") is None or not os.path.exists(f"{NEWLIB}/string.h"):
        pytest.skip("clang or newlib's arm-none-eabi headers (libnewlib-arm-none-eabi) not installed")
    inc = [f"-I{d}" for d in include_dirs()]
    flags = [f for f in FLAGS if f != "-pedantic"]
    target = ["--target=arm-none-eabi", f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=soft",
              "--sysroot=/usr/lib/arm-none-eabi", "-isystem", NEWLIB,
              "-DML_CONV_M0_FILTER_CACHE=8192", "-DML_CONV_M0_FILTER_CACHE_ALL=16384"]
    res = subprocess.run(["clang", *target, *flags, *inc, str(CSRC / "conv" / "ml_conv2d_s8.c")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[:2000]
