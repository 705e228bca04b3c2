"""The fewest Cortex-M4 instructions the DSP kernels' inner loops could ever spend on a model.

    python3 bench/instruction_floor.py            # print the table
    python3 bench/instruction_floor.py --write    # replace the marked section of BENCHMARKS.md

A floor, not a measurement: every convolution and fully connected MAC at the register-blocked
SMLAD loop's 0.75 instructions (ml_conv_dsp_p6: per block of four input values, one weight word
split by two SXTB16 and three LDMs of two pixels' widened columns feeding twelve SMLADs, 18
instructions for 24 MACs; six accumulators, the LDM's four registers, two weights and two
pointers fill the fourteen usable registers), every depthwise MAC at 2 (a tap of four channels:
its input word, its weights, two SXTB16 and four SMLABB/SMLATT, since the channels of a word
never share a sum), and every output at the 6 of its requantization (add the bias, round,
SMMLAR, shift, SSAT, store). Nothing else is counted: no column building, loop upkeep, pooling
or softmax. A target below the floor cannot be met by tuning these loops; it needs other
arithmetic (activations or weights stored widened to int16: twice the RAM or flash).

The second floor prices depthwise MACs at 1.5, a loop this project has not built: two
vertically adjacent taps' raw words packed by PKHBT/PKHTB before SXTB16, so that one SMLAD
takes two taps of a channel (two loads, two packs, four SXTB16 and four SMLAD per eight MACs,
with the weights' loads left out).

The third floor is the second with every convolution's filter staged widened to int16
(--stage-weights with a budget that holds the widened copies; ml_conv_dsp_pairs): a convolution
MAC at 16/24 instructions (per block of four input values of two channels, one LDM of the four
widened weight words and three LDRDs of a pixel's two column words feeding twelve SMLADs).
Fully connected weights are read once and stay int8 in flash.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from microlith import profiling
from microlith.api import load
from microlith.ir import Op

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"
BEGIN, END = "<!-- instruction_floor:begin -->", "<!-- instruction_floor:end -->"
CONV_PER_MAC, DW_PER_MAC, DW_PAIRED_PER_MAC, PER_OUTPUT = 0.75, 2.0, 1.5, 6
CONV_WIDENED_PER_MAC = 16 / 24
# (label, file, the issue 11 target on cortex-m4 in instructions)
ROWS = [("KWS DS-CNN", "kws_ref_model.tflite", 2.66e6), ("VWW MobileNetV1", "vww_96_int8.tflite", 7.49e6),
        ("IC ResNet-8", "pretrainedResnet_quant.tflite", 12.5e6), ("AD autoencoder", "ad01_int8.tflite", 0.40e6)]


def floor(path: Path) -> dict:
    g = load(path)
    conv = dw = conv_out = dw_out = conv2d = 0
    for node in g.nodes:
        m = profiling._layer_macs(g, node)
        outs = int(np.prod(g.t(node.outputs[0]).shape))
        if node.op is Op.DEPTHWISE_CONV_2D:
            dw, dw_out = dw + m, dw_out + outs
        elif node.op in (Op.CONV_2D, Op.FULLY_CONNECTED):
            conv, conv_out = conv + m, conv_out + outs
            conv2d += m if node.op is Op.CONV_2D else 0
    total = CONV_PER_MAC * conv + DW_PER_MAC * dw + PER_OUTPUT * (conv_out + dw_out)
    paired = total - (DW_PER_MAC - DW_PAIRED_PER_MAC) * dw
    widened = paired - (CONV_PER_MAC - CONV_WIDENED_PER_MAC) * conv2d
    return {"conv_macs": conv, "dw_macs": dw, "outputs": conv_out + dw_out, "floor": int(total),
            "floor_paired": int(paired), "floor_widened": int(widened)}


def table(models: Path, measured: dict[str, int]) -> str:
    lines = ["## Instruction floor of the inner loops (cortex-m4)", "",
             f"`python3 bench/instruction_floor.py`: convolution and fully connected MACs at {CONV_PER_MAC} "
             f"instructions, depthwise MACs at {DW_PER_MAC:g}, each output's requantization at {PER_OUTPUT}, "
             "nothing else (the script's docstring derives each figure from the kernels' loops). A target "
             "below the floor cannot be met by tuning these loops. The second floor prices depthwise MACs at "
             f"{DW_PAIRED_PER_MAC}, a tap-pairing loop not built here; the third also every convolution MAC "
             "at 16/24, the two-channel routine over filters staged widened to int16 (`--stage-weights`).", "",
             "| model | conv + FC MACs | depthwise MACs | outputs | floor | floor, paired depthwise taps "
             "| floor, paired taps and widened filters | measured (bench_cortexm) | issue 11 target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, fname, target in ROWS:
        f = floor(models / fname)
        meas = measured.get(fname)
        verdict = ("below every floor" if target < f["floor_widened"] else
                   "above the widened floor only" if target < f["floor_paired"] else
                   "below the first floor only" if target < f["floor"] else "above the floor")
        lines.append(f"| {label} | {f['conv_macs']:,} | {f['dw_macs']:,} | {f['outputs']:,} | {f['floor']:,} "
                     f"| {f['floor_paired']:,} | {f['floor_widened']:,} | {f'{meas:,}' if meas else '-'} "
                     f"| {int(target):,} ({verdict}) |")
    return "\n".join(lines) + "\n"


def measured_counts(path: Path) -> dict[str, int]:
    """The M4 instruction counts bench_cortexm last wrote into BENCHMARKS.md, by file."""
    if not path.exists():
        return {}
    text = path.read_text()
    part = text.split("### cortex-m4", 1)[-1].split("###", 1)[0]
    out = {}
    for label, fname, _t in ROWS:
        for line in part.splitlines():
            if line.startswith(f"| {label} |"):
                out[fname] = int(line.split("|")[2].strip().replace(",", ""))
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
