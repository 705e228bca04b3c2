"""bench/instruction_floor.py: the loops it prices are the routines' (their instruction counts are
the ones the C sources document), and every floor lies below what the built code spends (the
pinned Cortex-M4 counts of bench/perf_pins.json): a floor above a measurement would be wrong."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models" / "mlperf_tiny"


def _floor():
    spec = importlib.util.spec_from_file_location("instruction_floor", ROOT / "bench" / "instruction_floor.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_loops_are_the_documented_ones():
    f = _floor()
    # ml_conv2d_s8.c: the two-channel routine "16 instructions and 26 cycles per 24 MACs, where the
    # six-pixel routine ... (18 and 31)"; ml_depthwise_conv2d_s8.c: per window row of four outputs
    # one LDRD of the weights, one LDM of three plane words and eight multiplies
    assert f.priced(f.P6_BLOCK, 1) == (18, 31)
    assert f.priced(f.PAIRS_BLOCK, 1) == (16, 26)
    assert f.priced(f.DW_QUAD_ROW, 1)[0] == 10
    assert sum(line.startswith("sml") for line in f.DW_QUAD_ROW) == 8
    assert f.priced(f.REQ_PAIR, 1)[0] - f.priced(f.REQ_PAIR_RELU, 1)[0] == 2   # the rounding term per output


@pytest.mark.parametrize("label,fname,target,target_cycles", _floor().ROWS)
def test_floors_lie_below_the_pinned_counts(label, fname, target, target_cycles):
    f = _floor().floor(MODELS / fname)
    pinned = json.loads((ROOT / "bench" / "perf_pins.json").read_text())[fname]["cortex-m4"]
    assert f["floor_widened"] <= f["floor_paired"] <= f["floor"] < pinned, label
    assert f["cycles_widened"] <= f["cycles"]
    # KWS and VWW qualify for the ReLU form (every convolution and depthwise layer a fused ReLU at
    # -128), ResNet-8 mixes both kinds and AD has no such layer
    assert f["relu"] == (fname in ("kws_ref_model.tflite", "vww_96_int8.tflite"))
