"""FlexBuffers options of TFLM's signal-library custom ops: read from a model, write for tests.

TFLM's signal kernels read their options with FlexbufferWrapper::ElementAsInt32(k), i.e. the
k-th value of the root map, whose keys FlexBuffers keeps sorted. A map with other keys would
make TFLM read some other value under the expected name, so the reader demands exactly the
schema's keys (which also fixes their order), each an integer (or a boolean where TFLM calls
ElementAsBool) that fits int32, as TFLM truncates to it.

The options come from an untrusted file and flatbuffers' FlexBuffers reader does no
verification: every length is checked against the buffer before it is walked, and any failure
while decoding is a MicrolithError naming the file and the op.
"""
from __future__ import annotations

from flatbuffers import flexbuffers

from ..ir import MicrolithError, Op, safe_text

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
TENSOR_TYPE_INT16 = 7  # tflite::TensorType_INT16, the "T" of SignalRfft

# op -> ((key, kind), ...), keys in FlexBuffers (byte-wise sorted) order. kind: "int" (read
# with ElementAsInt32), "bool" (ElementAsBool), "type" (SignalRfft's tensor type, read by key).
SCHEMAS: dict[Op, tuple[tuple[str, str], ...]] = {
    Op.SIGNAL_WINDOW: (("shift", "int"),),
    Op.SIGNAL_FFT_AUTO_SCALE: (),
    Op.SIGNAL_RFFT: (("T", "type"), ("fft_length", "int")),
    Op.SIGNAL_ENERGY: (("end_index", "int"), ("start_index", "int")),
    Op.SIGNAL_FILTER_BANK: (("num_channels", "int"),),
    Op.SIGNAL_FILTER_BANK_SQUARE_ROOT: (),
    Op.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: tuple(
        (k, "bool" if k == "clamping" else "int") for k in (
            "alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining",
            "num_channels", "one_minus_smoothing", "smoothing", "smoothing_bits", "spectral_subtraction_bits")),
    Op.SIGNAL_PCAN: (("snr_shift", "int"),),
    Op.SIGNAL_FILTER_BANK_LOG: (("input_correction_bits", "int"), ("output_scale", "int")),
    Op.SIGNAL_DELAY: (("delay_length", "int"),),
}


def read_custom_options(raw: bytes, op: Op, path: str, i: int) -> dict:
    """The attributes (ir.ATTRS[op]) of custom op #i from its FlexBuffers options `raw`."""
    here = f"{path}: op #{i} {op.value}"
    schema = SCHEMAS[op]
    if not schema:
        return {}  # TFLM never reads these options (the op has no Init)
    if len(raw) < 3:
        raise MicrolithError(f"{here} has no custom options; TFLM needs {', '.join(k for k, _ in schema)}")
    try:
        values = _decode_map(bytes(raw))
    except MicrolithError:
        raise
    except Exception as e:  # the unverified reader raises anything on bad offsets
        raise MicrolithError(f"{here}: its custom options are not a valid FlexBuffers map "
                             f"({type(e).__name__}); re-export the model") from None
    if values is None:
        raise MicrolithError(f"{here}: its custom options are not a FlexBuffers map; re-export the model")
    want = [k for k, _ in schema]
    if list(values) != want:
        shown = safe_text(", ".join(values))
        raise MicrolithError(f"{here}: its custom options have keys [{shown}]; TFLM reads them by position "
                             f"and needs exactly [{', '.join(want)}]")
    attrs = {}
    for key, kind in schema:
        v = values[key]
        if kind == "bool":
            if not isinstance(v, (bool, int)):
                raise MicrolithError(f"{here}: option {key} is {safe_text(type(v).__name__)}, not a boolean")
            attrs[key] = bool(v)
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not INT32_MIN <= v <= INT32_MAX:
            raise MicrolithError(f"{here}: option {key}={safe_text(v)} is not an int32 integer")
        if kind == "type":
            if v != TENSOR_TYPE_INT16:
                raise MicrolithError(f"{here}: option T={v}: microlith compiles the int16 RFFT only "
                                     f"(T={TENSOR_TYPE_INT16}); the int32 and float variants are not supported")
            continue
        attrs[key] = v
    return attrs


def _decode_map(raw: bytes) -> dict | None:
    """key -> int/bool/other of a FlexBuffers root map, lengths checked against the buffer."""
    root = flexbuffers.GetRoot(raw)
    if not root.IsMap:
        return None
    m = root.AsMap
    n = len(m)
    keys = m.Keys
    if n > len(raw) or len(keys) != n:
        raise MicrolithError("claimed length")
    out = {}
    for k in range(n):
        key = keys[k].AsKey
        ref = m.Values[k]
        if ref.IsBool:
            out[key] = bool(ref.AsBool)
        elif ref.IsInt:
            out[key] = int(ref.AsInt)
        else:
            out[key] = ref.Value if (ref.IsFloat or ref.IsString) else ref.Type.name
    return out


def write_custom_options(op: Op, attrs: dict) -> bytes:
    """The FlexBuffers map TFLM's converter writes for these attributes (tests use it)."""
    fbb = flexbuffers.Builder()
    with fbb.Map():
        for key, kind in SCHEMAS[op]:
            if kind == "bool":
                fbb.Bool(key, bool(attrs[key]))
            elif kind == "type":
                fbb.Int(key, TENSOR_TYPE_INT16)
            else:
                fbb.Int(key, int(attrs[key]))
    return bytes(fbb.Finish())
