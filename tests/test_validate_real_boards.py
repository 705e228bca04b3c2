"""bench/validate_real_boards.py (issue 11: the cycle model against published real-board
latencies) builds third-party code that stays out of the repository. Without it the script must
say exactly what to fetch, in one message and a non-zero status, never a traceback; with a
partial tree it names the first missing file."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "validate_real_boards.py"
ONNC = SCRIPT.with_name("validate_onnc_cmsis.py")


def _run(*args, script=SCRIPT):
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120)


def test_missing_sources_name_the_repositories_and_commits(tmp_path):
    r = _run("--sources", str(tmp_path / "nothing"))
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    for text in ("no such folder", "mlcommons/tiny_results_v0.5 @ d75aef63526dcbb30632f0529411f0219ed1003e",
                 "eliberis/mcu-deployment-tutorial @ 3d9150753d8d1ac8fd2e0bc576896e779a29c0ba",
                 "closed/PengChengLaboratory/code/kws/tensorflow", "https://github.com/"):
        assert text in r.stderr, text


def test_partial_tree_names_the_first_missing_file(tmp_path):
    (tmp_path / "tiny_results_v0.5").mkdir()
    r = _run("--sources", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "micro_interpreter.cc is missing" in r.stderr, r.stderr


def test_unknown_benchmark_is_refused(tmp_path):
    r = _run("--sources", str(tmp_path), "--benchmarks", "kws,nope")
    assert r.returncode == 2 and "unknown benchmark(s) nope" in r.stderr


def test_onnc_stack_names_its_sources_and_refuses_unknown_benchmarks(tmp_path):
    """bench/validate_onnc_cmsis.py, the second stack (ONNC + CMSIS-NN): the same contract."""
    r = _run("--sources", str(tmp_path / "nothing"), script=ONNC)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r
    for text in ("no such folder", "ARM-software/CMSIS_5 @ b9667965e0c41d7ee0c63983beccc9b8cd6b0f7f",
                 "mlcommons/tiny_results_v1.1 @ c32ef94d19429ef1d318e9c7a60002a4bd70e11b",
                 "closed/Skymizer/code"):
        assert text in r.stderr, text
    (tmp_path / "CMSIS_5").mkdir()
    r = _run("--sources", str(tmp_path), script=ONNC)
    assert r.returncode == 2 and "arm_nnfunctions.h is missing" in r.stderr, r.stderr
    r = _run("--sources", str(tmp_path), "--benchmarks", "vww,nope", script=ONNC)
    assert r.returncode == 2 and "unknown benchmark(s) nope" in r.stderr
