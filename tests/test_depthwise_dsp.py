"""DEPTHWISE_CONV_2D's DSP data laid out at code generation (ops/conv.py, issue 11): the 3x3
path over int16 planes of channel pairs, and the four-channel group path reading its group
data from flash, each byte-exact against TFLM on an emulated Cortex-M4; and the size switch
that keeps the data out of flash."""
import pytest

from microlith.codegen.c import prepare
from microlith.ir import Op
from microlith.ops import conv, impl_for
from test_conv import conv_graph
from test_fast_kernels import on_cortexm, params_of, verify_on

# name: (x_shape, keyword arguments); all 3x3, stride 1, wide enough for the 3x3 path
PLANAR_CASES = {
    "odd_width_batch2_zp127": ((2, 7, 9, 6), dict(in_zp=127)),          # extra column, 3 pairs
    "valid_no_bias": ((1, 8, 10, 4), dict(padding="VALID", bias="omit")),
    "tall_bands_two_channels": ((1, 19, 8, 2), dict(in_zp=-128, out_zp=127)),  # 3 bands of rows
    # the second image's first band must not read the first image's last rows as its top padding
    "batch2_two_bands_zp127": ((2, 11, 6, 8), dict(in_zp=127)),
    "zp_min_max_per_tensor": ((1, 6, 6, 8), dict(in_zp=-128, out_zp=-128, per_channel=False)),
    # a line of 4 outputs then 3 (two pairs, the last storing one), and of 2 quads then 3
    "width_7_tail_of_3": ((1, 9, 7, 4), dict(in_zp=5)),
    "width_11_tail_of_3_no_bias": ((1, 6, 11, 2), dict(bias="omit", out_zp=127)),
}


def dw_graph(x_shape, seed, **kw):
    return conv_graph(x_shape, None, (3, 3), depth_multiplier=1, seed=seed, **kw)


@on_cortexm
@pytest.mark.parametrize("name", list(PLANAR_CASES))
def test_3x3_path_exact(tmp_path, name):
    x_shape, kw = PLANAR_CASES[name]
    g = dw_graph(x_shape, seed=len(name) + 7, **kw)
    assert params_of(g)["dsp_channels"] is not None, "expected the 3x3 path"
    verify_on(g, tmp_path)


def test_layout_choice_and_size_switch():
    narrow = dw_graph((1, 6, 5, 8), seed=1)          # 5 columns: the group path pays more
    wide = dw_graph((1, 6, 7, 8), seed=1)
    p_narrow, p_wide = params_of(narrow), params_of(wide)
    assert p_narrow["dsp_channels"] is None and p_narrow["dsp_groups"] is not None
    assert p_wide["dsp_channels"] is not None and p_wide["dsp_groups"] is None
    # group data: a flag per group, then 4 + 2 * 9 + 12 words per group of four channels
    assert p_narrow["dsp_groups"].size == 2 + 2 * (4 + 18 + 12)
    assert p_wide["dsp_channels"].size == 8 * 10
    node = wide.nodes[0]
    off = impl_for(Op.DEPTHWISE_CONV_2D).prepare(node, wide, offline_groups=False)
    assert off["dsp_channels"] is None and off["dsp_groups"] is None
    # --optimize size makes every layer a "size" layer: codegen prepares it again without the
    # layout, on the 3x3 path all the same (the kernel derives a channel pair's data per call,
    # in 80 more bytes of scratch)
    sized = prepare(wide, optimize="size").params[0]
    assert sized["dsp_channels"] is None and sized["dsp_groups"] is None and sized["dsp_lines"] == "rows"
    impl = impl_for(Op.DEPTHWISE_CONV_2D)
    assert impl.scratch_bytes(node, wide, sized) == impl.scratch_bytes(node, wide, p_wide) + 80
    assert prepare(wide, optimize="speed").params[0]["dsp_channels"] is not None
    # without offline data the kernel derives its group data in scratch, which needs more
    n_node = narrow.nodes[0]
    n_off = impl.prepare(n_node, narrow, offline_groups=False)
    assert impl.scratch_bytes(n_node, narrow, n_off) > impl.scratch_bytes(n_node, narrow, p_narrow)


@on_cortexm
def test_size_switch_exact(tmp_path, monkeypatch):
    # The per-call group data (no flash layout) stays byte-exact.
    monkeypatch.setattr(conv, "dw_offline_layout", lambda g, node: False)
    g = dw_graph((1, 7, 8, 12), seed=3, in_zp=-128)
    p = params_of(g)
    assert p["dsp_channels"] is None and p["dsp_groups"] is None
    verify_on(g, tmp_path)


@on_cortexm
@pytest.mark.parametrize("shape,out_scale,out_zp", [((1, 6, 8, 8), 5e2, -128), ((1, 6, 8, 8), 5e2, 127),
                                                    ((1, 6, 5, 8), 2e3, 127)],
                         ids=["3x3_path_zp_min", "3x3_path_zp_max", "group_path_mixed"])
def test_shift_22_on_the_fast_requantization(tmp_path, shape, out_scale, out_zp):
    # Shifts down to -22 take the four-instruction requantization (|round| < 2^29 keeps SMMLAR
    # from wrapping, also with the output offset at either end); biases up to 2^26 put the
    # sums where a 2^-22 scale still rounds to many different outputs.
    import numpy as np
    g = dw_graph(shape, seed=11, out_scale=out_scale, out_zp=out_zp)
    b = g.tensors["b"]
    b.data = np.random.default_rng(5).integers(-(1 << 26), 1 << 26, b.size).astype(np.int32)
    p = params_of(g)
    assert -22 in set(p["shift"].tolist()) and p["acc_bounded"]
    assert (p["dsp_channels"] is not None) == (shape[2] >= 6)
    verify_on(g, tmp_path)


