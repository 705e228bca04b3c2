"""On a mismatch, verify names the first layer whose output differs from TFLM's."""
import re
from pathlib import Path

import numpy as np

import microlith
from microlith.verify import HostModel, compare, first_differing_layer, random_inputs

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
KWS = MODELS / "kws_ref_model.tflite"


def test_tampered_layer_is_named(tmp_path):
    g = microlith.load(KWS)
    microlith.compile(g, tmp_path / "c", measure=False)
    src = tmp_path / "c" / "src" / f"{g.name}.c"
    text = src.read_text()
    # Break layer 4 (a pointwise conv): shift its output zero point by one.
    pattern = re.compile(r"(static const ml_conv_params kws_ref_model_l4_params = \{[^}]*\.output_offset = )(-?\d+)")
    assert pattern.search(text), "layer 4 params not found"
    src.write_text(pattern.sub(lambda m: m.group(1) + str(int(m.group(2)) + 1), text))
    host = HostModel(tmp_path / "c", g, g.name, tmp_path)
    rng = np.random.default_rng(0)
    samples = [random_inputs(g, rng) for _ in range(5)]
    res = compare(g, KWS.read_bytes(), host.run, samples)
    assert res["mismatched_samples"] > 0
    diff = first_differing_layer(g, KWS.read_bytes(), host, samples[res["first_bad"]])
    assert diff is not None and diff.layer == 4 and diff.op == "CONV_2D"
    assert diff.differing_bytes > 0 and "#4 CONV_2D" in diff.describe()


def test_clean_build_has_no_differing_layer(tmp_path):
    g = microlith.load(KWS)
    microlith.compile(g, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", g, g.name, tmp_path)
    xs = random_inputs(g, np.random.default_rng(1))
    assert first_differing_layer(g, KWS.read_bytes(), host, xs) is None
