#!/usr/bin/env python3
"""Validate microlith's Cortex-M4 cycle model against published real-board latencies.

What it does
  Builds the MLPerf Tiny v0.5 reference inference stack (TFLM v2.3.1 + CMSIS-NN, the build
  the NUCLEO-L4R5ZI reference results were measured with) for Cortex-M4 with
  arm-none-eabi-g++, at -Os with the mbed-os GCC_ARM release-profile flags recorded in
  bench/real_boards_validation.json, around a small harness per benchmark (kws, vww, ic, ad):
  the model (examples/models/mlperf_tiny/*.tflite, byte-identical to the submission's
  arrays) as a const array in flash, a MicroMutableOpResolver with the reference
  submission's op list and arena size, and `tflm_invoke(input, output)`, which sets the
  interpreter up on its first call, copies the input into the input tensor, calls Invoke()
  and copies the output out. It is linked into microlith's own measurement firmware
  (targets/firmware/: start-up, harness, linker script) through
  microlith.targets.cortexm.FirmwareBuilder, run once with cortexm.run_firmware (status,
  outputs) and once more with microlith.targets.cycles.trace_cycles_plugin for target
  "cortex-m4" (start symbol tflm_invoke, stop at the return into ml_fw_run, with the
  stm32l4r5 flash model the core names for its estimates). tflm_invoke calls a mark
  function (tflm_mark) right before and right after Invoke(), so the plugin splits the run
  into phases and only the middle one, Invoke() itself, is priced: the set-up
  (AllocateTensors) and the input/output copies are left out, as in the EEMBC runner whose
  timed th_infer() is Invoke() alone. The table compares the priced cycles at 120 MHz with
  the published v0.5 "reference" latencies (../shared/baselines/mlperf_tiny_real_boards.csv).
  The outputs are also compared with microlith's integer reference interpreter (a sanity
  check that the build computes the model; CMSIS-NN of 2020 need not match it bit for bit).

What it needs
  - arm-none-eabi-gcc/g++ 12 with newlib and the C++ headers
    (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib),
    qemu-system-arm 7.2 (mps2-an386), a host C compiler (for microlith's QEMU plugin);
  - --sources DIR holding the third-party trees, laid out as below (run with a missing DIR
    to get the exact commands; nothing third-party lives in this repository):
      DIR/tiny_results_v0.5/closed/PengChengLaboratory/code/kws/{tensorflow,third_party}
          github.com/mlcommons/tiny_results_v0.5 @ d75aef63526dcbb30632f0529411f0219ed1003e:
          the TFLM v2.3.1 tree (core, reference kernels, flatbuffers, gemmlowp, ruy)
      DIR/mcu-deployment-tutorial/tensorflow/lite/micro/kernels/cmsis-nn
      DIR/mcu-deployment-tutorial/tensorflow/lite/micro/tools/make/downloads/cmsis/CMSIS/{NN,DSP/Include}
      DIR/mcu-deployment-tutorial/third_party/cmsis/CMSIS/Core/Include
          github.com/eliberis/mcu-deployment-tutorial @ 3d9150753d8d1ac8fd2e0bc576896e779a29c0ba
          ('Update to TFLM 2.3.0'): TFLM's CMSIS-NN kernel glue, the CMSIS-NN sources TFLM's
          make downloaded (equal to ARM-software/CMSIS-NN a342ffcc apart from include paths),
          CMSIS Core headers V5.2.1.

How long it takes
  Under a minute on a 2-core machine: about 15-30 s to compile the stack (126 files), then
  per benchmark a few seconds for the link and two QEMU runs (-icount, then the plugin);
  --flash-variants adds three plugin runs per benchmark (the whole run stays under a minute).

Usage
  PYTHONPATH=src python3 bench/validate_real_boards.py --sources DIR [--benchmarks kws,vww,ic,ad]
      [--opt Os|O2] [--seed N | --input zeros] [--flash-variants] [--json OUT] [--workdir DIR]
      [--timeout S]
  e.g. --sources /tmp/validation/sources --flash-variants --json /tmp/validation/results.json
Estimates, not measurements: see the caveats written into the JSON.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import json
import os
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from microlith.ir import MicrolithError  # noqa: E402
from microlith.targets import core_of, cycles  # noqa: E402
from microlith.targets import cortexm  # noqa: E402
from microlith.targets.memmodel import memory_system  # noqa: E402

TARGET = "cortex-m4"
PREFIX = "tflm"
MODELS = REPO / "examples" / "models" / "mlperf_tiny"
BASELINES = REPO.parent / "shared" / "baselines" / "mlperf_tiny_real_boards.csv"
OLD_JSON = REPO / "bench" / "real_boards_validation.json"
CXX = "arm-none-eabi-g++"

# The reference submission's harnesses (closed/reference/code/reference_submissions/*/
# submitter_implemented.cpp of mlcommons/tiny_results_v0.5): op lists and arena sizes.
BENCHMARKS = {
    "kws": {"model": "kws_ref_model.tflite", "arena": 200 * 1024,
            "ops": ["FullyConnected", "Conv2D", "DepthwiseConv2D", "Reshape", "Softmax", "AveragePool2D"]},
    "vww": {"model": "vww_96_int8.tflite", "arena": 200 * 1024,
            "ops": ["FullyConnected", "Conv2D", "DepthwiseConv2D", "Reshape", "Softmax", "AveragePool2D"]},
    "ic": {"model": "pretrainedResnet_quant.tflite", "arena": 100 * 1024,
           "ops": ["Add", "FullyConnected", "Conv2D", "DepthwiseConv2D", "Reshape", "Softmax", "AveragePool2D"]},
    "ad": {"model": "ad01_int8.tflite", "arena": 10 * 1024,
           "ops": ["FullyConnected", "Quantize", "Dequantize"]},
}

# --------------------------------------------------------------------------- sources

TINY = ("mlcommons/tiny_results_v0.5", "d75aef63526dcbb30632f0529411f0219ed1003e")
ELIBERIS = ("eliberis/mcu-deployment-tutorial", "3d9150753d8d1ac8fd2e0bc576896e779a29c0ba")
TINY_ROOT = "tiny_results_v0.5"
TINY_KWS = "closed/PengChengLaboratory/code/kws"
EL_ROOT = "mcu-deployment-tutorial"
EL_KERNELS = "tensorflow/lite/micro/kernels/cmsis-nn"
EL_CMSIS = "tensorflow/lite/micro/tools/make/downloads/cmsis"
EL_CORE = "third_party/cmsis/CMSIS/Core/Include"
CMSIS_KERNELS = ("add", "conv", "depthwise_conv", "fully_connected", "mul", "pooling", "softmax")

# files whose absence means a tree is missing or incomplete: (repo, commit, folder, paths to extract, files)
REQUIRED = [
    (TINY, TINY_ROOT, [f"{TINY_KWS}/tensorflow", f"{TINY_KWS}/third_party"],
     [f"{TINY_KWS}/tensorflow/lite/micro/micro_interpreter.cc", f"{TINY_KWS}/tensorflow/lite/c/common.c",
      f"{TINY_KWS}/tensorflow/lite/kernels/internal/quantization_util.cc",
      f"{TINY_KWS}/third_party/flatbuffers/include/flatbuffers/flatbuffers.h",
      f"{TINY_KWS}/third_party/gemmlowp/fixedpoint/fixedpoint.h"]),
    (ELIBERIS, EL_ROOT, [EL_KERNELS, EL_CMSIS, "third_party/cmsis"],
     [*(f"{EL_KERNELS}/{k}.cc" for k in CMSIS_KERNELS),
      f"{EL_CMSIS}/CMSIS/NN/Include/arm_nnfunctions.h", f"{EL_CMSIS}/CMSIS/DSP/Include/arm_math.h",
      f"{EL_CMSIS}/CMSIS/NN/Source/NNSupportFunctions/arm_nn_mat_mult_nt_t_s8.c",
      f"{EL_CORE}/cmsis_gcc.h", f"{EL_CORE}/cmsis_compiler.h"]),
]


class SetupError(Exception):
    """A missing tool or source: reported as one message, never a traceback."""


def check_sources(root: Path, required=None) -> None:
    """required: (repo and commit, folder, paths to extract, files) rows; REQUIRED by default."""
    required = REQUIRED if required is None else required
    if not root.is_dir():
        raise SetupError(f"--sources {root}: no such folder.\n" + _how_to_get(root, list(required)))
    missing = [r for r in required if any(not (root / r[1] / f).is_file() for f in r[3])]
    if missing:
        first = next(root / r[1] / f for r in missing for f in r[3] if not (root / r[1] / f).is_file())
        raise SetupError(f"--sources {root}: {first} is missing.\n" + _how_to_get(root, missing))


def _how_to_get(root: Path, which) -> str:
    lines = ["Needed (official downloads on GitHub; extract exactly these paths at these commits):"]
    for (repo, commit), folder, paths, _files in which:
        lines.append(f"  {repo} @ {commit}  (https://github.com/{repo}/tree/{commit})")
        lines.append(f"    paths {', '.join(paths)} -> {root / folder}/")
        lines.append(f"    e.g. git clone https://github.com/{repo}.git /tmp/src && "
                     f"git -C /tmp/src archive {commit} {' '.join(paths)} | tar -x -C {root / folder}")
        lines.append(f"    or the archive https://github.com/{repo}/archive/{commit}.zip")
    return "\n".join(lines)


# --------------------------------------------------------------------------- building the stack

def build_flags(opt: str) -> tuple[list[str], list[str], list[str]]:
    """(common, C++-only, C-only) flags: the recorded mbed-os GCC_ARM release profile flags."""
    core = core_of(TARGET)["cflags"]   # -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
    common = [*core, f"-{opt}", "-fmessage-length=0", "-fno-exceptions", "-ffunction-sections",
              "-fdata-sections", "-funsigned-char", "-fno-delete-null-pointer-checks", "-fomit-frame-pointer",
              "-DNDEBUG", "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON"]
    cxx = ["-std=gnu++14", "-fno-rtti", "-Wvla", "-fno-threadsafe-statics"]
    c = ["-std=gnu11"]   # mbed-os GCC_ARM profile's C standard (not recorded in the JSON)
    return common, cxx, c


def include_dirs(src: Path) -> list[str]:
    tflm = src / TINY_ROOT / TINY_KWS
    el = src / EL_ROOT
    dirs = [tflm, tflm / "third_party/flatbuffers/include", tflm / "third_party/gemmlowp",
            tflm / "third_party/ruy", el / EL_CMSIS.rsplit("/", 1)[0], el / EL_CORE,
            el / EL_CMSIS / "CMSIS/NN/Include", el / EL_CMSIS / "CMSIS/DSP/Include"]
    return [x for d in dirs for x in ("-I", str(d))]


def stack_sources(src: Path) -> list[Path]:
    """TFLM v2.3.1's micro library (as its Makefile's MICROLITE_CC_SRCS, no tests, no
    benchmarks, DebugLog from the harness) with TAGS=cmsis-nn: the CMSIS-NN versions of seven
    kernels replace the reference ones, plus the CMSIS-NN C sources."""
    tflm = src / TINY_ROOT / TINY_KWS / "tensorflow/lite"
    el = src / EL_ROOT
    files = [tflm / "c/common.c", *sorted((tflm / "core/api").glob("*.cc")),
             tflm / "kernels/internal/quantization_util.cc", tflm / "kernels/kernel_util.cc"]
    files += [f for f in sorted((tflm / "micro").glob("*.cc"))
              if f.name not in ("debug_log.cc", "test_helpers.cc") and "test" not in f.name]
    files += sorted((tflm / "micro/memory_planner").glob("*.cc"))
    cmsis = {f"{k}.cc" for k in CMSIS_KERNELS}
    files += [f for f in sorted((tflm / "micro/kernels").glob("*.cc")) if f.name not in cmsis]
    files += [el / EL_KERNELS / f"{k}.cc" for k in CMSIS_KERNELS]
    files += sorted((el / EL_CMSIS / "CMSIS/NN/Source").rglob("*.c"))
    return files


def _compile(cmd: list[str], what: str, timeout: float) -> None:
    """cortexm._run, with a missing C++ standard header (no libstdc++ for arm-none-eabi) turned
    into a setup message."""
    try:
        cortexm._run(cmd, what, timeout)
    except MicrolithError as e:
        m = re.search(r"fatal error: ([\w/.+-]+): No such file", str(e))
        if m and "." not in m.group(1):
            raise SetupError(f"{what}: the C++ standard header <{m.group(1)}> is missing for arm-none-eabi: "
                             "apt-get install -y --no-install-recommends libstdc++-arm-none-eabi-newlib") from None
        raise


def compile_stack(src: Path, out: Path, opt: str, timeout: float) -> list[str]:
    """Compiles the stack once per --opt into out/; returns the object paths."""
    common, cxx, c = build_flags(opt)
    incs = include_dirs(src)
    out.mkdir(parents=True, exist_ok=True)
    gcc, gxx = cortexm.find_tool(cortexm.CC), cortexm.find_tool(CXX)
    jobs = []
    for i, f in enumerate(stack_sources(src)):
        obj = out / f"{i:03d}_{f.stem}.o"
        cmd = ([gxx, *common, *cxx] if f.suffix == ".cc" else [gcc, *common, *c]) + [*incs, "-c", str(f), "-o", str(obj)]
        jobs.append((cmd, f, obj))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futs = [pool.submit(_compile, cmd, f"compiling {f.name}", timeout) for cmd, f, _ in jobs]
        for fut in futs:
            fut.result()
    return [str(obj) for _, _, obj in jobs]


HEADER = """/* tflm.h: the TFLM harness's entry point, in the shape microlith's firmware expects. */
#ifndef TFLM_H
#define TFLM_H
#include <stdint.h>
#define TFLM_INPUT_SIZE {n_in}
#define TFLM_OUTPUT_SIZE {n_out}
#define TFLM_ARENA_SIZE {arena}
#ifdef __cplusplus
extern "C" {{
#endif
int tflm_invoke(const int8_t *input, int8_t *output);
#ifdef __cplusplus
}}
#endif
#endif
"""

HARNESS = r"""// TFLM v2.3.1 harness for one MLPerf Tiny model (written by bench/validate_real_boards.py).
#include <stdint.h>
#include <string.h>
#include <new>

