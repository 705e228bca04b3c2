"""Window geometry shared by Conv and the pools (ONNX pads -> TFLite SAME/VALID or a PAD)."""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import Op
from .values import INT32_MAX, Builder, Val, ir_shape_of


@dataclass
class Window:
    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pad_begin: list[int]
    pad_end: list[int]
    out: list[int]

    def padding(self, spatial: list[int]) -> str | None:
        """'VALID' or 'SAME' if TFLite's windows equal ONNX's, else None (needs a PAD)."""
        if all(p == 0 for p in self.pad_begin) and all(
                o == (i - (k - 1) * d - 1) // s + 1
                for i, k, d, s, o in zip(spatial, self.kernel, self.dilations, self.strides, self.out)):
            return "VALID"
        for i, k, d, s, o, pb in zip(spatial, self.kernel, self.dilations, self.strides, self.out,
                                     self.pad_begin):
            same_out = -(-i // s)
            total = max((same_out - 1) * s + (k - 1) * d + 1 - i, 0)
            if o != same_out or pb != total // 2:
                return None
        return "SAME"

    def explicit_pads(self, spatial: list[int]) -> list[tuple[int, int]]:
        """Per spatial dim (before, after) for a PAD so that a VALID window gives `out`."""
        return [(pb, max(0, (o - 1) * s + (k - 1) * d + 1 - i - pb))
                for i, k, d, s, o, pb in zip(spatial, self.kernel, self.dilations, self.strides,
                                             self.out, self.pad_begin)]


def window_of(b: Builder, at: dict, spatial: list[int], kernel: list[int], ceil_mode: bool = False) -> Window:
    nd = len(spatial)
    strides = list(at.get("strides", [1] * nd))
    dilations = list(at.get("dilations", [1] * nd))
    pads = list(at.get("pads", [0] * (2 * nd)))
    if len(kernel) != nd or len(strides) != nd or len(dilations) != nd or len(pads) != 2 * nd:
        raise b.fail(f"kernel/strides/dilations/pads do not match the {nd} spatial dimension(s)")
    if min(kernel + strides + dilations) < 1 or min(pads) < 0:
        raise b.fail(f"kernel {kernel}, strides {strides}, dilations {dilations} must be >= 1 "
                     f"and pads {pads} >= 0")
    if max(kernel + strides + dilations + pads) > INT32_MAX:  # TFLite holds them as int32
        raise b.fail(f"kernel {kernel}, strides {strides}, dilations {dilations} or pads {pads} exceed "
                     f"{INT32_MAX}")
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    begin, end = pads[:nd], pads[nd:]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i, k, d, s in zip(spatial, kernel, dilations, strides):
            total = max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
    elif auto == "VALID":
        begin, end = [0] * nd, [0] * nd
    elif auto != "NOTSET":
        raise b.fail(f"unknown auto_pad '{auto}'")
    out = []
    for i, k, d, s, pb, pe in zip(spatial, kernel, dilations, strides, begin, end):
        span = i + pb + pe - (k - 1) * d - 1
        if span < 0:
            raise b.fail(f"the window ({k} x dilation {d}) is larger than the padded input ({i + pb + pe})")
        o = -(-span // s) + 1 if ceil_mode else span // s + 1
        if ceil_mode and (o - 1) * s >= i + pb:  # a last window starting in the end padding is dropped
            o -= 1
        out.append(o)
    return Window(list(kernel), strides, dilations, begin, end, out)


def to_2d(vals: list, rank: int, fill: int) -> list:
    """1-D window parameters -> 2-D with height 1 (the 1-D rule)."""
    return [fill] + list(vals) if rank == 3 else list(vals)


def pad_explicit(b: Builder, x: Val, pads2d: list[tuple[int, int]]) -> Val:
    n, h, w, c = ir_shape_of(x)
    (ph0, ph1), (pw0, pw1) = pads2d
    shape = (n, h + ph0 + ph1, w + pw0 + pw1, c)
    paddings = b.const(f"{x.name}_pads", [[0, 0], [ph0, ph1], [pw0, pw1], [0, 0]])
    name = b.emit(Op.PAD, [x.name, paddings], shape, f"{x.name}_padded")
    # A cl value of ONNX rank 3 is stored with height 1; padding only its width keeps that form.
    onnx_shape = (n, c, shape[1], shape[2]) if x.rank == 4 else (n, c, shape[2])
    return Val(name, onnx_shape, cl=True, nonneg=x.nonneg)


def spatial_of(x: Val) -> list[int]:
    n, h, w, c = ir_shape_of(x)
    return [h, w]


def onnx_out(x: Val, channels: int, hw: list[int]) -> tuple:
    n = x.shape[0]
    return (n, channels, hw[0], hw[1]) if x.rank == 4 else (n, channels, hw[1])


