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
