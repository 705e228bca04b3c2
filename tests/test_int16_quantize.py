"""quantize --activations int16: TFLite's 16x8 post-training quantization, run by TFLM and
compiled byte-exact by microlith."""
import numpy as np
import pytest

import microlith
from microlith.ir import MicrolithError, Op


def _zoo_without_hard_swish():
    from test_quantize import (
        zoo_graph,  # every op kind the quantizer treats differently
    )
    g = zoo_graph()
    g.nodes = [n.replace(op=Op.RELU) if n.op is Op.HARD_SWISH else n for n in g.nodes]
    return g


def test_quantize_int16_cli_writes_a_16x8_model_microlith_compiles_exactly(tmp_path, capsys):
    import json

    from microlith.cli import main
    from microlith.frontends.tflite import load_tflite
    from microlith.frontends.tflite_writer import write_tflite
    (tmp_path / "zoo.tflite").write_bytes(write_tflite(_zoo_without_hard_swish()))
    rng = np.random.default_rng(8)
    np.save(tmp_path / "cal.npy", rng.normal(0, 1, (32, 1, 8, 8, 3)).astype(np.float32))
    out = tmp_path / "zoo16.tflite"
    assert main(["quantize", str(tmp_path / "zoo.tflite"), "--calibration", str(tmp_path / "cal.npy"),
                 "--activations", "int16", "-o", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["activations"] == "int16" and r["io"] == "int16"
    # 16x8 is worth its bytes: the int8 model of the same data loses far more (measured 49 dB).
    assert r["accuracy"]["output_sqnr_db"] > 55, r["accuracy"]
    gq = load_tflite(out)
    acts = [gq.t(n) for n in gq.activations()]
    assert {t.dtype for t in acts} == {"int16"} and all(t.quant.zero_point == (0,) for t in acts)
    assert gq.t("b0").dtype == "int64" and gq.t("w0").dtype == "int8"
    assert gq.t("t7").quant.scale == (1 / 32768,) and gq.t("y").quant.scale == (1 / 32768,)   # logistic, softmax
    assert [n.op for n in gq.nodes].count(Op.QUANTIZE) == 1   # int16 -> int16 in front of the concatenation
    res = microlith.verify(str(out), samples=4)
    assert res["bit_exact"], res


def test_quantize_int16_float_io(tmp_path):
    from microlith.frontends.tflite_writer import write_tflite
    from microlith.quantize.ptq import quantize_graph
    rng = np.random.default_rng(9)
    gq = quantize_graph(_zoo_without_hard_swish(), [[rng.normal(0, 1, (1, 8, 8, 3)).astype(np.float32)]
                                                    for _ in range(16)], activations="int16", io="float")
    assert gq.t("x").dtype == "float32" and gq.t("x_int16").dtype == "int16"
    path = tmp_path / "zoo16f.tflite"
    path.write_bytes(write_tflite(gq))
    res = microlith.verify(str(path), samples=3)
    assert res["bit_exact"], res


def test_quantize_int16_refuses_ops_tflm_has_no_int16_kernel_for(tmp_path):
    from test_quantize import zoo_graph

    from microlith.quantize.ptq import quantize_graph
    with pytest.raises(MicrolithError, match="HARD_SWISH has no int16 kernel in TFLM"):
        quantize_graph(zoo_graph(), [[np.zeros((1, 8, 8, 3), np.float32)]], activations="int16")


def test_quantize_int16_refuses_int8_io():
    from microlith.quantize.ptq import quantize_graph
    with pytest.raises(MicrolithError, match="io must be 'int16' \\(the activation type\\) or 'float'"):
        quantize_graph(_zoo_without_hard_swish(), [[np.zeros((1, 8, 8, 3), np.float32)]],
                       activations="int16", io="int8")


@pytest.mark.cortexm
@pytest.mark.parametrize("target", ["cortex-m0", "cortex-m4"])
def test_quantized_int16_model_exact_on_cortexm(tmp_path, target):
    # Every int16 kernel (and the int64 arithmetic of the conv/FC requantization) cross-compiled
    # for an ARMv6-M and an ARMv7E-M core, run on QEMU against TFLM.
    import shutil

    from microlith.frontends.tflite_writer import write_tflite
    from microlith.quantize.ptq import quantize_graph
    from microlith.targets import cortexm
    if any(shutil.which(t) is None for t in (cortexm.CC, cortexm.QEMU)):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    rng = np.random.default_rng(10)
    gq = quantize_graph(_zoo_without_hard_swish(), [[rng.normal(0, 1, (1, 8, 8, 3)).astype(np.float32)]
                                                    for _ in range(16)], activations="int16")
    path = tmp_path / "zoo16.tflite"
    path.write_bytes(write_tflite(gq))
    res = microlith.verify(str(path), target=target, samples=3)
    assert res["bit_exact"], res
