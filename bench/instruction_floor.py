"""The fewest Cortex-M4 instructions, and cycles, the DSP kernels' inner loops could ever spend
on a model.

    python3 bench/instruction_floor.py            # print the table
    python3 bench/instruction_floor.py --write    # replace the marked section of BENCHMARKS.md

A floor, not a measurement: each loop below is written out as the routines run it and priced by
the profile's own Cortex-M4 timing table (microlith.targets.cycles, zero wait states); the script
counts its instructions and cycles per MAC and multiplies by the MACs the code computes (the
model's, less those of channels no later layer reads: passes/channels.py; VWW 3.84 M of its
7.49 M). Nothing else is
counted: no column building or plane fills, loop upkeep, calls, pooling or softmax, and no flash
wait states (which only add). A target below the floor cannot be met by tuning these loops; it
needs other arithmetic.

- Convolution and fully connected MACs: the six-pixel SMLAD block (ml_conv_dsp_p6: per block of
  four input values, one weight word split by two SXTB16 and three LDMs of two pixels' widened
  columns feeding twelve SMLADs; 18 instructions for 24 MACs). Six accumulators, the LDM's four
  registers, two weights and two pointers fill the fourteen usable registers. Fully connected
  layers read each weight once, so for them this is a generous bound.
- Depthwise 3x3, stride 1 (the planes path, ml_dw_3x3_channel): per window row of four outputs,
  one LDRD of the row's two weight words, one LDM of three plane words and eight multiplies; 30
  instructions for 36 MACs.
- Other depthwise layers: a tap of four channels (its input word, its weights, two SXTB16, four
  SMLABB/SMLATT: the channels of a word never share a sum), 8 instructions for 4 MACs. The second
  floor prices these at 1.5 instructions, a tap-pairing loop not built here (two vertically
  adjacent taps' raw words packed by PKHBT/PKHTB before SXTB16, so one SMLAD takes two taps).
- Every output: its requantization and store (add the bias, SMMLAR, shift, SSAT, STRB: 5; 6 with
  the rounding term of the general form, when not every convolution and depthwise layer is a
  fused ReLU: ML_DSP_RELU_FORM), stores in pairs.
- The third floor stages every convolution's filter widened to int16 (--stage-weights with a
  budget that holds the widened copies; ml_conv_dsp_pairs): per block of four input values of
  two channels, one LDM of the four widened weight words and three LDRDs of a pixel's two column
  words feeding twelve SMLADs, 16 instructions for 24 MACs.

The cycle floors are the first floor's loops and the third's, priced the same way.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from microlith import profiling
from microlith.api import load
from microlith.passes.channels import prune_unused_channels
from microlith.ir import Op
from microlith.targets import cycles

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
BEGIN, END = "<!-- instruction_floor:begin -->", "<!-- instruction_floor:end -->"
# The loops, as the routines run them (registers as there).
_MAC2 = ["smlad {a}, r10, r8, {a}", "smlad {a}, r11, r9, {a}", "smlad {b}, r12, r8, {b}", "smlad {b}, lr, r9, {b}"]
_LDM = "ldmia r6!, {r10, r11, r12, lr}"
P6_BLOCK = (["ldr r8, [r7], #4", _LDM, "sxtb16 r9, r8, ror #8", "sxtb16 r8, r8"]
            + [m.format(a="r0", b="r1") for m in _MAC2] + [_LDM] + [m.format(a="r2", b="r3") for m in _MAC2]
            + [_LDM] + [m.format(a="r4", b="r5") for m in _MAC2])
PAIRS_BLOCK = ["ldmia r7!, {r8, r9, r10, r11}"] + [
    ins for i in range(3) for ins in ("ldrd r12, lr, [r6], #8", f"smlad r{i}, r12, r8, r{i}",
                                      f"smlad r{i}, lr, r9, r{i}", f"smlad r{i + 3}, r12, r10, r{i + 3}",
                                      f"smlad r{i + 3}, lr, r11, r{i + 3}")]
DW_QUAD_ROW = ["ldrd r7, r8, [sp, #16]", "ldm r9, {r4, r5, r6}", "smlad r0, r4, r7, r0", "smlatb r1, r4, r7, r1",
               "smlad r2, r5, r7, r2", "smlatb r3, r5, r7, r3", "smlabt r0, r5, r8, r0", "smlad r1, r5, r8, r1",
               "smlabt r2, r6, r8, r2", "smlad r3, r6, r8, r3"]
DW_TAP = ["ldr r4, [r0], #4", "ldrd r6, r7, [r1], #8", "sxtb16 r5, r4, ror #8", "sxtb16 r4, r4",
          "smlabb r8, r4, r6, r8", "smlatt r9, r4, r6, r9", "smlabb r10, r5, r7, r10", "smlatt r11, r5, r7, r11"]
_REQ = ["add r6, r8, {a}, lsl #1", "smmlar {a}, r6, r9, r10", "asr {a}, {a}, r11", "ssat {a}, #8, {a}"]
_ROUND = "sub r10, r10, {a}, lsr #31"
REQ_PAIR_RELU = [i.format(a=a) for a in ("r0", "r1") for i in _REQ] + ["strb r0, [r12]", "strb r1, [r12, lr]"]
REQ_PAIR = [i.format(a=a) for a in ("r0", "r1") for i in [_REQ[0], _ROUND, *_REQ[1:]]] + \
    ["strb r0, [r12]", "strb r1, [r12, lr]"]
DW_PAIRED_PER_MAC = 1.5   # instructions; the loop is not built, so it has no cycle price
# (label, file, the issue 11 targets on cortex-m4: instructions, and cycles of the best published
# real board, flash wait states included)
ROWS = [("KWS DS-CNN", "kws_ref_model.tflite", 2.66e6, 5.18e6),
        ("VWW MobileNetV1", "vww_96_int8.tflite", 7.49e6, 10.67e6),
        ("IC ResNet-8", "pretrainedResnet_quant.tflite", 12.5e6, 19.8e6),
        ("AD autoencoder", "ad01_int8.tflite", 0.40e6, 0.486e6)]


def priced(lines: list[str], macs: int) -> tuple[float, float]:
    """Instructions and cycles per MAC (per item when macs = 1) of a loop body on the Cortex-M4
    timing table."""
    t = cycles.TIMINGS["cortex-m4"]
    insns = [cycles.classify(4 * i, 4, *(line.split(" ", 1)), t) for i, line in enumerate(lines)]
    return len(insns) / macs, cycles.price(insns, t) / macs


def _planes(g, node) -> bool:
    """The depthwise 3x3 planes path's shapes: stride 1, no dilation, depth multiplier 1, even C."""
    _, k_h, k_w, c = g.t(node.inputs[1]).shape
    a = node.attrs
    return (k_h, k_w) == (3, 3) and a.get("stride_h", 1) == 1 and a.get("stride_w", 1) == 1 and \
        a.get("dilation_h", 1) == 1 and a.get("dilation_w", 1) == 1 and a.get("depth_multiplier", 1) == 1 and \
        c % 2 == 0


