"""Run the TFLM oracle and generated C in a child process, under limits.

A model file is untrusted input, and both the oracle (TFLM, C++) and the C we generate from
the model run it: a model TFLM cannot handle can crash TFLM (a DEPTHWISE_CONV_2D with an
absent bias segfaults in its Prepare), and a wrong or hostile kernel call can crash, hang or
eat memory. Each runs in its own child process (_child_main.py), one per side for all
samples, with an address-space limit, no core files, and a wall-clock deadline on every
request. A crash, hang or limit hit becomes a ChildError (a MicrolithError: exit 2) naming the
model and what died, never a dead CLI.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from ._child_main import FrameError, decode, encode
from .ir import MicrolithError, safe_text

MEMORY_LIMIT = 4 << 30   # bytes of address space per child (RLIMIT_AS)
START_TIMEOUT = 120.0    # seconds to start the child and load the model or library
CALL_TIMEOUT = 60.0      # seconds per sample (a request of n samples gets n times this)

_MAIN = str(Path(__file__).resolve().with_name("_child_main.py"))
# Run _child_main.py as a script without the microlith package (fast start) and without its
# folder on sys.path (our module names must not shadow the standard library's in the child).
_BOOT = ("import runpy, sys; del sys.path[0]; sys.argv = sys.argv[1:]; "
         "runpy.run_path(sys.argv[0], run_name='__main__')")


class ChildError(MicrolithError):
    """The child died, hung, hit a limit or failed; `event` says which, in words."""

    def __init__(self, what: str, subject: str, event: str, kind: str, hint: str = ""):
        self.what, self.subject, self.event, self.kind, self.hint = what, subject, event, kind, hint
        self.sample: int | None = None
        super().__init__(self._text())

    def _text(self) -> str:
        where = f" on sample {self.sample}" if self.sample is not None else ""
        hint = f"; {self.hint}" if self.hint else ""
        return f"{self.subject}: {self.what} {self.event}{where}{hint}"

    def update(self, **fields) -> "ChildError":
        """Add what the caller knows (sample=k, hint=...) to the message."""
        for k, v in fields.items():
            setattr(self, k, v)
        self.args = (self._text(),)
        return self


class _Timeout(Exception):
    pass


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _cleanup(proc: subprocess.Popen, stderr) -> None:
    for f in (proc.stdin, proc.stdout):
        try:
            f.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=2)  # it exits when its input closes
    except subprocess.TimeoutExpired:
        _kill(proc)
    stderr.close()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: anything it started goes too
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Child:
    """One child process serving one side ("oracle" or "lib"); requests go one at a time.

    what:    how errors name the side ("the TFLM oracle", "the generated C");
    subject: the model the errors name."""

    def __init__(self, mode: str, what: str, subject: str, memory: int | None = None):
        self.what, self.subject = what, subject
        self.memory = MEMORY_LIMIT if memory is None else int(memory)
        self._stderr = tempfile.TemporaryFile()
        # One BLAS thread: the child does no linear algebra, and each thread reserves address
        # space that counts against RLIMIT_AS.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        try:
            self.proc = subprocess.Popen([sys.executable, "-B", "-c", _BOOT, _MAIN, mode, str(self.memory),
                                          str(os.getpid())],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                         start_new_session=True, env=env)
        except OSError as e:
            self._stderr.close()
            raise MicrolithError(f"{subject}: cannot start a child process for {what} ({e})") from None
        os.set_blocking(self.proc.stdin.fileno(), False)
        try:  # room for a whole model in the pipe: send() need not wait for the child to start
            import fcntl
            fcntl.fcntl(self.proc.stdin.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (ImportError, OSError):
            pass
        self._finalizer = weakref.finalize(self, _cleanup, self.proc, self._stderr)
        # Linux ends the child when the thread that started it ends (PR_SET_PDEATHSIG): only
        # children of the main thread may outlive their first user in the pool.
        self.poolable = threading.current_thread() is threading.main_thread()
        self.dead = False    # the process is gone or must not be used again
        self.failed = False  # a request failed (the process may still run)
        self.idle = True     # no request awaits its reply

    def close(self) -> None:
        self._finalizer()

    @property
    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    # -------------------------------------------------------------------------- transport

    def _write(self, parts, deadline: float) -> None:
        fd = self.proc.stdin.fileno()
        for part in parts:
            view = memoryview(part).cast("B")
            while view.nbytes:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    raise _Timeout
                try:
                    view = view[os.write(fd, view[:1 << 20]):]
                except BlockingIOError:
                    continue

    def _reader(self, deadline: float):
        fd = self.proc.stdout.fileno()

        def read_exact(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                # Past the deadline, a reply already waiting in the pipe still counts: a deferred
                # receive() (Oracle(wait=False)) may come long after the child answered.
                left = max(0.0, deadline - time.monotonic())
                if not select.select([fd], [], [], left)[0]:
                    raise _Timeout
                chunk = os.read(fd, min(n - len(buf), 1 << 20))
                if not chunk:
                    raise EOFError
                buf += chunk
            return bytes(buf)
        return read_exact

    def _last_stderr_line(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 4096))
            lines = [x for x in self._stderr.read().decode("utf-8", "replace").splitlines() if x.strip()]
        except OSError:
            return ""
        return safe_text(lines[-1].strip(), 160) if lines else ""

    def _fail(self, event: str, kind: str, hint: str = "") -> ChildError:
        self.dead = self.failed = True
        return ChildError(self.what, self.subject, event, kind, hint)

    def _died(self) -> ChildError:
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            return self._fail("closed its pipe and stopped answering", "crash")
        if rc < 0:
            sig = _signal_name(-rc)
            return self._fail(f"crashed ({sig})" if -rc != signal.SIGKILL else f"was killed ({sig})", "crash")
        last = self._last_stderr_line()
        if "MemoryError" in last:
            return self._fail(f"ran out of memory (limit {self.memory / 2**30:g} GiB)", "memory")
        return self._fail(f"exited with status {rc}" + (f" ({last})" if last else ""), "crash")

    def request(self, header: dict, blobs=(), timeout: float = CALL_TIMEOUT) -> tuple[dict, list[bytes]]:
        """Send one request, wait at most `timeout` seconds for its reply."""
        self.send(header, blobs, timeout)
        return self.receive()

    def send(self, header: dict, blobs=(), timeout: float = CALL_TIMEOUT) -> None:
        """The first half of request(): the reply (due within `timeout` s from now) is read
        by receive(), so the caller can work while the child does."""
        if self.dead:
            raise self._fail("is no longer running (it failed earlier)", "crash")
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        self.idle = False
        self._guard(lambda: self._write(encode(header, blobs), self._deadline))

    def receive(self) -> tuple[dict, list[bytes]]:
        reply, parts = self._guard(lambda: decode(self._reader(self._deadline)))
        self.idle = True
        if "error" in reply:
            self.failed = True
            if reply.get("kind") == "memory":
                raise ChildError(self.what, self.subject,
                                 f"ran out of memory (limit {self.memory / 2**30:g} GiB)", "memory")
            raise ChildError(self.what, self.subject, "failed", "error", safe_text(reply["error"], 200))
        return reply, parts

    def _guard(self, step):
        try:
            return step()
        except _Timeout:
            _kill(self.proc)
            raise self._fail(f"did not finish within {self._timeout:g} s (stopped)", "timeout") from None
        except (EOFError, BrokenPipeError, ConnectionError):
            raise self._died() from None
        except (FrameError, ValueError, TypeError) as e:
            _kill(self.proc)
            raise self._fail(f"sent a malformed reply ({safe_text(e, 80)})", "crash") from None


# Idle oracle children, kept for the next Oracle of this process: starting one (Python, numpy,
# tflite_micro) costs about 0.3 s of CPU, which the tests would pay hundreds of times. Only a
# child whose last request succeeded comes back, after it dropped its interpreter; one that
# crashed, hung or failed is never reused. Generated C is never reused: each library gets a
# fresh child.
_POOL_SIZE = 2
_pool: list[Child] = []
_pool_lock = threading.RLock()  # re-entrant: a finalizer run by the GC inside acquire() may release()


def acquire(mode: str, what: str, subject: str, memory: int | None = None) -> Child:
    memory = MEMORY_LIMIT if memory is None else int(memory)
    if mode == "oracle":
        with _pool_lock:
            while _pool:
                child = _pool.pop()
                if child.alive and child.memory == memory:
                    child.what, child.subject = what, subject
                    return child
                child.close()
    return Child(mode, what, subject, memory)


def release(child: Child) -> None:
    """Give an oracle child back to the pool (or end it); the caller must not use it again."""
    if child.alive and child.poolable and not child.failed and child.idle:
        try:
            child.request({"op": "reset"}, timeout=10)
        except MicrolithError:
            child.close()
            return
        with _pool_lock:
            if len(_pool) < _POOL_SIZE:
                _pool.append(child)
                return
    child.close()
