"""Build, run and profile generated C on emulated Cortex-M boards (QEMU).

A measurement firmware is the generated folder plus three fixed files (firmware/: start-up
code, a harness, a linker script template) and one file written per build (ml_fw_model.c:
the samples as const arrays, output buffers, and the timed call of NAME_invoke). QEMU runs
it with -icount, where every instruction advances virtual time by exactly 2^ICOUNT_SHIFT ns,
so the ticks of a hardware timer read around the call convert into an exact, repeatable
instruction count. The firmware reports over semihosting and exits through SYS_EXIT.

Figures (DESIGN.md section 6):
  flash_bytes = vector table + .text + .rodata + .ARM.exidx + .data initializers, leaving
                out the embedded test inputs (section .ml_inputs, reported as input_bytes);
  ram_bytes   = .data + .bss (which holds the model's arena) + stack high-water mark;
  instructions between the timer reads around NAME_invoke, minus the cost of the reads;
  stack_bound_bytes = static worst case of NAME_invoke over its call graph (stack.py), next
                to the measured high-water mark; never a guess (None with the reason).
Latency and energy are estimates: instructions x the core's documented CPI factor, at a
board's clock, times the board's datasheet run current per MHz and supply voltage.
"""
from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import string
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen.outdir import generated_sources
from ..ir import Graph, MicrolithError
from . import core_of, get_target

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
ICOUNT_SHIFT = 8          # 256 ns per instruction: >= 4 timer ticks per instruction on every board
STACK_BYTES = 64 << 10    # painted stack reserved below the top of RAM
DEFAULT_TIMEOUT = 120.0   # seconds of wall time for one QEMU run
_MAX_INPUT_BYTES = 1 << 20  # embedded samples per firmware; run_many splits above this

CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
_INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
_CTYPES = {"int8_t": np.int8, "uint8_t": np.uint8, "int16_t": np.int16, "uint16_t": np.uint16,
           "int32_t": np.int32, "uint32_t": np.uint32, "int64_t": np.int64, "float": np.float32}


# ---------------------------------------------------------------------------- tools

def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MicrolithError(f"{name} not found on PATH: Cortex-M targets need the Arm GNU toolchain and "
                             f"QEMU ({_INSTALL})")
    return path


def _run(cmd: list[str], what: str, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MicrolithError(f"{what}: timed out after {timeout:.0f} s") from None
    except FileNotFoundError:
        raise MicrolithError(f"{what}: '{cmd[0]}' not found ({_INSTALL})") from None
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).strip().splitlines() if ln.strip()]
        keys = ("error", "overflowed", "will not fit", "undefined reference")
        errors = [ln for ln in lines if any(k in ln.lower() for k in keys) and "collect2" not in ln] or lines
        raise MicrolithError(f"{what} failed (exit {res.returncode}): " + " | ".join(errors[:4]))
    return res


# ---------------------------------------------------------------------------- ELF sizes

