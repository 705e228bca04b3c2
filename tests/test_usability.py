"""Small things a user hits first (issue 9): bounded printing, options that would be ignored,
pipes closed early, every op in the per-layer legend."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import microlith
from microlith.report.html import _op_colors

ROOT = Path(__file__).resolve().parent.parent
VWW = ROOT / "examples" / "models" / "mlperf_tiny" / "vww_96_int8.tflite"
KWS = ROOT / "examples" / "models" / "mlperf_tiny" / "kws_ref_model.tflite"


def test_print_graph_is_a_summary_not_the_weights():
    g = microlith.load(VWW)
    text = str(g)
    assert len(text) < 8000 and text.count("\n") == len(g.nodes)
    assert "DEPTHWISE_CONV_2D" in text
    assert len(repr(g)) < 300
    w = g.t(g.nodes[0].inputs[1])
    assert len(repr(w)) < 200 and "const" in repr(w)


def test_input_shape_for_tflite_is_refused_not_ignored():
    r = subprocess.run([sys.executable, "-m", "microlith.cli", "inspect", str(KWS), "--input-shape", "1,49,10,1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--input-shape is for ONNX" in r.stderr


def test_output_piped_into_head_ends_quietly():
    cmd = f"{sys.executable} -m microlith.cli inspect {VWW} | head -n 1"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout.count("\n") == 1


def test_every_op_gets_its_own_legend_entry():
    ops = ["CONV_2D", "TRANSPOSE", "MEAN", "CONV_2D", "PAD", "STRIDED_SLICE"]
    colors = _op_colors(ops)
    assert set(colors) == set(ops)
    assert len(set(colors.values())) == len(colors)
