"""A tiny search problem for tests/test_search.py (imported by the test and by the child
processes it starts): two vibration classes (a 500 Hz or a 2 kHz tone in noise), a
VibrationBlock of 256 samples and an MLP whose width is searched."""
from __future__ import annotations

import numpy as np

FS, WINDOW = 8000, 256


def signal(label: int, n: int, rng) -> np.ndarray:
    t = np.arange(n) / FS
    f = (500.0, 2000.0)[label]
    x = 0.5 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) + 0.2 * rng.standard_normal(n)
    return np.clip(np.round(x * 8000), -32768, 32767).astype(np.int16)


def dataset():
    from microlith.search import Dataset
    rng = np.random.default_rng(0)
    train = [(signal(k % 2, WINDOW, rng), k % 2) for k in range(40)]
    buffers = [signal(k % 2, 2 * WINDOW, rng) for k in range(8)]
    return Dataset(train, buffers, [k % 2 for k in range(8)])


def space(trial) -> dict:
    """Deterministic for the tests: trial 0 a small MLP, trial 1 a wide one, then small again."""
    return {"width": 256 if trial.number % 2 else 4}


def train(params: dict, data, untrained: bool):
    import torch

    from microlith.apps import common as C
    from microlith.dsp import VibrationBlock
    from microlith.pipeline import Pipeline
    blk = VibrationBlock(sample_rate=FS, n_samples=WINDOW, band_edges_hz=(0.0, 1000.0, 2000.0, 3000.0, 4000.0),
                         scale=1.0 / 8000)
    n_in = int(np.prod(blk.feature_shape))
    torch.manual_seed(0)
    w = int(params["width"])
    net = torch.nn.Sequential(torch.nn.Linear(n_in, w), torch.nn.ReLU(), torch.nn.Linear(w, w), torch.nn.ReLU(),
                              torch.nn.Linear(w, 2))
    if untrained:
        mean, std = np.zeros(n_in), np.ones(n_in)
        cal = np.random.default_rng(0).standard_normal((32, n_in)).astype(np.float32)
    else:
        X = np.array([blk.numpy(x) for x, _ in data.train], np.float32)
        y = np.array([v for _, v in data.train])
        mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
        cal = ((X - mean) / std).astype(np.float32)
        C.train(net, lambda ep: (cal, y), 30, lr=1e-2)
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        tfl = C.to_int8(net, (1, n_in), cal, Path(tmp) / "tiny.tflite")
    return Pipeline("tiny", blk, tfl, ["low", "high"], mean, std, hop=WINDOW, max_samples=2 * WINDOW)


def run(study: str, out: str, trials: int, **kw) -> dict:
    import microlith
    return microlith.search(dataset(), space, train, target="nrf52840", max_flash=kw.pop("max_flash", 60_000),
                            trials=trials, study=study, out=out, **kw)


if __name__ == "__main__":  # python3 tests/search_tiny.py STUDY OUT TRIALS (the SIGKILL test's child)
    import sys
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
