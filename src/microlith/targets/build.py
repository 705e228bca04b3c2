"""Building generated C: host shared libraries for verification, strict-warning checks."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..codegen.outdir import generated_sources
from ..ir import MicrolithError

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def find_compiler(names=("gcc", "cc", "clang")) -> str:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    raise MicrolithError("no C compiler found (looked for " + ", ".join(names) +
                         "); install gcc, e.g. apt-get install gcc")


def run(cmd: list[str], what: str, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MicrolithError(f"{what}: timed out after {timeout:.0f} s: {' '.join(cmd[:3])} ...") from None
    except FileNotFoundError:
        raise MicrolithError(f"{what}: '{cmd[0]}' not found") from None
    if res.returncode != 0:
        lines = (res.stderr or res.stdout).strip().splitlines()
        detail = " | ".join(lines[:6])
        raise MicrolithError(f"{what} failed (exit {res.returncode}): {detail}")
    return res


def build_host_library(c_dir: Path, out: Path, extra_sources=(), extra_flags=(),
                       compiler: str | None = None, opt: str = "-O2") -> Path:
    """Compile a generated folder (plus extra sources) into a shared library for ctypes."""
    cc = compiler or find_compiler()
    src = [str(p) for p in generated_sources(c_dir)]
    cmd = [cc, opt, *STRICT, "-fPIC", "-shared", "-I", str(Path(c_dir) / "src"),
           *extra_flags, *src, *map(str, extra_sources), "-o", str(out)]
    run(cmd, f"building {c_dir} for the host")
    return out


def check_strict(c_dir: Path, compiler: str) -> None:
    """Compile every source with -std=c99 -Wall -Wextra -Werror (no link)."""
    for src in generated_sources(c_dir):
        run([compiler, "-O2", *STRICT, "-c", str(src), "-o", "/dev/null", "-I", str(Path(c_dir) / "src")],
            f"strict compile of {src.name} with {Path(compiler).name}")
