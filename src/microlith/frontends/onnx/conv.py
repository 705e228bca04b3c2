"""Conv (1-D and 2-D, group 1 or depthwise) -> CONV_2D / DEPTHWISE_CONV_2D."""
from __future__ import annotations

import numpy as np

from ...ir import Op
from .values import Builder, Val
from .window import onnx_out, pad_explicit, spatial_of, to_2d, window_of


def conv(b: Builder, node, ins, at) -> list:
    x = b.channels_last(b.need_act(ins[0]))
    w = b.need_const(ins[1], "weight").astype(np.float32)
    bias = ins[2] if len(ins) > 2 else None
    if bias is not None:
        bias = b.need_const(bias, "bias").astype(np.float32).reshape(-1)
    if w.ndim != x.rank:
        raise b.fail(f"weight of rank {w.ndim} does not fit input {list(x.shape)}")
    cin, cout, group = x.shape[1], w.shape[0], int(at.get("group", 1))
    if bias is None:
        bias = np.zeros(cout, np.float32)
    if bias.size != cout:
        raise b.fail(f"bias has {bias.size} values for {cout} output channels")
    kernel = list(w.shape[2:]) if "kernel_shape" not in at else list(at["kernel_shape"])
    if kernel != list(w.shape[2:]):
        raise b.fail(f"kernel_shape {kernel} does not match the weight shape {list(w.shape)}")
    if w.ndim == 3:  # 1-D: weights [Co, Ci/g, K] -> [Co, Ci/g, 1, K]
        w = w[:, :, None, :]
    for k in ("strides", "dilations"):
        if k in at and len(at[k]) != x.rank - 2:
            raise b.fail(f"{k} {at[k]} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
    at2 = {k: to_2d(at[k], x.rank, f) for k, f in (("strides", 1), ("dilations", 1)) if k in at}
    if "pads" in at:
        p = list(at["pads"])
        if len(p) != 2 * (x.rank - 2):
            raise b.fail(f"pads {p} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
        at2["pads"] = p if x.rank == 4 else [0, p[0], 0, p[1]]
    if "auto_pad" in at:
        at2["auto_pad"] = at["auto_pad"]
    win = window_of(b, at2, spatial_of(x), list(w.shape[2:]))
    padding = win.padding(spatial_of(x))
    if padding is None:
        x = pad_explicit(b, x, win.explicit_pads(spatial_of(x)))
        padding = "VALID"
    geo = dict(padding=padding, stride_h=win.strides[0], stride_w=win.strides[1],
               dilation_h=win.dilations[0], dilation_w=win.dilations[1])
    shape = (x.shape[0], win.out[0], win.out[1], cout)
    if group == 1:
        if w.shape[1] != cin:
            raise b.fail(f"weight expects {w.shape[1]} input channels, the input has {cin}")
        wt = b.const(f"{b.out_name()}_weights", w.transpose(0, 2, 3, 1))     # [Co, Kh, Kw, Ci]
        bt = b.const(f"{b.out_name()}_bias", bias)
        out = b.emit(Op.CONV_2D, [x.name, wt, bt], shape, b.out_name(), **geo)
    elif group == cin and w.shape[1] == 1 and cout % cin == 0:
        wt = b.const(f"{b.out_name()}_weights", w.transpose(1, 2, 3, 0))     # [1, Kh, Kw, Co]
        bt = b.const(f"{b.out_name()}_bias", bias)
        out = b.emit(Op.DEPTHWISE_CONV_2D, [x.name, wt, bt], shape, b.out_name(),
                     depth_multiplier=cout // cin, **geo)
    else:
        raise b.fail(f"grouped convolution (group={group}, {cin} input channels) is not supported; "
                     "only group=1 and depthwise (group = input channels) are")
    return [Val(out, onnx_out(x, cout, win.out), cl=True)]


