"""The TFLM oracle and the generated C run in child processes: a crash, hang or memory limit
hit there is a clear error (exit 2 naming the model), never a dead CLI; and verify's
comparison counts outputs of the wrong count or size as a mismatch, not as a match."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import microlith
import microlith.targets.build as build
from microlith.ir import MicrolithError, Op
from microlith.verify import HostModel, Oracle, compare, random_inputs
from opmodels import act, const, single_op, write

MODELS = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny"
AD = MODELS / "ad01_int8.tflite"


def depthwise(bias: bool):
    """A 3x3 depthwise conv, depth multiplier 2; bias=False writes bias index -1, which
    makes TFLM's Prepare segfault (our compiler accepts it)."""
    rng = np.random.default_rng(0)
    w_scales = list(rng.uniform(0.002, 0.02, 6))
    x = act("x", (1, 5, 6, 3), 0.04)
    w = const("w", rng.integers(-127, 128, (1, 3, 3, 6)), scale=w_scales, axis=3, dtype="int8")
    b = const("b", rng.integers(-500, 500, 6), scale=[0.04 * s for s in w_scales], dtype="int32") if bias else None
    y = act("y", (1, 5, 6, 6), 0.5)
    attrs = dict(padding="SAME", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, activation="NONE",
                 depth_multiplier=2)
    return single_op(Op.DEPTHWISE_CONV_2D, [x, w, b], [y], attrs)


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "microlith.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_tflm_crash_is_exit_2_with_one_line(tmp_path):
    path = write(depthwise(bias=False), tmp_path, "dw_absent_bias")
    res = cli("verify", path, "--samples", "3")
    assert res.returncode == 2, (res.returncode, res.stderr)  # was -11 (SIGSEGV) with TFLM in-process
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and "the TFLM oracle crashed (SIGSEGV)" in lines[0]
    assert "cannot be verified" in lines[0]
    assert res.stdout == ""


def test_oracle_after_a_crashed_oracle(tmp_path):
    # In the library the same process goes on: the crashed child is gone, the next one works,
    # and a crashed child is never handed out again from the idle pool.
    import microlith._child as child
    path = write(depthwise(bias=False), tmp_path, "dw_absent_bias")
    with pytest.raises(MicrolithError, match="the TFLM oracle crashed"):
        Oracle(path.read_bytes(), microlith.load(path))
    assert all(c.alive for c in child._pool)
    g = microlith.load(AD)
    xs = random_inputs(g, np.random.default_rng(0))
    assert Oracle(AD.read_bytes(), g).run(xs)[0].shape == (1, 640)


def test_model_tflm_refuses_is_a_load_error():
    g = microlith.load(AD)
    with pytest.raises(MicrolithError, match=r"ad01_int8.tflite: the TFLM oracle cannot load this model \("):
        Oracle(AD.read_bytes()[:5000], g)  # cut short: TFLM's reader raises, nothing crashes


def test_same_model_with_a_bias_verifies(tmp_path):
    # The twin with a real bias runs in TFLM: the failure above is the absent bias, nothing else.
    res = microlith.verify(write(depthwise(bias=True), tmp_path, "dw_bias"), samples=3)
    assert res["bit_exact"], res


def _inject(monkeypatch, statement: str, flags=()):
    """Build the host library with ML_LAYER_BEGIN (the hook before each layer) running `statement`."""
    real = build.build_host_library
    more = list(flags)

    def patched(c_dir, out, extra_sources=(), extra_flags=(), **kw):
        flags = [*extra_flags, *more, f"-DML_LAYER_BEGIN(layer)=do {{ {statement} }} while (0)"]
        return real(c_dir, out, extra_sources=extra_sources, extra_flags=flags, **kw)
    monkeypatch.setattr(build, "build_host_library", patched)


def test_generated_c_crash_names_model_and_sample(monkeypatch):
    # The third call of layer 0 (sample 2) writes through a null pointer.
    _inject(monkeypatch, "static int calls_ = 0; if ((layer) == 0 && ++calls_ == 3) *(volatile int *)0 = 0;")
    with pytest.raises(MicrolithError) as e:
        microlith.verify(AD, samples=5)
    msg = str(e.value)
    assert msg.startswith(f"{AD}: the generated C crashed (SIG"), msg
    assert msg.endswith("on sample 2"), msg
    assert "\n" not in msg


def test_generated_c_hang_hits_the_timeout(monkeypatch):
    _inject(monkeypatch, "volatile int spin_ = 1; while (spin_) { }")
    with pytest.raises(MicrolithError, match=r"the generated C did not finish within 0\.5 s \(stopped\) on sample 0"):
        microlith.verify(AD, samples=2, timeout=0.5)


def test_output_of_the_generated_c_cannot_corrupt_the_replies(monkeypatch):
    # Replies travel on private descriptors; what the C writes to stdout goes to /dev/null.
    _inject(monkeypatch, 'fputs("not a frame\\n", stdout); fflush(stdout);', ["-include", "stdio.h"])
    assert microlith.verify(AD, samples=3)["bit_exact"]