def floor(path: Path) -> dict:
    g = prune_unused_channels(load(path))   # the MACs the code computes (passes/channels.py)
    conv = conv2d = planes = dw = outputs = 0
    relu = []   # per convolution and depthwise layer: a fused ReLU at zero point -128
    for node in g.nodes:
        m = profiling._layer_macs(g, node)
        outs = int(np.prod(g.t(node.outputs[0]).shape))
        if node.op is Op.DEPTHWISE_CONV_2D:
            planes, dw = (planes + m, dw) if _planes(g, node) else (planes, dw + m)
        elif node.op in (Op.CONV_2D, Op.FULLY_CONNECTED):
            conv, conv2d = conv + m, conv2d + (m if node.op is Op.CONV_2D else 0)
        else:
            continue
        outputs += outs
        if node.op is not Op.FULLY_CONNECTED:
            y = g.t(node.outputs[0])
            relu.append(node.attrs.get("activation") in ("RELU", "RELU6") and y.quant.zero_point[0] == -128)
    relu = bool(relu) and all(relu)   # the ReLU form needs every one of them, and one at least
    p6, pairs = priced(P6_BLOCK, 24), priced(PAIRS_BLOCK, 24)
    plane, tap = priced(DW_QUAD_ROW * 3, 36), priced(DW_TAP, 4)
    req = priced(REQ_PAIR_RELU if relu else REQ_PAIR, 2)
    f = {}
    for k in (0, 1):   # instructions, cycles
        base = p6[k] * conv + plane[k] * planes + req[k] * outputs
        f[k] = (base + tap[k] * dw, base - (p6[k] - pairs[k]) * conv2d + tap[k] * dw)
    paired = f[0][0] - (tap[0] - DW_PAIRED_PER_MAC) * dw
    return {"conv_macs": conv, "dw_macs": planes + dw, "plane_macs": planes, "outputs": outputs, "relu": relu,
            "floor": int(f[0][0]), "floor_paired": int(paired), "floor_widened": int(paired - (f[0][0] - f[0][1])),
            "cycles": int(f[1][0]), "cycles_widened": int(f[1][1]),
            "per_mac": {"conv": p6, "conv_widened": pairs, "planes": plane, "dw_tap": tap, "output": req}}


