"""`microlith ops`: the op list comes from the installed TFLM's resolver, microlith's side from
its op registry, and docs/OPS.md is what the command prints today."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from microlith import coverage
from microlith.ir import Op

DOCS = Path(__file__).resolve().parent.parent / "docs" / "OPS.md"


@pytest.fixture(scope="module")
def cov():
    return coverage.coverage()


def test_probe_reads_the_resolver():
    reg = coverage.tflm_registered(["MicrolithNoSuchOp"])
    assert reg["CONV_2D"] and reg["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert reg["CUSTOM:MicrolithNoSuchOp"] is False
    # the schema has ops TFLM does not register (e.g. hybrid-only or TF-only ops): the probe must see gaps
    assert not all(v for k, v in reg.items() if not k.startswith("CUSTOM:"))


def test_rows_follow_the_registry(cov):
    rows = {r["op"]: r for r in cov["rows"]}
    for op in Op:
        if op.value in rows:
            assert rows[op.value]["int8"] == ("int8" in coverage.microlith_dtypes(op)), op
    assert rows["SPLIT"]["int8"] and rows["UNPACK"]["int8"]  # lowered by the frontend
    assert rows["CONV_2D"]["int8"] and rows["CONV_2D"]["tflm_kind"] == "int8 compute"
    assert rows["WHILE"]["tflm_kind"] == "control flow"
    assert cov["int8_supported"] == sum(r["int8"] for r in rows.values() if r["tflm_kind"] == "int8 compute")
    assert 0 < cov["int8_coverage"] <= 1


def test_docs_table_is_current(cov):
    assert DOCS.read_text() == coverage.markdown(cov), \
        "docs/OPS.md is stale: regenerate it with `microlith ops --markdown > docs/OPS.md`"


def test_cli_json():
    res = subprocess.run([sys.executable, "-m", "microlith.cli", "ops", "--json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["int8_compute_ops"] == len([r for r in out["rows"] if r["tflm_kind"] == "int8 compute"])
