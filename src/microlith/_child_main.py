"""The child process that runs the TFLM oracle or generated C for microlith (see _child.py).

This file runs as a script, not through the microlith package: the child then starts fast
and loads only what its side needs (ctypes for generated C; numpy and tflite_micro for the
oracle). It lowers its own resource limits before it touches the model or the library, then
answers requests on the pipes it was started with until its input closes. Whatever the model
or the generated code does in here (crash, hang, exhaust memory) ends this process only.

Messages in both directions are one frame: a 4-byte little-endian length, a JSON header
whose "blobs" lists the byte length of each binary part, then the parts. No pickle: the
parent must be able to read a reply from a child that misbehaves without running its data.
"""
from __future__ import annotations

import json
import os
import resource
import struct
import sys

MAX_HEADER_BYTES = 1 << 24
MAX_FRAME_BYTES = 1 << 31  # a frame larger than any model or output microlith handles is malformed


class FrameError(Exception):
    """A frame that does not follow the format (a broken or misbehaving peer)."""


def encode(header: dict, blobs=()) -> list:
    views = [memoryview(b).cast("B") for b in blobs]
    head = json.dumps(dict(header, blobs=[v.nbytes for v in views])).encode()
    return [struct.pack("<I", len(head)) + head, *views]


def decode(read_exact) -> tuple[dict, list[bytes]]:
    """read_exact(n) returns exactly n bytes, or raises EOFError when the peer is gone."""
    (n,) = struct.unpack("<I", read_exact(4))
    if n > MAX_HEADER_BYTES:
        raise FrameError(f"header of {n} bytes")
    try:
        header = json.loads(read_exact(n))
    except (UnicodeDecodeError, ValueError):
        raise FrameError("header is not JSON") from None
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes) \
            or sum(sizes) > MAX_FRAME_BYTES:
        raise FrameError("bad part sizes")
    return header, [read_exact(s) if s else b"" for s in sizes]


def _blocking_reader(fd: int):
    def read_exact(n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(fd, min(n - len(buf), 1 << 20))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)
    return read_exact


def _write_all(fd: int, parts) -> None:
    for part in parts:
        view = memoryview(part).cast("B")
        while view.nbytes:
            view = view[os.write(fd, view):]


# ------------------------------------------------------------------------------------ oracle side

def _describe(a) -> dict:
    return {"dtype": a.dtype.str, "shape": list(a.shape)}


class OracleServer:
    """One TFLM interpreter (tflite-micro's Python runtime)."""

    def __init__(self):
        self.interp = None

    def load(self, h, blobs):
        from tflite_micro.python.tflite_micro import runtime
        cfg = runtime.InterpreterConfig.kPreserveAllTensors if h["preserve"] else \
            runtime.InterpreterConfig.kAllocationRecording
        self.interp = None
        self.interp = runtime.Interpreter.from_bytes(blobs[0], arena_size=int(h["arena"]),
                                                     intrepreter_config=cfg)
        return {}, []

    def reset(self, h, blobs):
        self.interp = None  # frees the model and its arena while the child waits in the pool
        return {}, []

    def reset_state(self, h, blobs):
        self.interp.reset()  # MicroInterpreter::Reset: variable tensors back to their reset value
        return {}, []

    def run(self, h, blobs):
        import numpy as np
        for k, (spec, raw) in enumerate(zip(h["inputs"], blobs)):
            self.interp.set_input(np.frombuffer(raw, dtype=spec["dtype"]).reshape(spec["shape"]).copy(), k)
        self.interp.invoke()
        outs = [np.ascontiguousarray(self.interp.get_output(k)) for k in range(int(h["outputs"]))]
        return {"arrays": [_describe(o) for o in outs]}, outs

    def tensor(self, h, blobs):
        import numpy as np
        a = np.ascontiguousarray(np.asarray(self.interp.GetTensor(int(h["index"]), 0)["tensor_data"]))
        return {"arrays": [_describe(a)]}, [a]


