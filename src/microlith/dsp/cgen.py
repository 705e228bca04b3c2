"""Emitting a DSP block as C: PREFIX_dsp.h / PREFIX_dsp.c plus the csrc/dsp kernels it calls.

A block fills a CUnit (tables as static const arrays, params structs, the body of each
entry point); write() lays the files out flat in one folder, together with the kernels and
everything they #include. Nothing depends on time, paths or dict order, so the same block
gives byte-identical files.
"""
from __future__ import annotations

import re
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..codegen.c import check_identifier
from ..csrc import CSRC, kernel_file
from ..ir import MicrolithError

DSP_CSRC = CSRC / "dsp"
VARIANTS = ("float", "fixed", "both")
_INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)


def c_float(v) -> str:
    text = f"{float(np.float32(v)):.9g}"
    if not any(ch in text for ch in ".e"):
        text += ".0"
    return text + "f"


def c_int(v) -> str:
    v = int(v)
    if v == -(1 << 31):
        return "INT32_MIN"
    if v == -(1 << 63):
        return "INT64_MIN"
    if abs(v) >= 1 << 31:
        return f"{v}LL"
    return str(v)


def _body(items: list[str]) -> str:
    lines, line = [], "   "
    for it in items:
        if len(line) + len(it) + 2 > 96:
            lines.append(line)
            line = "   "
        line += " " + it + ","
    lines.append(line)
    return "\n".join(lines)


def _find(name: str) -> Path:
    found = kernel_file(name)
    if found is not None:
        return found
    raise MicrolithError(f"dsp: kernel file {name} is missing from {DSP_CSRC}")


def kernel_closure(headers: list[str]) -> list[Path]:
    """The headers, the sources of the same name and everything they include, sorted by name."""
    todo, seen = list(headers), {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _find(name)
        seen[name] = path
        for src in (path, path.with_suffix(".c")):
            if src.is_file():
                if src.suffix == ".c":
                    seen[src.name] = src
                todo.extend(n for n in _INCLUDE.findall(src.read_text()) if n not in seen)
    return [seen[k] for k in sorted(seen)]


@dataclass
class CUnit:
    """The generated translation unit of one block."""
    prefix: str
    title: str
    decls: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    header_macros: list[tuple[str, str, str]] = field(default_factory=list)
    header_doc: str = ""
    prototypes: list[str] = field(default_factory=list)
    kernels: set[str] = field(default_factory=set)
    const_bytes: int = 0
    work_bytes: int = 0
    _names: set[str] = field(default_factory=set)

    def __post_init__(self):
        check_identifier(self.prefix)
        self._names.add(f"{self.prefix}_work")

    @property
    def macro(self) -> str:
        return self.prefix.upper()

    def _name(self, hint: str) -> str:
        name = f"{self.prefix}_{hint}"
        if name in self._names:
            raise AssertionError(f"two declarations named {name}")
        self._names.add(name)
        return name

    def array(self, hint: str, ctype: str, values) -> str:
        arr = np.asarray(values).reshape(-1)
        name = self._name(hint)
        items = [c_float(v) for v in arr.tolist()] if ctype == "float" else [c_int(v) for v in arr.tolist()]
        size = {"float": 4, "int32_t": 4, "uint16_t": 2, "int16_t": 2, "uint32_t": 4}[ctype]
        self.const_bytes += size * max(1, arr.size)
        self.decls.append(f"static const {ctype} {name}[{max(1, arr.size)}] = {{\n{_body(items or ['0'])}\n}};\n")
        return name

    def struct(self, hint: str, ctype: str, fields: dict) -> str:
        name = self._name(hint)
        body = ",\n".join(f"    .{k} = {v}" for k, v in fields.items())
        self.decls.append(f"static const {ctype} {name} = {{\n{body}\n}};\n")
        return name

    def define(self, name: str, value, doc: str = "") -> None:
        self.header_macros.append((f"{self.macro}_{name}", str(value), doc))

    def use(self, *headers: str) -> None:
        self.kernels.update(headers)

    def entry(self, ret_type: str, name: str, args: str, body: str, doc: str) -> None:
        """A public function PREFIX_name with a _with_work twin taking the work buffer."""
        full = self._name(name)
        self._name(name + "_with_work")
        self.prototypes.append(f"/* {doc} */\n{ret_type} {full}({args});\n"
                               f"{ret_type} {full}_with_work({args}, void *work);\n")
        arg_names = ", ".join(a.split()[-1].lstrip("*") for a in args.split(","))
        self.functions.append(f"{ret_type} {full}_with_work({args}, void *work)\n{{\n{body}}}\n\n"
                              f"{ret_type} {full}({args})\n{{\n"
                              f"    return {full}_with_work({arg_names}, {self.prefix}_work);\n}}\n")

    def header(self) -> str:
        guard = f"{self.macro}_DSP_H"
        width = max([len(n) for n, _, _ in self.header_macros] + [10])
        macros = "\n".join(f"#define {n:<{width}} {v}" + (f"  /* {d} */" if d else "")
                           for n, v, d in self.header_macros)
        lines = [w for para in self.header_doc.strip().splitlines() for w in textwrap.wrap(para, 92) or [""]]
        doc = "\n".join((" * " + line).rstrip() for line in lines)
        return (f"/*\n * {self.prefix}_dsp.h: {self.title}.\n * Generated by microlith {__version__}; do not edit.\n"
                f" *\n{doc}\n */\n#ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
                f"#ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n{macros}\n"
                f"#define {self.macro}_WORK_SIZE {self.work_bytes}  /* bytes, 8-byte aligned, for the _with_work "
                f"calls */\n\n" + "\n".join(self.prototypes) +
                f"\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n")

    def source(self) -> str:
        includes = "\n".join(f'#include "{h}"' for h in sorted(self.kernels))
        words = (self.work_bytes + 7) // 8
        return (f"/* {self.prefix}_dsp.c: {self.title}. Generated by microlith {__version__}; do not edit. */\n"
                f'#include "{self.prefix}_dsp.h"\n\n{includes}\n\n' + "\n".join(self.decls) +
                f"\n/* Work memory of the calls without _with_work (so those are not reentrant). */\n"
                f"static uint64_t {self.prefix}_work[{max(1, words)}];\n\n" + "\n".join(self.functions))

    def write(self, out_dir) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for path in kernel_closure(sorted(self.kernels)):
            dst = out / path.name
            shutil.copyfile(path, dst)
            written.append(dst)
        for name, text in ((f"{self.prefix}_dsp.h", self.header()), (f"{self.prefix}_dsp.c", self.source())):
            (out / name).write_text(text)
            written.append(out / name)
        return sorted(written)


def check_variant(variant: str) -> tuple[bool, bool]:
    if variant not in VARIANTS:
        raise MicrolithError(f"dsp: variant '{variant}' is not one of {', '.join(VARIANTS)}")
    return variant in ("float", "both"), variant in ("fixed", "both")
