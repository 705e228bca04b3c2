"""The C kernel library, grouped by family the way CMSIS-NN groups its Source/ folder:
common/ (shared headers), conv/, fully_connected/, pool/, elementwise/, activation/, reduce/,
shape/, quantize/, dsp/ (the DSP front ends) and one folder per later family.

File names are unique across families (`ml_<op>_<dtype>[_<variant>]`), so a kernel is named
by its file name alone; a generated folder holds them flat. `kernel_file` is the one way to
find a kernel's source.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CSRC = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _index() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(CSRC.rglob("*")):
        if p.suffix not in (".c", ".h") or not p.is_file():
            continue
        if p.name in found:  # a flat generated folder could not hold both
            raise RuntimeError(f"kernel file {p.name} exists twice: {found[p.name]} and {p}")
        found[p.name] = p
    return found


def kernel_file(name: str) -> Path | None:
    """The path of kernel file `name` ('ml_conv2d_s8.c'), or None if there is none."""
    return _index().get(name)


def include_dirs() -> list[Path]:
    """Every family folder, for compiling a kernel straight from the source tree."""
    return sorted({p.parent for p in _index().values()})