# ------------------------------------------------------------------------------ generated C side

class LibServer:
    """A host shared library of generated C, called through ctypes.

    A call names an exported function and its arguments: ["in", k] (a pointer to a copy of
    request part k), ["out", n] (a pointer to n zeroed bytes, returned in the reply),
    ["size", v] (size_t) or ["int", v] (int). Every function returns int. With "trace", the
    bytes each layer hands to the ML_LAYER_END hook come back too."""

    def __init__(self):
        self.lib = None
        self._trace = None

    def load(self, h, blobs):
        import ctypes
        self.lib = ctypes.CDLL(h["path"])
        if h.get("trace_symbol"):
            fn_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
            self._cb = fn_type(self._on_layer)
            ctypes.c_void_p.in_dll(self.lib, h["trace_symbol"]).value = \
                ctypes.cast(self._cb, ctypes.c_void_p).value
        return {}, []

    def _on_layer(self, layer, data, nbytes):
        import ctypes
        if self._trace is not None:
            self._trace.append((layer, ctypes.string_at(data, nbytes)))

    def call(self, h, blobs):
        import ctypes
        results, parts = [], []
        for c in h["calls"]:
            fn = getattr(self.lib, c["fn"])
            fn.restype = ctypes.c_int
            args, outs = [], []
            for kind, v in c["args"]:
                if kind == "in":
                    args.append(ctypes.create_string_buffer(blobs[v], len(blobs[v])))
                elif kind == "out":
                    outs.append(ctypes.create_string_buffer(int(v)))
                    args.append(outs[-1])
                elif kind == "size":
                    args.append(ctypes.c_size_t(v))
                elif kind == "int":
                    args.append(ctypes.c_int(v))
                else:
                    raise ValueError(f"unknown argument kind {kind!r}")
            self._trace = [] if c.get("trace") else None
            rc = fn(*args)
            trace, self._trace = self._trace or [], None
            results.append({"rc": rc, "outs": len(outs), "trace": [layer for layer, _ in trace]})
            parts += [o.raw for o in outs] + [data for _, data in trace]
        return {"results": results}, parts


SERVERS = {"oracle": (OracleServer, ("load", "run", "tensor", "reset", "reset_state")), "lib": (LibServer, ("load", "call"))}


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(which, (value, hard))
    except (ValueError, OSError):
        pass  # a platform without this limit (RLIMIT_AS on macOS) still gets the deadline


def _die_with_parent(parent: int) -> bool:
    """Ask Linux to kill this process when its parent dies: a child stuck in a loop of the
    generated code never reads the end-of-input that would otherwise stop it."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    return os.getppid() == parent  # the parent may have died before prctl


def main(argv) -> int:
    mode, memory, parent = argv[0], int(argv[1]), int(argv[2])
    if not _die_with_parent(parent):
        return 0
    _limit(resource.RLIMIT_CORE, 0)  # a crash must not leave a core file in the user's folder
    if memory > 0:
        _limit(resource.RLIMIT_AS, memory)
    # The protocol moves to private descriptors; fd 0 and 1 become /dev/null so that anything
    # the model runtime or the generated code prints cannot corrupt a frame.
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    server_type, ops = SERVERS[mode]
    server = server_type()
    read_exact = _blocking_reader(rfd)
    while True:
        try:
            h, blobs = decode(read_exact)
        except EOFError:
            return 0
        op = h.get("op")
        try:
            if op not in ops:
                raise ValueError(f"unknown request {op!r}")
            reply = getattr(server, op)(h, blobs)
        except MemoryError:
            reply = {"error": "ran out of memory", "kind": "memory"}, []
        except Exception as e:  # noqa: BLE001 - every failure goes back to the parent as text
            reply = {"error": f"{type(e).__name__}: {e}", "kind": "exception"}, []
        _write_all(wfd, encode(*reply))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
