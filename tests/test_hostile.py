"""A model file is untrusted input: its names must never become code, its C must never clobber
the user's files, and its constants carry a checksum the firmware can test.

The hostile-name model below carries, in tensor names, what an attacker would try: comment
breakers with a constructor that runs a shell command, preprocessor lines, trigraphs and line
splices, NULs, bidi controls, C keywords and a 1 MB name. `verify` builds and runs the generated
C, so the marker file the payload would create is the side effect the test watches for.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import microlith
from microlith.ir import MicrolithError, Op
from microlith.ir import Graph, Node
from opmodels import act, const, write

ROOT = Path(__file__).resolve().parent.parent
KWS = ROOT / "examples" / "models" / "mlperf_tiny" / "kws_ref_model.tflite"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "microlith.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def _hostile_names(marker: Path) -> dict[str, str]:
    payload = (f'x */\n__attribute__((constructor)) static void pwn(void) {{ system("touch {marker}"); }}\n'
               '/* ')
    return {
        "input": "\nint injected_symbol;\n#error in header\n" + "\u202e" + "in",
        "weights": payload,
        "bias": "#include </etc/passwd>\n??/\nb\\\n",
        "fc_out": "int",  # a C keyword
        "relu_out": "a\x00b/*c*/d" + "A" * 1_000_000,  # NUL, comment delimiters, 1 MB
    }


def _hostile_model(tmp_path: Path, marker: Path) -> Path:
    n = _hostile_names(marker)
    rng = np.random.default_rng(3)
    x = act(n["input"], (1, 16), 0.05, -3)
    w = const(n["weights"], rng.integers(-127, 128, (8, 16)).astype(np.int8), 0.01)
    b = const(n["bias"], rng.integers(-500, 500, 8).astype(np.int32), 0.05 * 0.01)
    y = act(n["fc_out"], (1, 8), 0.2, 5)
    z = act(n["relu_out"], (1, 8), 0.2, -128)
    g = Graph("hostile", {t.name: t for t in (x, w, b, y, z)},
              [Node(Op.FULLY_CONNECTED, (x.name, w.name, b.name), (y.name,),
                    dict(activation="NONE", keep_num_dims=False)),
               Node(Op.RELU, (y.name,), (z.name,), {})],
              [x.name], [z.name])
    return write(g, tmp_path, "hostile")


def test_hostile_names_verify_exact_and_run_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    model = _hostile_model(tmp_path, marker)
    r = _cli("verify", model, "--samples", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "bit-exact" in r.stdout
    assert not marker.exists(), "the constructor payload in a tensor name ran"

    out = tmp_path / "c"
    r = _cli("compile", model, "-o", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) < 2000  # names are bounded in what we print too
    for f in sorted(out.rglob("*")):
        if f.is_file() and f.suffix in (".c", ".h", ".md", ".txt", ".properties"):
            text = f.read_text(encoding="ascii")  # ASCII only: no bidi control, no NUL
            assert all(ch == "\n" or " " <= ch <= "~" for ch in text), f
            if not f.name.startswith("ml_"):  # the model's files (kernels are ours, fixed text)
                assert "??" not in text and "\\\n" not in text, f
            assert len(text) < 2_000_000
    # With comments stripped by the preprocessor, nothing of the payload is left in the code.
    src = out / "src"
    for f in (src / "hostile.c", src / "hostile.h"):
        code = subprocess.run(["gcc", "-fpreprocessed", "-dD", "-E", "-P", str(f)], capture_output=True,
                              text=True, check=True).stdout
        for needle in ("injected_symbol", "system", "constructor", "passwd", "#error in header"):
            assert needle not in code, (f.name, needle)
    # Strict builds, with trigraphs honoured, on both compilers.
    for cc in ("gcc", "clang"):
        if shutil.which(cc) is None:
            continue
        subprocess.run([cc, "-std=c99", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c",
                        str(src / "hostile.c"), "-I", str(src), "-o", str(tmp_path / f"h_{cc}.o")], check=True)
        syms = subprocess.run(["nm", str(tmp_path / f"h_{cc}.o")], capture_output=True, text=True).stdout
        assert "pwn" not in syms and "injected_symbol" not in syms


def test_error_messages_print_names_on_one_bounded_line(tmp_path):
    """A float model whose tensors carry newlines, bidi controls and a 1 MB name: the error that
    names the tensor is one bounded line, and so is one about a hostile --name."""
    from microlith.ir import Tensor
    n = _hostile_names(tmp_path / "PWNED")
    x = Tensor(n["input"], (1, 4), "float32")
    y = Tensor(n["relu_out"], (1, 4), "float32")
    g = Graph("bad", {x.name: x, y.name: y}, [Node(Op.RELU, (x.name,), (y.name,), {})], [x.name], [y.name])
    path = write(g, tmp_path, "float_relu")
    for extra in ([], ["--name", "bad\nname\u202e"]):
        r = _cli("compile", path, "-o", tmp_path / "o", *extra)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and len(r.stderr) < 2100, r.stderr
        assert "\u202e" not in r.stderr and "\x00" not in r.stderr
    assert "float" in _cli("compile", path, "-o", tmp_path / "o").stderr


@pytest.mark.parametrize("name, why", [
    ("", "empty"), ("ML_COMMON", "C prefix"), ("ml_conv2d_s8", "C prefix"), ("Microlith_x", "C prefix"),
    ("int", "C prefix"), ("_x", "C prefix"), ("9lives", "C prefix"), ("a" * 300, "characters"),
    ("a-b", "C prefix"),
])
def test_name_is_validated(tmp_path, name, why):
    r = _cli("compile", KWS, "-o", tmp_path / "o", "--name", name)
    assert r.returncode == 2, r.stderr
    assert why in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_file_names_that_are_keywords_still_compile(tmp_path):
    for stem in ("int", "ml_common", "9net", "static"):
        model = tmp_path / f"{stem}.tflite"
        shutil.copy(KWS, model)
        r = _cli("compile", model, "-o", tmp_path / stem)
        assert r.returncode == 0, r.stderr
        headers = [p.name for p in (tmp_path / stem / "src").glob("*.h") if not p.name.startswith("ml_")]
        assert len(headers) == 1 and not headers[0].lower().startswith(("ml_", "int.", "static."))


def test_self_test_detects_a_corrupted_constant(tmp_path):
    import ctypes
    out = tmp_path / "c"
    res = microlith.compile(KWS, out, measure=False)
    src = out / "src"
    hdr = (src / f"{res['name']}.h").read_text()
    assert f"0x{int(res['constants_crc32'], 16):08X}u" in hdr

    def build_and_test(tag):
        lib = tmp_path / f"lib_{tag}.so"
        subprocess.run(["gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", str(src),
                        *map(str, sorted(src.rglob("*.c"))), "-o", str(lib)], check=True)
        return ctypes.CDLL(str(lib))[f"{res['name']}_self_test"]()

    assert build_and_test("intact") == 0
    # Corrupt one weight byte in the flash image the C describes: change one literal.
    c_path = src / f"{res['name']}.c"
    text = c_path.read_text()
    m = re.search(r"_l0_weights\[\d+\] = \{\n\s+(-?\d+),", text)
    old = int(m.group(1))
    new = old + 1 if old < 127 else old - 1
    c_path.write_text(text[:m.start(1)] + str(new) + text[m.end(1):])
    assert build_and_test("corrupt") == -3  # ML_CHECKSUM_ERROR


def test_never_clobbers_user_files(tmp_path):
    user = tmp_path / "fw"
    (user / "src").mkdir(parents=True)
    (user / "CMakeLists.txt").write_text("# mine\n")
    (user / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    r = _cli("compile", KWS, "-o", user)
    assert r.returncode == 2 and "not made by microlith" in r.stderr and "--force" in r.stderr
    assert (user / "CMakeLists.txt").read_text() == "# mine\n"
    assert sorted(p.name for p in user.rglob("*")) == ["CMakeLists.txt", "main.c", "src"]

    # --force adds our files; the user's main.c stays and is not in the library's sources.
    (user / "CMakeLists.txt").unlink()
    r = _cli("compile", KWS, "-o", user, "--force")
    assert r.returncode == 0, r.stderr
    assert (user / "src" / "main.c").exists()
    assert "main.c" not in (user / "CMakeLists.txt").read_text()

    # -o on a file, and an unwritable place: exit 2 with one line, not a traceback.
    f = tmp_path / "afile"
    f.write_text("x")
    r = _cli("compile", KWS, "-o", f)
    assert r.returncode == 2 and "not a folder" in r.stderr
    r = _cli("compile", KWS, "-o", f / "sub")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        r = _cli("compile", KWS, "-o", ro / "out")
        assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_recompile_replaces_whole_folder(tmp_path):
    out = tmp_path / "c"
    microlith.compile(KWS, out, name="first", measure=False)
    assert (out / "src" / "first.c").exists()
    microlith.compile(KWS, out, name="second", measure=False)
    assert not (out / "src" / "first.c").exists()  # no stale files for a CMake glob
    assert (out / "src" / "second.c").exists()
    # A file the user adds later to a microlith folder is theirs: refused, then kept with --force.
    (out / "src" / "extra.c").write_text("int extra;\n")
    with pytest.raises(MicrolithError, match="did not write"):
        microlith.compile(KWS, out, name="third", measure=False)
    microlith.compile(KWS, out, name="third", measure=False, force=True)
    assert (out / "src" / "extra.c").exists() and (out / "src" / "third.c").exists()
    assert not (out / "src" / "second.c").exists()


def test_parallel_compiles_into_one_folder_never_mix(tmp_path):
    out = tmp_path / "c"
    names = [f"net{k}" for k in range(4)]
    errors = []

    def one(name):
        try:
            for _ in range(3):
                microlith.compile(KWS, out, name=name, measure=False)
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # Exactly one compile's files, complete: one model source whose header matches it.
    models = [p.stem for p in (out / "src").glob("net*.c")]
    assert len(models) == 1, models
    cmake = (out / "CMakeLists.txt").read_text()
    assert f"src/{models[0]}.c" in cmake
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".c.")]  # no temporaries left


AD = Path(__file__).resolve().parent.parent / "examples" / "models" / "mlperf_tiny" / "ad01_int8.tflite"


@pytest.mark.cortexm
@pytest.mark.parametrize("model,layout,own,other,m3_has_it", [
    (AD, "_l0_weights_rows6", "cortex-m4", "cortex-m0", False),  # fully connected weights, DSP routine
    (KWS, "_l0_m0_bias", "cortex-m0", "cortex-m4", True),       # convolution biases, offset folded, M0
])
def test_self_test_covers_the_constants_each_core_compiles(tmp_path, model, layout, own, other, m3_has_it):
    """Some constants are in the folder twice: as the model has them and laid out for one core
    family's kernels (the DSP six-row routine, the M0 convolution), which only that family's
    builds compile (ML_DSP_LAYOUTS, ML_M0_LAYOUTS). NAME_self_test checks what the build compiled:
    intact on every core; a corrupted layout fails on its own family's core and is not there on
    another. The M3 takes the M0 routines (ML_M0_PATHS), so it has the M0 layouts and not the
    DSP ones."""
    from microlith.targets.cortexm import FirmwareBuilder, qemu_command
    out = tmp_path / "c"
    res = microlith.compile(model, out, measure=False)
    name = res["name"]
    c_path = out / "src" / f"{name}.c"
    text = c_path.read_text()
    assert res["layout_bytes"] > 0
    # the timed call runs the self test first and returns its status
    head = re.search(rf"int {name}_invoke\([^)]*\)\n\{{\n", text).group(0)
    text = text.replace(head, head + f"    if ({name}_self_test() != 0) {{\n        return -3;\n    }}\n")

    def status(tag, core, source):
        c_path.write_text(source)
        fw = FirmwareBuilder(out, name, core, tmp_path / f"fw_{tag}_{core}")
        x = [np.zeros(p.count, p.dtype) for p in fw.api.inputs]
        run = subprocess.run(qemu_command(fw.link([x]).elf, core), capture_output=True, timeout=300, check=False)
        report = [ln.split() for ln in (run.stdout + run.stderr).decode().splitlines() if ln.startswith("ML:run")]
        assert report, run
        return int(report[0][2])

    for core in (own, other, "cortex-m3"):
        assert status("intact", core, text) == 0, core
    m = re.search(rf"{layout}\[\d+\] = \{{\n\s+(-?\d+),", text)
    bad = text[:m.start(1)] + str(int(m.group(1)) ^ 1) + text[m.end(1):]
    assert status("bad", own, bad) == -3
    assert status("bad", other, bad) == 0
    assert status("bad", "cortex-m3", bad) == (-3 if m3_has_it else 0)
