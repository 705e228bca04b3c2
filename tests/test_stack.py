"""Static worst-case stack bound (targets/stack.py) against the measured high-water mark, and
profile's output comparison (a short output list must not count as a match)."""
import shutil
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.ir import Op
from microlith import profiling
from microlith.targets import cortexm
from microlith.targets import stack
from microlith.targets.stack import INDIRECT, Func, worst_case
from opmodels import act, single_op, write

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
KWS = MODELS / "kws_ref_model.tflite"
CORES = ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33"]

_missing_cc = [t for t in (cortexm.CC, stack.OBJDUMP, stack.NM) if shutil.which(t) is None]
needs_cc = pytest.mark.skipif(bool(_missing_cc), reason=f"{', '.join(_missing_cc)} not installed "
                              "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
needs_qemu = pytest.mark.skipif(shutil.which(cortexm.QEMU) is None, reason="qemu-system-arm not installed")


# ------------------------------------------------------------------ the analysis on made-up inputs

def test_disassembly_frames():
    frame = stack._disassembly_frame
    assert frame("f", [(0, "push", "{r4, r5, r6, r7, lr}"), (2, "sub", "sp, #228\t@ 0xe4"),
                       (4, "add", "sp, #228"), (6, "pop", "{r4, r5, r6, r7, pc}")]) == (248, None)
    assert frame("f", [(0, "push.w", "{r4-r11, lr}"), (4, "vpush", "{d8-d15}"),
                       (8, "sub.w", "sp, sp, #1024"), (12, "str.w", "r0, [sp, #-4]!")]) == (36 + 64 + 1024 + 4, None)
    assert frame("f", [(0, "stmdb", "sp!, {r4, lr}"), (4, "subw", "sp, sp, #300")]) == (308, None)
    # stores into and loads from the frame without writeback leave sp where it is
    assert frame("f", [(0, "push.w", "{r4-r11, lr}"), (4, "sub", "sp, #64"), (6, "stmia.w", "sp, {r9, sl, fp, ip}"),
                       (10, "ldm.w", "sp, {r4, r5, r6, r7}")]) == (100, None)
    size, why = frame("f", [(0, "push", "{r7, lr}"), (2, "sub", "sp, r3")])
    assert size is None and "run-time amount" in why
    size, why = frame("f", [(0, "mov", "sp, r7")])
    assert size is None and "'mov sp, r7'" in why


def _funcs(spec):
    return {name: Func(name, frame, set(calls)) for name, (frame, calls) in spec.items()}


def test_worst_case_takes_the_deepest_path():
    ci = _funcs({"invoke": (8, ["layer_a", "layer_b"]), "layer_a": (100, ["helper"]), "layer_b": (150, []),
                 "helper": (60, ["memcpy"])})
    elf = _funcs({"memcpy": (20, [])})
    b = worst_case("invoke", ci, elf)
    assert b.bytes == 8 + 100 + 60 + 20 and [n for n, _ in b.path] == ["invoke", "layer_a", "helper", "memcpy"]
    ci["layer_b"].frame = 200  # now the other branch is deeper
    assert worst_case("invoke", ci, elf).bytes == 208


@pytest.mark.parametrize("change,reason", [
    (lambda ci: ci["helper"].calls.add("invoke"), "recursion: invoke -> layer_a -> helper -> invoke"),
    (lambda ci: ci["helper"].calls.add(INDIRECT), "helper makes an indirect call"),
    (lambda ci: ci["helper"].calls.add("nowhere"), "nowhere (called from helper) is neither"),
    (lambda ci: setattr(ci["layer_a"], "frame", None) or setattr(ci["layer_a"], "why", "layer_a has a VLA"),
     "layer_a has a VLA"),
])
def test_unknown_bound_says_why(change, reason):
    ci = _funcs({"invoke": (8, ["layer_a"]), "layer_a": (100, ["helper"]), "helper": (60, [])})
    assert worst_case("invoke", ci, {}).bytes == 168
    change(ci)
    b = worst_case("invoke", ci, {})
    assert b.bytes is None and reason in b.reason, b.reason


# ------------------------------------------------------------------ real builds (no emulator needed)

def fake_library(root: Path, body: str, extra: str = "") -> Path:
    """A folder shaped like codegen output: fake_invoke(input, output) runs `body`."""
    src = root / "src"
    src.mkdir(parents=True)
    (src / "fake.h").write_text("#include <stdint.h>\n#define FAKE_ARENA_SIZE 0\n#define FAKE_INPUT_SIZE 4\n"
                                "#define FAKE_OUTPUT_SIZE 4\nint fake_invoke(const int8_t *input, int8_t *output);\n")
    (src / "fake.c").write_text(
        '#include <stdint.h>\n#include "fake.h"\n' + extra +
        "\nint fake_invoke(const int8_t *input, int8_t *output)\n{\n" + body +
        "\n    for (int i = 0; i < 4; i++) {\n        output[i] = input[i];\n    }\n    return 0;\n}\n")
    return root


def bound_of(tmp_path: Path, body: str, extra: str = "", target: str = "cortex-m4") -> dict:
    lib = fake_library(tmp_path / "c", body, extra)
    fw = cortexm.FirmwareBuilder(lib, "fake", target, tmp_path / "fw").link([[np.zeros(4, np.int8)]])
    return cortexm.stack_bounds(fw)


BIG = """
static __attribute__((noinline)) int8_t big(const int8_t *x)
{
    volatile int8_t buf[600];
    for (int i = 0; i < 600; i++) { buf[i] = x[i & 3]; }
    return buf[599];
}
static __attribute__((noinline)) int8_t small(const int8_t *x) { return (int8_t)(x[0] + 1); }
"""


@needs_cc
def test_indirect_call_reaches_address_taken_functions(tmp_path):
    # A pointer chosen at run time between two static functions: the bound must follow the
    # one with the 600-byte frame, although no direct call to it exists.
    body = ("    int8_t (*volatile pick)(const int8_t *) = input[0] > 0 ? big : small;\n"
            "    output[0] = pick(input);")
    b = bound_of(tmp_path, body, BIG)
    assert b["stack_bound_bytes"] is not None and b["stack_bound_bytes"] >= 600, b
    assert "big" in b["stack_bound_basis"]
    assert b["stack_bound_firmware_bytes"] > b["stack_bound_bytes"]


@needs_cc
def test_static_function_from_a_header_has_one_copy_per_object(tmp_path):
    # Two objects each compile their own copy of a static helper defined in a header: each
    # copy is its own node (keyed by its object), and the bound follows them.
    lib = fake_library(tmp_path / "c", "    output[0] = (int8_t)(helper(input) + second(input));",
                       '#include "helper.h"\nint second(const int8_t *x);')
    (lib / "src" / "helper.h").write_text(
        "#include <stdint.h>\nstatic __attribute__((noinline, unused)) int helper(const int8_t *x)\n"
        "{\n    volatile int8_t b[200];\n    for (int i = 0; i < 200; i++) { b[i] = x[i & 3]; }\n"
        "    return b[199];\n}\n")
    (lib / "src" / "second.c").write_text('#include "helper.h"\nint second(const int8_t *x);\n'
                                          "int second(const int8_t *x) { return helper(x) * 2; }\n")
    fw = cortexm.FirmwareBuilder(lib, "fake", "cortex-m3", tmp_path / "fw").link([[np.zeros(4, np.int8)]])
    b = cortexm.stack_bounds(fw)
    assert b["stack_bound_bytes"] is not None and b["stack_bound_bytes"] >= 200, b
    ci, _ = stack.read_callgraph_info(fw.callgraph)
    copies = sorted(k for k in ci if k.split(":")[-1].startswith("helper"))
    assert [k.split(":")[0] for k in copies] == ["fake", "second"], copies


@needs_cc
@pytest.mark.parametrize("extra,body,reason", [
    ("", "    volatile int8_t vla[input[0] & 63];\n    vla[0] = 1;", "allocates stack at run time"),
    ("static __attribute__((noinline)) int deep(int n) { volatile int pad[8]; pad[0] = n;\n"
     "    return n > 0 ? deep(n - 1) * 3 + pad[0] : 0; }",
     "    output[0] = (int8_t)deep(input[0]);", "recursion"),
    ("", "    if (input[0] == 99 && input[1] == 98) { ((void (*)(void))(uintptr_t)*(const uint32_t *)input)(); }",
     "indirect call"),
], ids=["vla", "recursion", "indirect"])
def test_unbounded_stack_is_unknown_with_reason(tmp_path, extra, body, reason):
    b = bound_of(tmp_path, body, extra)
    assert b["stack_bound_bytes"] is None and reason in b["stack_bound_basis"], b


def _jumper(table_offset: str) -> str:
    """An assembly routine that enters itself through a frame slot (LDR PC, [SP, #imm]) with an
    entry table jumper_tab of one offset, as the convolution routines do (ML_CONV_TAB)."""
    return ('int jumper(int x);\nextern const short jumper_tab[1];\n__asm__(".text\\n.syntax unified\\n.thumb\\n.balign 4\\n.global jumper\\n'
            '.type jumper, %function\\n.thumb_func\\njumper:\\n\\tpush {r4-r7, lr}\\n\\tsub sp, #40\\n'
            '\\tldr.w pc, [sp, #4]\\n.Ljumper_in:\\n\\tadd sp, #40\\n\\tpop {r4-r7, pc}\\n'
            '.size jumper, .-jumper\\n.pushsection .rodata\\n.balign 2\\n.global jumper_tab\\n'
            '.type jumper_tab, %object\\n.size jumper_tab, 2\\njumper_tab:\\n\\t.hword ' + table_offset +
            '\\n.popsection\\n");\n')


@needs_cc
@pytest.mark.parametrize("offset,bounded", [(".Ljumper_in - jumper", True), ("200", False)],
                         ids=["inside", "outside"])
def test_jump_through_an_entry_table_is_followed_only_inside_the_routine(tmp_path, offset, bounded):
    # the routine is linked, not run: its frame (20 + 40 bytes) counts when every entry of its
    # table lands inside it, and a table entry past its end leaves the bound unknown
    b = bound_of(tmp_path, "    output[0] = (int8_t)jumper(input[0] + jumper_tab[0]);", _jumper(offset))
    if bounded:
        assert b["stack_bound_bytes"] is not None and b["stack_bound_bytes"] >= 60, b
        assert "jumper" in b["stack_bound_basis"]
    else:
        assert b["stack_bound_bytes"] is None and "jumper jumps to a computed address" in b["stack_bound_basis"], b


@needs_cc
def test_library_and_assembly_frames_come_from_the_elf(tmp_path):
    # On Cortex-M0 KWS calls libgcc (__aeabi_lmul, __aeabi_idiv) and an assembly kernel;
    # none has a .ci record, so their frames must come from the disassembly.
    res = microlith.compile(KWS, tmp_path / "c", measure=False)
    fw = cortexm.FirmwareBuilder(tmp_path / "c", res["name"], "cortex-m0", tmp_path / "fw").link(
        [[np.zeros(490, np.int8)]])
    ci, called = stack.read_callgraph_info(fw.callgraph)
    elf = stack.disassemble(fw.elf)
    assert {"__aeabi_lmul", "memcpy"} <= called
    for name in called - {stack.INDIRECT}:  # calls through pointers resolve to address-taken functions
        assert name in elf and elf[name].frame is not None, name
    assert elf["__aeabi_idiv"] is elf["__divsi3"]  # aliases share one record
    b = worst_case(f"{res['name']}_invoke", ci, elf)
    assert b.bytes is not None and b.path[0][0] == f"{res['name']}_invoke"


# ------------------------------------------------------------------ bound >= measured, all five cores

@needs_cc
@needs_qemu
@pytest.mark.cortexm
@pytest.mark.slow
@pytest.mark.skipif(not KWS.exists(), reason=f"{KWS} not present")
@pytest.mark.parametrize("core", CORES)
def test_bound_covers_measured_stack(tmp_path, core):
    # The painted-stack high-water mark starts at the top of the firmware's stack, so it holds
    # the reset handler's, main's and ml_fw_run's frames as well as NAME_invoke's: the figure
    # to compare is the bound of the whole firmware from its reset handler (like with like).
    res = microlith.compile(KWS, tmp_path / "c", measure=False)
    x = np.load(MODELS / "inputs" / "kws_input_int8.npy").reshape(-1)[:490]
    builder = cortexm.FirmwareBuilder(tmp_path / "c", res["name"], core, tmp_path / "fw")
    fw = builder.link([[x], [np.zeros(490, np.int8)]])
    bound = cortexm.stack_bounds(fw)
    run = cortexm.run_firmware(fw.elf, core)
    measured = max(s.stack_bytes for s in run.samples)
    print(f"{core}: bound NAME_invoke {bound['stack_bound_bytes']} B, whole firmware "
          f"{bound['stack_bound_firmware_bytes']} B, measured {measured} B")
    assert bound["stack_bound_bytes"] is not None, bound["stack_bound_basis"]
    assert bound["stack_bound_firmware_bytes"] >= measured
    # the harness frames above NAME_invoke are a few hundred bytes at most: the invoke bound
    # alone must cover what the measurement leaves to the model
    assert bound["stack_bound_firmware_bytes"] - bound["stack_bound_bytes"] < 256
    assert measured > bound["stack_bound_firmware_bytes"] // 2  # the measurement saw the model run


@needs_cc
@needs_qemu
@pytest.mark.cortexm
@pytest.mark.skipif(not KWS.exists(), reason=f"{KWS} not present")
def test_compile_reports_stack_bound(tmp_path):
    res = microlith.compile(KWS, tmp_path / "c", target="cortex-m3")
    assert res["stack_bound_bytes"] is not None and res["stack_bound_bytes"] > 0 and res["stack_bytes"] > 0
    assert res["stack_bound_basis"].startswith("static worst case on cortex-m3")
    host = microlith.compile(KWS, tmp_path / "h", measure=False)
    assert host["stack_bound_bytes"] is None and "stack_bound_basis" in host


# ------------------------------------------------------------------ profile's output comparison

def test_outputs_match_checks_count_and_size():
    want = [np.array([1, 2, 3], np.int8), np.array([4], np.int8)]
    assert cortexm.outputs_match(want, [b"\x01\x02\x03", b"\x04"])
    assert not cortexm.outputs_match(want, [])                        # empty list
    assert not cortexm.outputs_match(want, [b"\x01\x02\x03"])         # one output missing
    assert not cortexm.outputs_match(want, [b"\x01\x02", b"\x04"])    # one output short
    assert not cortexm.outputs_match(want, [b"\x01\x02\x03", b"\x04", b""])  # one too many
    assert not cortexm.outputs_match(want, [b"\x01\x02\x03", b"\x05"])


def _relu_model(tmp_path):
    g = single_op(Op.RELU, [act("x", (1, 16), 0.05, -3)], [act("y", (1, 16), 0.05, -3)])
    return write(g, tmp_path, "relu16")


@needs_cc
def test_board_model_short_output_is_a_mismatch(tmp_path):
    from microlith.api import load
    g = load(_relu_model(tmp_path))
    res = microlith.compile(g, tmp_path / "c", measure=False)
    board = cortexm.BoardModel(tmp_path / "c", g, res["name"], "cortex-m3", tmp_path)
    good = bytes(range(16))
    ok = board._decode(cortexm.SampleRun(0, 1, 1, [good]))
    assert ok[0].tobytes() == good
    for outputs in ([], [good[:-1]], [good, good]):
        got = board._decode(cortexm.SampleRun(0, 1, 1, outputs))
        assert len(got) == 1 and got[0].size == 0  # equals no real output


@needs_cc
@needs_qemu
@pytest.mark.cortexm
def test_profile_reports_short_board_output_as_mismatch(tmp_path, monkeypatch):
    model = _relu_model(tmp_path)
    assert profiling.profile(model, "cortex-m3")["output_matches_host"] is True
    real = cortexm.run_firmware

    def drop_outputs(*args, **kw):
        run = real(*args, **kw)
        for s in run.samples:
            s.outputs = []
        return run

    monkeypatch.setattr(profiling, "run_firmware", drop_outputs)
    out = profiling.profile(model, "cortex-m3")
    assert out["output_matches_host"] is False
