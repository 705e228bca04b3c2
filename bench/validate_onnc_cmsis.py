#!/usr/bin/env python3
"""Validate microlith's Cortex-M4 cycle model against a second published stack: ONNC + CMSIS-NN.

    python3 bench/validate_onnc_cmsis.py --sources DIR [--json bench/real_boards_validation_onnc.json]

Why a second stack
  bench/validate_real_boards.py holds the model against TFLM v2.3.1 + CMSIS-NN of 2020 at -Os:
  an interpreter whose time is spread over much general code. Skymizer's MLPerf Tiny v1.1
  submission on the same board (NUCLEO-L4R5ZI at 120 MHz, mbed OS) is the opposite kind of
  code: ONNC's generated C calls CMSIS-NN's kernels (CMSIS_5 @b966796, February 2021) layer
  after layer, no interpreter, so nearly all its time is spent in SMLAD inner loops over q15
  columns and q7 weights in flash: the kind of loop microlith's own kernels run. The
  submission built the same code on mbed OS (-O3) and on Zephyr 2.7 (-O2); their published
  latencies (../shared/baselines/mlperf_tiny_real_boards.csv, rows "ONNC + CMSIS_5
  (b966796)") say how well the timing table and the flash model price such loops.

What it does
  Compiles CMSIS_5's CMSIS/NN sources at b966796, with the submission's fix of
  arm_convolve_HWC_q7_fast_nonsquare.c put in place as its build.sh does, and each
  benchmark's generated onnc_main.cpp (its weights in onnc_weight.h) with the submission's
  mbed GCC_ARM release profile flags (release.json: -O3 ...; -O2 for the Zephyr build), for
  Cortex-M4F (--systems mbed_os,zephyr: each build priced against its own published rows). A harness in
  microlith's measurement firmware (targets/firmware, cortexm.FirmwareBuilder) does what the
  submission's th_infer() does (app.cc infer(): the input copied into ONNC's input tensor,
  onnc_main(), the output copied out) between two calls of onncv_mark(), and the cycle
  plugin (cycles.trace_cycles_plugin, the stm32l4r5 flash model the core names) prices that
  phase alone. Input: int8 from numpy default_rng(seed). Estimates, not measurements.

  The models are ONNC's own requantization of the MLPerf Tiny networks (power-of-two
  scales, CMSIS-NN's legacy q7 functions), so the outputs are not compared with TFLM; the
  script only checks that a run completes and prints its output.

What it needs
  arm-none-eabi-gcc/g++ 12 with newlib, qemu-system-arm 7.2, a host C compiler (the QEMU
  plugin), and --sources DIR laid out as below (run with a missing DIR for the commands):
    DIR/CMSIS_5/CMSIS/{NN,DSP/Include,Core/Include}
        github.com/ARM-software/CMSIS_5 @ b9667965e0c41d7ee0c63983beccc9b8cd6b0f7f
    DIR/tiny_results_v1.1/closed/Skymizer/code
        github.com/mlcommons/tiny_results_v1.1 @ c32ef94d19429ef1d318e9c7a60002a4bd70e11b
  Nothing third-party lives in this repository.
"""
from __future__ import annotations

import concurrent.futures
import csv
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_real_boards as vrb  # noqa: E402  (sys.path, microlith imports, SetupError, helpers)

from microlith.ir import MicrolithError  # noqa: E402
from microlith.targets import core_of, cycles  # noqa: E402
from microlith.targets import cortexm  # noqa: E402
from microlith.targets.memmodel import memory_system  # noqa: E402