# name: (x_shape, keyword arguments); 3x3, stride 1, under 6 output columns but 6 rows or more:
# the 3x3 path along the columns (ML_DW_LAYOUT_3X3_T) when the layer runs whole
COLUMN_CASES = {
    "kws_25x5x64": ((1, 25, 5, 64), {}),
    "batch2_zp127_odd_rows": ((2, 11, 4, 6), dict(in_zp=127)),
    "valid_one_column": ((1, 19, 3, 8), dict(padding="VALID", bias="omit")),
    "zp_limits_two_channels": ((1, 20, 3, 2), dict(in_zp=-128, out_zp=127)),
    "width_1": ((1, 9, 1, 4), dict(per_channel=False)),
    "tail_of_2": ((1, 10, 4, 2), dict(in_zp=-3)),  # columns of 10: two quads and a pair
}


@on_cortexm
@pytest.mark.parametrize("name", list(COLUMN_CASES))
def test_3x3_path_along_columns_exact(tmp_path, name):
    x_shape, kw = COLUMN_CASES[name]
    g = dw_graph(x_shape, seed=len(name) + 3, **kw)
    p = prepare(g).params[0]
    assert p["dsp_transposed"] and p["dsp_channels"] is not None, "expected the 3x3 path along the columns"
    verify_on(g, tmp_path)


DERIVED_CASES = {  # a few of the cases above, in size mode: the same path, its data derived per call
    "rows_odd_width_batch2_zp127": PLANAR_CASES["odd_width_batch2_zp127"],
    "rows_tall_bands_two_channels": PLANAR_CASES["tall_bands_two_channels"],
    "rows_no_bias": PLANAR_CASES["valid_no_bias"],
    "columns_kws_25x5x64": COLUMN_CASES["kws_25x5x64"],
    "columns_zp_limits_per_tensor": ((1, 20, 3, 2), dict(in_zp=-128, out_zp=127, per_channel=False)),
}


@on_cortexm
@pytest.mark.parametrize("name", list(DERIVED_CASES))
def test_3x3_path_with_derived_data_exact(tmp_path, name):
    """--optimize size: the 3x3 path with its per-channel data derived in scratch from the filter
    (transposed along the columns), bias and quantization (ML_DW_LAYOUT_DERIVE), byte-exact with
    TFLM; the generated model holds no 3x3 data."""
    from test_fast_kernels import write
    import microlith
    x_shape, kw = DERIVED_CASES[name]
    g = dw_graph(x_shape, seed=len(name) + 5, **kw)
    p = prepare(g, optimize="size").params[0]
    assert p["dsp_lines"] and p["dsp_channels"] is None and p["dsp_groups"] is None
    path = write(g, tmp_path)
    r = microlith.api.compile(path, tmp_path / "c", optimize="size", measure=False)
    model = (tmp_path / "c" / "src" / f"{r['name']}.c").read_text()
    assert "ML_DW_LAYOUT_DERIVE" in model and "dsp_channels" not in model
    res = microlith.verify(path, target="cortex-m4", samples=4, seed=2, optimize="size")
    assert res["bit_exact"], res


def test_columns_only_for_a_layer_run_whole():
    g = dw_graph((1, 25, 5, 8), seed=2)
    node = g.nodes[0]
    impl = impl_for(Op.DEPTHWISE_CONV_2D)
    # prepared for chunks of rows (the planner may stream it in place): the group path
    chunked, whole = impl.prepare(node, g), impl.prepare(node, g, whole=True)
    assert chunked["dsp_channels"] is None and chunked["dsp_groups"] is not None
    assert whole["dsp_transposed"] and whole["dsp_channels"].size == 8 * 10
    # the window rows of the transposed data are the filter's columns: {w[0][kx], w[1][kx]}
    w = g.t(node.inputs[1]).data[0].astype(int)
    word = int(whole["dsp_channels"][1]) & 0xFFFFFFFF   # channel 0, window row (column) 0, {w0, w1}
    assert (word & 0xFFFF, word >> 16) == ((2 * w[0, 0, 0]) & 0xFFFF, (2 * w[1, 0, 0]) & 0xFFFF)
    # wide enough rows keep the rows; too short both ways keeps the group path
    assert not impl.prepare(dw_graph((1, 25, 6, 8), seed=2).nodes[0], dw_graph((1, 25, 6, 8), seed=2),
                            whole=True)["dsp_transposed"]
    short = dw_graph((1, 5, 5, 8), seed=2)
    assert impl.prepare(short.nodes[0], short, whole=True)["dsp_channels"] is None


@on_cortexm
def test_columns_layer_with_staged_weights(tmp_path):
    # The staging plan reads the layer's final params: run whole along its columns, the layer has
    # no group data to copy (it was planned with the group path's before)
    import microlith
    from opmodels import write
    g = dw_graph((1, 25, 5, 16), seed=4)
    prep = prepare(g, stage_weights=65536)
    assert prep.params[0]["dsp_transposed"] and 0 not in prep.staged
    res = microlith.verify(write(g, tmp_path), target="cortex-m4", samples=3, seed=1, stage_weights=65536)
    assert res["bit_exact"], res
