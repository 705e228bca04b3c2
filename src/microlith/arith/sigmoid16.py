"""TFLM's int16 LOGISTIC and TANH (reference_integer_ops::Logistic / Tanh for int16), bit for bit.

Both read one table, sigmoid(i / 24) in unsigned 0.16 fixed point for i = 0..255 (TFLM's
sigmoid_table_uint16, tensorflow/lite/kernels/internal/common.h, Apache-2.0; its values are
not plain roundings of sigmoid, so they are data here, not recomputed), and interpolate
linearly between entries; tanh(x) = 2 sigmoid(2x) - 1 reuses it. The C twin of the table is
csrc/activation/ml_sigmoid_table_u16.c (test_int16_ops checks the two agree).
"""
from __future__ import annotations

import math

import numpy as np

SIGMOID_TABLE_U16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
], dtype=np.int64)


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLM's CheckedLog2 in float32: (is a power of two within 1e-3 in log2, rounded log2)."""
    f = np.float32
    log2 = f(np.log(f(x), dtype=np.float32)) * (f(1.0) / f(np.log(f(2.0), dtype=np.float32)))
    rounded = f(math.copysign(math.floor(abs(float(log2)) + 0.5), float(log2)))
    return bool(abs(f(log2 - rounded)) < f(1e-3)), int(rounded)


def input_scaling(scale: float, pot_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) as TFLM's int16 LOGISTIC/TANH Prepare sets them:
    a power-of-two scale whose shift is in `pot_shifts` gives multiplier 0 (3 << shift at run
    time), any other scale a multiplier of scale * 3 * 4096, doubled into (16383.5, 32767]."""
    pot, log2 = checked_log2(scale)
    shift = 12 + log2   # (15 - kInputIntegerBits) + log2, kInputIntegerBits = 3
    if pot and shift in pot_shifts:
        return 0, shift
    multiplier = float(np.float32(scale)) * 4096.0 * 3.0
    shift = 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    return int(multiplier), shift


def _scaled_input(x, multiplier: int, shift: int) -> np.ndarray:
    if multiplier == 0:
        multiplier, shift = 3 << shift, 0
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    return (np.asarray(x, np.int64) * multiplier + rounding) >> shift


def _wrap16(v) -> np.ndarray:
    return ((np.asarray(v, np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def logistic(x, multiplier: int, shift: int) -> np.ndarray:
    """reference_integer_ops::Logistic for int16: output in Q0.15 (scale 2^-15)."""
    v = _scaled_input(x, multiplier, shift)
    a = np.abs(v)
    uh = a >> 9
    idx = np.minimum(uh, 254)
    ua, ub = SIGMOID_TABLE_U16[idx], SIGMOID_TABLE_U16[idx + 1]
    r = np.where(uh >= 255, 0x7FFF << 10, (ua << 9) + (a & 0x1FF) * (ub - ua))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return _wrap16(r >> 10)


def tanh(x, multiplier: int, shift: int) -> np.ndarray:
    """reference_integer_ops::Tanh for int16: output in Q0.15 (scale 2^-15)."""
    v = _scaled_input(x, multiplier, shift)
    a = np.abs(v)
    uh = a >> 8
    idx = np.minimum(uh, 254)
    ua, ub = SIGMOID_TABLE_U16[idx], SIGMOID_TABLE_U16[idx + 1]
    r = np.where(uh >= 255, 0xFFFF << 8, (ua << 8) + (a & 0xFF) * (ub - ua))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return _wrap16(r >> 8)