#include "tflm.h"
#include "tensorflow/lite/micro/micro_error_reporter.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/version.h"

extern "C" void ml_fw_write(const char *text);     // microlith firmware: semihosting
extern "C" void DebugLog(const char *s) { ml_fw_write(s); }

// no heap, no exceptions, no static destructors: the C++ runtime hooks TFLM's classes need
void operator delete(void *) noexcept {}
void operator delete(void *, unsigned int) noexcept {}
extern "C" void __cxa_pure_virtual(void) { for (;;) { } }
// TFLM's TFLITE_ABORT (abort()) reports a fault through the firmware; no heap for newlib's stdio
extern "C" void ml_fw_fault(void);
extern "C" __attribute__((noreturn)) void abort(void) { ml_fw_fault(); for (;;) { } }
extern "C" void *_sbrk(int) { return reinterpret_cast<void *>(-1); }

extern const unsigned char tflm_model_data[];

namespace {
alignas(16) uint8_t tensor_arena[TFLM_ARENA_SIZE];
alignas(tflite::MicroErrorReporter) uint8_t reporter_mem[sizeof(tflite::MicroErrorReporter)];
alignas(tflite::MicroMutableOpResolver<{n_ops}>) uint8_t resolver_mem[sizeof(tflite::MicroMutableOpResolver<{n_ops}>)];
alignas(tflite::MicroInterpreter) uint8_t interpreter_mem[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *interpreter = nullptr;

int setup() {
  tflite::ErrorReporter *reporter = new (reporter_mem) tflite::MicroErrorReporter();
  const tflite::Model *model = tflite::GetModel(tflm_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) return -10;
  auto *resolver = new (resolver_mem) tflite::MicroMutableOpResolver<{n_ops}>(reporter);
{add_ops}
  interpreter = new (interpreter_mem) tflite::MicroInterpreter(model, *resolver, tensor_arena,
                                                               TFLM_ARENA_SIZE, reporter);
  if (interpreter->AllocateTensors() != kTfLiteOk) return -12;
  if (interpreter->input(0)->bytes != TFLM_INPUT_SIZE) return -13;
  if (interpreter->output(0)->bytes != TFLM_OUTPUT_SIZE) return -14;
  return 0;
}
}  // namespace

// Each call splits the cycle trace (trace_cycles_plugin mark=tflm_mark): Invoke() alone is priced.
extern "C" __attribute__((noinline, used)) void tflm_mark(void) { __asm__ volatile("" ::: "memory"); }

extern "C" int tflm_invoke(const int8_t *input, int8_t *output) {
  if (interpreter == nullptr) {
    const int status = setup();
    if (status != 0) return status;
  }
  memcpy(interpreter->input(0)->data.int8, input, TFLM_INPUT_SIZE);
  tflm_mark();
  const TfLiteStatus status = interpreter->Invoke();
  tflm_mark();
  memcpy(output, interpreter->output(0)->data.int8, TFLM_OUTPUT_SIZE);
  return status == kTfLiteOk ? 0 : -20;
}
"""


def write_harness(folder: Path, bench: str, model: Path, n_in: int, n_out: int) -> list[Path]:
    """The benchmark's folder in the layout FirmwareBuilder reads (src/tflm.h declaring
    tflm_invoke and its sizes, src/tflm.c), plus the C++ harness and model array beside it."""
    b = BENCHMARKS[bench]
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "tflm.h").write_text(HEADER.format(n_in=n_in, n_out=n_out, arena=b["arena"]))
    # FirmwareBuilder compiles the folder's C files; the model itself is C++ (tflm_harness.cc)
    (folder / "src" / "tflm.c").write_text("/* the TFLM harness is C++: see ../cxx/tflm_harness.cc */\n"
                                           "#include \"tflm.h\"\n")
    cxx = folder / "cxx"
    cxx.mkdir(exist_ok=True)
    add_ops = "\n".join(f"  if (resolver->Add{op}() != kTfLiteOk) return -11;" for op in b["ops"])
    (cxx / "tflm_harness.cc").write_text(HARNESS.replace("{n_ops}", str(len(b["ops"])))
                                         .replace("{add_ops}", add_ops))
    raw = model.read_bytes()
    rows = ",\n".join(", ".join(str(x) for x in raw[i:i + 24]) for i in range(0, len(raw), 24))
    (cxx / "tflm_model_data.cc").write_text(
        f"// {model.name} ({len(raw)} bytes)\nalignas(16) extern const unsigned char tflm_model_data[] = {{\n"
        f"{rows}\n}};\n")
    return [cxx / "tflm_harness.cc", cxx / "tflm_model_data.cc"]


class StackFirmwareBuilder(cortexm.FirmwareBuilder):
    """microlith's FirmwareBuilder (start-up, harness, per-build glue and linker script) with a
    third-party stack's prebuilt objects added to its objects (here TFLM's, the C++ harness and
    libm)."""

    def __init__(self, folder: Path, workdir: Path, extra_objects: list[str], prefix: str = PREFIX,
                 extra_cflags=()):
        super().__init__(folder, prefix, TARGET, workdir, extra_cflags=extra_cflags)
        self.extra_objects = extra_objects

    def objects(self) -> list[str]:
        if self._objects is None:
            self._objects = super().objects() + list(self.extra_objects)
        return self._objects

    def link_checked(self, sample: np.ndarray, name: str) -> cortexm.Firmware:
        """One firmware on one sample, refused if the stack needs static constructors."""
        fw = self.link([[sample]], name=name)
        init = cortexm.elf_sections(fw.elf).get(".init_array")
        if init and init["size"]:
            raise MicrolithError(f"{name}: the firmware has static constructors (.init_array), which "
                                 "microlith's start-up does not run")
        return fw


def build_benchmark(bench: str, src: Path, work: Path, lib: list[str], opt: str, sample: np.ndarray,
                    n_out: int, timeout: float) -> cortexm.Firmware:
    folder = work / bench
    model = MODELS / BENCHMARKS[bench]["model"]
    cxx_files = write_harness(folder, bench, model, sample.size, n_out)
    common, cxx, _ = build_flags(opt)
    incs = include_dirs(src) + ["-I", str(folder / "src")]
    objs = []
    for f in cxx_files:
        obj = folder / "cxx" / f"{f.stem}.o"
        _compile([cortexm.find_tool(CXX), *common, *cxx, *incs, "-c", str(f), "-o", str(obj)],
                 f"compiling {f.name} ({bench})", timeout)
        objs.append(str(obj))
    # libm (TFLM's Prepare uses frexp/exp/round) for the core's multilib, after the objects
    libm = cortexm._run([cortexm.find_tool(CXX), *core_of(TARGET)["cflags"], "-print-file-name=libm.a"],
                        "locating libm.a").stdout.strip()
    return StackFirmwareBuilder(folder, folder / "fw", [*lib, *objs, libm]).link_checked(sample, bench)


# --------------------------------------------------------------------------- pricing

_TABLE_BRANCHES: list[int] = []


def _counting(original):
    """Wraps cycles.estimate_from_memtrace to count the TBB/TBH the plugin saw executed per phase
    (the plugin's output is a temporary file inside trace_cycles_plugin)."""
    def wrapped(lines, t, mem=None):
        lines = list(lines)
        recs, phases, _ = cycles.read_memtrace(lines)
        _TABLE_BRANCHES[:] = [sum(n * sum(1 for _a, _s, mn, _o in recs[k]["insns"]
                                          if cycles._base(mn) in ("tbb", "tbh"))
                                  for k, (n, *_r) in ph.execs.items()) for ph in phases]
        return original(lines, t, mem)
    return wrapped


def price(elf: Path, work: Path, timeout: float, mem="board") -> tuple[cycles.PhaseCycles, list[int], object]:
    """Invoke()'s phase of the plugin trace: (PhaseCycles, TBB/TBH executed, the CycleEstimate)."""
    original = cycles.estimate_from_memtrace
    cycles.estimate_from_memtrace = _counting(original)
    try:
        est = cycles.trace_cycles_plugin(elf, TARGET, PREFIX, timeout, work, mem=mem, mark="tflm_mark")
    finally:
        cycles.estimate_from_memtrace = original
    if len(est.phases) != 3:
        raise MicrolithError(f"{elf.name}: expected 3 phases (set-up and input, Invoke, output), "
                             f"the trace has {len(est.phases)}")
    return est.phases[1], list(_TABLE_BRANCHES), est


def check_tools() -> None:
    """The cross compilers, QEMU and a host C compiler (the QEMU plugin), or one SetupError."""
    for tool in (cortexm.CC, CXX, cortexm.QEMU):
        try:
            cortexm.find_tool(tool)
        except MicrolithError as e:
            raise SetupError(str(e)) from None
    from microlith.targets.memmodel import host_cc
    if host_cc() is None:
        raise SetupError("no host C compiler (cc, gcc or clang): microlith's QEMU plugin needs one")


def published() -> dict:
    rows = {}
    with open(BASELINES, newline="") as f:
        for r in csv.DictReader(f):
            if r["version"] == "0.5" and r["submitter"] == "reference":
                rows[r["benchmark"]] = r
    return rows


def old_rows() -> dict:
    try:
        return {r["benchmark"]: r for r in json.loads(OLD_JSON.read_text())["rows"]}
    except (OSError, ValueError, KeyError):
        return {}


def run(args) -> dict:
    src = Path(args.sources).resolve()
    check_sources(src)
    if not BASELINES.is_file():
        raise SetupError(f"{BASELINES}: the published latencies (../shared/baselines beside the repository) "
                         "are missing")
    check_tools()
    from microlith.frontends.tflite import load_tflite
    from microlith.reference import run_reference

    board = cycles._board_of(TARGET)
    clock = cortexm._fig(board["clock_hz"])
    mem = memory_system(board)
    pub = published()
    old = old_rows()
    work = Path(args.workdir).resolve()
    t0 = time.perf_counter()
    print(f"compiling TFLM v2.3.1 + CMSIS-NN at -{args.opt} ...", flush=True)
    lib = compile_stack(src, work / f"stack-{args.opt}", args.opt, args.timeout)
    print(f"  {len(lib)} objects in {time.perf_counter() - t0:.0f} s", flush=True)

    rows = []
    for bench in args.benchmarks:
        t1 = time.perf_counter()
        model = MODELS / BENCHMARKS[bench]["model"]
        g = load_tflite(model)
        tin, tout = g.t(g.inputs[0]), g.t(g.outputs[0])
        if args.input == "zeros":
            sample = np.zeros(int(np.prod(tin.shape)), np.int8)
        else:
            rng = np.random.default_rng(args.seed)
            sample = rng.integers(-128, 128, size=int(np.prod(tin.shape)), dtype=np.int16).astype(np.int8)
        fw = build_benchmark(bench, src, work, lib, args.opt, sample, int(np.prod(tout.shape)), args.timeout)
        board_run = cortexm.run_firmware(fw.elf, TARGET, args.timeout)
        s = board_run.samples[0]
        if s.status != 0:
            raise MicrolithError(f"{bench}: tflm_invoke returned {s.status} (set-up or Invoke failed)")
        got = np.frombuffer(s.outputs[0], dtype=np.int8)
        want = np.asarray(run_reference(g, [sample.reshape(tin.shape)])[g.outputs[0]]).reshape(-1).astype(np.int8)
        ph, per_phase, est = price(fw.elf, work, args.timeout)
        tables = per_phase[1]
        total = ph.cycles + ph.memory_cycles
        p = pub[bench]
        pub_ms = float(p["latency_ms"])
        row = {"benchmark": bench, "model": model.name, "instructions": ph.instructions,
               "cycles_zero_wait": ph.cycles, "flash_stall_cycles": ph.memory_cycles, "cycles_stm32l4r5": total,
               "predicted_ms_120mhz": round(total / clock * 1e3, 3),
               "predicted_ms_zero_wait": round(ph.cycles / clock * 1e3, 3),
               "published_cycles": int(p["cycles_per_inference"]), "published_ms": pub_ms,
               "error_pct": round((total / clock * 1e3 / pub_ms - 1) * 100, 1),
               "error_pct_zero_wait": round((ph.cycles / clock * 1e3 / pub_ms - 1) * 100, 1),
               "tbb_tbh_executed": tables, "tbb_tbh_executed_setup": per_phase[0],
               "tbb_tbh_cycles": tables * (cycles.TIMINGS["cortex-m4"].load + 1 + cycles.TIMINGS["cortex-m4"].branch_taken - 1),
               "instructions_whole_call": est.instructions,
               "icount_instructions_whole_call": s.instructions,
               "stack_bytes": s.stack_bytes, "flash_bytes": fw.sizes["flash_bytes"],
               "output_equals_microlith_reference": bool(np.array_equal(got, want)),
               "output_max_abs_diff_vs_reference": int(np.max(np.abs(got.astype(int) - want.astype(int)))),
               "input": args.input if args.input == "zeros" else f"random seed {args.seed}", "opt": args.opt}
        if args.flash_variants:
            variants = {"ws4": dict(wait_states=4), "ws5_prefetch": dict(prefetch=True),
                        "ws4_prefetch": dict(wait_states=4, prefetch=True)}
            row["flash_model_variants_error_pct"] = {}
            for name, change in variants.items():
                vph, _, _ = price(fw.elf, work, args.timeout, mem=dataclasses.replace(mem, **change))
                ms = (vph.cycles + vph.memory_cycles) / clock * 1e3
                row["flash_model_variants_error_pct"][name] = round((ms / pub_ms - 1) * 100, 1)
        if bench in old:
            o = old[bench]
            row["previous"] = {k: o.get(k) for k in ("instructions", "cycles_zero_wait", "flash_stall_cycles",
                                                    "cycles_stm32l4r5", "error_pct")}
        row["wall_seconds"] = round(time.perf_counter() - t1, 1)
        rows.append(row)
        print(f"  {bench}: {row['instructions']:,} instructions, {total:,} cycles, "
              f"{row['error_pct']:+.1f}% ({row['wall_seconds']:.0f} s)", flush=True)
    return {"rows": rows, "wall_seconds": round(time.perf_counter() - t0, 1), "memory_basis": mem.basis()}


def _columns(out: list[tuple]) -> str:
    """Rows of strings as aligned columns: the first left-justified, the others right."""
    widths = [max(len(row[i]) for row in out) for i in range(len(out[0]))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in out)


def table(rows) -> str:
    head = ("benchmark", "instructions", "cycles 0-wait", "flash stalls", "cycles stm32l4r5", "pred ms@120",
            "published ms", "error %", "TBB/TBH")
    out = [head]
    for r in rows:
        out.append((r["benchmark"], f"{r['instructions']:,}", f"{r['cycles_zero_wait']:,}",
                    f"{r['flash_stall_cycles']:,}", f"{r['cycles_stm32l4r5']:,}", f"{r['predicted_ms_120mhz']:.3f}",
                    f"{r['published_ms']:.3f}", f"{r['error_pct']:+.1f}", f"{r['tbb_tbh_executed']:,}"))
    return _columns(out)


def previous_table(rows) -> str:
    """The figures recorded in bench/real_boards_validation.json beside the new ones."""
    out = [("benchmark", "old instructions", "new - old", "old cycles stm32l4r5", "new - old", "old error %",
            "new error %")]
    for r in rows:
        o = r.get("previous")
        if not o or r.get("opt") != "Os":
            continue
        out.append((r["benchmark"], f"{o['instructions']:,}", f"{r['instructions'] - o['instructions']:+,}",
                    f"{o['cycles_stm32l4r5']:,}", f"{r['cycles_stm32l4r5'] - o['cycles_stm32l4r5']:+,}",
                    f"{o['error_pct']:+.1f}", f"{r['error_pct']:+.1f}"))
    if len(out) == 1:
        return ""
    return _columns(out)


def compiler_version() -> str:
    """arm-none-eabi-g++'s version line, for the records."""
    return cortexm._run([cortexm.find_tool(CXX), "--version"], "arm-none-eabi-g++ --version").stdout.splitlines()[0]


def to_json(res: dict, args, argv: list[str]) -> dict:
    common, cxx, c = build_flags(args.opt)
    gxx = compiler_version()
    return {
        "what": ("Validation of microlith's Cortex-M4 cycle estimate (targets/cycles.py plugin route, with the "
                 "stm32l4r5 flash model of targets/memmodel.py and stm32l4r5.json) against the published MLPerf "
                 "Tiny v0.5 closed/reference latencies on NUCLEO-L4R5ZI at 120 MHz (TFLM v2.3.1 + CMSIS-NN, "
                 "TAGS=cmsis-nn, mbed-os bare-metal). One Invoke() per benchmark on QEMU mps2-an386, priced "
                 "between the two calls of tflm_mark() around Invoke() inside tflm_invoke() (plugin phases; "
                 "set-up and input/output copies left out). Estimates, not measurements."),
        "sources": {
            "tflm_core": (f"TFLM v2.3.1 tree as committed in {TINY[0]} @{TINY[1][:8]}, {TINY_KWS}/"
                          "{tensorflow,third_party} (the submitter's edits are RISC-V/MSVC #ifdefs, inert here)"),
            "tflm_cmsis_nn_kernels": (f"{EL_KERNELS}/{{{','.join(CMSIS_KERNELS)}}}.cc of TFLM 2.3.0 from "
                                      f"{ELIBERIS[0]} @{ELIBERIS[1][:8]} ('Update to TFLM 2.3.0'), taken as the "
                                      "2.3.1 ones"),
            "cmsis_nn": (f"{EL_CMSIS}/CMSIS/NN (all sources) + CMSIS/DSP/Include as downloaded by TFLM 2.3.0's make "
                         f"({ELIBERIS[0]} @{ELIBERIS[1][:8]}; equal to ARM-software/CMSIS-NN a342ffcc apart from "
                         f"include paths); CMSIS Core headers V5.2.1 from {EL_CORE} of the same commit"),
            "models": "examples/models/mlperf_tiny/*.tflite, byte-identical to the arrays in the reference submission",
            "harness": ("generated by this script: MicroMutableOpResolver with the reference submission's op list "
                        "and arena size per benchmark; input int8 from numpy default_rng(seed) uniform over "
                        "[-128, 127]"),
        },
        "build": {"compiler": gxx, "flags": [*common, *cxx], "c_flags": [*common, *c],
                  "note": ("mbed-os GCC_ARM release profile code flags; C sources (CMSIS-NN, common.c) with the "
                           "same flags and -std=gnu11 (a guess: the C standard is not recorded); microlith's "
                           "firmware start-up, harness and linker script (FirmwareBuilder, its own files at -O2); "
                           "libm from the core's multilib")},
        "flash_model": res["memory_basis"] + ("; variants (with --flash-variants): ws4 = 4 wait states, "
                                              "ws5_prefetch = prefetch on, ws4_prefetch"),
        "rows": res["rows"],
        "caveats": [
            "the code generator differs from the reference's (GCC 12.2 vs 6-2017-q2): the figures depend on the -Os "
            "code layout (an -Os hot loop of arm_nn_mat_mult_nt_t_s8 overflowing the modelled 1 KB I-cache)",
            "the published figure is 1/median throughput of the EEMBC runner loop; the harness overhead around "
            "Invoke() is not modelled",
            "TBB/TBH priced as a load, an add and a taken branch (5 cycles on Cortex-M4); tbb_tbh_executed counts "
            "those executed inside Invoke() (priced), tbb_tbh_executed_setup those of the set-up (not priced)",
            "latency depends slightly on the input (< 0.1% of the instructions between inputs); the input of the "
            "run recorded earlier in bench/real_boards_validation.json was not recorded",
            "the outputs are compared with microlith's integer reference, not with a host TFLM build",
        ],
        "wall_seconds": res["wall_seconds"],
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *argv]),
    }


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else argv)
    ap = parser(__doc__, "(schema of bench/real_boards_validation.json)")
    ap.add_argument("--opt", default="Os", choices=("Os", "O2"), help="optimization level of the stack")
    ap.add_argument("--input", default="random", choices=("random", "zeros"),
                    help="random int8 (numpy default_rng(seed)) or all zeros")
    ap.add_argument("--flash-variants", action="store_true", help="also price ws4 / prefetch variants")
    return run_cli(ap, argv, "validate_real_boards", run, table, to_json, BENCHMARKS, _recorded)


