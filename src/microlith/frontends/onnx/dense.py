"""Dense layers: Gemm and MatMul with constant weights -> FULLY_CONNECTED; MatMul of two
computed tensors -> BATCH_MATMUL."""
from __future__ import annotations

import numpy as np

from ...ir import Op
from .values import Builder, Val, broadcast


def fully_connected(b: Builder, x: Val, weights: np.ndarray, bias: np.ndarray, name: str) -> Val:
    """y = x @ weights.T + bias over the last axis; weights [out, in]."""
    x = b.plain(x)
    if x.shape[-1] != weights.shape[1]:
        raise b.fail(f"input {list(x.shape)} does not fit weights of {weights.shape[1]} inputs")
    shape = x.shape[:-1] + (weights.shape[0],)
    wt = b.const(f"{b.out_name()}_weights", weights.astype(np.float32))
    bt = b.const(f"{b.out_name()}_bias", bias.astype(np.float32))
    out = b.emit(Op.FULLY_CONNECTED, [x.name, wt, bt], shape, name, keep_num_dims=x.rank > 2)
    return Val(out, shape)


def gemm(b: Builder, node, ins, at) -> list:
    a = b.plain(b.need_act(ins[0], "input A"))
    w = b.need_const(ins[1], "input B (weights)").astype(np.float32)
    c = ins[2] if len(ins) > 2 else None
    if a.rank != 2 or w.ndim != 2:
        raise b.fail(f"Gemm needs 2-D operands, got {list(a.shape)} and {list(w.shape)}")
    if at.get("transA", 0):
        a = Val(b.transpose(a.name, (1, 0), a.shape), a.shape[::-1])
    w = w * np.float32(at.get("alpha", 1.0))
    w = w if at.get("transB", 0) else w.T                      # -> [N, K]
    n_out = w.shape[0]
    beta = np.float32(at.get("beta", 1.0))
    bias = np.zeros(n_out, np.float32)
    add = None
    if isinstance(c, np.ndarray):
        if c.size in (1, n_out) and (c.ndim < 2 or c.shape[0] == 1):
            bias = np.broadcast_to(c.astype(np.float32).reshape(-1) * beta, (n_out,))
        else:
            add = c.astype(np.float32) * beta
    elif isinstance(c, Val):
        if beta != 1:
            raise b.fail("a computed C input with beta != 1 is not supported")
        add = c
    y = fully_connected(b, a, w, bias, None if add is not None else b.out_name())
    if add is None:
        return [y]
    shape = broadcast(b, y.shape, add.shape)
    other = b.plain(add).name if isinstance(add, Val) else b.const(f"{b.out_name()}_c", add)
    return [Val(b.emit(Op.ADD, [y.name, other], shape, b.out_name()), shape)]


def matmul(b: Builder, node, ins, at) -> list:
    """MatMul by constant weights: FULLY_CONNECTED. The weights may be 2-D [K, N], a vector [K]
    (the result loses its last axis, as numpy's matmul) or [1, ..., 1, K, N] (the result gains
    the leading ones)."""
    a, w = ins
    if isinstance(a, Val) and isinstance(w, Val):
        return [batch_matmul(b, a, w)]
    if not (isinstance(a, Val) and isinstance(w, np.ndarray) and a.rank >= 1 and w.ndim >= 1 and
            all(d == 1 for d in w.shape[:-2])):
        raise b.fail("MatMul is supported with a computed left operand and a constant right operand "
                     "(weights) of shape [K, N], [K] or [1, ..., K, N], or with two computed operands")
    w2 = w.reshape(-1, 1) if w.ndim == 1 else w.reshape(w.shape[-2:])
    if w.ndim == 2:
        return [fully_connected(b, a, w2.astype(np.float32).T, np.zeros(w2.shape[1], np.float32), b.out_name())]
    y = fully_connected(b, a, w2.astype(np.float32).T, np.zeros(w2.shape[1], np.float32), None)
    if w.ndim == 1:
        shape = y.shape[:-1]
    else:
        shape = (1,) * (w.ndim - y.rank) + y.shape
    if not shape:
        raise b.fail(f"the product of {list(a.shape)} and {list(w.shape)} is a scalar; not supported")
    return [Val(b.reshape(y, shape, b.out_name()), shape)]


def batch_matmul(b: Builder, a: Val, c: Val) -> Val:
    """MatMul of two computed tensors of ranks 2 to 5 (TFLM's BATCH_MATMUL), batch dimensions
    broadcast as numpy's. A 1-D operand would need its axis added and removed: refused."""
    a, c = b.plain(a), b.plain(c)
    if not (2 <= a.rank <= 5 and 2 <= c.rank <= 5):
        raise b.fail(f"a MatMul of two computed tensors needs ranks 2 to 5 (TFLM's BATCH_MATMUL), got "
                     f"{list(a.shape)} and {list(c.shape)}")
    if a.shape[-1] != c.shape[-2]:
        raise b.fail(f"operands {list(a.shape)} and {list(c.shape)} do not multiply")
    shape = broadcast(b, a.shape[:-2], c.shape[:-2]) + (a.shape[-2], c.shape[-1])
    return Val(b.emit(Op.BATCH_MATMUL, [a.name, c.name], shape, b.out_name(), adj_x=False, adj_y=False), shape)
