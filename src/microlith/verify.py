"""Byte-exact verification of generated C against the oracle, TFLite Micro.

Runs the same inputs through the `tflite-micro` interpreter and through the compiled C
(a host shared library, or firmware on an emulated board), compares every output byte, and
on the first mismatch names the first layer whose output differs: the C library reports
each layer's output through its ML_LAYER_END hook, TFLM keeps every tensor with
kPreserveAllTensors.

Both sides run the untrusted model, so neither runs in this process: the oracle and the host
library each live in a child process with a memory limit and a deadline per sample
(_child.py). A crash, hang or limit hit there is a MicrolithError naming the model.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _child
from ._child import CALL_TIMEOUT, START_TIMEOUT, Child, ChildError
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


_TFLM_CANNOT = "TFLM cannot run this model, so it cannot be verified"


def _subject(graph: Graph) -> str:
    return str(graph.source or graph.name)


class Oracle:
    """The TFLM Python interpreter on one model, in a child process (see _child.py).

    timeout: seconds each run() or tensor() may take; memory: the child's address-space
    limit in bytes. wait=False returns before TFLM has loaded the model (the child loads it
    while the caller works); a load error then surfaces at the first run()."""

    def __init__(self, model_bytes: bytes, graph: Graph, preserve: bool = False,
                 timeout: float = CALL_TIMEOUT, memory: int | None = None, wait: bool = True):
        arena = 4 * sum(t.nbytes for t in graph.tensors.values() if not t.is_const) + (256 << 10)
        self.graph, self.timeout = graph, timeout
        self._child = _child.acquire("oracle", "the TFLM oracle", _subject(graph), memory)
        self._release = weakref.finalize(self, _child.release, self._child)
        self._loading = True
        self._child.send({"op": "load", "arena": arena, "preserve": preserve}, [model_bytes],
                         timeout=START_TIMEOUT)
        if wait:
            self.ready()

    def ready(self) -> None:
        if not self._loading:
            return
        self._loading = False
        try:
            self._child.receive()
        except ChildError as e:
            if e.kind == "error":
                raise MicrolithError(f"{_subject(self.graph)}: the TFLM oracle cannot load this model "
                                     f"({e.hint})") from None
            raise e.update(hint=_TFLM_CANNOT) from None

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        self.ready()
        arrays = [np.require(x, requirements="C") for x in xs]  # keeps a 0-d input 0-d (ascontiguousarray would not)
        try:
            reply, parts = self._child.request(
                {"op": "run", "outputs": len(self.graph.outputs),
                 "inputs": [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays]},
                arrays, timeout=self.timeout)
        except ChildError as e:
            raise (e.update(hint=_TFLM_CANNOT) if e.kind in ("crash", "memory") else e) from None
        return _arrays(reply, parts, self._child)

    def reset_state(self) -> None:
        """TFLM's MicroInterpreter::Reset: the state of recurrent layers back to its reset value.
        Without it the interpreter keeps that state from one run() to the next."""
        self.ready()
        try:
            self._child.request({"op": "reset_state"}, timeout=self.timeout)
        except ChildError as e:
            raise (e.update(hint=_TFLM_CANNOT) if e.kind in ("crash", "memory") else e) from None

    def tensor(self, name: str) -> np.ndarray:
        self.ready()
        idx = self.graph.meta["tflite_index"][name]
        reply, parts = self._child.request({"op": "tensor", "index": int(idx)}, timeout=self.timeout)
        return _arrays(reply, parts, self._child)[0]

    def close(self) -> None:
        self._release()


_DTYPES = {np.dtype(t).str: np.dtype(t) for t in
           ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16",
            "float32", "float64", "bool")}


def _arrays(reply: dict, parts: list[bytes], child: Child) -> list[np.ndarray]:
    """The arrays of a reply, checked against what the reply says they are."""
    specs = reply.get("arrays")
    try:
        if not isinstance(specs, list) or len(specs) != len(parts):
            raise ValueError("part count")
        out = []
        for spec, raw in zip(specs, parts):
            dtype = _DTYPES[spec["dtype"]]
            shape = tuple(int(d) for d in spec["shape"])
            out.append(np.frombuffer(raw, dtype=dtype).reshape(shape).copy())
        return out
    except (KeyError, TypeError, ValueError) as e:
        raise child._fail(f"sent a malformed reply ({type(e).__name__})", "crash") from None


class HostModel:
    """Generated C built as a host shared library, called through ctypes in a child process
    (see _child.py). timeout: seconds each run() may take; memory: the child's address-space
    limit in bytes."""

    def __init__(self, c_dir: Path, graph: Graph, prefix: str, work: Path,
                 timeout: float = CALL_TIMEOUT, memory: int | None = None):
        from .targets.build import build_host_library
        self.graph, self.timeout, self.fn = graph, timeout, f"{prefix}_invoke"
        self.reset_fn = f"{prefix}_reset" if graph.state_tensors() else None
        self._child = Child("lib", "the generated C", _subject(graph), memory)  # starts while gcc runs
        try:
            (work / "ml_trace.h").write_text(_TRACE_H)
            (work / "ml_trace.c").write_text(_TRACE_C)
            lib_path = build_host_library(c_dir, work / f"lib{prefix}.so", extra_sources=[work / "ml_trace.c"],
                                          extra_flags=["-include", str(work / "ml_trace.h")])
            self._child.request({"op": "load", "path": str(lib_path.resolve()),
                                 "trace_symbol": "ml_trace_callback"}, timeout=START_TIMEOUT)
        except BaseException:
            self._child.close()
            raise

    def run(self, xs: list[np.ndarray], trace: bool = False):
        ins = [np.ascontiguousarray(x, dtype=self.graph.t(n).np_dtype) for x, n in zip(xs, self.graph.inputs)]
        outs = [self.graph.t(n) for n in self.graph.outputs]
        args = [["in", k] for k in range(len(ins))] + [["out", t.nbytes] for t in outs]
        reply, parts = self._child.request({"op": "call", "calls": [{"fn": self.fn, "args": args, "trace": trace}]},
                                           ins, timeout=self.timeout)
        try:
            (r,) = reply["results"]
            rc, layers = int(r["rc"]), [int(v) for v in r["trace"]]
            if r["outs"] != len(outs) or len(parts) != len(outs) + len(layers) or \
                    any(len(p) != t.nbytes for p, t in zip(parts, outs)):
                raise ValueError("output sizes")
        except (KeyError, TypeError, ValueError) as e:
            raise self._child._fail(f"sent a malformed reply ({type(e).__name__})", "crash") from None
        if rc != 0:
            raise MicrolithError(f"{_subject(self.graph)}: generated C returned error {rc} "
                                 "(a kernel rejected its arguments)")
        arrays = [np.frombuffer(p, dtype=t.np_dtype).reshape(t.shape).copy() for p, t in zip(parts, outs)]
        return (arrays, list(zip(layers, parts[len(outs):]))) if trace else arrays

    def reset(self) -> None:
        """NAME_reset(): restart the state of a model with recurrent layers (a no-op without)."""
        if self.reset_fn is None:
            return
        self._child.request({"op": "call", "calls": [{"fn": self.reset_fn, "args": []}]},
                                       timeout=self.timeout)

    def close(self) -> None:
        self._child.close()


def random_inputs(graph: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    xs = []
    for name in graph.inputs:
        t = graph.t(name)
        if t.dtype in ("int8", "int16", "uint8", "int32"):  # int32: e.g. TFLM's int32 -> int16 QUANTIZE
            info = np.iinfo(t.np_dtype)
            xs.append(rng.integers(info.min, int(info.max) + 1, size=t.shape).astype(t.np_dtype))
        elif t.dtype == "float32":
            xs.append(rng.uniform(-4.0, 4.0, size=t.shape).astype(np.float32))
        # --- issue 10: elementwise math (bool conditions, int32 CAST/DIV/MAXIMUM inputs)
        elif t.dtype == "bool":
            xs.append(rng.integers(0, 2, size=t.shape).astype(bool))
        elif t.dtype == "int32":
            xs.append(rng.integers(-(1 << 31), 1 << 31, size=t.shape).astype(np.int32))
        else:
            raise MicrolithError(f"{graph.source}: cannot make random inputs of type {t.dtype} "
                                 f"for input '{name}'; pass --inputs")
    return xs


def load_inputs(path: str, graph: Graph, notes: list[str] | None = None) -> list[list[np.ndarray]]:
    """Samples from a .npy (one input) or .npz (one array per input, by input name or in order),
    under the input-data contract of inputs.py: a batch of samples, never reshaped to fit. Float
    data for an integer input is quantized with the input's scale and zero point, as TFLM's
    QUANTIZE does, and a line saying so is appended to `notes`."""
    from .inputs import as_batch, quantize_like_tflm
    from .quantize.data import _read_npy_or_npz
    src = str(path)
    arrays, _labels = _read_npy_or_npz(Path(src), "input")
    names = list(graph.inputs)
    if len(names) == 1 and len(arrays) == 1:
        picked = list(arrays.values())
    elif set(arrays) == set(names):
        picked = [arrays[n] for n in names]
    elif sorted(arrays) == [f"arr_{k}" for k in range(len(names))]:
        picked = [arrays[f"arr_{k}"] for k in range(len(names))]
    else:
        raise MicrolithError(f"{src}: holds arrays {sorted(arrays)}; the model's inputs are {names}: give one "
                             "array per input, named after it (or arr_0, arr_1, ... in input order)")
    batches = []
    for arr, name in zip(picked, names):
        t = graph.t(name)
        batch = as_batch(arr, t.shape, src, name)
        if batch.dtype.kind == "f" and t.dtype in ("int8", "int16", "uint8") and t.quant is not None \
                and not t.quant.per_axis:
            if not np.all(np.isfinite(batch)):
                raise MicrolithError(f"{src}: float inputs for '{name}' contain NaN or Inf")
            scale, zp = t.quant.scale[0], t.quant.zero_point[0]
            batch = quantize_like_tflm(batch, scale, zp, t.np_dtype)
            if notes is not None:
                notes.append(f"float inputs for '{name}' quantized with its scale {scale:.6g} and zero point {zp} "
                             "(round half away from zero, saturate), as TFLM's QUANTIZE does")
        elif batch.dtype != t.np_dtype:
            raise MicrolithError(f"{src}: inputs for '{name}' are {batch.dtype}; the input is {t.dtype}"
                                 + (" (float data is quantized automatically only for a quantized int8/int16 input)"
                                    if batch.dtype.kind == "f" else ""))
        batches.append(batch)
    n = batches[0].shape[0]
    if any(b.shape[0] != n for b in batches):
        raise MicrolithError(f"{src}: the arrays hold different numbers of samples "
                             f"({', '.join(str(b.shape[0]) for b in batches)})")
    return [[b[k] for b in batches] for k in range(n)]


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


def first_differing_layer(graph: Graph, model_bytes: bytes, host: HostModel, xs,
                          history=()) -> LayerDiff | None:
    """The first layer whose output differs on sample `xs`. A model with state (recurrent layers)
    computes xs from the state its earlier samples left: both sides restart from reset and run
    `history` (those samples, in order) first."""
    oracle = Oracle(model_bytes, graph, preserve=True, timeout=host.timeout)
    # the C computes only the channels some later layer reads (passes/channels.py): those are compared
    from .passes.channels import prune_unused_channels
    kept = prune_unused_channels(graph).meta.get("kept_channels", {})
    try:
        if graph.state_tensors():
            host.reset()
            for h in history:
                oracle.run(h)
                host.run(h)
        oracle.run(xs)
        _, layers = host.run(xs, trace=True)
        ours = dict(layers)
        for i, node in enumerate(graph.nodes):
            t = graph.t(node.outputs[0])
            want = oracle.tensor(t.name).astype(t.np_dtype)
            if t.name in kept:
                want = want.reshape(t.shape)[..., kept[t.name]]
            want = want.reshape(-1)
            got = np.frombuffer(ours.get(i, b""), dtype=t.np_dtype)  # a layer that never reported differs
            if want.size != got.size or not np.array_equal(want, got):
                diff = np.abs(want.astype(np.int64) - got.astype(np.int64)) if want.size == got.size \
                    else np.array([0])
                return LayerDiff(i, node.op.value, t.name, int(np.count_nonzero(diff)) if want.size == got.size
                                 else want.nbytes, want.nbytes, int(diff.max()))
    finally:
        oracle.close()
    return None


def output_problem(graph: Graph, want: list, got: list) -> str | None:
    """Why the C's outputs cannot be compared byte for byte with the oracle's (count, dtype,
    shape or size differ), or None. Without this, zip() over a short or empty output list
    would compare nothing and count as a match."""
    n = len(graph.outputs)
    if len(want) != n:
        return f"the oracle returned {len(want)} outputs, the model has {n}"
    if len(got) != n:
        return f"the C returned {len(got)} outputs, the model has {n}"
    for k, (w, g_, name) in enumerate(zip(want, got, graph.outputs)):
        t = graph.t(name)
        w, g_ = np.asarray(w), np.asarray(g_)
        for who, a in (("the oracle", w), ("the C", g_)):
            if a.size != t.size or a.dtype.itemsize != np.dtype(t.np_dtype).itemsize or \
                    a.shape not in (tuple(t.shape), (t.size,)):
                return (f"output {k} from {who} is {a.dtype}{list(a.shape)}, the model declares "
                        f"{t.dtype}{list(t.shape)}")
    return None


def compare(graph: Graph, model_bytes: bytes, run_c, samples: list[list[np.ndarray]],
            oracle: Oracle | None = None, reset_c=None, restarts=()) -> dict:
    """Run every sample through the oracle and `run_c`; count mismatches. A sample whose
    outputs differ in count, dtype, shape or size is a mismatch too (`problem` says how, for
    the first such sample).

    A model with state (recurrent layers) sees the samples as one stream, in order, on both
    sides, each starting from reset; with `reset_c` (the C side's NAME_reset) both sides are
    then reset and run the stream again, so the reset is checked too. A sample counts once,
    mismatched if it differs in either pass. `restarts`: samples before which the C side starts
    afresh (a new firmware run), so its state is reset there; the oracle is reset there too."""
    own = oracle is None
    oracle = oracle or Oracle(model_bytes, graph)
    max_diff, first_bad, problem = 0, None, None
    restarts = set(restarts)
    passes = [list(enumerate(samples))]
    if graph.state_tensors() and reset_c is not None:
        passes.append(list(enumerate(samples)))
    bad_samples: set[int] = set()
    try:
        oracle.ready()  # a model TFLM cannot load fails here, before any sample
        for n_pass, seq in enumerate(passes):
            if n_pass:
                oracle.reset_state()
                reset_c()
            for k, xs in seq:
                if k in restarts and graph.state_tensors():
                    oracle.reset_state()
                bad, max_diff, why = _compare_one(graph, oracle, run_c, k, xs, max_diff)
                problem = problem or (f"sample {k}: {why}" if why else None)
                if bad:
                    bad_samples.add(k)
                    first_bad = k if first_bad is None else min(first_bad, k)
    finally:
        if own:
            oracle.close()
    return dict(mismatched_samples=len(bad_samples), max_abs_diff=max_diff, first_bad=first_bad, problem=problem)


def _compare_one(graph: Graph, oracle: Oracle, run_c, k: int, xs, max_diff):
    """(mismatched, max |diff| so far, why the outputs cannot be compared or None) for sample k."""
    try:
        want = oracle.run(xs)
        got = run_c(xs)
    except ChildError as e:
        raise e.update(sample=k) from None
    why = output_problem(graph, want, got)
    bad = why is not None
    if not bad:
        for w, g_ in zip(want, got):
            w = np.asarray(w).reshape(-1)
            g_ = np.asarray(g_).reshape(-1)
            if w.tobytes() != g_.tobytes():
                bad = True
                d = float(np.max(np.abs(w.astype(np.float64) - g_.astype(np.float64))))
                max_diff = max(max_diff, int(d) if w.dtype.kind in "iu" else d)
    return bad, max_diff, why