def parser(doc: str, json_note: str = "") -> argparse.ArgumentParser:
    """The validation scripts' common options."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", required=True, help="folder with the third-party trees (see the docstring)")
    ap.add_argument("--benchmarks", default="kws,vww,ic,ad")
    ap.add_argument("--seed", type=int, default=0, help="seed of the deterministic random int8 input")
    ap.add_argument("--json", help=f"write the results here {json_note}".strip())
    ap.add_argument("--workdir", help="build here and keep it (default: a temporary folder, removed)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per compile or QEMU run")
    return ap


def _recorded(res) -> str:
    prev = previous_table(res["rows"])
    return f"\nrecorded in {OLD_JSON.relative_to(REPO)}:\n{prev}" if prev else ""


def run_cli(ap, argv: list[str], name: str, run, table, to_json, benchmarks, extra=None) -> int:
    """The scripts' shared main: parse, check the benchmark names, run in --workdir or a
    temporary folder, one message and status 2 for a missing source or tool (1 for a failure),
    then the table, extra(res) when it has something to add, and the JSON record."""
    args = ap.parse_args(argv[1:])
    args.benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    bad = [b for b in args.benchmarks if b not in benchmarks]
    if bad:
        ap.error(f"unknown benchmark(s) {', '.join(bad)}; choose from {', '.join(benchmarks)}")
    try:
        if args.workdir:
            Path(args.workdir).mkdir(parents=True, exist_ok=True)
            res = run(args)
        else:
            with tempfile.TemporaryDirectory(prefix=f"microlith-{name}-") as tmp:
                args.workdir = tmp
                res = run(args)
                args.workdir = None
    except SetupError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    except MicrolithError as e:
        print(f"{name}: failed: {e}", file=sys.stderr)
        return 1
    print()
    print(table(res["rows"]))
    more = extra(res) if extra else ""
    if more:
        print(more)
    print(f"\n{res['wall_seconds']:.0f} s; estimates, not measurements ({res['memory_basis'][:80]}...)")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(res, args, argv), indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
