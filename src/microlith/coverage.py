"""`microlith ops`: every op TFLM's resolver registers, and where microlith stands on it.

The list of ops is read from the installed tflite-micro (its op resolver, probed by
_tflm_probe.py in a child process), never typed by hand, so a new TFLM release shows up here
by itself. microlith's side is read from its op registry (each op's `dtypes`, or
those of the op the frontend lowers it to). What is typed by hand is only which registered ops are not int8 compute ops, each
with the TFLM kernel file that says why; every other registered op counts in the denominator
of the coverage figure, so the figure errs against microlith, never for it.
"""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .ir import MicrolithError, Op
from .ops import impl_for

# Registered ops that are not int8 compute ops (issue 10 excludes control flow, resource
# variables and Ethos-U; the rest TFLM itself runs only in float, bool or int32).
NOT_INT8_COMPUTE = {
    "IF": "control flow",
    "WHILE": "control flow",
    "CALL_ONCE": "control flow",
    "VAR_HANDLE": "resource variable",
    "READ_VARIABLE": "resource variable",
    "ASSIGN_VARIABLE": "resource variable",
    "CEIL": "float only in TFLM (kernels/ceil.cc)",
    "FLOOR": "float only in TFLM (kernels/floor.cc)",
    "ROUND": "float only in TFLM (kernels/round.cc)",
    "EXP": "float only in TFLM (kernels/exp.cc)",
    "SIN": "float only in TFLM (kernels/elementwise.cc, IsNumericSupportedType)",
    "COS": "float only in TFLM (kernels/elementwise.cc, IsNumericSupportedType)",
    "LOG": "float only in TFLM (kernels/elementwise.cc, IsNumericSupportedType)",
    "SQRT": "float only in TFLM (kernels/elementwise.cc, IsNumericSupportedType)",
    "SQUARE": "float only in TFLM (kernels/elementwise.cc, IsNumericSupportedType)",
    "NEG": "float only in TFLM (kernels/neg.cc)",
    "FLOOR_DIV": "float and int32 only in TFLM (kernels/floor_div.cc)",
    "FLOOR_MOD": "float and int32 only in TFLM (kernels/floor_mod.cc)",
    "L2_POOL_2D": "float only in TFLM (kernels/l2_pool_2d.cc)",
    "LOGICAL_AND": "bool only (kernels/logical.cc)",
    "LOGICAL_OR": "bool only (kernels/logical.cc)",
    "LOGICAL_NOT": "bool only (kernels/elementwise.cc)",
    "REDUCE_ALL": "bool only (kernels/reduce.cc)",
    "SHAPE": "int32 shape arithmetic (kernels/shape.cc)",
    "BROADCAST_ARGS": "int32 shape arithmetic (kernels/broadcast_args.cc)",
}


def tflm_version() -> str:
    try:
        return metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:
        raise MicrolithError("tflite-micro is not installed; `pip install tflite-micro` (it is the oracle "
                             "microlith checks against, and `microlith ops` reads its op list)") from None


def tflm_registered(custom: list[str] = ()) -> dict[str, bool]:
    """{op: registered?} for every builtin op of the schema and the given custom op names."""
    tflm_version()
    probe = Path(__file__).with_name("_tflm_probe.py")
    try:
        res = subprocess.run([sys.executable, str(probe), *custom], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise MicrolithError("reading TFLM's op resolver took more than 300 s; is the machine overloaded?") from None
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise MicrolithError(f"could not read TFLM's op resolver (exit {res.returncode}: {tail[:300]})")
    return json.loads(res.stdout)


def microlith_dtypes(op: Op) -> tuple[str, ...]:
    """The activation types microlith compiles `op` in: its OpImpl's, or for an op the frontend
    lowers into others (SPLIT into SLICEs...), those of the op it becomes; () if neither."""
    from .ops.movement import LOWERED_TO
    target = LOWERED_TO.get(op, op)
    try:
        return impl_for(target).dtypes
    except MicrolithError:
        return ()


def coverage() -> dict:
    """Rows for every registered op, plus the summary figures."""
    microlith_ops = {op.value: op for op in Op}
    custom = sorted(v.split(":", 1)[1] for v in microlith_ops if v.startswith("CUSTOM:"))
    registered = tflm_registered(custom)
    rows = []
    for name in sorted(n for n, ok in registered.items() if ok):
        op = microlith_ops.get(name)
        dtypes = microlith_dtypes(op) if op is not None else ()
        kind = "custom (TFLM signal library)" if name.startswith("CUSTOM:") else \
            NOT_INT8_COMPUTE.get(name, "int8 compute")
        rows.append({"op": name, "tflm_kind": kind, "dtypes": list(dtypes),
                     "int8": "int8" in dtypes, "int16": "int16" in dtypes})
    compute = [r for r in rows if r["tflm_kind"] == "int8 compute"]
    done = [r for r in compute if r["int8"]]
    return {"tflite_micro": tflm_version(), "rows": rows,
            "registered": len(rows), "int8_compute_ops": len(compute), "int8_supported": len(done),
            "int8_coverage": round(len(done) / len(compute), 4) if compute else 0.0,
            "int16_supported": sum(r["int16"] for r in rows),
            "missing_int8": [r["op"] for r in compute if not r["int8"]]}


def markdown(cov: dict) -> str:
    yes = {True: "yes", False: "-"}
    lines = [
        "# Op coverage",
        "",
        f"Generated by `microlith ops --markdown` against tflite-micro {cov['tflite_micro']}: every op its",
        "op resolver registers (read from the installed package, not typed by hand), and whether microlith",
        "compiles it byte-exact with int8 activations, and with int16 activations (TFLM's 16x8 mode).",
        "",
        f"**{cov['int8_supported']} of {cov['int8_compute_ops']} TFLM int8 compute ops "
        f"({100 * cov['int8_coverage']:.0f}%)** compile byte-exact; {cov['int16_supported']} ops also in int16x8.",
        f"Of the other {cov['registered'] - cov['int8_compute_ops']} registered ops, "
        f"{sum(r['op'].startswith('CUSTOM:') for r in cov['rows'])} are TFLM signal-library custom ops (the "
        "int16/int32 audio front end; their status is listed), the rest control flow, resource variables "
        "and ops TFLM runs only in float, bool or int32.",
        "",
        "| op | TFLM | int8 | int16 | microlith compiles it with |",
        "|---|---|:-:|:-:|---|",
    ]
    for r in cov["rows"]:
        lines.append(f"| {r['op']} | {r['tflm_kind']} | {yes[r['int8']]} | {yes[r['int16']]} | "
                     f"{', '.join(r['dtypes']) or '-'} |")
    return "\n".join(lines) + "\n"


def table(cov: dict) -> str:
    width = max(len(r["op"]) for r in cov["rows"])
    out = [f"{'op':<{width}}  int8  int16  TFLM"]
    for r in cov["rows"]:
        out.append(f"{r['op']:<{width}}  {'yes' if r['int8'] else '-':<4}  {'yes' if r['int16'] else '-':<5}  "
                   f"{r['tflm_kind']}")
    out.append("")
    out.append(f"{cov['int8_supported']} of {cov['int8_compute_ops']} TFLM int8 compute ops compile byte-exact "
               f"({100 * cov['int8_coverage']:.0f}%), {cov['int16_supported']} in int16x8 "
               f"(tflite-micro {cov['tflite_micro']})")
    if cov["missing_int8"]:
        out.append("not yet: " + ", ".join(cov["missing_int8"]))
    return "\n".join(out)
