"""microlith.apps: the three applications in reduced runs (--quick: data subset, few epochs),
their data checks, reports and the `microlith app` command.

Each quick run must reach accuracy well above chance and its compiled C pipeline must agree
with the Python pipeline: same decisions, the model byte-exact on the C's own features, the
post-processing exact. Tests needing a data archive skip (naming its source) when it is missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microlith.apps import AppOptions, run
from microlith.apps import common as C
from microlith.ir import MicrolithError

pytest.importorskip("torch", reason="the applications train with PyTorch")
pytest.importorskip("scipy", reason="the applications read .mat files and resample with scipy")


def _need(*names: str) -> None:
    for name in names:
        if not (C.cache_dir(AppOptions()) / name / ".complete").exists() and \
                not C.archive_path(name, AppOptions()).is_file():
            pytest.skip(f"{C.archive_path(name, AppOptions())} missing: {C.SOURCES[name]}")


def _have_arm() -> bool:
    return shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None


def _check_agreement(res: dict) -> None:
    a = res["agreement"]
    assert a["buffers"] > 0
    assert a["decisions_equal"] == a["buffers"], a
    assert a["post_exact"] == a["buffers"], a
    assert a["model_bit_exact"] == a["windows"], a
    assert a["feature_error"] <= 1e-4 and a["input_lsb_max"] <= 1


def _check_outputs(res: dict, tmp_path: Path, app: str) -> None:
    out = tmp_path / app
    assert (out / "result.json").is_file() and json.loads((out / "result.json").read_text())["app"] == app
    assert Path(res["confusion_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    folder = Path(res["pipeline_dir"])
    name = json.loads((folder / "pipeline.json").read_text())["name"]
    for f in ("pipeline.json", "model.tflite", "CMakeLists.txt", f"src/{name}.h"):
        assert (folder / f).is_file(), f
    assert res["checks"] and all(r["status"] != "fatal" for r in res["checks"])
    assert all(set(t) >= {"target", "met", "text"} for t in res["targets"])
    # how long it takes belongs in BENCHMARKS.md (train+eval s), not in a timed assertion
    assert res["seconds"]["total"] > 0


def test_kws_quick(tmp_path):
    _need("picovoice_wakeword", "fsdd")
    pytest.importorskip("soundfile", reason="the alexa clips are FLAC")
    res = run("kws", AppOptions(out=str(tmp_path), quick=True, progress=False, profile=False))
    assert res["int8_accuracy"] >= 0.35, res["extra_metrics"]   # 8 classes: chance 12.5 %
    assert abs(res["int8_accuracy"] - res["float_accuracy"]) <= 0.05
    _check_agreement(res)
    _check_outputs(res, tmp_path, "kws")
    checks = {r["check"]: r for r in res["checks"]}
    assert checks["sample rate"]["status"] == "warning" and "resampled" in checks["sample rate"]["detail"]
    assert "sessions" in res["split"] and "george" in res["split"]
    assert len(res["confusion"]) == 8


def test_bearing_quick(tmp_path):
    _need("cwru_bearing_12k_drive_end")
    res = run("bearing", AppOptions(out=str(tmp_path), quick=True, progress=False, profile=_have_arm()))
    assert res["int8_accuracy"] >= 0.8 and res["float_accuracy"] >= 0.8   # 4 classes: chance 25 %
    assert res["anomaly_auc"] >= 0.9
    _check_agreement(res)
    _check_outputs(res, tmp_path, "bearing")
    checks = {r["check"]: r for r in res["checks"]}
    assert checks["sample rate"]["status"] == "ok"
    assert checks["label file vs recording"]["status"] == "warning"   # the 0.028 in files' variable names
    assert "gap" in res["split"] and "load 3" in res["split"]
    if _have_arm():
        p = res["profile"]
        assert p["output_matches_host"] and p["fits_budget"] and p["instructions"] > 0


def test_ecg_quick(tmp_path):
    _need("cinc2017_af_sample")
    res = run("ecg", AppOptions(out=str(tmp_path), quick=True, progress=False, profile=_have_arm()))
    assert res["af_f1_int8"] >= 0.6 and res["int8_accuracy"] >= 0.8   # majority class alone: F1 0
    _check_agreement(res)
    _check_outputs(res, tmp_path, "ecg")
    assert np.asarray(res["confusion"]).shape == (4, 2)   # N, A, then O and ~ reported separately


def test_cli_app_json(tmp_path):
    _need("cwru_bearing_12k_drive_end")
    bench = tmp_path / "BENCHMARKS.md"
    bench.write_text("# benchmarks\n\nother section\n")
    r = subprocess.run([sys.executable, "-m", "microlith.cli", "app", "bearing", "--quick", "--json", "--no-profile",
                        "--out", str(tmp_path / "out"), "--benchmarks", str(bench)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["app"] == "bearing" and res["quick"] is True
    text = bench.read_text()
    assert "other section" in text and C.BENCH_BEGIN in text and "| bearing |" in text


def test_missing_archive_names_the_source(tmp_path):
    (tmp_path / "data").mkdir()
    opts = AppOptions(data=str(tmp_path / "data"), cache=str(tmp_path / "cache"), out=str(tmp_path / "out"),
                      progress=False, profile=False)
    with pytest.raises(MicrolithError, match="physionet.org"):
        run("ecg", opts)
    r = subprocess.run([sys.executable, "-m", "microlith.cli", "app", "bearing", "--data", str(tmp_path / "data"),
                        "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "MICROLITH_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2 and "cwru_bearing_12k_drive_end.tar.xz is missing" in r.stderr
    assert "case.edu" in r.stderr


def _fake_cinc(cache: Path, label_rows: list[str], fs: int = 300) -> None:
    import scipy.io
    root = cache / "cinc2017_af_sample" / "cinc2017_af_sample" / "validation"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [row.split(",")[0] for row in label_rows]
    for name in names:
        x = (rng.standard_normal(9000) * 100).astype(np.int16)
        scipy.io.savemat(str(root / f"{name}.mat"), {"val": x[None]})
        (root / f"{name}.hea").write_text(f"{name} 1 {fs} 9000\n{name}.mat 16+24 1000/mV 16 0 0 0 0 ECG\n")
    (root / "REFERENCE.csv").write_text("\n".join(label_rows) + "\n")
    (root / "RECORDS").write_text("\n".join(names) + "\n")
    (cache / "cinc2017_af_sample" / ".complete").write_text("")


def test_fatal_data_problems_stop_with_one_table(tmp_path):
    cache = tmp_path / "cache"
    rows = [f"A{i:05d},N" for i in range(6)] + [f"B{i:05d},A" for i in range(6)] + ["C00001,X"]
    _fake_cinc(cache, rows)
    opts = AppOptions(cache=str(cache), out=str(tmp_path / "out"), progress=False, profile=False)
    with pytest.raises(MicrolithError, match="data check failed") as e:
        run("ecg", opts)
    assert "unknown label" in str(e.value) and "dataset" in str(e.value)   # the whole table follows

    cache2 = tmp_path / "cache2"
    _fake_cinc(cache2, [f"A{i:05d},N" for i in range(6)] + [f"B{i:05d},A" for i in range(6)], fs=250)
    with pytest.raises(MicrolithError, match="sample rate"):
        run("ecg", AppOptions(cache=str(cache2), out=str(tmp_path / "out"), progress=False, profile=False))


def test_data_checks_table():
    ch = C.DataChecks()
    ch.add("d", "counts", "ok", "a 1, b 2")
    ch.add("d", "clipping", "warning", "3 clips", 3)
    text = ch.table()
    assert "WARNING" in text and "counts" in text and "3 clips" in text
    ch.raise_if_fatal()
    ch.add("d", "labels", "fatal", "label file lists 2 missing recordings", 2)
    with pytest.raises(MicrolithError, match="labels: label file lists 2 missing"):
        ch.raise_if_fatal()


def test_update_benchmarks_keeps_other_sections(tmp_path):
    path = tmp_path / "B.md"
    path.write_text("# Benchmarks\n\n## kernels\nkeep me\n")

    def res(app, acc):
        return {"app": app, "task": "t", "heldout": "h", "float_accuracy": acc, "int8_accuracy": acc,
                "profile": {"flash_bytes": 1000, "ram_bytes": 200, "instructions": 5000, "latency_ms_est": 0.1,
                            "fits_budget": True},
                "seconds": {"total": 10.0}, "targets": [{"target": "x", "met": True}],
                "benchmarks_details": f"### {app} details {acc}"}
    C.update_benchmarks(path, res("ecg", 0.5))
    C.update_benchmarks(path, res("kws", 0.9))
    C.update_benchmarks(path, res("ecg", 0.75))
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\n## kernels\nkeep me\n")
    assert text.count("| ecg |") == 1 and "75.0%" in text and "50.0%" not in text
    assert text.index("| kws |") < text.index("| ecg |")
    assert "### kws details 0.9" in text and text.count(C.BENCH_BEGIN) == 1
    path.write_text(text + "\n## after\nalso kept\n")
    C.update_benchmarks(path, res("bearing", 1.0))
    assert path.read_text().endswith("## after\nalso kept\n") and "| bearing |" in path.read_text()


def test_metrics():
    assert C.roc_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert C.roc_auc([0.5, 0.5], [0.5, 0.5]) == 0.5
    assert C.f1([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert C.confusion([0, 1, 1], [0, 1, -1], 2).tolist() == [[1, 0], [0, 1]]
