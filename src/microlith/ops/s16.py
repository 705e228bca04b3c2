"""Shared checks of the int16-activation (TFLite 16x8) paths of the op families.

TFLite's 16x8 mode: int16 activations, symmetric (zero point 0), int8 weights, int64 bias for
convolution and fully connected layers. Each op module picks its s16 kernel by the dtype
`act_dtype` returns; this module is not an op family (it registers nothing).
"""
from __future__ import annotations

import numpy as np

from ..arith.fixedpoint import multiply_by_quantized_multiplier, wrap32
from ..arith.wide import ACC64_LIMIT, MAX_SHIFT64, multiply_by_quantized_multiplier_64
from ..ir import MicrolithError, safe_text
from . import require_int8, where

QRANGE = {"int8": (-128, 127), "int16": (-32768, 32767)}
NP = {"int8": np.int8, "int16": np.int16}


def act_dtype(node, g, names, int16_zero_point: bool = True) -> str:
    """The activation dtype shared by `names`: "int8" (require_int8's checks) or "int16" with
    per-tensor quantization and, unless the op's TFLM kernel handles offsets, zero point 0 (the
    16x8 spec; TFLM's int16 kernels ignore or reject any other)."""
    dtypes = {g.t(n).dtype for n in names}
    if dtypes != {"int16"}:
        if "int16" in dtypes:
            raise MicrolithError(f"{where(node, g)}: tensors {[safe_text(n) for n in names]} mix "
                                 f"{sorted(dtypes)}; TFLM's kernel needs them all int8 or all int16")
        require_int8(node, g, names)
        return "int8"
    for n in names:
        t = g.t(n)
        if t.quant is None or t.quant.per_axis:
            raise MicrolithError(f"{where(node, g)}: tensor '{safe_text(n)}' is int16 without per-tensor "
                                 "quantization; this kernel needs TFLite's 16x8 quantization")
        if int16_zero_point and t.quant.zero_point[0] != 0:
            raise MicrolithError(f"{where(node, g)}: int16 tensor '{safe_text(n)}' has zero point "
                                 f"{t.quant.zero_point[0]}; TFLite's 16x8 mode needs 0")
    return "int16"


def acc_mode(node, g, bias, dtype: str, out_c: int, allow_int32: bool = True) -> int:
    """1 when the accumulator is int32 (int8, or int16 with an int32 bias: TFLM then sums in
    int32), 0 for the int64 accumulator of int16 with an int64 bias or none. Refuses other biases."""
    want = ("int32",) if dtype == "int8" else ("int64", "int32") if allow_int32 else ("int64",)
    if bias is not None and (bias.dtype not in want or bias.size != out_c or not bias.is_const):
        why = ("; TFLM's int16 kernel for this op reads the bias as int64 whatever its type, so an int32 "
               "bias would be read past its end: store it as int64"
               if dtype == "int16" and not allow_int32 and bias.dtype == "int32" else "")
        raise MicrolithError(f"{where(node, g)}: bias '{safe_text(bias.name)}' must be constant "
                             f"{' or '.join(want)} of {out_c} values for {dtype} activations "
                             f"(got {bias.dtype} {list(bias.shape)}){why}")
    return int(dtype == "int8" or (bias is not None and bias.dtype == "int32"))


def check_acc64(node, g, bound, shifts, what: str) -> None:
    """TFLM's 64-bit requantization asserts |acc| < 2^47 and shift <= 7: refuse a model that
    could leave either range instead of computing something else."""
    if int(np.max(bound, initial=0)) >= ACC64_LIMIT:
        raise MicrolithError(f"{where(node, g)}: the {what} could reach 2^47 (bias plus products); "
                             "TFLM's 64-bit requantization is only defined below")
    if int(np.max(shifts, initial=-31)) > MAX_SHIFT64:
        raise MicrolithError(f"{where(node, g)}: a requantization needs a left shift of "
                             f"{int(np.max(shifts))} bits (scale ratio 2^{int(np.max(shifts)) - 1} or more); "
                             f"TFLM's 64-bit requantization shifts left by at most {MAX_SHIFT64}. "
                             "Check the quantization scales")


def requantize_acc(acc, acc32: int, multiplier, shift) -> np.ndarray:
    """ml_nn_requantize_acc: the int32 (wrapped) or int64 accumulator's requantization."""
    if acc32:
        return multiply_by_quantized_multiplier(wrap32(acc), multiplier, shift)
    return multiply_by_quantized_multiplier_64(acc, multiplier, shift)