REPO = vrb.REPO
TARGET = vrb.TARGET
PREFIX = "onncv"
CXX = vrb.CXX
# The submission's two builds of the same generated code: system id -> optimization level (mbed:
# release.json's GCC_ARM -O3; Zephyr: prj.conf's CONFIG_SPEED_OPTIMIZATIONS, -O2)
SYSTEMS = {"NUCLEO_L4R5ZI-mbed_os": "O3", "NUCLEO_L4R5ZI-zephyr": "O2"}
CMSIS5 = ("ARM-software/CMSIS_5", "b9667965e0c41d7ee0c63983beccc9b8cd6b0f7f")
TINY11 = ("mlcommons/tiny_results_v1.1", "c32ef94d19429ef1d318e9c7a60002a4bd70e11b")
SKY = "closed/Skymizer/code"
FIXED = "arm_convolve_HWC_q7_fast_nonsquare"
# input bytes per benchmark (micro_model_setting.h kInputSize) and output bytes (kOutputSize)
BENCHMARKS = {"kws": (490, 12), "vww": (27648, 2), "ic": (3072, 10), "ad": (640, 640)}
REQUIRED = [
    (CMSIS5, "CMSIS_5", ["CMSIS/NN", "CMSIS/DSP/Include", "CMSIS/Core/Include"],
     ["CMSIS/NN/Include/arm_nnfunctions.h", f"CMSIS/NN/Source/ConvolutionFunctions/{FIXED}.c",
      "CMSIS/DSP/Include/arm_math_types.h", "CMSIS/Core/Include/cmsis_compiler.h"]),
    (TINY11, "tiny_results_v1.1", [SKY],
     [f"{SKY}/{FIXED}.fixed", *(f"{SKY}/{s}/{b}/{b}01_code/onnc_main.cpp" for s in SYSTEMS for b in BENCHMARKS)]),
]


def build_flags(opt: str = "O3") -> tuple[list[str], list[str], list[str]]:
    """(common, C++-only, C-only): the submission's mbed release.json GCC_ARM flags (compile only),
    at `opt` (the Zephyr build's level, otherwise its flags are Zephyr's own)."""
    common = [*core_of(TARGET)["cflags"], "-fmessage-length=0", "-fno-exceptions", "-ffunction-sections",
              "-fdata-sections", "-funsigned-char", "-fno-delete-null-pointer-checks", "-fomit-frame-pointer",
              f"-{opt}", "-DNDEBUG"]
    return common, ["-std=gnu++14", "-fno-rtti", "-Wvla"], ["-std=gnu11"]


def include_dirs(src: Path, stub: Path) -> list[str]:
    cmsis = src / "CMSIS_5" / "CMSIS"
    dirs = [cmsis / "NN/Include", cmsis / "DSP/Include", cmsis / "Core/Include", stub]
    return [x for d in dirs for x in ("-I", str(d))]


def stub_headers(work: Path) -> Path:
    """The folder of the empty onnc_runtime.h the generated code includes (build.sh touches it)."""
    stub = work / "stub"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "onnc_runtime.h").write_text("/* empty, as build.sh's `touch onnc_runtime.h` */\n")
    return stub


def compile_cmsis(src: Path, out: Path, stub: Path, opt: str, timeout: float) -> list[str]:
    """CMSIS/NN/Source/**/*.c with the fixed convolution in place (build.sh's cp): object paths."""
    common, _, c = build_flags(opt)
    out.mkdir(parents=True, exist_ok=True)
    incs = include_dirs(src, stub)
    fixed = src / "tiny_results_v1.1" / SKY / f"{FIXED}.fixed"
    jobs = []
    for i, f in enumerate(sorted((src / "CMSIS_5/CMSIS/NN/Source").rglob("*.c"))):
        obj = out / f"{i:03d}_{f.stem}.o"
        source = fixed if f.stem == FIXED else f
        jobs.append(([cortexm.find_tool(cortexm.CC), *common, *c, *incs, "-x", "c", "-c", str(source),
                      "-o", str(obj)], f, obj))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for fut in [pool.submit(vrb._compile, cmd, f"compiling {f.name}", timeout) for cmd, f, _ in jobs]:
            fut.result()
    return [str(obj) for _, _, obj in jobs]


