"""Search problems of the three applications: each reuses its app's data loading, split, DSP
block, model and training (microlith.apps.*) with the searched parameters.

The held-out split is the app's own and is the same for every trial, whatever its DSP window,
so accuracies compare: KWS the held-out speakers' 1.2 s buffers; bearing load 3 in buffers of
16384 samples (1.37 s: the longest searched window x 4); ECG one stratified fold (1/5) of the
N/A records (the app cross-validates 4x5 folds; a search trial uses one fold).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..apps import common as C
from ..pipeline import Pipeline, PostProcess
from .problem import Dataset, Problem


def _int8(net, shape, cal, name: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="microlith-search-") as tmp:
        return C.to_int8(net, shape, cal, Path(tmp) / f"{name}.tflite")


def _random_cal(shape, n: int = 64) -> np.ndarray:
    """Calibration data for an untrained candidate: the model inputs are normalized features."""
    return np.random.default_rng(0).standard_normal((n, *shape[1:])).astype(np.float32)


def dsp_variant(target: str) -> str:
    """The pipeline's C DSP for the board's core: float on cores with an FPU, fixed point on the
    others (soft-float DSP on a Cortex-M0 costs ~10x the instructions)."""
    from ..targets import core_of
    return "fixed" if "-mfloat-abi=soft" in core_of(target)["cflags"] else "float"


class AppProblem(Problem):
    """An application's data, its search space and its training, parameterized."""

    def __init__(self, opts: C.AppOptions, epochs: int | None = None, variant: str = "float"):
        super().__init__(name=self.name, default=dict(self.DEFAULT))
        self.opts = opts
        self.variant = variant
        self.epochs = int(epochs or (self.QUICK_EPOCHS if opts.quick else self.EPOCHS))

    def key(self) -> dict:
        return {"problem": self.name, "quick": bool(self.opts.quick), "seed": self.opts.seed, "epochs": self.epochs,
                "dsp": self.variant}


class KwsProblem(AppProblem):
    name = "kws"
    DEFAULT = {"frame": 480, "hop": 320, "n_mfcc": 10, "n_mels": 40, "channels": 48, "blocks": 4, "kernel": 3,
               "first": "10x4"}
    EPOCHS, QUICK_EPOCHS = 15, 2

    def load(self) -> Dataset:
        from ..apps import kws
        d = kws.prepare(self.opts, C.Progress(False), C.DataChecks())
        buffers, y, _ = kws.heldout(d, self.opts.seed)
        return Dataset(d, buffers, y, {"heldout": "held-out speakers (the app's split), 1.2 s buffers"})

    def space(self, trial) -> dict:
        return {"frame": trial.suggest_categorical("frame", [320, 480, 640]),     # 20, 30, 40 ms
                # 20, 30, 40 ms: 49, 33 or 24 frames (the MFCC is paid per frame). train() caps the hop at
                # the frame length, so 640 is a 40 ms hop with the 40 ms frame and the frame's own hop
                # otherwise (30 ms with the default frame)
                "hop": trial.suggest_categorical("hop", [320, 480, 640]),
                "n_mfcc": trial.suggest_categorical("n_mfcc", [6, 8, 10, 13]),
                "n_mels": trial.suggest_categorical("n_mels", [20, 32, 40]),
                "channels": trial.suggest_categorical("channels", [8, 12, 16, 24, 32, 48, 64]),
                "blocks": trial.suggest_int("blocks", 1, 4),
                "kernel": trial.suggest_categorical("kernel", [3, 5]),
                "first": trial.suggest_categorical("first", ["10x4", "6x3", "4x3"])}

    def train(self, p: dict, data: Dataset, untrained: bool = False, threads: int | None = None) -> Pipeline:
        from ..apps import kws
        frame, hop = int(p["frame"]), min(int(p["hop"]), int(p["frame"]))
        blk = kws.block(frame, hop, int(p["n_mfcc"]), max(int(p["n_mels"]), int(p["n_mfcc"])))
        wf, hf = kws.window_frames(frame, hop), kws.hop_frames(hop)
        import torch
        torch.manual_seed(self.opts.seed)
        kt, kf = (int(v) for v in str(p["first"]).split("x"))
        net = kws.make_model(int(p["channels"]), int(p["blocks"]), int(p["kernel"]), (kt, kf))
        shape = (1, 1, wf, blk.n_mfcc)
        if untrained:
            mean, std, cal = np.zeros(blk.n_mfcc), np.ones(blk.n_mfcc), _random_cal(shape)
            net.eval()
        else:
            seed = self.opts.seed
            epoch_data, mean, std = kws.training_data(data.train, blk, wf, np.random.default_rng(seed), seed)
            C.train(net, epoch_data, self.epochs, lr=6e-3 if self.epochs < 10 else 3e-3, weight_decay=1e-4,
                    seed=seed, label_smoothing=0.05)
            cal_x, _ = epoch_data(0)
            cal = cal_x[np.random.default_rng(seed).permutation(len(cal_x))[:300]]
        tfl = _int8(net, shape, cal, "kws_model")
        return Pipeline("kws", blk, tfl, kws.LABELS, mean, std, window_frames=wf, hop_frames=hf,
                        max_samples=kws.BUFFER, post=PostProcess(mode="argmax"), variant=self.variant)


