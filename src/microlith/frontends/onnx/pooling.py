"""Pools and reductions: MaxPool, AveragePool, global pools, ReduceMax, ReduceMean."""
from __future__ import annotations

from ...ir import Op
from .shape import axes_operand, reshape_to
from .values import CL_AXES, Builder, Val, cl_shape, ir_shape_of, norm_axis
from .window import onnx_out, pad_explicit, spatial_of, to_2d, window_of


def pool(b: Builder, node, ins, at) -> list:
    x = b.channels_last(b.need_act(ins[0]))
    if len(node.output) > 1 and node.output[1]:
        raise b.fail("the Indices output of MaxPool is not supported")
    kernel = list(at.get("kernel_shape", []))
    if len(kernel) != x.rank - 2:
        raise b.fail(f"kernel_shape {kernel} does not fit input {list(x.shape)}")
    if any(d != 1 for d in at.get("dilations", [1] * len(kernel))):
        raise b.fail(f"dilated pooling (dilations {list(at['dilations'])}) is not supported")
    if "strides" in at and len(at["strides"]) != x.rank - 2:
        raise b.fail(f"strides {at['strides']} do not fit the {x.rank - 2} spatial dimension(s) of input "
                     f"{list(x.shape)}")
    at2 = {k: to_2d(at[k], x.rank, 1) for k in ("strides",) if k in at}
    if "pads" in at:
        p = list(at["pads"])
        if len(p) != 2 * (x.rank - 2):
            raise b.fail(f"pads {p} do not fit the {x.rank - 2} spatial dimension(s) of input {list(x.shape)}")
        at2["pads"] = p if x.rank == 4 else [0, p[0], 0, p[1]]
    if "auto_pad" in at:
        at2["auto_pad"] = at["auto_pad"]
    win = window_of(b, at2, spatial_of(x), to_2d(kernel, x.rank, 1), bool(at.get("ceil_mode", 0)))
    padding = win.padding(spatial_of(x))
    is_max = node.op_type == "MaxPool"
    if padding is None or (not is_max and at.get("count_include_pad", 0) and any(win.pad_begin)):
        # ONNX averages padded zeros in only with count_include_pad=1, exactly what a PAD in
        # front of a VALID pool does; a max pool may pad zeros when its input is >= 0.
        if is_max and not x.nonneg:
            raise b.fail(f"MaxPool pads {list(at.get('pads', []))} are neither SAME nor VALID for "
                         f"input {list(x.shape)}, and the input is not known to be >= 0 (then zero "
                         "padding would be exact); not supported")
        if not is_max and not at.get("count_include_pad", 0):
            raise b.fail(f"AveragePool pads {list(at.get('pads', []))} with count_include_pad=0 are "
                         f"neither SAME nor VALID for input {list(x.shape)}; not supported")
        if not is_max and any((o - 1) * s + k > i + pb + pe for o, s, k, i, pb, pe in
                              zip(win.out, win.strides, win.kernel, spatial_of(x), win.pad_begin, win.pad_end)):
            raise b.fail("ceil_mode windows past the padding with count_include_pad=1 are not supported")
        x = pad_explicit(b, x, win.explicit_pads(spatial_of(x)))
        padding = "VALID"
    shape = (x.shape[0], win.out[0], win.out[1], x.shape[1])
    op = Op.MAX_POOL_2D if is_max else Op.AVERAGE_POOL_2D
    out = b.emit(op, [x.name], shape, b.out_name(), padding=padding, stride_h=win.strides[0],
                 stride_w=win.strides[1], filter_h=win.kernel[0], filter_w=win.kernel[1])
    return [Val(out, onnx_out(x, x.shape[1], win.out), cl=True, nonneg=x.nonneg)]


def global_pool(b: Builder, x: Val, is_max: bool, name: str | None) -> Val:
    """Mean or max over all spatial axes, keeping them as size 1."""
    x = b.channels_last(x)
    n, h, w, c = ir_shape_of(x)
    if is_max:
        out = b.emit(Op.MAX_POOL_2D, [x.name], (n, 1, 1, c), name, padding="VALID",
                     stride_h=1, stride_w=1, filter_h=h, filter_w=w)
    else:
        out = b.emit(Op.MEAN, [x.name, b.const(f"{name or x.name}_axes", [1, 2])], (n, 1, 1, c), name,
                     keep_dims=True)
    return Val(out, x.shape[:2] + (1,) * (x.rank - 2), cl=True, nonneg=x.nonneg)


def global_pool_op(b: Builder, node, ins, at) -> list:
    return [global_pool(b, b.need_act(ins[0]), node.op_type == "GlobalMaxPool", b.out_name())]


def reduce_max(b: Builder, node, ins, at) -> list:
    """Only over all spatial axes: a global max pool (torch.export writes AdaptiveMaxPool(1) so)."""
    x = b.need_act(ins[0])
    axes = axes_operand(b, ins, at)
    axes = sorted({norm_axis(b, a, x.rank) for a in axes}) if axes else list(range(x.rank))
    if x.rank not in (3, 4) or axes != list(range(2, x.rank)):
        raise b.fail(f"ReduceMax over axes {axes} of shape {list(x.shape)} is not supported; only over "
                     "all spatial axes of a [N,C,L] or [N,C,H,W] tensor (a global max pool)")
    if at.get("keepdims", 1):
        return [global_pool(b, x, True, b.out_name())]
    return reshape_to(b, global_pool(b, x, True, None), x.shape[:2])


def reduce_mean(b: Builder, node, ins, at) -> list:
    x = b.need_act(ins[0])
    axes = axes_operand(b, ins, at)
    keep = bool(at.get("keepdims", 1))
    if not axes:
        if axes is not None and at.get("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(x.rank))
    axes = sorted({norm_axis(b, a, x.rank) for a in axes})
    shape = tuple(1 if k in axes else d for k, d in enumerate(x.shape) if keep or k not in axes)
    if x.cl:
        # Reduce in place when what is left keeps ONNX order (always with keepdims; without,
        # when the channels or all the spatial axes go: a global pool).
        kept = [CL_AXES[x.rank][a] for a in range(x.rank) if a not in axes]
        if keep or kept == sorted(kept):
            ir_axes = sorted({CL_AXES[x.rank][a] for a in axes} | ({1} if x.rank == 3 and not keep else set()))
            out = b.emit(Op.MEAN, [x.name, b.const(f"{b.out_name()}_axes", ir_axes)],
                         cl_shape(shape) if keep else shape, b.out_name(), keep_dims=keep)
            return [Val(out, shape, cl=keep, nonneg=x.nonneg)]
        x = b.plain(x)
    out = b.emit(Op.MEAN, [x.name, b.const(f"{b.out_name()}_axes", axes)], shape, b.out_name(),
                 keep_dims=keep)
    return [Val(out, shape, nonneg=x.nonneg)]


