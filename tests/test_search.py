"""microlith search: footprint first (over-budget candidates rejected untrained, footprint kept),
the Optuna study in an SQLite file that survives SIGKILL, Ray workers on a cluster started with
`ray start`, and the results (Pareto table, plot, best pipeline folder).

The problem is tests/search_tiny.py (two tones, an MLP whose width is searched: trial 0 small,
trial 1 too big for the 60,000 B flash limit), so each trial takes seconds."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from microlith.ir import MicrolithError
from microlith.targets import cortexm

pytest.importorskip("optuna", reason="microlith search needs Optuna: pip install 'microlith[search]'")
pytest.importorskip("torch", reason="the search trains PyTorch models")
_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed: the search "
                                 "profiles each candidate on the emulated board")

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
import search_tiny  # noqa: E402


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), env.get("PYTHONPATH", "")])
    return env


def _finished(study: Path):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = optuna.load_study(storage=f"sqlite:///{study}", study_name="microlith-search")
    return s, [t for t in s.trials if t.state == optuna.trial.TrialState.COMPLETE]


@needs_tools
def test_footprint_first_rejects_untrained_and_compiles_best(tmp_path):
    r = search_tiny.run(str(tmp_path / "s.db"), str(tmp_path / "out"), 2, progress=False)
    rows = {row["trial"]: row for row in r["rows"]}
    assert rows[0]["status"] == "trained" and 0.0 <= rows[0]["accuracy"] <= 1.0 and rows[0]["feasible"]
    # the wide MLP is over the flash limit: rejected before training, its footprint still recorded
    assert rows[1]["status"] == "rejected" and not rows[1]["feasible"] and rows[1]["accuracy"] is None
    assert rows[1]["flash_bytes"] > 60_000 and rows[1]["instructions"] > 0 and "flash" in rows[1]["reason"]
    assert r["best"]["trial"] == 0 and [p["trial"] for p in r["pareto"]] == [0]
    for key in ("flash_bytes", "ram_bytes", "instructions", "latency_ms_est", "energy_uj_est"):
        assert rows[0][key] is not None
    best = Path(r["best_pipeline"])
    assert json.loads((best / "pipeline.json").read_text())["name"] == "tiny" and (best / "src" / "tiny.c").is_file()
    assert r["best_profile"]["fits_budget"] is True
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert "Pareto front" in (tmp_path / "out" / "pareto.md").read_text()
    from microlith.search.results import (
        html_section,  # the section of `microlith report --search DIR`
    )
    section = html_section(tmp_path / "out")
    assert "Architecture search: custom on nrf52840" in section and "data:image/png;base64," in section
    # the study file holds both trials; asking for them again runs nothing
    again = search_tiny.run(str(tmp_path / "s.db"), str(tmp_path / "out2"), 2, progress=False)
    assert again["session_trials"] == 0 and len(again["rows"]) == 2


def _complete_read_only(study: Path) -> list:
    """The finished trials' numbers, read without writing: optuna.load_study creates missing tables,
    which races the child creating them and can make the child fail."""
    if not study.exists():
        return []
    import sqlite3
    from contextlib import closing
    try:
        with closing(sqlite3.connect(f"file:{study}?mode=ro", uri=True, timeout=1)) as db:
            return [n for (n,) in db.execute("SELECT number FROM trials WHERE state = 'COMPLETE'")]
    except sqlite3.Error:   # the child is still creating the schema
        return []


@needs_tools
def test_sigkill_mid_search_resumes_and_keeps_finished_trials(tmp_path):
    study, out = tmp_path / "s.db", tmp_path / "out"
    log = tmp_path / "child.log"
    with open(log, "wb") as sink:
        child = subprocess.Popen([sys.executable, str(HERE / "search_tiny.py"), str(study), str(out), "3"],
                                 env=_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        done = []
        while time.monotonic() < deadline:
            exited = child.poll() is not None   # read before the study: a child that ends meanwhile is seen
            done = _complete_read_only(study)
            if done or exited:
                break
            time.sleep(0.5)
        assert done, (f"the search finished no trial in time (child exit {child.poll()}):\n"
                      + log.read_text(errors="replace")[-3000:])
    finally:
        os.killpg(child.pid, signal.SIGKILL)   # the search and its compilers / QEMU, mid-run
        child.wait()
    kept = {t.number: (t.values, t.user_attrs["footprint"]) for t in _finished(study)[1]}
    assert kept
    r = search_tiny.run(str(study), str(out), 3, progress=False)
    s, now = _finished(study)
    assert len(now) == 3 and len(r["rows"]) == 3
    for n, (values, fp) in kept.items():   # every trial finished before the kill is still there, unchanged
        t = s.trials[n]
        assert t.values == values and t.user_attrs["footprint"] == fp
    assert r["session_trials"] == 3 - len(kept)
    import optuna
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL) for t in s.trials)


def _free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


@needs_tools
def test_search_on_a_ray_cluster_started_with_ray_start(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'microlith[search]'")
    # Ray 2.5x turns token authentication on for `ray start`; a throwaway loopback cluster goes without
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray_cli = shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the `ray` command is not on PATH")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="mlray", dir="/tmp")   # short: Ray's socket paths have a length limit
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats",
                             f"--temp-dir={temp}", "--object-store-memory=100000000"],
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:   # the head takes a few seconds to listen
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, "ray start --head did not listen within 180 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        r = search_tiny.run(str(tmp_path / "s.db"), str(tmp_path / "out"), 2, progress=False,
                            ray_address=f"127.0.0.1:{port}", workers=2)
        assert r["workers"] == 2 and len(r["rows"]) == 2
        assert {row["status"] for row in r["rows"]} == {"trained", "rejected"}
        assert all(row["host"] for row in r["rows"])
    finally:
        try:
            import ray
            ray.shutdown()
        except Exception:  # noqa: BLE001
            pass
        head.send_signal(signal.SIGTERM)   # `ray start --block` stops the processes it started
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(temp, ignore_errors=True)


def test_worker_without_toolchain_says_so(monkeypatch):
    from microlith.search.trial import check_worker
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MicrolithError, match="lacks arm-none-eabi-gcc and qemu-system-arm: every worker needs"):
        check_worker()


def test_study_of_another_search_is_refused(tmp_path):
    from microlith.search.driver import open_study
    open_study(tmp_path / "s.db", {"problem": "kws", "target": "nrf52840"}, 0)
    with pytest.raises(MicrolithError, match="belongs to another search.*target: 'nrf52840' there, 'nrf51822' now"):
        open_study(tmp_path / "s.db", {"problem": "kws", "target": "nrf51822"}, 0)


def test_cli_refuses_a_core_target(capsys):
    from microlith.cli import main
    assert main(["search", "bearing", "--target", "cortex-m4", "--trials", "1"]) == 2
    assert "is a core; give a board" in capsys.readouterr().err


def test_nrf51822_board():
    from microlith.targets import get_target
    t = get_target("nrf51822")
    assert t["core"] == "cortex-m0" and t["ram_bytes"]["value"] == 16 * 1024 and t["clock_hz"]["value"] == 16_000_000