def test_malformed_frames_are_refused():
    from microlith._child_main import FrameError, decode, encode

    def reader(data: bytes):
        pos = [0]

        def read_exact(n):
            if pos[0] + n > len(data):
                raise EOFError
            pos[0] += n
            return data[pos[0] - n:pos[0]]
        return read_exact
    good = b"".join(bytes(p) for p in encode({"op": "x"}, [b"abc", np.arange(3, dtype=np.int8)]))
    assert decode(reader(good)) == ({"op": "x", "blobs": [3, 3]}, [b"abc", b"\x00\x01\x02"])
    for bad in (b"\xff\xff\xff\x7f", b"\x03\x00\x00\x00abc", b"\x02\x00\x00\x00[]",
                b"\x0f\x00\x00\x00{\"blobs\": [-1]}", b"\x17\x00\x00\x00{\"blobs\": [4294967296]}"):
        with pytest.raises(FrameError):
            decode(reader(bad))
    with pytest.raises(EOFError):  # a reply cut short: the child died mid-write
        decode(reader(good[:-1]))


def test_child_is_dead_after_a_hang(monkeypatch, tmp_path):
    _inject(monkeypatch, "volatile int spin_ = 1; while (spin_) { }")
    g = microlith.load(AD)
    microlith.compile(g, tmp_path / "c", measure=False)
    host = HostModel(tmp_path / "c", g, g.name, tmp_path, timeout=0.5)
    xs = random_inputs(g, np.random.default_rng(0))
    with pytest.raises(MicrolithError, match="did not finish"):
        host.run(xs)
    assert host._child.proc.poll() is not None  # killed, not left spinning
    with pytest.raises(MicrolithError, match="no longer running"):
        host.run(xs)


def test_oracle_memory_limit_is_a_clear_error(tmp_path):
    # A 1 GiB activation: TFLM's arena cannot be allocated under a 512 MiB address-space limit.
    x = act("x", (1, 1024, 1024, 512), 0.05)
    y = act("y", (1, 1024, 1024, 512), 0.05)
    g = single_op(Op.RELU, [x], [y])
    path = write(g, tmp_path, "huge")
    with pytest.raises(MicrolithError, match=r"huge.tflite: the TFLM oracle ran out of memory \(limit 0\.5 GiB\)"):
        Oracle(path.read_bytes(), microlith.load(path), memory=512 << 20)


@pytest.fixture(scope="module")
def ad_host(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ad")
    g = microlith.load(AD)
    microlith.compile(g, tmp / "c", measure=False)
    host = HostModel(tmp / "c", g, g.name, tmp)
    samples = [random_inputs(g, np.random.default_rng(k)) for k in range(3)]
    yield g, host, samples
    host.close()


def test_empty_output_list_is_a_mismatch(ad_host):
    g, host, samples = ad_host
    res = compare(g, AD.read_bytes(), lambda xs: host.run(xs)[:0], samples)
    assert res["mismatched_samples"] == len(samples) and res["first_bad"] == 0
    assert "the C returned 0 outputs, the model has 1" in res["problem"]


def test_truncated_output_is_a_mismatch(ad_host):
    g, host, samples = ad_host
    res = compare(g, AD.read_bytes(), lambda xs: [o.reshape(-1)[:-1] for o in host.run(xs)], samples)
    assert res["mismatched_samples"] == len(samples)
    assert "output 0 from the C is int8[639]" in res["problem"]


def test_full_outputs_match(ad_host):
    # The same comparison without tampering: the checks above do not flag good outputs.
    g, host, samples = ad_host
    res = compare(g, AD.read_bytes(), host.run, samples)
    assert res == dict(mismatched_samples=0, max_abs_diff=0, first_bad=None, problem=None)


def test_verify_reports_short_output_as_mismatch(monkeypatch):
    monkeypatch.setattr(HostModel, "run", lambda self, xs, trace=False: [])
    res = microlith.verify(AD, samples=2)
    assert not res["bit_exact"] and res["mismatched_samples"] == 2
    assert res["first_mismatch"] == {"sample": 0, "description": "sample 0: the C returned 0 outputs, "
                                                                 "the model has 1"}


_ORPHAN_SCRIPT = r"""
import sys
import numpy as np
import microlith
import microlith.targets.build as build
from microlith.verify import HostModel, random_inputs
real = build.build_host_library
def patched(c_dir, out, extra_sources=(), extra_flags=(), **kw):
    flags = [*extra_flags, "-DML_LAYER_BEGIN(layer)=do { volatile int spin_ = 1; while (spin_) { } } while (0)"]
    return real(c_dir, out, extra_sources=extra_sources, extra_flags=flags, **kw)
build.build_host_library = patched
g = microlith.load(sys.argv[1])
microlith.compile(g, sys.argv[2] + "/c", measure=False)
host = HostModel(sys.argv[2] + "/c", g, g.name, __import__("pathlib").Path(sys.argv[2]), timeout=600)
xs = random_inputs(g, np.random.default_rng(0))
args = [["in", 0]] + [["out", g.t(n).nbytes] for n in g.outputs]
host._child.send({"op": "call", "calls": [{"fn": host.fn, "args": args}]}, xs)
# The request is in the pipe: the child runs it (and spins) even if this process dies now.
print(host._child.proc.pid, flush=True)
host._child.receive()
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_hung_child_dies_with_its_parent(tmp_path):
    # A child spinning in generated C never reads its input, so it cannot notice that the
    # parent is gone; the kernel must end it (else a killed CLI leaves a process at 100% CPU).
    import signal
    import time
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(AD), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert not _gone(pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    for _ in range(100):  # the kernel signals at once; allow a loaded machine 10 s
        if _gone(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the child of a killed parent kept running")
