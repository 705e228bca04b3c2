"""Example applications on real sensor data, each one command (`microlith app NAME`):

    kws      keyword spotting: 6 Picovoice wake words + unknown (FSDD digits) + silence/noise
    bearing  CWRU bearing faults: normal / ball / inner race / outer race, held-out motor load
    ecg      atrial fibrillation from single-lead ECG (PhysioNet/CinC 2017 sample)

Each checks its data, trains a small PyTorch model, quantizes it with microlith.quantize,
compiles DSP + model + post-processing into one C library (microlith.pipeline), evaluates the
compiled C on held-out data, and profiles the whole pipeline on an emulated Cortex-M4
(nRF52840 budgets). Shared helpers: common.py.
"""
from __future__ import annotations

from .common import AppOptions

APPS = ("kws", "bearing", "ecg")


def run(name: str, options: AppOptions) -> dict:
    """Run one application; returns its JSON-serializable result."""
    from ..ir import MicrolithError
    if name == "kws":
        from .kws import run as fn
    elif name == "bearing":
        from .bearing import run as fn
    elif name == "ecg":
        from .ecg import run as fn
    else:
        raise MicrolithError(f"unknown application '{name}'; choose one of {', '.join(APPS)}")
    return fn(options)


__all__ = ["APPS", "AppOptions", "run"]