HEADER = """/* onncv.h: the ONNC harness's entry point, in the shape microlith's firmware expects. */
#ifndef ONNCV_H
#define ONNCV_H
#include <stdint.h>
#define ONNCV_INPUT_SIZE {n_in}
#define ONNCV_OUTPUT_SIZE {n_out}
int onncv_invoke(const int8_t *input, int8_t *output);
#endif
"""

HARNESS = r"""/* ONNC + CMSIS-NN harness (written by bench/validate_onnc_cmsis.py): th_infer() of the
 * submission (app.cc infer()) between two calls of onncv_mark(), which split the cycle trace. */
#include <stddef.h>
#include <string.h>
#include "onncv.h"
#include "onnc_main.h"

__attribute__((noinline, used)) void onncv_mark(void) { __asm__ volatile("" ::: "memory"); }

/* The KWS code takes its pooling buffer from malloc per inference: a bump pool, reset by free
 * (mbed's allocator costs a few hundred cycles there, not modelled). */
static _Alignas(8) unsigned char pool[8192];
static size_t pool_used;
void *malloc(size_t n)
{
    n = (n + 7u) & ~(size_t)7u;
    if (n > sizeof pool - pool_used) return NULL;
    void *p = pool + pool_used;
    pool_used += n;
    return p;
}
void free(void *p) { if (p != NULL) pool_used = 0; }

static int8_t g_input[ONNCV_INPUT_SIZE], g_result[ONNCV_OUTPUT_SIZE];

int onncv_invoke(const int8_t *input, int8_t *output)
{
    memcpy(g_input, input, sizeof g_input);   /* the runner's ee_get_buffer, untimed */
    onncv_mark();
    struct onnc_input_tensor_t in = onnc_get_input_tensor();
    if (in.size != sizeof g_input) return -1;
    memcpy(in.data, g_input, in.size);
    struct onnc_output_tensor_t r = onnc_main();
    memcpy(g_result, r.data, r.size <= sizeof g_result ? r.size : sizeof g_result);
    onncv_mark();
    memcpy(output, g_result, sizeof g_result);
    return r.size == sizeof g_result ? 0 : -2;
}
"""


def build_benchmark(bench: str, system: str, src: Path, work: Path, stub: Path, lib: list[str],
                    sample: np.ndarray, timeout: float) -> cortexm.Firmware:
    n_in, n_out = BENCHMARKS[bench]
    folder = work / bench
    (folder / "src").mkdir(parents=True, exist_ok=True)
    code = src / "tiny_results_v1.1" / SKY / system / bench / f"{bench}01_code"
    (folder / "src" / "onncv.h").write_text(HEADER.format(n_in=n_in, n_out=n_out))
    (folder / "src" / "onncv.c").write_text(HARNESS)
    common, cxx, _ = build_flags(SYSTEMS[system])
    obj = folder / "onnc_main.o"
    vrb._compile([cortexm.find_tool(CXX), *common, *cxx, *include_dirs(src, stub),
                  "-I", str(code), "-c", str(code / "onnc_main.cpp"), "-o", str(obj)],
                 f"compiling {bench}01_code/onnc_main.cpp", timeout)
    builder = vrb.StackFirmwareBuilder(folder, folder / "fw", [str(obj), *lib], PREFIX,
                                       [*include_dirs(src, stub), "-I", str(code)])
    return builder.link_checked(sample, bench)


def price(elf: Path, work: Path, timeout: float, mem="board") -> tuple[cycles.PhaseCycles, object]:
    """th_infer()'s phase of the plugin trace (between the two onncv_mark() calls)."""
    est = cycles.trace_cycles_plugin(elf, TARGET, PREFIX, timeout, work, mem=mem, mark="onncv_mark")
    if len(est.phases) != 3:
        raise MicrolithError(f"{elf.name}: expected 3 phases (input, inference, output), "
                             f"the trace has {len(est.phases)}")
    return est.phases[1], est