def _verdict(target: float, floors: list[int], names: list[str]) -> str:
    below = [n for n, f in zip(names, floors) if target < f]
    return "below every floor" if len(below) == len(floors) else \
        f"below the {', '.join(below)} floor{'s' if len(below) > 1 else ''}" if below else "above every floor"


def table(models: Path, measured: dict[str, tuple[int, int]]) -> str:
    f0 = floor(models / ROWS[0][1])["per_mac"]
    lines = ["## Instruction and cycle floor of the inner loops (cortex-m4)", "",
             "`python3 bench/instruction_floor.py`: each loop written out as the routine runs it and priced by "
             "the profile's Cortex-M4 timing table (zero wait states), per MAC: convolution and fully connected "
             f"{f0['conv'][0]:.3f} instructions, {f0['conv'][1]:.3f} cycles (the six-pixel block); depthwise 3x3 "
             f"stride 1 {f0['planes'][0]:.3f}, {f0['planes'][1]:.3f} (the planes path); other depthwise "
             f"{f0['dw_tap'][0]:g}, {f0['dw_tap'][1]:g} (a tap of four channels); per output "
             f"{f0['output'][0]:g} instructions, {f0['output'][1]:g} cycles in the ReLU form, one more of each "
             "otherwise (requantization and store). Nothing else: no column building or plane fills, loop upkeep, "
             "calls, pooling, softmax or flash wait states (the script's docstring derives each loop). A target "
             "below a floor cannot be met by tuning these loops. The second instruction floor prices the other "
             f"depthwise MACs at {DW_PAIRED_PER_MAC}, a tap-pairing loop not built here; the third, and the "
             f"second cycle floor, also every convolution MAC at {f0['conv_widened'][0]:.3f} instructions, "
             f"{f0['conv_widened'][1]:.3f} cycles: the two-channel routine over filters staged widened to int16 "
             "(`--stage-weights` with room for every copy). The cycle targets are real boards' published "
             "latencies, flash wait states included, so a zero-wait floor near one leaves no room for them.", "",
             "| model | conv + FC MACs | depthwise MACs (planes path) | outputs | floor | floor, paired taps "
             "| floor, paired taps and widened filters | measured (bench_cortexm) | issue 11 target "
             "| cycle floor | cycle floor, widened filters | measured cycles, zero wait | issue 11 cycle target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, fname, target, target_cycles in ROWS:
        f = floor(models / fname)
        meas, meas_c = measured.get(fname, (None, None))
        verdict = _verdict(target, [f["floor"], f["floor_paired"], f["floor_widened"]], ["first", "second", "third"])
        verdict_c = _verdict(target_cycles, [f["cycles"], f["cycles_widened"]], ["first", "second"])
        lines.append(f"| {label} | {f['conv_macs']:,} | {f['dw_macs']:,} ({f['plane_macs']:,}) | {f['outputs']:,} "
                     f"| {f['floor']:,} | {f['floor_paired']:,} | {f['floor_widened']:,} "
                     f"| {f'{meas:,}' if meas else '-'} | {int(target):,} ({verdict}) | {f['cycles']:,} "
                     f"| {f['cycles_widened']:,} | {f'{meas_c:,}' if meas_c else '-'} "
                     f"| {int(target_cycles):,} ({verdict_c}) |")
    return "\n".join(lines) + "\n"


def measured_counts(path: Path) -> dict[str, tuple[int, int]]:
    """The M4 instruction counts and zero-wait cycles bench_cortexm last wrote into BENCHMARKS.md,
    by file."""
    if not path.exists():
        return {}
    text = path.read_text()
    part = text.split("### cortex-m4", 1)[-1].split("###", 1)[0]
    out = {}
    for label, fname, *_ in ROWS:
        for line in part.splitlines():
            if line.startswith(f"| {label} |"):
                cells = [c.strip().replace(",", "") for c in line.split("|")]
                out[fname] = (int(cells[2]), int(cells[4]))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=MODELS)
    ap.add_argument("--write", action="store_true", help="update the marked section of BENCHMARKS.md")
    ap.add_argument("--file", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args(argv)
    text = table(a.models, measured_counts(a.file))
    print(text)
    if a.write:
        old = a.file.read_text()
        block = f"{BEGIN}\n{text}{END}\n"
        if BEGIN in old and END in old:
            head, rest = old.split(BEGIN, 1)
            new = head + block + rest.split(END, 1)[1].lstrip("\n")
        else:  # after the cores' tables
            anchor = "<!-- bench_cortexm:end -->\n"
            new = old.replace(anchor, anchor + block, 1) if anchor in old else old.rstrip("\n") + "\n\n" + block
        a.file.write_text(new)
        print(f"updated {a.file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
