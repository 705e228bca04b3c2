"""Host builds of a generated folder: its footprint (code + constants, from real objects), and
a build under AddressSanitizer + UndefinedBehaviorSanitizer that runs samples from a file."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..codegen.outdir import generated_sources
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
        for src in generated_sources(c_dir):
            obj = Path(tmp) / (src.stem + ".o")
            run([cc, opt, *flags, *STRICT, "-ffunction-sections", "-fdata-sections", "-c", str(src),
                 "-I", str(Path(c_dir) / "src"), "-o", str(obj)], f"compiling {src.name}")
            objs.append(str(obj))
        out = run([size_tool, "-t", *objs], "measuring object sizes").stdout.strip().splitlines()
    fields = out[-1].split()  # the TOTALS row: text data bss dec hex
    totals.update(text=int(fields[0]), data=int(fields[1]), bss=int(fields[2]))
    return totals


# ---------------------------------------------------------------------------- sanitizer runs

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
# Leak checking needs ptrace-like access that containers often deny, and the generated code
# never allocates; everything else reports and stops at the first finding.
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def _driver_source(api, has_self_test: bool) -> str:
    """A C program that runs NAME_invoke_with_arena (or NAME_invoke: mode 'static') on samples
    read from a file and writes the outputs to another. Every buffer, the arena included, is
    its own malloc of exactly the declared size, so AddressSanitizer sees any access past it;
    the arena and outputs are filled with a different byte per sample so that reading
    memory the code never wrote shows up as a mismatch with the oracle."""
    p = api.prefix
    up = p.upper()
    lines = [f"/* microlith sanitizer driver for {p} (targets/host.py). */",
             "#include <stdint.h>", "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", "",
             f'#include "{p}.h"', "",
             "static void *ml_san_alloc(size_t bytes)", "{",
             "    void *p = malloc(bytes);",
             "    if (p == NULL && bytes != 0u) {",
             '        fputs("ml_san: out of memory\\n", stderr);', "        exit(4);", "    }",
             "    return p;", "}", "",
             "int main(int argc, char **argv)", "{",
             "    if (argc != 6) {",
             '        fputs("usage: driver INPUTS OUTPUTS SAMPLES ARENA_SHORTFALL arena|static\\n", stderr);',
             "        return 2;", "    }",
             '    FILE *in = fopen(argv[1], "rb");',
             '    FILE *out = fopen(argv[2], "wb");',
             "    const unsigned long samples = strtoul(argv[3], NULL, 10);",
             "    const unsigned long shortfall = strtoul(argv[4], NULL, 10);",
             '    const int use_static = strcmp(argv[5], "static") == 0;',
             f"    if (in == NULL || out == NULL || shortfall > (unsigned long){up}_ARENA_SIZE) {{",
             '        fputs("ml_san: bad arguments\\n", stderr);', "        return 2;", "    }",
             f"    const size_t arena_bytes = (size_t){up}_ARENA_SIZE - (size_t)shortfall;"]
    if has_self_test:
        lines += [f"    if ({p}_self_test() != 0) {{",
                  f'        fputs("ml_san: {p}_self_test failed\\n", stderr);', "        return 3;", "    }"]
    lines += ["    for (unsigned long s = 0; s < samples; s++) {",
              "        const int fill = (int)((s * 37u + 11u) & 0xFFu);"]
    args = []
    for k, prm in enumerate(api.inputs):
        lines += [f"        {prm.ctype} *in{k} = ({prm.ctype} *)ml_san_alloc({prm.nbytes}u);",
                  f"        if (fread(in{k}, 1, {prm.nbytes}u, in) != {prm.nbytes}u) {{",
                  '            fprintf(stderr, "ml_san: short input file at sample %lu\\n", s);',
                  "            return 2;", "        }"]
        args.append(f"in{k}")
    for k, prm in enumerate(api.outputs):
        lines += [f"        {prm.ctype} *out{k} = ({prm.ctype} *)ml_san_alloc({prm.nbytes}u);",
                  f"        memset(out{k}, fill ^ 0x5A, {prm.nbytes}u);"]
        args.append(f"out{k}")
    lines += ["        void *arena = ml_san_alloc(arena_bytes);",
              "        if (arena_bytes != 0u) {", "            memset(arena, fill, arena_bytes);", "        }",
              f"        const int status = use_static ? {p}_invoke({', '.join(args)})",
              f"                                      : {p}_invoke_with_arena({', '.join(args + ['arena'])});",
              "        if (status != 0) {",
              f'            fprintf(stderr, "ml_san: sample %lu: {p} returned %d\\n", s, status);',
              "            return 3;", "        }"]
    for k, prm in enumerate(api.outputs):
        lines += [f"        fwrite(out{k}, 1, {prm.nbytes}u, out);", f"        free(out{k});"]
    for k in range(len(api.inputs)):
        lines.append(f"        free(in{k});")
    lines += ["        free(arena);", "    }", "    fclose(in);",
              "    return fclose(out) == 0 ? 0 : 4;", "}", ""]
    return "\n".join(lines)


def _source_key(src: Path, include_dir: Path, seen=None) -> bytes:
    """The bytes a compile of `src` depends on: it and every local header it includes."""
    seen = set() if seen is None else seen
    if src in seen or not src.exists():
        return b""
    seen.add(src)
    text = src.read_bytes()
    key = src.name.encode() + b"\0" + text
    for inc in _INCLUDE.findall(text.decode("utf-8", "replace")):
        key += _source_key(include_dir / inc, include_dir, seen)
    return key


class SanitizedRunner:
    """Generated C built with AddressSanitizer and UndefinedBehaviorSanitizer into a host
    executable (build_sanitized_runner); run() feeds it samples in a child process."""

    def __init__(self, exe: Path, api, work: Path):
        self.exe, self.api, self.work = Path(exe), api, Path(work)

    def run(self, samples, arena_shortfall: int = 0, static_arena: bool = False,
            timeout: float = 120.0) -> list[list[np.ndarray]]:
        """Outputs (flat arrays of the C types) of each sample, a list with one array per model
        input. Any sanitizer report, non-zero status or crash raises MicrolithError with the report."""
        raw = bytearray()
        for k, xs in enumerate(samples):
            if len(xs) != len(self.api.inputs):
                raise MicrolithError(f"sample {k}: {len(xs)} arrays for {len(self.api.inputs)} inputs")
            for x, prm in zip(xs, self.api.inputs):
                a = np.ascontiguousarray(x, dtype=prm.dtype).reshape(-1)
                if a.size != prm.count:
                    raise MicrolithError(f"sample {k}: input '{prm.name}' has {a.size} values, not {prm.count}")
                raw += a.tobytes()
        fin, fout = self.work / "san_in.bin", self.work / "san_out.bin"
        fin.write_bytes(bytes(raw))
        fout.unlink(missing_ok=True)
        env = {**os.environ, **SANITIZER_ENV}
        cmd = [str(self.exe), str(fin), str(fout), str(len(samples)), str(arena_shortfall),
               "static" if static_arena else "arena"]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise MicrolithError(f"{self.api.prefix}: the sanitized build did not finish in {timeout:g} s") from None
        if res.returncode != 0:
            report = [ln for ln in res.stderr.splitlines() if ln.strip()]
            key = [ln for ln in report if "ERROR: AddressSanitizer" in ln or "runtime error" in ln
                   or ln.startswith("SUMMARY") or ln.startswith("ml_san")]
            raise MicrolithError(f"{self.api.prefix}: sanitized run failed (exit {res.returncode}): "
                                 + " | ".join((key or report)[:4]) + "\n" + res.stderr[-6000:])
        data = fout.read_bytes()
        per_sample = sum(p.nbytes for p in self.api.outputs)
        if len(data) != per_sample * len(samples):
            raise MicrolithError(f"{self.api.prefix}: the sanitized build wrote {len(data)} output bytes, "
                                 f"expected {per_sample * len(samples)}")
        outs, off = [], 0
        for _ in samples:
            row = []
            for prm in self.api.outputs:
                row.append(np.frombuffer(data[off:off + prm.nbytes], dtype=prm.dtype).copy())
                off += prm.nbytes
            outs.append(row)
        return outs


def build_sanitized_runner(c_dir: Path, prefix: str, work: Path, compiler: str | None = None,
                           opt: str = "-O1", cache_dir: Path | None = None) -> SanitizedRunner:
    """Build a generated folder plus a file-driven driver with -fsanitize=address,undefined
    (halting at the first report). Objects are cached in `cache_dir` by the bytes they are
    compiled from, so kernels shared by many models are compiled once."""
    from .cortexm import read_api
    import hashlib
    cc = compiler or find_compiler()
    c_dir, work = Path(c_dir), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    src_dir = c_dir / "src"
    api = read_api(c_dir, prefix)
    header = (src_dir / f"{prefix}.h").read_text()
    has_self_test = re.search(rf"\bint\s+{re.escape(prefix)}_self_test\s*\(\s*void\s*\)\s*;", header) is not None
    driver = work / "ml_san_driver.c"
    driver.write_text(_driver_source(api, has_self_test))
    flags = [cc, opt, "-g", *SANITIZE, *STRICT]
    cache = Path(cache_dir) if cache_dir else work / "obj"
    cache.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in generated_sources(c_dir) + [driver]:
        inc = src_dir if src != driver else work
        digest = hashlib.sha256("\0".join(flags).encode() + _source_key(src, src_dir)
                                + (_source_key(src_dir / f"{prefix}.h", src_dir) if src == driver else b""))
        obj = cache / f"{src.stem}-{digest.hexdigest()[:20]}.o"
        if not obj.exists():
            tmp = obj.with_suffix(f".{os.getpid()}.tmp.o")
            run([*flags, "-I", str(src_dir), "-I", str(inc), "-c", str(src), "-o", str(tmp)],
                f"sanitized build of {src.name}")
            os.replace(tmp, obj)
        objs.append(str(obj))
    exe = work / f"{prefix}_sanitized"
    run([cc, *SANITIZE, *objs, "-o", str(exe)], f"linking the sanitized build of {prefix}")
    return SanitizedRunner(exe, api, work)