def published() -> dict:
    rows = {}
    with open(vrb.BASELINES, newline="") as f:
        for r in csv.DictReader(f):
            if r["submitter"] == "Skymizer" and r["system_id"] in SYSTEMS:
                rows[r["system_id"], r["benchmark"]] = r
    return rows


def run(args) -> dict:
    src = Path(args.sources).resolve()
    vrb.check_sources(src, REQUIRED)
    if not vrb.BASELINES.is_file():
        raise vrb.SetupError(f"{vrb.BASELINES}: the published latencies (../shared/baselines beside the "
                             "repository) are missing")
    vrb.check_tools()
    board = cycles._board_of(TARGET)
    clock = cortexm._fig(board["clock_hz"])
    mem = memory_system(board)
    pub = published()
    work = Path(args.workdir).resolve()
    t0 = time.perf_counter()
    args.systems = [f"NUCLEO_L4R5ZI-{x.strip()}" for x in args.systems.split(",") if x.strip()]
    bad = [x for x in args.systems if x not in SYSTEMS]
    if bad:
        raise vrb.SetupError(f"--systems: unknown {', '.join(bad)}; choose from mbed_os, zephyr")
    stub = stub_headers(work)
    rows = []
    for system in args.systems:
        opt = SYSTEMS[system]
        print(f"{system}: compiling CMSIS_5 @{CMSIS5[1][:7]} CMSIS-NN at -{opt} ...", flush=True)
        lib = compile_cmsis(src, work / f"cmsis-{opt}", stub, opt, args.timeout)
        for bench in args.benchmarks:
            t1 = time.perf_counter()
            rng = np.random.default_rng(args.seed)
            sample = rng.integers(-128, 128, size=BENCHMARKS[bench][0], dtype=np.int16).astype(np.int8)
            fw = build_benchmark(bench, system, src, work / system, stub, lib, sample, args.timeout)
            s = cortexm.run_firmware(fw.elf, TARGET, args.timeout).samples[0]
            if s.status != 0:
                raise MicrolithError(f"{bench}: the harness returned {s.status} (input or output size unexpected)")
            ph, est = price(fw.elf, work, args.timeout)
            total = ph.cycles + ph.memory_cycles
            p = pub[system, bench]
            pub_ms = float(p["latency_ms"])
            out = np.frombuffer(s.outputs[0], dtype=np.int8)
            row = {"system": system, "benchmark": bench, "opt": opt, "instructions": ph.instructions,
                   "cycles_zero_wait": ph.cycles, "flash_stall_cycles": ph.memory_cycles, "cycles_stm32l4r5": total,
                   "predicted_ms_120mhz": round(total / clock * 1e3, 3),
                   "predicted_ms_zero_wait": round(ph.cycles / clock * 1e3, 3),
                   "published_cycles": int(p["cycles_per_inference"]), "published_ms": pub_ms,
                   "published_stack": p["stack"],
                   "error_pct": round((total / clock * 1e3 / pub_ms - 1) * 100, 1),
                   "error_pct_zero_wait": round((ph.cycles / clock * 1e3 / pub_ms - 1) * 100, 1),
                   "instructions_whole_call": est.instructions, "flash_bytes": fw.sizes["flash_bytes"],
                   "output_head": out[:12].tolist(), "input": f"random seed {args.seed}"}
            row["wall_seconds"] = round(time.perf_counter() - t1, 1)
            rows.append(row)
            print(f"  {bench}: {row['instructions']:,} instructions, {total:,} cycles, "
                  f"{row['error_pct']:+.1f}% ({row['wall_seconds']:.0f} s)", flush=True)
    return {"rows": rows, "wall_seconds": round(time.perf_counter() - t0, 1), "memory_basis": mem.basis()}


