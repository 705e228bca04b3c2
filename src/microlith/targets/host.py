"""Footprint of a generated folder built for the host: code + constants, from real objects."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..ir import MicrolithError
from .build import STRICT, find_compiler, run


def object_sizes(c_dir: Path, compiler: str | None = None, opt: str = "-O2", flags=(),
                 size_tool: str | None = None) -> dict:
    """text (code + read-only data, i.e. weights), data and bss summed over the library's objects,
    as `size` reports them for objects compiled with the given compiler and flags."""
    cc = compiler or find_compiler()
    size_tool = size_tool or shutil.which("size")
    if size_tool is None:
        raise MicrolithError("binutils 'size' not found; install binutils")
    totals = {"text": 0, "data": 0, "bss": 0}
    with tempfile.TemporaryDirectory(prefix="microlith-size-") as tmp:
        objs = []
        for src in sorted((Path(c_dir) / "src").glob("*.c")):
            obj = Path(tmp) / (src.stem + ".o")
            run([cc, opt, *flags, *STRICT, "-ffunction-sections", "-fdata-sections", "-c", str(src),
                 "-I", str(Path(c_dir) / "src"), "-o", str(obj)], f"compiling {src.name}")
            objs.append(str(obj))
        out = run([size_tool, "-t", *objs], "measuring object sizes").stdout.strip().splitlines()
    fields = out[-1].split()  # the TOTALS row: text data bss dec hex
    totals.update(text=int(fields[0]), data=int(fields[1]), bss=int(fields[2]))
    return totals