class BearingProblem(AppProblem):
    name = "bearing"
    DEFAULT = {"window": 2048, "bands": 32, "width": 32, "depth": 2}
    EPOCHS, QUICK_EPOCHS = 40, 8
    BUFFER = 4 * 4096     # every trial decides on the same 1.37 s of held-out signal

    def load(self) -> Dataset:
        from ..apps import bearing
        recs = bearing.load(self.opts, C.DataChecks())
        train_seg, test_seg = bearing.split(recs)
        limit = 3 if self.opts.quick else None
        buffers, y = [], []
        for x, r in test_seg:
            for i, s in enumerate(range(0, len(x) - self.BUFFER + 1, self.BUFFER)):
                if limit and i >= limit:
                    break
                buffers.append(x[s:s + self.BUFFER])
                y.append(r["label"])
        return Dataset(train_seg, buffers, y, {"heldout": "motor load 3 (the app's split), 16384-sample buffers"})

    def space(self, trial) -> dict:
        return {"window": trial.suggest_categorical("window", [1024, 2048, 4096]),
                "bands": trial.suggest_categorical("bands", [8, 16, 32]),
                "width": trial.suggest_categorical("width", [8, 16, 32, 64]),
                "depth": trial.suggest_int("depth", 1, 3)}

    def train(self, p: dict, data: Dataset, untrained: bool = False, threads: int | None = None) -> Pipeline:
        from ..apps import bearing
        window = int(p["window"])
        blk = bearing.block(window, int(p["bands"]))
        widths = [max(4, int(p["width"]) >> i) for i in range(int(p["depth"]))]
        import torch
        torch.manual_seed(self.opts.seed)
        n_in = int(np.prod(blk.feature_shape))
        net = bearing.make_model(n_in, widths)
        if untrained:
            mean, std, cal = np.zeros(n_in), np.ones(n_in), _random_cal((1, n_in))
            net.eval()
        else:
            limit = 24 * 2048 // window if self.opts.quick else None
            hop = window if self.opts.quick else window // 2
            X, y = [], []
            for x, r in data.train:
                for w in bearing._windows(x, hop, limit, window):
                    X.append(blk.numpy(w))
                    y.append(r["label"])
            X, y = np.array(X, np.float32), np.array(y)
            mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
            Z = (X - mean) / std
            weight = len(y) / (4.0 * np.maximum(np.bincount(y, minlength=4), 1))
            C.train(net, lambda ep: (Z, y), self.epochs, lr=2e-3, weight_decay=1e-4, class_weight=weight,
                    seed=self.opts.seed)
            cal = Z[np.random.default_rng(self.opts.seed).permutation(len(Z))[:600]]
        tfl = _int8(net, (1, n_in), cal, "bearing_model")
        return Pipeline("bearing", blk, tfl, bearing.CLASSES, mean, std, hop=window, max_samples=self.BUFFER,
                        post=PostProcess(mode="argmax"), variant=self.variant)


class EcgProblem(AppProblem):
    name = "ecg"
    DEFAULT = {"window_s": 10, "width": 16, "depth": 1}
    EPOCHS, QUICK_EPOCHS = 80, 15

    def load(self) -> Dataset:
        from ..apps import ecg
        recs = [r for r in ecg.load(self.opts, C.DataChecks()) if r["x"].size >= 5 * ecg.FS]
        main = [r for r in recs if r["code"] in "NA"]
        y = np.array([1 if r["code"] == "A" else 0 for r in main])
        fold = ecg._folds(y, ecg.FOLDS, self.opts.seed)
        train = [(r["x"], int(v)) for r, v, f in zip(main, y, fold) if f != 0]
        test = [(r["x"][:ecg.MAX_SAMPLES], int(v)) for r, v, f in zip(main, y, fold) if f == 0]
        return Dataset(train, [x for x, _ in test], [v for _, v in test],
                       {"heldout": "one stratified fold (1/5) of the N/A records"})

    def space(self, trial) -> dict:
        return {"window_s": trial.suggest_categorical("window_s", [5, 8, 10, 15]),
                "width": trial.suggest_categorical("width", [4, 8, 16, 32]),
                "depth": trial.suggest_int("depth", 1, 2)}

    def train(self, p: dict, data: Dataset, untrained: bool = False, threads: int | None = None) -> Pipeline:
        from ..apps import ecg
        window = int(p["window_s"]) * ecg.FS
        hop = window // 2
        blk = ecg.block(window)
        net = ecg._net(self.opts.seed, [max(2, int(p["width"]) >> i) for i in range(int(p["depth"]))])
        if untrained:
            mean, std, cal = np.zeros(9), np.ones(9), _random_cal((1, 9))
            net.eval()
        else:
            F, y = [], []
            for x, label in data.train:
                for w in ecg._windows(x, window, hop):
                    F.append(blk.numpy(w))
                    y.append(label)
            F, y = np.array(F, np.float32), np.array(y)
            mean, std = F.mean(axis=0), F.std(axis=0) + 1e-6
            Z = ((F - mean) / std).astype(np.float32)
            C.train(net, lambda ep: (Z, y), self.epochs, lr=3e-3, weight_decay=1e-3, seed=self.opts.seed, batch=128)
            cal = Z[np.random.default_rng(self.opts.seed).permutation(len(Z))[:400]]
        tfl = _int8(net, (1, 9), cal, "ecg_af_model")
        return Pipeline("ecg_af", blk, tfl, ecg.LABELS, mean, std, hop=hop, max_samples=ecg.MAX_SAMPLES,
                        post=PostProcess(mode="detect", positive=1, threshold=ecg.THRESHOLD), variant=self.variant)


PROBLEMS = {"kws": KwsProblem, "bearing": BearingProblem, "ecg": EcgProblem}
