"""One trial, footprint first: the candidate is compiled untrained (random weights, real shapes)
and profiled on the emulated board; over budget, it is rejected before any training, its
footprint still recorded. A survivor is trained, quantized, compiled, and scored on the
held-out split through the compiled C pipeline (host build of the generated folder).

Runs wherever a worker runs (this process, or a Ray actor on any machine of a cluster): it
returns plain data, and the driver alone writes the study.
"""
from __future__ import annotations

import io
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ir import MicrolithError


@dataclass(frozen=True)
class Limits:
    target: str
    max_flash: int | None = None      # bytes; default the board's flash
    max_ram: int | None = None        # bytes; default the board's RAM
    max_latency_ms: float | None = None

    def resolved(self) -> dict:
        from ..targets import get_target
        t = get_target(self.target)
        if t["kind"] != "board":
            raise MicrolithError(f"search: --target {self.target} is a core; give a board (see `microlith targets`), "
                                 "whose flash, RAM and clock bound the search")
        val = (lambda f: f.get("value") if isinstance(f, dict) else f)  # noqa: E731
        return {"flash_bytes": int(self.max_flash or val(t["flash_bytes"])),
                "ram_bytes": int(self.max_ram or val(t["ram_bytes"])),
                "latency_ms_est": None if self.max_latency_ms is None else float(self.max_latency_ms)}


FOOTPRINT_KEYS = ("flash_bytes", "ram_bytes", "instructions", "latency_ms_est", "energy_uj_est", "cycles_est")


def check_worker() -> str:
    """This machine's name, or an error naming what it lacks to run trials."""
    import shutil

    from ..targets.cortexm import CC, QEMU
    host = socket.gethostname()
    missing = [t for t in (CC, QEMU) if shutil.which(t) is None]
    if missing:
        raise MicrolithError(f"search worker on {host} lacks {' and '.join(missing)}: every worker needs the Arm "
                             "GNU toolchain and QEMU (Debian: apt-get install gcc-arm-none-eabi qemu-system-arm)")
    return host


def constraints(footprint: dict, limits: dict) -> list[float]:
    """Optuna constraint values (<= 0 is feasible): flash, RAM, latency over their limits, relative."""
    out = []
    for key in ("flash_bytes", "ram_bytes", "latency_ms_est"):
        lim = limits.get(key)
        if lim is None:
            out.append(0.0)
            continue
        v = footprint.get(key)
        out.append(float("inf") if v is None else (float(v) - lim) / max(lim, 1e-9))
    return out


def footprint(pipe, target: str, sample, workdir: Path) -> dict:
    from ..pipeline import profile
    folder = workdir / "candidate"
    pipe.generate_c(folder, sample=sample)
    prof = profile(folder, target, workdir=workdir, model_breakdown=False)
    return {k: prof.get(k) for k in FOOTPRINT_KEYS}


def run_trial(problem, data, params: dict, limits: Limits, threads: int | None = None) -> dict:
    """Footprint first, then (within budget) train and score. Plain data back."""
    from ..apps.common import Progress, accuracy, evaluate_c
    if threads:
        import torch
        torch.set_num_threads(threads)
    lim = limits.resolved()
    t0 = time.perf_counter()
    out = {"params": params, "host": socket.gethostname(), "pid": os.getpid()}
    with tempfile.TemporaryDirectory(prefix="microlith-trial-") as tmp:
        tmp = Path(tmp)
        pipe0 = problem.train(params, data, untrained=True)
        sample = np.asarray(data.buffers[0]).reshape(-1)[:pipe0.window]
        fp = footprint(pipe0, limits.target, sample, tmp)
        out["footprint"] = fp
        out["footprint_of"] = "untrained candidate (random weights, real shapes)"
        out["constraints"] = constraints(fp, lim)
        out["seconds_footprint"] = round(time.perf_counter() - t0, 2)
        over = [k for k, c in zip(("flash", "RAM", "latency"), out["constraints"]) if c > 0]
        if over:
            out["status"] = "rejected"
            out["reason"] = "over budget: " + ", ".join(over)
            out["seconds"] = out["seconds_footprint"]
            return out
        t1 = time.perf_counter()
        pipe = problem.train(params, data, untrained=False)
        out["seconds_training"] = round(time.perf_counter() - t1, 2)
        folder = tmp / "trained"
        pipe.generate_c(folder, sample=sample)
        ev = evaluate_c(pipe, folder, list(data.buffers), Progress(False), compare_count=0)
        pred = np.array([r["label"] for r in ev["results"]])
        out["accuracy"] = accuracy(data.labels, pred)
        out["status"] = "trained"
        out["pipeline_config"] = pipe.config()
        out["model_bytes"] = pipe.model_bytes
        buf = io.BytesIO()
        np.save(buf, sample)
        out["sample_npy"] = buf.getvalue()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


class TrialWorker:
    """A worker that loads its problem's data once and runs trials (the Ray actor's body; also
    used in-process when the search runs without Ray)."""

    def __init__(self, problem, threads: int | None = None):
        self.host = check_worker()
        self.problem = problem
        self.threads = threads
        self.data = None

    def hello(self) -> str:
        return self.host

    def run(self, params: dict, limits: Limits) -> dict:
        if self.data is None:
            self.data = self.problem.load()
        try:
            return run_trial(self.problem, self.data, params, limits, self.threads)
        except MicrolithError as e:
            return {"params": params, "status": "error", "reason": str(e), "host": self.host}
