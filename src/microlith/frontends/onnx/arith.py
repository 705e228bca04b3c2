"""Arithmetic on operands that are either constants (np.ndarray) or computed values (Val), for
lowerings that expand one ONNX op into a formula (GRU, LSTM, GELU). A result whose operands are
all constant is computed here, in float32, and no IR op is emitted; a constant 0 or 1 operand
of ADD/SUB/MUL is simplified away. So an unrolled recurrence with a zero initial state starts
with exactly the ops its first step needs, and quantize never sees an op on constants only.

Values are "plain" (ONNX memory order) and broadcast as numpy does; constants are float32.
"""
from __future__ import annotations

import numpy as np

from ...ir import Op
from .dense import fully_connected
from .elementwise import elementwise_const
from .values import Builder, Val, broadcast


def const(x) -> np.ndarray:
    return np.asarray(x, np.float32)


def _is(x, value: float) -> bool:
    return isinstance(x, np.ndarray) and bool(np.all(x == value))


def _shape(x) -> tuple:
    return tuple(x.shape)


def _binary(b: Builder, op: Op, x, y, fold) -> object:
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return const(fold(x, y))
    if isinstance(y, np.ndarray):
        return elementwise_const(b, op, b.plain(x), const(y), None)
    if isinstance(x, np.ndarray):
        return elementwise_const(b, op, b.plain(y), const(x), None, const_first=True)
    x, y = b.plain(x), b.plain(y)
    shape = broadcast(b, x.shape, y.shape)
    return Val(b.emit(op, [x.name, y.name], shape), shape)


def _expand(b: Builder, v, shape_of) -> object:
    """`v` broadcast to the result shape of an op it alone decides (x + 0 = x needs x's shape
    to be the result's)."""
    shape = broadcast(b, _shape(v), _shape(shape_of))
    if shape == _shape(v):
        return v
    if isinstance(v, np.ndarray):
        return const(np.broadcast_to(v, shape))
    return add_const_zero(b, v, shape)


def add_const_zero(b: Builder, v: Val, shape: tuple) -> Val:
    return elementwise_const(b, Op.ADD, b.plain(v), np.zeros(shape, np.float32), None)


def add(b: Builder, x, y):
    if _is(y, 0):
        return _expand(b, x, y)
    if _is(x, 0):
        return _expand(b, y, x)
    return _binary(b, Op.ADD, x, y, np.add)


def sub(b: Builder, x, y):
    if _is(y, 0):
        return _expand(b, x, y)
    return _binary(b, Op.SUB, x, y, np.subtract)


def mul(b: Builder, x, y):
    if _is(x, 0) or _is(y, 0):
        return np.zeros(broadcast(b, _shape(x), _shape(y)), np.float32)
    if _is(y, 1):
        return _expand(b, x, y)
    if _is(x, 1):
        return _expand(b, y, x)
    return _binary(b, Op.MUL, x, y, np.multiply)


def _unary(b: Builder, op: Op, x, fold):
    if isinstance(x, np.ndarray):
        return const(fold(x.astype(np.float64)))
    x = b.plain(x)
    return Val(b.emit(op, [x.name], x.shape), x.shape, nonneg=op is Op.LOGISTIC)


def sigmoid(b: Builder, x):
    return _unary(b, Op.LOGISTIC, x, lambda v: 1 / (1 + np.exp(-v)))


def tanh(b: Builder, x):
    return _unary(b, Op.TANH, x, np.tanh)


def dense(b: Builder, x, weights: np.ndarray, bias: np.ndarray):
    """x @ weights.T + bias (weights [out, in]): a FULLY_CONNECTED, or folded for a constant x."""
    if isinstance(x, np.ndarray):
        return const(x.astype(np.float64) @ weights.T.astype(np.float64) + bias)
    return fully_connected(b, x, const(weights), const(bias), None)
