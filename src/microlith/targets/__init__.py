"""Targets: how to compile for a core and what must fit on a board.

Each target is one JSON file beside this module: a core (`"kind": "core"`: compiler flags,
the QEMU board that emulates it, its memory map, a documented cycles-per-instruction
estimate) or a board (`"kind": "board"`: the core it carries, flash/RAM/clock budgets and the
datasheet figures used for the energy estimate, each with its source).
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from ..ir import MicrolithError

_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def _load_all() -> dict[str, dict]:
    found = {}
    for path in sorted(_DIR.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("kind") in ("core", "board"):
            found[data["name"]] = data
    return found


def _order(t: dict):
    """Cores first (cortex-m0, m3, m4, m7, m33), then boards by name."""
    natural = [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", t["name"])]
    return (t["kind"] != "core", natural)


def target_names() -> list[str]:
    return [t["name"] for t in sorted(_load_all().values(), key=_order)]


def get_target(name: str) -> dict:
    """The JSON of a core or board target (a fresh copy)."""
    targets = _load_all()
    if name not in targets:
        known = ", ".join(["host"] + target_names())
        raise MicrolithError(f"unknown target '{name}'; known targets: {known}")
    return json.loads(json.dumps(targets[name]))


def core_of(target: str | dict) -> dict:
    """The core target of a core or board target."""
    t = get_target(target) if isinstance(target, str) else target
    return t if t["kind"] == "core" else get_target(t["core"])


def _value(fig):
    return fig.get("value") if isinstance(fig, dict) else fig


def _mhz(hz):
    return None if hz is None else (hz // 1_000_000 if hz % 1_000_000 == 0 else hz / 1e6)


def list_targets() -> list[dict]:
    """One summary dict per target: name, kind, core, QEMU machine, budgets (boards only), sources."""
    out = []
    for t in sorted(_load_all().values(), key=_order):
        name = t["name"]
        core = core_of(t)
        entry = {"name": name, "kind": t["kind"], "core": core["name"],
                 "qemu_machine": core["qemu"]["machine"],
                 "cflags": list(core["cflags"]),
                 "flash_bytes": None, "ram_bytes": None, "clock_hz": None, "clock_mhz": None,
                 "cpi_estimate": core["cpi_estimate"]["value"]}
        if t["kind"] == "board":
            entry.update(part=t.get("part"), flash_bytes=_value(t["flash_bytes"]),
                         ram_bytes=_value(t["ram_bytes"]), clock_hz=_value(t["clock_hz"]),
                         clock_mhz=_mhz(_value(t["clock_hz"])),
                         run_current_ua_per_mhz=_value(t["energy"]["run_current_ua_per_mhz"]),
                         supply_v=_value(t["energy"]["supply_v"]))
            entry["sources"] = {k: t[k]["source"] for k in ("flash_bytes", "ram_bytes", "clock_hz")}
            entry["sources"].update({k: v["source"] for k, v in t["energy"].items() if isinstance(v, dict)})
        else:
            entry["sources"] = dict(t.get("sources", {}))
        out.append(entry)
    return out