def table(rows) -> str:
    out = [("build", "benchmark", "instructions", "cycles 0-wait", "flash stalls", "cycles stm32l4r5", "pred ms@120",
            "published ms", "error %", "error % 0-wait")]
    for r in rows:
        out.append((r["system"].split("-", 1)[1], r["benchmark"], f"{r['instructions']:,}", f"{r['cycles_zero_wait']:,}",
                    f"{r['flash_stall_cycles']:,}", f"{r['cycles_stm32l4r5']:,}", f"{r['predicted_ms_120mhz']:.3f}",
                    f"{r['published_ms']:.3f}", f"{r['error_pct']:+.1f}", f"{r['error_pct_zero_wait']:+.1f}"))
    return vrb._columns(out)


def to_json(res: dict, args, argv: list[str]) -> dict:
    common, cxx, c = build_flags()
    return {
        "what": ("Validation of microlith's Cortex-M4 cycle estimate (targets/cycles.py plugin route, stm32l4r5 "
                 "flash model) against Skymizer's MLPerf Tiny v1.1 closed results on NUCLEO-L4R5ZI at 120 MHz "
                 "(ONNC + CMSIS_5 b966796), its two builds of the same generated code (mbed OS at -O3, Zephyr "
                 "2.7 at -O2): the code and CMSIS-NN built here, th_infer()'s work priced between two marks. "
                 "Estimates, not measurements."),
        "sources": {"cmsis_nn": f"{CMSIS5[0]} @{CMSIS5[1]}: CMSIS/NN (all sources), DSP/Include, Core/Include, "
                                f"with {SKY}/{FIXED}.fixed in place of {FIXED}.c (the submission's build.sh)",
                    "onnc_code": f"{TINY11[0]} @{TINY11[1]}: {SKY}/NUCLEO_L4R5ZI-{{mbed_os,zephyr}}/*/*01_code "
                                 "(onnc_main.cpp, onnc_weight.h)",
                    "harness": "generated by this script: app.cc's infer() between two marks; input int8 from "
                               "numpy default_rng(seed) uniform over [-128, 127]"},
        "build": {"compiler": vrb.compiler_version(), "flags": [*common, *cxx], "c_flags": [*common, *c],
                  "note": ("the flags of the mbed build's release.json (GCC_ARM), at -O3 for the mbed rows and -O2 "
                           "for the Zephyr rows (its prj.conf: CONFIG_SPEED_OPTIMIZATIONS; Zephyr's other flags "
                           "not reproduced), built with GCC 12.2 where the submission used GCC 9-2020-q2 (mbed) and "
                           "the Zephyr SDK 0.13.2's GCC 10.3; microlith's firmware start-up, harness and linker "
                           "script (FirmwareBuilder, its own files at -O2)")},
        "flash_model": res["memory_basis"],
        "rows": res["rows"],
        "caveats": [
            "compiler: GCC 12.2 here; the inner loops are CMSIS-NN's own C, so the code differs in scheduling "
            "and register use, not in the loads and multiplies",
            "the published figure is 1/median throughput of the EEMBC runner loop; th_infer()'s call and the "
            "runner's overhead around it are not modelled, nor the OS (mbed's malloc: one call per KWS "
            "inference; Zephyr's tick and UART interrupts)",
            "both OSes' clock set-up (flash wait states, ART caches, prefetch) is assumed the same as the v0.5 "
            "reference build's, which bench/validate_real_boards.py validates the same flash model against; "
            "the Zephyr build's board runs KWS and VWW 14-15% slower than the mbed build's, IC and AD within "
            "1%, an effect the model does not reproduce (it prices the two builds within 2% of each other)",
        ],
        "wall_seconds": res["wall_seconds"],
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *argv]),
    }


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else argv)
    ap = vrb.parser(__doc__)
    ap.add_argument("--systems", default="mbed_os,zephyr",
                    help="the submission's builds to price: mbed_os (-O3), zephyr (-O2)")
    return vrb.run_cli(ap, argv, "validate_onnc_cmsis", run, table, to_json, BENCHMARKS)


if __name__ == "__main__":
    sys.exit(main())
