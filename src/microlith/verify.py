"""Byte-exact verification of generated C against the oracle, TFLite Micro.

Runs the same inputs through the `tflite-micro` interpreter and through the compiled C
(a host shared library, or firmware on an emulated board), compares every output byte, and
on the first mismatch names the first layer whose output differs: the C library reports
each layer's output through its ML_LAYER_END hook, TFLM keeps every tensor with
kPreserveAllTensors.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ir import Graph, MicrolithError

_TRACE_H = """#include <stddef.h>
void ml_trace_hook(int layer, const void *data, size_t bytes);
#define ML_LAYER_END(layer, data, bytes) ml_trace_hook((layer), (data), (bytes))
"""
_TRACE_C = """#include <stddef.h>
typedef void (*ml_trace_fn)(int layer, const void *data, size_t bytes);
ml_trace_fn ml_trace_callback = 0;
void ml_trace_hook(int layer, const void *data, size_t bytes)
{
    if (ml_trace_callback) {
        ml_trace_callback(layer, data, bytes);
    }
}
"""
_TRACE_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)


@contextlib.contextmanager
def _quiet_fd(fd: int = 2):
    """TFLM prints allocation chatter on stderr from C++; keep the CLI's one-line contract."""
    sys.stderr.flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class Oracle:
    """The TFLM Python interpreter on one model."""

    def __init__(self, model_bytes: bytes, graph: Graph, preserve: bool = False):
        from tflite_micro.python.tflite_micro import runtime
        arena = 4 * sum(t.nbytes for t in graph.tensors.values() if not t.is_const) + (256 << 10)
        cfg = runtime.InterpreterConfig.kPreserveAllTensors if preserve else \
            runtime.InterpreterConfig.kAllocationRecording
        try:
            with _quiet_fd():
                self.interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena,
                                                             intrepreter_config=cfg)
        except Exception as e:
            raise MicrolithError(f"{graph.source}: the TFLM oracle cannot load this model ({e})") from None
        self.graph = graph

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        for k, x in enumerate(xs):
            self.interp.set_input(x, k)
        with _quiet_fd():
            self.interp.invoke()
        return [np.array(self.interp.get_output(k)) for k in range(len(self.graph.outputs))]

    def tensor(self, name: str) -> np.ndarray:
        idx = self.graph.meta["tflite_index"][name]
        info = self.interp.GetTensor(idx, 0)
        return np.asarray(info["tensor_data"])


class HostModel:
    """Generated C built as a shared library, called through ctypes."""

    def __init__(self, c_dir: Path, graph: Graph, prefix: str, work: Path):
        from .targets.build import build_host_library
        (work / "ml_trace.h").write_text(_TRACE_H)
        (work / "ml_trace.c").write_text(_TRACE_C)
        lib_path = build_host_library(c_dir, work / f"lib{prefix}.so", extra_sources=[work / "ml_trace.c"],
                                      extra_flags=["-include", str(work / "ml_trace.h")])
        self.lib = ctypes.CDLL(str(lib_path))
        self.fn = getattr(self.lib, f"{prefix}_invoke")
        self.fn.restype = ctypes.c_int
        self.graph = graph
        self._trace: list[tuple[int, bytes]] | None = None
        self._cb = _TRACE_FN(self._on_layer)
        ctypes.c_void_p.in_dll(self.lib, "ml_trace_callback").value = \
            ctypes.cast(self._cb, ctypes.c_void_p).value

    def _on_layer(self, layer, data, nbytes):
        if self._trace is not None:
            self._trace.append((layer, ctypes.string_at(data, nbytes)))

    def run(self, xs: list[np.ndarray], trace: bool = False):
        ins = [np.ascontiguousarray(x, dtype=self.graph.t(n).np_dtype) for x, n in zip(xs, self.graph.inputs)]
        outs = [np.zeros(self.graph.t(n).shape, self.graph.t(n).np_dtype) for n in self.graph.outputs]
        self._trace = [] if trace else None
        rc = self.fn(*[a.ctypes.data_as(ctypes.c_void_p) for a in ins + outs])
        layers, self._trace = self._trace, None
        if rc != 0:
            raise MicrolithError(f"generated C returned error {rc} (a kernel rejected its arguments)")
        return (outs, layers) if trace else outs