def elf_sections(path: Path) -> dict[str, dict]:
    """name -> {addr, size, alloc, nobits, offset} from a 32-bit little-endian ELF's section
    headers (offset: where the contents start in the file)."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise MicrolithError(f"{path}: not a 32-bit little-endian ELF file")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = headers[shstrndx][4]

    def name_at(off):
        end = data.index(b"\0", strtab_off + off)
        return data[strtab_off + off:end].decode()

    out = {}
    for h in headers[1:]:
        name, sh_type, flags, addr, off, size = h[:6]
        out[name_at(name)] = {"addr": addr, "size": size, "alloc": bool(flags & 2), "nobits": sh_type == 8,
                              "offset": off}
    return out


def elf_bytes(path: Path, addr: int, size: int) -> bytes:
    """The `size` bytes at address `addr` of a section with contents in the file; b"" when none
    holds them all."""
    for s in elf_sections(path).values():
        if s["alloc"] and not s["nobits"] and s["addr"] <= addr and addr + size <= s["addr"] + s["size"]:
            with open(path, "rb") as f:
                f.seek(s["offset"] + addr - s["addr"])
                return f.read(size)
    return b""


def footprint(elf: Path) -> dict:
    s = elf_sections(elf)
    size = lambda n: s.get(n, {}).get("size", 0)  # noqa: E731
    text = size(".isr_vector") + size(".text")
    fig = {"text_bytes": text, "rodata_bytes": size(".rodata"), "exidx_bytes": size(".ARM.exidx"),
           "data_bytes": size(".data"), "bss_bytes": size(".bss"), "input_bytes": size(".ml_inputs"),
           "stack_reserved_bytes": size(".stack")}
    fig["flash_bytes"] = text + fig["rodata_bytes"] + fig["exidx_bytes"] + fig["data_bytes"]
    return fig


# --- issue 11: code bytes by origin
_FLASH_OUTPUTS = (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data")


# (with --weights-in-ram, "static const int8_t NAME_l0_filter[N] NAME_IN_RAM(NAME_l0_filter) = {")
_CONST_ARRAY = re.compile(r"^static const \w+ (\w+)\[\d+\](?: \w+\(\w+\))? = \{", re.M)


def constant_arrays(sources) -> set[str]:
    """The names of the constant arrays (weights, biases, requantization and layout tables) a
    generated model source declares; its parameter structs and dims are not arrays."""
    names = set()
    for src in sources:
        names.update(_CONST_ARRAY.findall(Path(src).read_text(errors="replace")))
    return names


def flash_by_origin(map_file: Path, harness_objects, const_arrays=()) -> dict:
    """Flash bytes of the measurement harness (startup, main, sample glue) and of the C and GCC
    runtime libraries, from the linker map: what a firmware around the model has, but the user's
    firmware would bring its own of. The rest of `flash_bytes` is the generated folder. Also
    weight_bytes_linked: the model's constant arrays the link kept (a folder carries layouts for
    several cores, e.g. depthwise weights pre-widened for the DSP extension beside the portable
    ones, and each build keeps one)."""
    harness = {str(Path(o).resolve()) for o in harness_objects}
    arrays = {f".{kind}.{n}" for n in const_arrays for kind in ("rodata", "data")}  # data: --weights-in-ram
    out = {"harness_bytes": 0, "library_bytes": 0, "weight_bytes_linked": 0 if arrays else None}
    try:
        text = Path(map_file).read_text(errors="replace")
    except OSError:
        return {"harness_bytes": None, "library_bytes": None, "weight_bytes_linked": None}
    text = text.split("Linker script and memory map", 1)[-1]
    current, pending = None, None
    for line in text.splitlines():
        top = re.match(r"^(\.[\w.]+)\s", line + " ")
        if top:
            current = top.group(1)
            continue
        m = re.match(r"^ (\.\S+)(?:\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*))?$", line)
        if m and m.group(2) is None:
            pending = m.group(1)
            continue
        if m:
            size, origin, section = int(m.group(2), 16), m.group(3).strip(), m.group(1)
        else:
            m2 = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if not m2 or pending is None:
                pending = None
                continue
            size, origin, section = int(m2.group(1), 16), m2.group(2).strip(), pending
        pending = None
        if current not in _FLASH_OUTPUTS or not size:
            continue
        if section in arrays:
            out["weight_bytes_linked"] += size
        if ".a(" in origin or origin.endswith(".a"):
            out["library_bytes"] += size
        elif str(Path(origin).resolve()) in harness:
            out["harness_bytes"] += size
    return out


# ---------------------------------------------------------------------------- the generated API

@dataclass
class _Param:
    name: str
    ctype: str
    is_input: bool
    count: int

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_CTYPES[self.ctype])

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


@dataclass
class ModelAPI:
    """What the firmware needs to know about NAME.h / NAME.c."""
    prefix: str
    inputs: list[_Param]
    outputs: list[_Param]
    layers: int
    arena_bytes: int


def read_api(c_dir: Path, prefix: str) -> ModelAPI:
    src = Path(c_dir) / "src"
    header, body = src / f"{prefix}.h", src / f"{prefix}.c"
    if not header.exists() or not body.exists():
        raise MicrolithError(f"{c_dir}: no generated model '{prefix}' (expected src/{prefix}.h and src/{prefix}.c)")
    h = header.read_text()
    m = re.search(rf"\bint\s+{re.escape(prefix)}_invoke\s*\(([^)]*)\)\s*;", h)
    if not m:
        raise MicrolithError(f"{header}: no declaration of {prefix}_invoke()")
    defines = dict(re.findall(r"#define\s+(\w+)\s+(\S+)", h))
    up = prefix.upper()
    params = []
    for arg in m.group(1).split(","):
        pm = re.fullmatch(r"\s*(const\s+)?(\w+)\s*\*\s*(\w+)\s*", arg)
        if not pm or pm.group(2) not in _CTYPES:
            raise MicrolithError(f"{header}: cannot use parameter '{arg.strip()}' of {prefix}_invoke()")
        name = pm.group(3)
        count = defines.get(f"{up}_{name.upper()}_SIZE")
        if count is None:
            raise MicrolithError(f"{header}: no {up}_{name.upper()}_SIZE for parameter '{name}'")
        params.append(_Param(name, pm.group(2), bool(pm.group(1)), int(count)))
    layers = [int(x) for x in re.findall(r"ML_LAYER_BEGIN\((\d+)\)", body.read_text())]
    return ModelAPI(prefix, [p for p in params if p.is_input], [p for p in params if not p.is_input],
                    max(layers) + 1 if layers else 0, int(defines.get(f"{up}_ARENA_SIZE", 0)))


def _byte_rows(raw: bytes) -> str:
    rows = []
    for i in range(0, len(raw), 24):
        rows.append("    " + " ".join(f"0x{b:02x}," for b in raw[i:i + 24]))
    return "\n".join(rows) if rows else "    0x00,"


def _model_glue(api: ModelAPI, samples: list[list[np.ndarray]], per_layer: bool,
                models: list[ModelAPI] | None = None) -> str:
    """ml_fw_model.c: the samples (raw bytes, in their own flash section), output buffers, the timed call.
    With `models` (several models in one firmware), `api` is their concatenation and the timed call
    runs each model in turn on its share of the inputs and outputs."""
    n = len(samples)
    models = models or [api]
    lines = ["/* Generated by microlith.targets.cortexm for one measurement firmware. */",
             "#include <stdint.h>", "", '#include "ml_fw.h"', *[f'#include "{m.prefix}.h"' for m in models], ""]
    for k, p in enumerate(api.inputs):
        raw = b"".join(np.ascontiguousarray(s[k], dtype=p.dtype).tobytes() for s in samples)
        lines += [f"/* input '{p.name}': {n} sample(s) of {p.count} {p.ctype} */",
                  '__attribute__((section(".ml_inputs"), aligned(8)))',
                  f"static const uint8_t ml_fw_in{k}[{max(len(raw), 1)}] = {{", _byte_rows(raw), "};", ""]
    for k, p in enumerate(api.outputs):
        lines += [f"static {p.ctype} ml_fw_out{k}[{p.count}] __attribute__((aligned(8)));"]
    layers = api.layers if per_layer else 0
    lines += ["", f"const uint32_t ml_fw_samples = {n}u;", f"const uint32_t ml_fw_layers = {layers}u;",
              f"volatile uint32_t ml_fw_layer_begin[{layers + 1}];",
              f"volatile uint32_t ml_fw_layer_end[{layers + 1}];",
              f"const uint32_t ml_fw_n_outputs = {len(api.outputs)}u;",
              f"const ml_fw_buffer ml_fw_outputs[{max(len(api.outputs), 1)}] = {{"]
    lines += [f"    {{ml_fw_out{k}, (uint32_t)sizeof ml_fw_out{k}}}," for k in range(len(api.outputs))] or ["    {0, 0},"]
    lines += ["};", "", "int ml_fw_run(uint32_t sample, uint32_t *ticks)", "{"]
    for k, p in enumerate(api.inputs):
        lines.append(f"    const {p.ctype} *in{k} = (const {p.ctype} *)(const void *)"
                     f"&ml_fw_in{k}[sample * {p.nbytes}u];")
    calls, i_in, i_out, first = [], 0, 0, []
    for m in models:
        args = [f"in{i_in + k}" for k in range(len(m.inputs))] + [f"ml_fw_out{i_out + k}" for k in range(len(m.outputs))]
        i_in, i_out = i_in + len(m.inputs), i_out + len(m.outputs)
        calls.append(f"{m.prefix}_invoke({', '.join(args)})")
        first = first or args
    # The first call's arguments are in registers before the first timer read, so the timed
    # stretch holds that read, the call and the model (the calibration's terms): gcc for ARMv6-M
    # otherwise schedules the address arithmetic after it.
    for k, p in enumerate(api.outputs):
        if f"ml_fw_out{k}" in first:
            lines.append(f"    {p.ctype} *out{k} = ml_fw_out{k};")
    first = [a.replace("ml_fw_out", "out") for a in first]
    calls[0] = calls[0].replace("ml_fw_out", "out")
    if first:
        operands = ", ".join(f'"+r"({a})' for a in first)
        lines.append(f'    __asm__ volatile("" : {operands});')
    lines += ["    const uint32_t t0 = ml_fw_now();", f"    int status = {calls[0]};"]
    for call in calls[1:]:
        lines += ["    if (status == 0) {", f"        status = {call};", "    }"]
    lines += ["    const uint32_t t1 = ml_fw_now();",
              "    *ticks = t1 - t0;", "    return status;", "}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- building

@dataclass
class Firmware:
    elf: Path
    target: str
    api: ModelAPI
    samples: int
    per_layer: bool
    sizes: dict = field(default_factory=dict)
    callgraph: list = field(default_factory=list)  # GCC's .ci files of exactly this firmware's objects


def _flags(core: dict) -> list[str]:
    timer = core["qemu"]["timer"]
    macro = {"cmsdk": "ML_FW_TIMER_CMSDK", "nrf51": "ML_FW_TIMER_NRF51"}[timer["kind"]]
    return [*core["cflags"], "-O2", "-std=c99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections",
            "-fno-common", f"-D{macro}=0x{timer['base']:08x}u"]


class FirmwareBuilder:
    """Compiles the model, kernels and harness once; links one firmware per set of samples."""

    def __init__(self, c_dir: Path, prefix: str, target: str, workdir: Path, per_layer: bool = False,
                 extra_cflags=(), others=()):
        """`others`: (folder, prefix) of further generated models linked into the same firmware
        and run after this one on each sample (their inputs follow this model's in a sample)."""
        self.target = get_target(target)["name"]
        self.core = core_of(target)
        self.c_dir, self.prefix, self.per_layer = Path(c_dir), prefix, per_layer
        self.folders = [(Path(c_dir), prefix)] + [(Path(d), p) for d, p in others]
        self.models = [read_api(d, p) for d, p in self.folders]
        first = self.models[0]
        self.api = first if len(self.models) == 1 else ModelAPI(
            first.prefix, [q for m in self.models for q in m.inputs], [q for m in self.models for q in m.outputs],
            first.layers, sum(m.arena_bytes for m in self.models))
        self.work = Path(workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.cc = find_tool(CC)
        # -fcallgraph-info=su writes each object's frames and calls next to it (x.o -> x.ci) for
        # the static stack bound; it does not change the generated code.
        self.cflags = _flags(self.core) + list(extra_cflags) + ["-fcallgraph-info=su"]
        self.includes = ["-I", str(FIRMWARE_DIR), "-I", str(self.c_dir / "src")]
        self._objects: list[str] | None = None
        self._count = 0

    def _compile(self, src: Path, obj: Path, extra=()) -> str:
        _run([self.cc, *self.cflags, *self.includes, *extra, "-c", str(src), "-o", str(obj)],
             f"{CC} ({self.target}): compiling {src.name}")
        return str(obj)

    def _mixed_config(self) -> bool:
        """Models generated with different --optimize (their ml_config.h differ): the shared
        kernels are then built for all of them (ML_CONFIG_MIXED, codegen/optimize.py)."""
        configs = {(d / "src" / "microlith_kernels" / "ml_config.h").read_bytes()
                   for d, _ in self.folders if (d / "src" / "microlith_kernels" / "ml_config.h").exists()}
        return len(configs) > 1

    def objects(self) -> list[str]:
        if self._objects is None:
            jobs = [(FIRMWARE_DIR / "ml_fw_startup.c", ()), (FIRMWARE_DIR / "ml_fw_main.c", ())]
            kernels: dict[str, bytes] = {}  # one copy of each kernel, however many models use it
            for folder, prefix in self.folders:
                for src in generated_sources(folder):
                    if src.parent.name == "microlith_kernels":
                        seen = kernels.get(src.name)
                        if seen is not None:
                            if seen != src.read_bytes():
                                raise MicrolithError(f"{folder}: kernel {src.name} differs from another model's copy; "
                                                     "regenerate every model with one microlith version")
                            continue
                        kernels[src.name] = src.read_bytes()
                    hooks = ("-include", str(FIRMWARE_DIR / "ml_fw_layers.h")) \
                        if self.per_layer and folder == self.c_dir and src.name == f"{prefix}.c" else ()
                    if src.parent.name == "microlith_kernels" and self._mixed_config():  # --- issue 11
                        hooks += ("-DML_CONFIG_MIXED=1",)
                    jobs.append((src, hooks + ("-I", str(folder / "src"))))
            odir = self.work / "obj"
            odir.mkdir(exist_ok=True)
            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                futs = [pool.submit(self._compile, src, odir / f"{src.stem}.o", extra) for src, extra in jobs]
                self._objects = [f.result() for f in futs]
        return self._objects

    def link(self, samples: list[list[np.ndarray]], name: str | None = None) -> Firmware:
        samples = _check_samples(self.api, samples)
        objs = self.objects()
        self._count += 1
        stem = name or f"fw{self._count}"
        glue = self.work / f"{stem}_model.c"
        glue.write_text(_model_glue(self.api, samples, self.per_layer, self.models))
        glue_obj = self._compile(glue, self.work / f"{stem}_model.o",
                                 [x for d, _ in self.folders[1:] for x in ("-I", str(d / "src"))])
        mem = self.core["memory"]
        ld = self.work / f"{stem}.ld"
        ld.write_text(string.Template((FIRMWARE_DIR / "cortexm.ld").read_text()).substitute(
            FLASH_ORIGIN=f"0x{mem['flash']['origin']:08x}", FLASH_LENGTH=str(mem["flash"]["length"]),
            RAM_ORIGIN=f"0x{mem['ram']['origin']:08x}", RAM_LENGTH=str(mem["ram"]["length"]),
            STACK_SIZE=str(STACK_BYTES)))
        elf = self.work / f"{stem}.elf"
        _run([self.cc, *self.cflags, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
              "-T", str(ld), "-Wl,--gc-sections", f"-Wl,-Map={self.work / (stem + '.map')}",
              *objs, glue_obj, "-o", str(elf)], f"{CC} ({self.target}): linking the firmware")
        callgraph = [Path(o).with_suffix(".ci") for o in [*objs, glue_obj]]
        sizes = footprint(elf)
        models = [d / "src" / f"{prefix}.c" for d, prefix in self.folders]
        sizes.update(flash_by_origin(self.work / f"{stem}.map", [*objs[:2], glue_obj],
                                     constant_arrays(m for m in models if m.is_file())))  # issue 11
        return Firmware(elf, self.target, self.api, len(samples), self.per_layer, sizes, callgraph)


def _check_samples(api: ModelAPI, samples) -> list[list[np.ndarray]]:
    if not samples:
        raise MicrolithError("no input samples to embed in the firmware")
    out = []
    for k, xs in enumerate(samples):
        if isinstance(xs, np.ndarray):
            xs = [xs]
        if len(xs) != len(api.inputs):
            raise MicrolithError(f"sample {k}: {len(xs)} input arrays, {api.prefix}_invoke takes {len(api.inputs)}")
        row = []
        for x, p in zip(xs, api.inputs):
            x = np.asarray(x)
            if x.size != p.count:
                raise MicrolithError(f"sample {k}: input '{p.name}' has {x.size} values, the model takes {p.count}")
            row.append(np.ascontiguousarray(x, dtype=p.dtype))
        out.append(row)
    return out


def build_firmware(c_dir, prefix: str, target: str, inputs, workdir, per_layer: bool = False,
                   extra_cflags=()) -> Firmware:
    """One ELF that runs `prefix`_invoke on every sample of `inputs` (a list of samples, each a
    list with one array per model input) and reports counts, outputs and stack use."""
    return FirmwareBuilder(c_dir, prefix, target, workdir, per_layer, extra_cflags).link(inputs)


# ---------------------------------------------------------------------------- running

@dataclass
class SampleRun:
    status: int
    instructions: int
    stack_bytes: int
    outputs: list[bytes]


@dataclass
class FirmwareRun:
    target: str
    samples: list[SampleRun]
    layers: list[int]
    calibration_instructions: int
    wall_seconds: float


def ticks_to_instructions(ticks: int, core: dict) -> int:
    """Exact under -icount: one instruction = 2^ICOUNT_SHIFT ns of virtual time."""
    hz = core["qemu"]["timer"]["hz"]
    return int(round(ticks * 1e9 / hz / (1 << ICOUNT_SHIFT)))


def qemu_command(elf: Path, target: str) -> list[str]:
    q = core_of(target)["qemu"]
    return [find_tool(QEMU), "-M", q["machine"], *q.get("args", []), "-icount", f"shift={ICOUNT_SHIFT}",
            "-nographic", "-monitor", "none", "-serial", "null",
            "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]


def run_firmware(elf, target: str, timeout: float = DEFAULT_TIMEOUT) -> FirmwareRun:
    """Run a measurement firmware on QEMU and parse its report. Any failure is one MicrolithError."""
    import time
    core = core_of(target)
    machine = core["qemu"]["machine"]
    elf = Path(elf)
    if not elf.exists():
        raise MicrolithError(f"{elf}: no such firmware")
    cmd = qemu_command(elf, target)
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MicrolithError(f"{target}: the firmware did not finish within {timeout:g} s on QEMU {machine} "
                             "(the model hangs, or it needs a longer timeout)") from None
    except OSError as e:
        raise MicrolithError(f"{target}: cannot start {QEMU}: {e}") from None
    wall = time.perf_counter() - t0
    text = (res.stderr + res.stdout).decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines()]
    report = [ln.split() for ln in lines if ln.startswith("ML:")]
    runs = [r for r in report if r[0] == "ML:run"]
    where = f"during sample {len(runs)}" if any(r[0] == "ML:begin" for r in report) else "before the harness started"
    if any(r[0] == "ML:fault" for r in report):
        raise MicrolithError(f"{target}: the firmware crashed (HardFault) on QEMU {machine} {where}")
    if "lockup" in text.lower() or res.returncode == 134:
        raise MicrolithError(f"{target}: the core locked up on QEMU {machine} {where} (a fault with no usable "
                             "handler: bad vector table, stack or semihosting)")
    # the harness exits 1 when a sample's invoke returned an error: a complete report, whose
    # statuses the callers name (the generated C returned error N)
    failed = any(len(r) > 2 and r[2] != "0" for r in runs)
    if not any(r[0] == "ML:end" for r in report) or (res.returncode != 0 and not (failed and res.returncode == 1)):
        detail = next((ln for ln in lines if ln and not ln.startswith("ML:")), "no output")
        raise MicrolithError(f"{target}: QEMU {machine} exited with status {res.returncode} {where} "
                             f"without a complete report: {detail}")
    begin = next(r for r in report if r[0] == "ML:begin")
    calib, hook_calib = int(begin[3]), int(begin[4])
    # the timed stretch of ml_fw_run is one timer read (calibrated) and the call of NAME_invoke
    overhead = ticks_to_instructions(calib, core) + 1
    samples: dict[int, SampleRun] = {}
    layers: dict[int, int] = {}
    for r in report:
        if r[0] == "ML:run":
            used = int(r[4])
            if used >= STACK_BYTES:
                raise MicrolithError(f"{target}: stack overflow in sample {r[1]}: the model used all "
                                     f"{STACK_BYTES} bytes of the firmware's stack")
            samples[int(r[1])] = SampleRun(int(r[2]), ticks_to_instructions(int(r[3]), core) - overhead,
                                           used, [])
        elif r[0] == "ML:out":
            samples[int(r[1])].outputs.append(bytes.fromhex(r[3]) if len(r) > 3 else b"")
        elif r[0] == "ML:layer":
            # a layer without code (an aliased reshape) can come out a tick below the calibration
            layers[int(r[1])] = max(0, ticks_to_instructions(int(r[2]), core) -
                                    ticks_to_instructions(hook_calib, core))
    if len(samples) != int(begin[1]):
        raise MicrolithError(f"{target}: the firmware reported {len(samples)} of {begin[1]} samples")
    return FirmwareRun(get_target(target)["name"], [samples[k] for k in sorted(samples)],
                       [layers[k] for k in sorted(layers)], overhead, wall)


# ---------------------------------------------------------------------------- verification on a board

class BoardModel:
    """Generated C on an emulated board, with the calling convention of verify.HostModel.

    run(xs) runs one sample; run_many(samples) runs many in as few QEMU runs as possible
    (one firmware loops over all of them). Both return outputs as arrays of the graph's
    output dtypes and shapes."""

    def __init__(self, c_dir, graph: Graph, prefix: str, target: str, workdir, timeout: float = DEFAULT_TIMEOUT):
        self.graph, self.target, self.timeout = graph, target, timeout
        self.builder = FirmwareBuilder(Path(c_dir), prefix, target, Path(workdir) / f"board-{target}")
        if len(self.builder.api.outputs) != len(graph.outputs):
            raise MicrolithError(f"{prefix}: the generated code has {len(self.builder.api.outputs)} outputs, "
                                 f"the graph {len(graph.outputs)}")
        self.last_run: FirmwareRun | None = None

    def _decode(self, run: SampleRun) -> list[np.ndarray]:
        """The outputs as arrays. A missing, extra or wrongly sized output must never compare
        equal to anything (a zip over a short list would silently pass): when the count is
        wrong every output of the sample, and when a size is wrong that output, comes back as
        an empty array of the output's dtype, which differs from every real output."""
        if run.status != 0:
            raise MicrolithError(f"generated C returned error {run.status} on {self.target} "
                                 "(a kernel rejected its arguments)")
        tensors = [self.graph.t(name) for name in self.graph.outputs]
        if len(run.outputs) != len(tensors):
            return [np.zeros(0, t.np_dtype) for t in tensors]
        outs = []
        for raw, t in zip(run.outputs, tensors):
            if len(raw) != t.nbytes:
                outs.append(np.zeros(0, t.np_dtype))
            else:
                outs.append(np.frombuffer(raw, dtype=t.np_dtype).reshape(t.shape).copy())
        return outs

    def _chunk(self) -> int:
        """Samples per firmware run (its embedded inputs are bounded)."""
        return max(1, _MAX_INPUT_BYTES // max(1, sum(p.nbytes for p in self.builder.api.inputs)))

    # --- issue 10: recurrent layers
    def restarts(self, n_samples: int) -> list[int]:
        """The samples run_many starts a new firmware run at: the model's state (recurrent layers)
        is reset there, so a comparison resets the oracle at the same samples."""
        return list(range(self._chunk(), n_samples, self._chunk()))

    def run_many(self, samples) -> list[list[np.ndarray]]:
        # A single sample (a list of arrays) is accepted too, and answered like run().
        if samples and isinstance(samples[0], np.ndarray):
            return self.run(samples)
        chunk = self._chunk()
        results = []
        for i in range(0, len(samples), chunk):
            part = samples[i:i + chunk]
            fw = self.builder.link(part)
            self.last_run = run_firmware(fw.elf, self.target, self.timeout)
            if len(self.last_run.samples) != len(part):
                raise MicrolithError(f"{self.target}: the firmware answered {len(self.last_run.samples)} of "
                                     f"{len(part)} samples")
            results += [self._decode(r) for r in self.last_run.samples]
        return results

    def run(self, xs) -> list[np.ndarray]:
        return self.run_many([list(xs)])[0]


# ---------------------------------------------------------------------------- estimates and budgets

def outputs_match(want, got: list[bytes]) -> bool:
    """The board's raw outputs equal `want` (arrays, e.g. the host build's): same number of
    outputs, same byte size each, same bytes. A short or empty list is a mismatch."""
    want = [np.ascontiguousarray(w).tobytes() for w in want]
    return len(want) == len(got) and all(len(w) == len(g) and w == g for w, g in zip(want, got))


# ---------------------------------------------------------------------------- static stack bound

def stack_bounds(fw: Firmware) -> dict:
    """Static worst-case stack of one linked firmware (targets/stack.py):
      stack_bound_bytes           NAME_invoke and everything it calls: the stack a caller must
                                  leave free below its own frame;
      stack_bound_firmware_bytes  from the reset handler (the whole firmware, whose stack starts
                                  at the top of the stack region): the figure the measured
                                  high-water mark stack_bytes must not exceed;
      stack_bound_basis           how the bound was made and its deepest path, or why it is
                                  unknown (the bytes are then None, never a guess)."""
    from . import stack
    root = f"{fw.api.prefix}_invoke"
    try:
        bounds = stack.bound_for_build(fw.callgraph, fw.elf, [root, "ml_fw_reset"])
    except (MicrolithError, OSError, subprocess.CalledProcessError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        return {"stack_bound_bytes": None, "stack_bound_firmware_bytes": None,
                "stack_bound_basis": f"unknown: the call graph could not be read ({why})"}
    inv, whole = bounds[root], bounds["ml_fw_reset"]
    if inv.bytes is None:
        basis = f"unknown: {inv.reason}"
    else:
        basis = (f"static worst case on {fw.target}: the largest sum of stack frames over the call paths "
                 f"from {root} (frames from GCC -fcallgraph-info=su for compiled C, from the linked "
                 f"ELF's push/sub sp instructions for library and assembly code); deepest path: "
                 + " -> ".join(f"{_short(n)} {b} B" for n, b in inv.path))
        for caller, targets in sorted(inv.indirect.items()):
            basis += (f"; indirect calls in {_short(caller)} taken to reach any function whose address the "
                      f"code takes: {', '.join(_short(t) for t in targets)}")
    return {"stack_bound_bytes": inv.bytes, "stack_bound_firmware_bytes": whole.bytes,
            "stack_bound_basis": basis}


def _short(title: str) -> str:
    """'ml_conv2d_s8:ml_conv_pixels' (a static function, keyed by its object) -> 'ml_conv_pixels'."""
    return title.rsplit(":", 1)[-1]


def _fig(x):
    return x.get("value") if isinstance(x, dict) else x


def estimate(instructions: int | None, target: str, cycles=None) -> dict:
    """latency_ms_est, energy_uj_est and the text saying how they were made.

    cycles: a cycles.CycleEstimate of the same run (the executed instruction stream priced by
    the core's timing table); without one, instructions x the core's nominal CPI."""
    t = get_target(target)
    core = core_of(t)
    cpi = core["cpi_estimate"]["value"]
    board = t if t["kind"] == "board" else (get_target(core["estimate_board"]) if core.get("estimate_board") else None)
    out = {"latency_ms_est": None, "energy_uj_est": None, "cpi_estimate": cpi,
           "estimate_board": board["name"] if board else None}
    if cycles is not None:
        out["cycles_est"] = cycles.cycles
        out["cpi_estimate"] = round(cycles.cycles / cycles.instructions, 3) if cycles.instructions else None
    if board is None:
        out["estimate_basis"] = (f"no latency estimate: {core['name']} names no board to take a clock from; "
                                 "profile with a board target for latency and energy")
        out["estimate_summary"] = out["estimate_basis"]
        return out
    clock = _fig(board["clock_hz"])
    ua_mhz = _fig(board["energy"]["run_current_ua_per_mhz"])
    volts = _fig(board["energy"]["supply_v"])
    whose = "" if t["kind"] == "board" else f" ({core['name']} names {board['name']} for its estimates)"
    if cycles is not None:
        basis = (f"estimate, not a measurement: {cycles.cycles} cycles = the {cycles.instructions} executed "
                 f"instructions (QEMU block trace) priced by the {cycles.core} timing table [{cycles.basis}]; "
                 f"zero-wait-state memory: flash wait states, prefetch and caches of the real part are not "
                 f"modelled / {clock / 1e6:g} MHz ({board['name']} clock){whose}")
        n_cycles = cycles.cycles
        summary = f"cycles from the {cycles.core} timing table over the executed instructions"
        if cycles.memory_summary:   # the board's flash model priced the same run
            summary += f", {cycles.memory_summary}"
    else:
        basis = (f"estimate, not a measurement: instructions x CPI {cpi} (a {core['name']} nominal figure from "
                 f"its documented instruction timings, zero-wait-state memory) / {clock / 1e6:g} MHz "
                 f"({board['name']} clock){whose}")
        n_cycles = instructions * cpi if instructions is not None else None
        summary = f"instructions x a nominal CPI of {cpi}"
    summary += f", at {clock / 1e6:g} MHz ({board['name']})"
    if n_cycles is not None:
        out["latency_ms_est"] = round(n_cycles / clock * 1e3, 4)
        if ua_mhz is not None and volts is not None:
            out["energy_uj_est"] = round(n_cycles * ua_mhz * volts * 1e-6, 3)
    if ua_mhz is not None and volts is not None:
        cur = board["energy"]["run_current_ua_per_mhz"]
        checked = "" if cur.get("checked_against_document") else "; datasheet figure not yet checked"
        basis += (f"; energy = cycles x {ua_mhz:g} uA/MHz x {volts:g} V ({board['name']} run-mode current "
                  f"from {cur['source'].split(',')[0]}{checked})")
        summary += f"; energy at {ua_mhz:g} uA/MHz x {volts:g} V"
    else:
        basis += f"; no energy estimate: {board['name']} has no run-current-per-MHz figure"
    out["estimate_basis"] = basis
    out["estimate_summary"] = summary
    return out


def check_budget(figures: dict, board) -> str | None:
    """None if flash and RAM fit the board's budget, else one line saying by how many bytes they don't."""
    t = get_target(board) if isinstance(board, str) else board
    if t["kind"] != "board":
        return None
    over = []
    for key, what in (("flash_bytes", "flash"), ("ram_bytes", "RAM")):
        need, have = figures.get(key), _fig(t[key])
        if need is not None and have is not None and need > have:
            over.append(f"{what} {need:,} B exceeds the {have:,} B budget by {need - have:,} B")
    if not over:
        return None
    model = figures.get("name") or (os.path.basename(str(figures["model"])) if figures.get("model") else "the model")
    return f"{model} does not fit {t['name']}: " + "; ".join(over)


def firmware_footprint(c_dir, prefix: str, target: str, workdir=None) -> dict:
    """Static footprint (no run): flash_bytes, data/bss, of a firmware with one zero sample."""
    with tempfile.TemporaryDirectory(prefix="microlith-fw-", dir=workdir) as tmp:
        builder = FirmwareBuilder(Path(c_dir), prefix, target, Path(tmp))
        zeros = [np.zeros(p.count, p.dtype) for p in builder.api.inputs]
        fw = builder.link([zeros])
        sizes = dict(fw.sizes)
    sizes["ram_static_bytes"] = sizes["data_bytes"] + sizes["bss_bytes"]
    return sizes


def compile_figures(c_dir, graph: Graph, prefix: str, target: str, workdir=None,
                    timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Figures of `compile --target T`: the firmware's flash, RAM and stack (one run on a zero
    input to measure the stack), the board, and budget_error when it does not fit."""
    t = get_target(target)
    with tempfile.TemporaryDirectory(prefix="microlith-fw-", dir=workdir) as tmp:
        builder = FirmwareBuilder(Path(c_dir), prefix, t["name"], Path(tmp))
        fw = builder.link([[np.zeros(p.count, p.dtype) for p in builder.api.inputs]])
        bound = stack_bounds(fw)
        run = run_firmware(fw.elf, t["name"], timeout)
    sizes, stack = fw.sizes, run.samples[0].stack_bytes
    out = {"target": t["name"], "board": t["name"] if t["kind"] == "board" else None,
           "flash_bytes": sizes["flash_bytes"], "ram_bytes": sizes["data_bytes"] + sizes["bss_bytes"] + stack,
           "stack_bytes": stack, "weight_bytes_linked": sizes.get("weight_bytes_linked"), **bound}
    out["budget_error"] = check_budget({**out, "name": prefix}, t)
    return out


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
