"""bench/campaign.py, the randomized differential campaign against TFLM: a few models of every
kind verify on the host and on the emulated Cortex-M4, the same seed builds the same models, and
a mismatch or an error fails the run and saves the model."""
import importlib.util
import shutil
from pathlib import Path

import pytest

from microlith.targets import cortexm

ROOT = Path(__file__).resolve().parent.parent
_missing = [t for t in (cortexm.CC, cortexm.QEMU) if shutil.which(t) is None]


def _campaign():
    spec = importlib.util.spec_from_file_location("campaign", ROOT / "bench" / "campaign.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_models_are_reproducible_and_distinct():
    import numpy as np

    from microlith.frontends.tflite_writer import write_tflite
    c = _campaign()
    for kind in c.KINDS:
        a = [write_tflite(c.model(kind, np.random.default_rng([5, i]))[0]) for i in range(3)]
        b = [write_tflite(c.model(kind, np.random.default_rng([5, i]))[0]) for i in range(3)]
        assert a == b and len(set(a)) == 3, kind


@pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")
def test_a_short_campaign_passes_on_host_and_cortex_m4(capsys):
    code = _campaign().main(["--count", "8", "--seed", "3", "--targets", "host,cortex-m4", "--all-modes", "0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every verification byte-exact" in out
    rows = [ln.split() for ln in out.splitlines() if ln.split()[:1] and ln.split()[0] in _campaign().KINDS]
    assert sum(int(r[2]) for r in rows) == 16   # 8 models on two targets


@pytest.mark.skipif(bool(_missing), reason=f"{' and '.join(_missing)} not installed")
def test_staged_campaign_runs_widened_filters(capsys):
    """--stage-weights: convolution models built with their filters staged, which the DSP cores
    widen for the two-channel routine; the run counts the verifications that took one."""
    code = _campaign().main(["--count", "6", "--seed", "62", "--kinds", "conv", "--targets", "cortex-m4",
                             "--all-modes", "0", "--stage-weights", "1048576"])
    out = capsys.readouterr().out
    assert code == 0, out
    widened = [ln for ln in out.splitlines() if "ran a filter widened" in ln]
    assert widened and int(widened[0].split()[0]) >= 1, out


def test_a_mismatch_fails_and_saves_the_model(tmp_path, monkeypatch, capsys):
    c = _campaign()
    calls = []

    def fake_verify(path, target, samples, seed, optimize, stage_weights=None):
        calls.append(path)
        if len(calls) == 2:
            return {"bit_exact": False}
        if len(calls) == 3:
            raise c.MicrolithError("the firmware crashed")
        return {"bit_exact": True}

    monkeypatch.setattr(c.api, "verify", fake_verify)
    code = c.main(["--count", "4", "--seed", "1", "--targets", "host", "--all-modes", "0",
                   "--save", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "2 FAILED" in out and "MISMATCH" in out and "the firmware crashed" in out
    saved = sorted(p.name for p in tmp_path.glob("*.tflite"))
    assert saved == sorted({Path(calls[1]).name, Path(calls[2]).name})
    assert all((tmp_path / (Path(n).stem + ".txt")).exists() for n in saved)