def random_inputs(graph: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    xs = []
    for name in graph.inputs:
        t = graph.t(name)
        if t.dtype in ("int8", "int16", "uint8"):
            info = np.iinfo(t.np_dtype)
            xs.append(rng.integers(info.min, int(info.max) + 1, size=t.shape).astype(t.np_dtype))
        elif t.dtype == "float32":
            xs.append(rng.uniform(-4.0, 4.0, size=t.shape).astype(np.float32))
        else:
            raise MicrolithError(f"{graph.source}: cannot make random inputs of type {t.dtype} "
                                 f"for input '{name}'; pass --inputs")
    return xs


def load_inputs(path: str, graph: Graph) -> list[list[np.ndarray]]:
    """Samples from a .npy (one input: one sample or a batch of them) or .npz (one array per input)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise MicrolithError(f"{path}: cannot read inputs ({e})") from None
    arrays = [data[k] for k in data.files] if isinstance(data, np.lib.npyio.NpzFile) else [data]
    if len(arrays) != len(graph.inputs):
        raise MicrolithError(f"{path}: holds {len(arrays)} arrays, the model has {len(graph.inputs)} inputs")
    per_input = []
    for arr, name in zip(arrays, graph.inputs):
        t = graph.t(name)
        if arr.dtype != t.np_dtype:
            raise MicrolithError(f"{path}: inputs are {arr.dtype}, input '{name}' is {t.dtype}")
        if arr.size % t.size:
            raise MicrolithError(f"{path}: {arr.size} values is not a whole number of inputs of shape "
                                 f"{list(t.shape)} for '{name}'")
        per_input.append(arr.reshape((-1,) + t.shape))
    n = per_input[0].shape[0]
    if any(a.shape[0] != n for a in per_input):
        raise MicrolithError(f"{path}: inputs hold different numbers of samples")
    return [[a[k] for a in per_input] for k in range(n)]


@dataclass
class LayerDiff:
    layer: int
    op: str
    tensor: str
    differing_bytes: int
    total_bytes: int
    max_abs_diff: int

    def describe(self) -> str:
        return (f"first differing layer: #{self.layer} {self.op} output '{self.tensor}' "
                f"({self.differing_bytes} of {self.total_bytes} bytes differ, max |diff| {self.max_abs_diff})")


def first_differing_layer(graph: Graph, model_bytes: bytes, host: HostModel, xs) -> LayerDiff | None:
    oracle = Oracle(model_bytes, graph, preserve=True)
    oracle.run(xs)
    _, layers = host.run(xs, trace=True)
    ours = dict(layers)
    for i, node in enumerate(graph.nodes):
        t = graph.t(node.outputs[0])
        want = oracle.tensor(t.name).astype(t.np_dtype).reshape(-1)
        got = np.frombuffer(ours[i], dtype=t.np_dtype)
        if want.size != got.size or not np.array_equal(want, got):
            diff = np.abs(want.astype(np.int64) - got.astype(np.int64)) if want.size == got.size else np.array([0])
            return LayerDiff(i, node.op.value, t.name, int(np.count_nonzero(diff)), t.nbytes, int(diff.max()))
    return None


def compare(graph: Graph, model_bytes: bytes, run_c, samples: list[list[np.ndarray]]) -> dict:
    """Run every sample through the oracle and `run_c`; count mismatches."""
    oracle = Oracle(model_bytes, graph)
    mismatched, max_diff, first_bad = 0, 0, None
    for k, xs in enumerate(samples):
        want = oracle.run(xs)
        got = run_c(xs)
        bad = False
        for w, g_ in zip(want, got):
            w = np.asarray(w).reshape(-1)
            g_ = np.asarray(g_).reshape(-1).astype(w.dtype)
            if w.tobytes() != g_.tobytes():
                bad = True
                d = float(np.max(np.abs(w.astype(np.float64) - g_.astype(np.float64))))
                max_diff = max(max_diff, int(d) if w.dtype.kind in "iu" else d)
        if bad:
            mismatched += 1
            first_bad = k if first_bad is None else first_bad
    return dict(mismatched_samples=mismatched, max_abs_diff=max_diff, first_bad=first_bad)
