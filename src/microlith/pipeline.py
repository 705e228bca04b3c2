"""Pipelines: a DSP block, an int8 model and post-processing, as one Python object and one C library.

    raw int16 samples -> DSP block features -> per-feature normalization folded into the int8
    quantization of the model input -> the int8 model on each window -> sum of the model's
    outputs over the windows of the buffer -> decision (argmax, detection threshold) -> result

The same object runs in numpy (training and evaluation: the block's numpy() definition, the
integer model in TFLite Micro, the oracle) and writes a folder of C whose one call

    int NAME_process(const int16_t *samples, size_t n, NAME_result *result);

does all of it. Windows:
- frame blocks (LogMelBlock, MfccBlock): the block's frames of the whole buffer; a window is
  `window_frames` consecutive frames, windows start every `hop_frames` frames;
- window blocks (VibrationBlock, EnvelopeBlock, EcgRhythmBlock): one feature vector per window
  of `window` samples, windows start every `hop` samples.
- multi-axis window blocks (MotionBlock, `axes` int16 values per time step): the Python API takes
  (n, axes) int16 arrays and refuses any other layout; the C takes the interleaved buffer, and
  every count (n, window, hop, max_samples) is of int16 values, a multiple of NAME_AXES.
A buffer of n samples holds windows(n) = 1 + (units(n) - window) // hop windows (0 if too short).

Arithmetic contract (what the C does, and the numpy twin here does the same operations):
- feature x (float32; the fixed-point DSP variant gives int32 Q(f), converted as q * 2^-f) ->
  q = clamp(round_half_away(x * a + b), -128, 127) with float32 a, b per feature column
  (a = 1 / (std * s_in), b = zp_in - mean / (std * s_in)); each float32 operation rounded
  once, so the C must be built without floating-point contraction (the CMake file says so);
- sums[c] = sum over windows of (out_q[c] - zp_out), int32 (exact);
- mode "argmax": label = first c of the largest sum; with a threshold > 0, if sums[label] <
  T * windows, label = `fallback` (T = ceil(threshold / s_out): the threshold rounded up to
  the output's step);
- mode "detect": label = `positive` if sums[positive] >= T * windows, else the argmax of the
  other classes;
- probability[c] = sums[c] * s_out / windows (float, for display);
- optional anomaly score (window blocks): mean over windows of mean_j ((x_j - m_j) / s_j)^2
  with the statistics of normal data only; `anomalous` = score > anomaly_threshold.
So given the same int8 model inputs, the C result equals this module's byte for byte; the
float DSP differs from numpy by the bounds documented in microlith.dsp.blocks.
"""
from __future__ import annotations

import ctypes
import io
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .codegen.c import check_identifier
from .dsp import EcgRhythmBlock, EnvelopeBlock, LogMelBlock, MfccBlock, MotionBlock, VibrationBlock
from .dsp.cgen import c_float
from .ir import Graph, MicrolithError

BLOCKS = {cls.__name__: cls for cls in (LogMelBlock, MfccBlock, VibrationBlock, EnvelopeBlock, EcgRhythmBlock,
                                        MotionBlock)}
FRAME_BLOCKS = (LogMelBlock, MfccBlock)
CONFIG_FILE = "pipeline.json"
MODEL_FILE = "model.tflite"
SAMPLE_FILE = "sample.npy"
NO_LABEL = -1


def _err(msg: str):
    raise MicrolithError(f"pipeline: {msg}")


@dataclass(frozen=True)
class PostProcess:
    """What turns the summed model outputs of a buffer's windows into one decision."""
    mode: str = "argmax"          # "argmax" or "detect"
    threshold: float = 0.0        # on the mean output (a probability for a softmax output)
    fallback: int = NO_LABEL      # argmax mode: label when the best class is below threshold
    positive: int | None = None   # detect mode: the class detected

    def check(self, n_classes: int) -> None:
        if self.mode not in ("argmax", "detect"):
            _err(f"post-processing mode must be 'argmax' or 'detect', got {self.mode!r}")
        if not 0.0 <= self.threshold <= 1e6 or not math.isfinite(self.threshold):
            _err(f"threshold must be a non-negative number, got {self.threshold}")
        if self.mode == "detect" and (self.positive is None or not 0 <= self.positive < n_classes):
            _err(f"detect mode needs positive in 0..{n_classes - 1}, got {self.positive}")
        if self.mode == "argmax" and not NO_LABEL <= self.fallback < n_classes:
            _err(f"fallback must be -1 or a class in 0..{n_classes - 1}, got {self.fallback}")


@dataclass(frozen=True)
class Anomaly:
    """Diagonal-Gaussian anomaly score of the window features, fitted on normal data only."""
    mean: tuple
    std: tuple
    threshold: float

    @classmethod
    def fit(cls, features: np.ndarray, quantile: float = 0.99) -> "Anomaly":
        f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
        mean, std = f.mean(axis=0), f.std(axis=0) + 1e-6
        scores = np.mean(((f - mean) / std) ** 2, axis=1)
        return cls(tuple(float(v) for v in mean), tuple(float(v) for v in std),
                   float(np.quantile(scores, quantile)))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Per window (rows of features)."""
        f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
        return np.mean(((f - np.asarray(self.mean)) / np.asarray(self.std)) ** 2, axis=1)


def _round_half_away(v: np.ndarray) -> np.ndarray:
    """(int)(v + 0.5f) / -(int)(0.5f - v) in float32, as the generated C computes it."""
    half = np.float32(0.5)
    pos = np.trunc((v + half).astype(np.float32))
    neg = -np.trunc((half - v).astype(np.float32))
    return np.where(v >= 0, pos, neg)


def quantize_features(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """int8 model inputs from float32 features (last axis = feature column)."""
    x = np.asarray(x, dtype=np.float32)
    v = (x * a.astype(np.float32)).astype(np.float32)
    v = (v + b.astype(np.float32)).astype(np.float32)
    v = np.clip(v, np.float32(-128.0), np.float32(127.0)).astype(np.float32)
    return _round_half_away(v).astype(np.int8)


class Pipeline:
    """A DSP block + an int8 model (TFLite flatbuffer) + post-processing.

    block:      a configured microlith.dsp block; for window blocks its n_samples is the window.
    model:      int8 .tflite bytes or path (int8 input and output; one output vector of classes).
    labels:     class names, one per model output.
    mean, std:  feature normalization the model was trained with, per feature column
                (frame blocks: per coefficient; window blocks: per feature).
    window_frames, hop_frames: frame blocks only. hop: window blocks only (default: window).
    max_samples: the longest buffer NAME_process accepts (sizes the C feature buffer).
    variant:    "float" (FPU cores) or "fixed" DSP in the C.
    """

    def __init__(self, name: str, block, model, labels, mean, std, *, window_frames: int | None = None,
                 hop_frames: int = 1, hop: int | None = None, post: PostProcess | None = None,
                 anomaly: Anomaly | None = None, max_samples: int | None = None, variant: str = "float"):
        from .api import load
        from .frontends.tflite import parse_tflite
        self.name = check_identifier(name)
        if type(block).__name__ not in BLOCKS:
            _err(f"unsupported DSP block {type(block).__name__}; use one of {', '.join(BLOCKS)}")
        self.block = block
        self.frame_based = isinstance(block, FRAME_BLOCKS)
        # Multi-axis blocks (MotionBlock): int16 values per time step, interleaved; every count of
        # "samples" here and in the C (window, hop, max_samples, n) is of int16 values.
        self.axes = int(getattr(block, "axes", 1))
        if isinstance(model, (bytes, bytearray)):
            self.model_bytes = bytes(model)
        else:
            path = Path(model)
            if not path.is_file():
                _err(f"{path}: no such model file")
            self.model_bytes = path.read_bytes()
        self.graph: Graph = parse_tflite(self.model_bytes, f"{name}.tflite")
        load(self.graph)  # validated like any model
        self.labels = [str(x) for x in labels]
        if variant not in ("float", "fixed"):
            _err(f"variant must be 'float' or 'fixed', got {variant!r}")
        self.variant = variant
        self.post = post or PostProcess()
        self.anomaly = anomaly

        g = self.graph
        if len(g.inputs) != 1 or len(g.outputs) != 1:
            _err(f"the model must have one input and one output, it has {len(g.inputs)} and {len(g.outputs)}")
        tin, tout = g.t(g.inputs[0]), g.t(g.outputs[0])
        if tin.dtype != "int8" or tout.dtype != "int8" or tin.quant is None or tout.quant is None:
            _err(f"the model's input and output must be quantized int8 (got {tin.dtype} -> {tout.dtype}); "
                 "quantize it with microlith.quantize(..., io='int8')")
        self.in_scale, self.in_zp = float(tin.quant.scale[0]), int(tin.quant.zero_point[0])
        self.out_scale, self.out_zp = float(tout.quant.scale[0]), int(tout.quant.zero_point[0])
        self.n_classes = tout.size
        if len(self.labels) != self.n_classes:
            _err(f"{len(self.labels)} labels for a model with {self.n_classes} outputs")
        self.post.check(self.n_classes)

        if self.frame_based:
            self.n_features = block.features_per_frame
            self.unit = block.hop
            self.window_frames = int(window_frames or block.feature_shape[0])
            self.hop_frames = int(hop_frames)
            if self.window_frames < 1 or self.hop_frames < 1:
                _err("window_frames and hop_frames must be positive")
            self.window = block.frame_length + (self.window_frames - 1) * block.hop
            self.hop = self.hop_frames * block.hop
            window_values = self.window_frames * self.n_features
            if anomaly is not None:
                _err("an anomaly score is supported for window blocks only")
        else:
            if window_frames is not None:
                _err("window_frames is for frame blocks (LogMelBlock, MfccBlock)")
            self.n_features = int(np.prod(block.feature_shape))
            self.window = block.n_samples * self.axes
            self.hop = int(hop or self.window)
            if self.hop < 1:
                _err(f"hop must be positive, got {self.hop}")
            self.window_frames, self.hop_frames = 1, 1
            window_values = self.n_features
        if tin.size != window_values:
            _err(f"the model takes {tin.size} input values, a window has {window_values} features")
        self.max_samples = int(max_samples or self.window)
        if self.max_samples < self.window:
            _err(f"max_samples ({self.max_samples}) is shorter than one window ({self.window})")
        if self.hop % self.axes or self.max_samples % self.axes:
            _err(f"{type(block).__name__} takes {self.axes} interleaved int16 values per time step: hop ({self.hop}) "
                 f"and max_samples ({self.max_samples}) count int16 values and must be multiples of {self.axes}")
        if self.frame_based and self.block.preemphasis != 0.0:
            _err("frame blocks with pre-emphasis are not supported (a window's first frame would depend "
                 "on the sample before it)")
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.size != self.n_features or self.std.size != self.n_features:
            _err(f"mean and std need {self.n_features} values (one per feature column), got "
                 f"{self.mean.size} and {self.std.size}")
        if not np.all(self.std > 0) or not np.all(np.isfinite(self.mean)):
            _err("std must be positive and mean finite")
        self.a = (1.0 / (self.std * self.in_scale)).astype(np.float32)
        self.b = (self.in_zp - self.mean / (self.std * self.in_scale)).astype(np.float32)
        if anomaly is not None and (len(anomaly.mean) != self.n_features or len(anomaly.std) != self.n_features):
            _err(f"the anomaly statistics need {self.n_features} values")
        self.threshold_q = int(math.ceil(self.post.threshold / self.out_scale - 1e-9))
        self._oracle = None

    # ----------------------------------------------------------------- geometry

    def units(self, n: int) -> int:
        """Frames (frame blocks) or samples (window blocks) in a buffer of n samples."""
        if self.frame_based:
            fl, h = self.block.frame_length, self.block.hop
            return 0 if n < fl else 1 + (n - fl) // h
        return n

    def n_windows(self, n: int) -> int:
        u, w, h = self.units(n), (self.window_frames if self.frame_based else self.window), \
            (self.hop_frames if self.frame_based else self.hop)
        return 0 if u < w else 1 + (u - w) // h

    # ----------------------------------------------------------------- numpy path

    def _interleaved(self, samples) -> np.ndarray:
        """Multi-axis blocks: an (n, axes) int16 array -> the interleaved 1-D buffer the C takes.
        Any other layout (axes first, flat, another axis count) is refused, never reshaped."""
        x = np.asarray(samples)
        if self.axes == 1:
            return x
        if x.ndim != 2 or x.shape[1] != self.axes or x.dtype != np.int16:
            hint = "; it looks axes-first: pass x.T" if x.ndim == 2 and x.shape[0] == self.axes else ""
            _err(f"{type(self.block).__name__} samples must be an int16 array of shape (n, {self.axes}) "
                 f"(time steps, axes), got {x.dtype} {x.shape}{hint}")
        return np.ascontiguousarray(x).reshape(-1)

    def rows(self, flat) -> np.ndarray:
        """The (n, axes) view of an interleaved 1-D buffer (the C's layout); 1-D data as is."""
        x = np.asarray(flat)
        return x.reshape(-1, self.axes) if self.axes > 1 and x.ndim == 1 and x.size % self.axes == 0 else x

    def _buffer(self, samples) -> np.ndarray:
        x = self._interleaved(samples)
        if x.ndim != 1 or x.dtype != np.int16:
            _err(f"samples must be a 1-D int16 array, got {x.dtype} {x.shape}")
        if x.size > self.max_samples:
            _err(f"{x.size} samples exceed max_samples={self.max_samples}")
        if self.n_windows(x.size) < 1:
            _err(f"{x.size} samples hold no window of {self.window} samples")
        return x

    def window_features(self, samples) -> np.ndarray:
        """float32 features of each window: (windows, window_frames, F) or (windows, F)."""
        x = self._buffer(samples)
        nw = self.n_windows(x.size)
        if self.frame_based:
            frames = self.block.numpy(x)
            return np.stack([frames[w * self.hop_frames:w * self.hop_frames + self.window_frames]
                             for w in range(nw)]).astype(np.float32)
        return np.stack([self.block.numpy(self.rows(x[w * self.hop:w * self.hop + self.window]))
                         for w in range(nw)]).astype(np.float32)

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """The float model's input: (x - mean) / std, float32."""
        return ((np.asarray(features, np.float64) - self.mean) / self.std).astype(np.float32)

    def quantize(self, features: np.ndarray) -> np.ndarray:
        """int8 model inputs of window features (same shape)."""
        return quantize_features(features, self.a, self.b)

    def run_model(self, q: np.ndarray) -> np.ndarray:
        """int8 outputs (windows, classes) of int8 inputs (windows, ...), in TFLite Micro."""
        from .verify import Oracle
        if self._oracle is None:
            self._oracle = Oracle(self.model_bytes, self.graph)
        shape = self.graph.t(self.graph.inputs[0]).shape
        return np.stack([self._oracle.run([np.asarray(w, np.int8).reshape(shape)])[0].reshape(-1)
                         for w in q]).astype(np.int8)

    def decide(self, outputs: np.ndarray, anomaly_scores=None) -> dict:
        """Post-processing of the int8 outputs (windows, classes) of one buffer."""
        out = np.asarray(outputs, dtype=np.int64).reshape(-1, self.n_classes)
        nw = len(out)
        sums = (out - self.out_zp).sum(axis=0)
        need = self.threshold_q * nw
        if self.post.mode == "detect":
            p = self.post.positive
            if sums[p] >= need:
                label = p
            else:
                others = [c for c in range(self.n_classes) if c != p]
                label = others[int(np.argmax(sums[others]))]
        else:
            label = int(np.argmax(sums))
            if self.threshold_q > 0 and sums[label] < need:
                label = self.post.fallback
        res = {"label": int(label), "windows": nw, "sums": [int(s) for s in sums],
               "probability": [float(np.float32(s) * np.float32(self.out_scale) / np.float32(nw)) for s in sums],
               "anomaly": 0.0, "anomalous": 0}
        if self.anomaly is not None and anomaly_scores is not None:
            res["anomaly"] = float(np.mean(anomaly_scores))
            res["anomalous"] = int(res["anomaly"] > self.anomaly.threshold)
        return res

    def process(self, samples) -> dict:
        """The whole pipeline in numpy + TFLM on one buffer: the reference of NAME_process."""
        feats = self.window_features(samples)
        outs = self.run_model(self.quantize(feats))
        scores = self.anomaly.score(feats) if self.anomaly is not None else None
        return self.decide(outs, scores)

    def label_name(self, label: int) -> str:
        return "none" if label == NO_LABEL else self.labels[label]

    # ----------------------------------------------------------------- persistence

    def config(self) -> dict:
        return {"microlith": __version__, "name": self.name, "block": type(self.block).__name__,
                "block_config": self.block.config(), "labels": self.labels, "variant": self.variant,
                "window_frames": self.window_frames if self.frame_based else None,
                "hop_frames": self.hop_frames if self.frame_based else None,
                "window": self.window, "hop": self.hop, "max_samples": self.max_samples,
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
                "post": asdict(self.post),
                "anomaly": None if self.anomaly is None else asdict(self.anomaly),
                "model": MODEL_FILE}

    @classmethod
    def from_config(cls, cfg: dict, model_bytes: bytes) -> "Pipeline":
        try:
            block = BLOCKS[cfg["block"]](**cfg["block_config"])
            anomaly = None if cfg.get("anomaly") is None else Anomaly(
                tuple(cfg["anomaly"]["mean"]), tuple(cfg["anomaly"]["std"]), float(cfg["anomaly"]["threshold"]))
            frame = cfg["block"] in ("LogMelBlock", "MfccBlock")
            return cls(cfg["name"], block, model_bytes, cfg["labels"], cfg["mean"], cfg["std"],
                       window_frames=cfg["window_frames"] if frame else None,
                       hop_frames=cfg["hop_frames"] if frame else 1, hop=None if frame else cfg["hop"],
                       post=PostProcess(**cfg["post"]), anomaly=anomaly, max_samples=cfg["max_samples"],
                       variant=cfg.get("variant", "float"))
        except (KeyError, TypeError) as e:
            _err(f"{CONFIG_FILE} is incomplete or malformed ({type(e).__name__}: {e})")

    @classmethod
    def load(cls, folder) -> "Pipeline":
        """A pipeline folder written by generate_c()/save()."""
        folder = Path(folder)
        cfg_path = folder / CONFIG_FILE
        if not cfg_path.is_file():
            _err(f"{folder}: no {CONFIG_FILE}; not a pipeline folder")
        try:
            cfg = json.loads(cfg_path.read_text())
        except ValueError as e:
            _err(f"{cfg_path}: not valid JSON ({e})")
        model = folder / cfg.get("model", MODEL_FILE)
        if not model.is_file():
            _err(f"{folder}: the model file {model.name} is missing")
        return cls.from_config(cfg, model.read_bytes())

    # ----------------------------------------------------------------- C

    def generate_c(self, out_dir, sample=None) -> dict:
        """Write the pipeline folder: src/ (NAME.h/.c, NAME_dsp.*, NAME_model.*, kernels),
        CMakeLists.txt, README.md, library.properties, pipeline.json, model.tflite and, if given,
        sample.npy (one window of real samples, the default input of `microlith profile`)."""
        from .codegen.c import prepare, render
        from .codegen.outdir import write_folder
        out = Path(out_dir)
        gen, files = render(prepare(self.graph), f"{self.name}_model")
        # The model's own CMake/README/Arduino files give way to the pipeline's.
        files = {k: v for k, v in files.items() if k.startswith("src/")}
        with tempfile.TemporaryDirectory(prefix="microlith-dsp-") as tmp:
            self.block.generate_c(Path(tmp), self.name, self.variant)
            for f in sorted(Path(tmp).iterdir()):
                files[f"src/{f.name}"] = f.read_text()
        files[f"src/{self.name}.h"] = self._header()
        files[f"src/{self.name}.c"] = self._source()
        files["CMakeLists.txt"] = self._cmake(sorted(f for f in files if f.endswith(".c")))
        files["library.properties"] = self._arduino()
        res = {"arena_bytes": gen.arena_bytes, "weight_bytes": gen.weight_bytes, "kernels": gen.kernels}
        files["README.md"] = self._readme(res)
        files[MODEL_FILE] = bytes(self.model_bytes)
        files[CONFIG_FILE] = json.dumps(self.config(), indent=1) + "\n"
        if sample is not None:
            s = self._interleaved(np.asarray(sample, dtype=np.int16)).reshape(-1)[:self.window]
            if s.size != self.window:
                _err(f"the profiling sample needs {self.window} samples, got {s.size}")
            buf = io.BytesIO()
            np.save(buf, s)
            files[SAMPLE_FILE] = buf.getvalue()
        write_folder(out, files, kind="pipeline")
        return {"out_dir": str(out), "name": self.name, "model_arena_bytes": res["arena_bytes"],
                "model_weight_bytes": res["weight_bytes"], "kernels": res["kernels"]}

    @property
    def _up(self) -> str:
        return self.name.upper()

    def _axes_macro(self) -> str:
        return (f"#define {self._up}_AXES {self.axes}  /* int16 values per time step, interleaved; every count of "
                "samples is of int16 values */\n") if self.axes > 1 else ""

    def _axes_check(self) -> str:
        """Multi-axis data: n must hold whole time steps (a wrong layout is refused, not reinterpreted)."""
        return f" || n % {self._up}_AXES != 0u" if self.axes > 1 else ""

    def _dsp_call(self) -> str:
        return f"{self.name}_features" + ("_q" if self.variant == "fixed" else "")

    def _feature_buffer_values(self) -> int:
        if self.frame_based:
            return self.units(self.max_samples) * self.n_features
        return self.n_features

    def _header(self) -> str:
        up, n = self._up, self.name
        kind = (f"{self.window_frames} frames of {type(self.block).__name__} features ({self.n_features} per "
                f"frame), windows every {self.hop_frames} frame(s) ({self.hop} samples)") if self.frame_based else \
            f"{self.n_features} {type(self.block).__name__} features per window, windows every {self.hop} samples"
        labels = "\n".join(f" *   {i}: {lab}" for i, lab in enumerate(self.labels))
        post = (f"detect class {self.post.positive} when its mean output >= {self.post.threshold:g}"
                if self.post.mode == "detect" else
                "argmax of the mean outputs" + (f"; below {self.post.threshold:g} -> label {self.post.fallback}"
                                                 if self.threshold_q > 0 else ""))
        return f"""/*
 * {n}.h: sensor pipeline (DSP + int8 model + post-processing).
 * Generated by microlith {__version__}; do not edit.
 *
 * NAME_process(samples, n, &result): int16 samples -> {type(self.block).__name__} ({self.variant} DSP) ->
 * {kind};
 * window = {self.window} samples; the model ({n}_model.h) runs on each window, its int8 outputs are
 * summed over the buffer's windows; decision: {post}.
 * Classes:
{labels}
 * Equal to microlith.pipeline.Pipeline.process() given the same int8 model inputs; see there.
 * Build without floating-point contraction (-ffp-contract=off): the feature quantization
 * rounds each float operation once.
 */
#ifndef {up}_H
#define {up}_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {up}_CLASSES {self.n_classes}
#define {up}_WINDOW_SAMPLES {self.window}  /* samples per window */
{self._axes_macro()}#define {up}_HOP_SAMPLES {self.hop}  /* samples between window starts */
#define {up}_MAX_SAMPLES {self.max_samples}  /* longest buffer NAME_process accepts */
#define {up}_SAMPLES_SIZE {self.window}  /* samples taken by {n}_invoke (one window) */
#define {up}_RESULT_SIZE {2 + self.n_classes}  /* int32 values written by {n}_invoke */
#define {up}_NO_LABEL ({NO_LABEL})

typedef struct {{
    int32_t label;        /* class index after post-processing, or {up}_NO_LABEL */
    int32_t windows;      /* windows in the buffer */
    int32_t sums[{up}_CLASSES];  /* sum over windows of (output - output zero point) */
    float probability[{up}_CLASSES];  /* mean dequantized output per class */
    float anomaly;        /* mean anomaly score (0 when the pipeline has none) */
    int32_t anomalous;    /* anomaly above its threshold */
}} {n}_result;

/* Runs the pipeline on n samples ({up}_WINDOW_SAMPLES <= n <= {up}_MAX_SAMPLES). Returns 0 or a negative
 * status (-1 bad arguments or too few/many samples, else a DSP or model error). Not re-entrant. */
int {n}_process(const int16_t *samples, size_t n, {n}_result *result);

/* The int8 model input of window w of the buffer (for checks against the Python pipeline). */
int {n}_window_input(const int16_t *samples, size_t n, size_t w, int8_t *input);

/* Fixed-size form for test harnesses: one window of {up}_SAMPLES_SIZE samples; writes
 * result[0] = label, result[1] = windows, result[2 + c] = sums[c]. */
int {n}_invoke(const int16_t *samples, int32_t *result);

#ifdef __cplusplus
}}
#endif

#endif /* {up}_H */
"""

    def _source(self) -> str:
        up, n = self._up, self.name
        fixed = self.variant == "fixed"
        ftype = "int32_t" if fixed else "float"
        nf = self.n_features
        nbuf = self._feature_buffer_values()
        model_in = self.graph.t(self.graph.inputs[0]).size
        arr = lambda vals: ",\n".join("    " + ", ".join(c_float(v) for v in vals[i:i + 6])  # noqa: E731
                                      for i in range(0, len(vals), 6))
        decls = [f"static const float {n}_scale_a[{nf}] = {{\n{arr(self.a.tolist())}\n}};",
                 f"static const float {n}_scale_b[{nf}] = {{\n{arr(self.b.tolist())}\n}};"]
        if self.anomaly is not None:
            inv = (1.0 / np.asarray(self.anomaly.std)).tolist()
            decls += [f"static const float {n}_normal_mean[{nf}] = {{\n{arr(list(self.anomaly.mean))}\n}};",
                      f"static const float {n}_normal_inv_std[{nf}] = {{\n{arr(inv)}\n}};"]
        to_float = (f"(float)v[j] * {c_float(2.0 ** -self.block.q_frac_bits)}" if fixed else "v[j]")
        if self.frame_based:
            units = (f"n < (size_t){self.block.frame_length} ? 0u : 1u + (n - (size_t){self.block.frame_length}) / "
                     f"(size_t){self.block.hop}")
            windows = (f"    const size_t frames = {units};\n"
                       f"    return frames < {self.window_frames}u ? 0u : 1u + (frames - {self.window_frames}u) / "
                       f"{self.hop_frames}u;")
            dsp_all = (f"    const int st = {self._dsp_call()}(samples, n, {n}_feature_buf);\n"
                       "    if (st != 0) {\n        return st;\n    }\n")
            window_in = (f"    {n}_quantize({n}_feature_buf + w * {self.hop_frames * nf}u, {self.window_frames}u, "
                         "input);\n    return 0;\n")
            process_windows = (dsp_all +
                               f"    for (size_t w = 0; w < windows; ++w) {{\n"
                               f"        {n}_quantize({n}_feature_buf + w * {self.hop_frames * nf}u, "
                               f"{self.window_frames}u, {n}_input);\n"
                               f"        const int ms = {n}_model_invoke({n}_input, {n}_output);\n"
                               "        if (ms != 0) {\n            return ms;\n        }\n"
                               f"        {n}_accumulate(result);\n    }}\n")
            window_input_body = dsp_all + window_in
        else:
            windows = f"    return n < {up}_WINDOW_SAMPLES ? 0u : 1u + (n - {up}_WINDOW_SAMPLES) / {up}_HOP_SAMPLES;"
            dsp_one = (f"        const int st = {self._dsp_call()}(samples + w * {up}_HOP_SAMPLES, "
                       f"{up}_WINDOW_SAMPLES, {n}_feature_buf);\n"
                       "        if (st != 0) {\n            return st;\n        }\n")
            anomaly = (f"        anomaly += {n}_anomaly({n}_feature_buf);\n" if self.anomaly is not None else "")
            process_windows = ("    for (size_t w = 0; w < windows; ++w) {\n" + dsp_one +
                               f"        {n}_quantize({n}_feature_buf, 1u, {n}_input);\n"
                               f"        const int ms = {n}_model_invoke({n}_input, {n}_output);\n"
                               "        if (ms != 0) {\n            return ms;\n        }\n" + anomaly +
                               f"        {n}_accumulate(result);\n    }}\n")
            window_input_body = (f"    const int st = {self._dsp_call()}(samples + w * {up}_HOP_SAMPLES, "
                                 f"{up}_WINDOW_SAMPLES, {n}_feature_buf);\n"
                                 "    if (st != 0) {\n        return st;\n    }\n"
                                 f"    {n}_quantize({n}_feature_buf, 1u, input);\n    return 0;\n")
        if self.post.mode == "detect":
            decide = (f"    const int32_t need = {self.threshold_q} * (int32_t)windows;  /* mean >= threshold */\n"
                      f"    if (result->sums[{self.post.positive}] >= need) {{\n"
                      f"        result->label = {self.post.positive};\n    }} else {{\n"
                      "        int32_t best = -1;\n"
                      f"        for (int32_t c = 0; c < {up}_CLASSES; ++c) {{\n"
                      f"            if (c != {self.post.positive} &&\n"
                      "                (best < 0 || result->sums[c] > result->sums[best])) {\n"
                      "                best = c;\n            }\n        }\n"
                      "        result->label = best;\n    }\n")
        else:
            decide = ("    int32_t best = 0;\n"
                      f"    for (int32_t c = 1; c < {up}_CLASSES; ++c) {{\n"
                      "        if (result->sums[c] > result->sums[best]) {\n            best = c;\n        }\n    }\n")
            if self.threshold_q > 0:
                decide += (f"    const int32_t need = {self.threshold_q} * (int32_t)windows;  /* mean >= threshold */\n"
                           f"    result->label = result->sums[best] >= need ? best : (int32_t)({self.post.fallback});\n")
            else:
                decide += "    result->label = best;\n"
        buf_doc = "all frames of the buffer" if self.frame_based else "one window"
        anomaly_fn = ""
        anomaly_init = ""
        anomaly_final = ""
        if self.anomaly is not None:
            anomaly_fn = f"""
/* Mean squared z-score of one window's features against the normal-data statistics. */
static float {n}_anomaly(const {ftype} *v)
{{
    float acc = 0.0f;
    for (size_t j = 0; j < {nf}u; ++j) {{
        const float z = ({to_float} - {n}_normal_mean[j]) * {n}_normal_inv_std[j];
        acc += z * z;
    }}
    return acc / {c_float(float(nf))};
}}
"""
            anomaly_init = "    float anomaly = 0.0f;\n"
            anomaly_final = (f"    result->anomaly = anomaly / (float)windows;\n"
                             f"    result->anomalous = result->anomaly > {c_float(self.anomaly.threshold)} ? 1 : 0;\n")
        return f"""/* {n}.c: sensor pipeline glue. Generated by microlith {__version__}; do not edit. */
#include "{n}.h"

#include <string.h>

#include "{n}_dsp.h"
#include "{n}_model.h"

#if {up}_MODEL_INPUT_SIZE != {model_in} || {up}_MODEL_OUTPUT_SIZE != {up}_CLASSES
#error "{n}_model.h does not match this pipeline"
#endif

/* Normalization and input quantization folded: q = round(x * a + b), per feature column. */
{chr(10).join(decls)}

static {ftype} {n}_feature_buf[{nbuf}];  /* DSP output: {buf_doc} */
static int8_t {n}_input[{up}_MODEL_INPUT_SIZE];
static int8_t {n}_output[{up}_CLASSES];

static size_t {n}_windows(size_t n)
{{
{windows}
}}

static int8_t {n}_q8(float x, size_t j)
{{
    float v = x * {n}_scale_a[j];
    v = v + {n}_scale_b[j];
    v = v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v);
    /* round half away from zero, each float step rounded once (Pipeline.quantize) */
    return (int8_t)(v >= 0.0f ? (int32_t)(v + 0.5f) : -(int32_t)(0.5f - v));
}}

/* rows x {nf} features -> int8 model input */
static void {n}_quantize(const {ftype} *v, size_t rows, int8_t *input)
{{
    for (size_t r = 0; r < rows; ++r) {{
        for (size_t j = 0; j < {nf}u; ++j) {{
            input[r * {nf}u + j] = {n}_q8({to_float}, j);
        }}
        v += {nf}u;
    }}
}}
{anomaly_fn}
static void {n}_accumulate({n}_result *result)
{{
    for (size_t c = 0; c < {up}_CLASSES; ++c) {{
        result->sums[c] += (int32_t){n}_output[c] - ({up}_MODEL_OUTPUT_ZERO_POINT);
    }}
}}

int {n}_process(const int16_t *samples, size_t n, {n}_result *result)
{{
    if (samples == NULL || result == NULL || n > {up}_MAX_SAMPLES{self._axes_check()}) {{
        return -1;
    }}
    const size_t windows = {n}_windows(n);
    if (windows == 0u) {{
        return -1;
    }}
    memset(result, 0, sizeof *result);
{anomaly_init}{process_windows}    result->windows = (int32_t)windows;
{decide}    for (size_t c = 0; c < {up}_CLASSES; ++c) {{
        result->probability[c] = (float)result->sums[c] * {c_float(self.out_scale)} / (float)windows;
    }}
{anomaly_final}    return 0;
}}

int {n}_window_input(const int16_t *samples, size_t n, size_t w, int8_t *input)
{{
    if (samples == NULL || input == NULL || n > {up}_MAX_SAMPLES{self._axes_check()} || w >= {n}_windows(n)) {{
        return -1;
    }}
{window_input_body}}}

int {n}_invoke(const int16_t *samples, int32_t *result)
{{
    {n}_result r;
    memset(&r, 0, sizeof r);
    const int st = {n}_process(samples, {up}_SAMPLES_SIZE, &r);
    result[0] = r.label;
    result[1] = r.windows;
    for (size_t c = 0; c < {up}_CLASSES; ++c) {{
        result[2 + c] = r.sums[c];
    }}
    return st;
}}
"""

    def _cmake(self, sources: list[str]) -> str:
        n = self.name
        src_lines = "\n".join(f"  ${{CMAKE_CURRENT_LIST_DIR}}/{s}" for s in sources)
        return f"""# Generated by microlith. Use from your project with:
#   add_subdirectory(path/to/this/folder)
#   target_link_libraries(your_firmware PRIVATE {n})
cmake_minimum_required(VERSION 3.13)
project({n} C)
add_library({n} STATIC
{src_lines})
target_include_directories({n} PUBLIC ${{CMAKE_CURRENT_LIST_DIR}}/src)
set_target_properties({n} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
# The feature quantization rounds each float operation once (no fused multiply-add).
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options({n} PRIVATE -ffp-contract=off)
endif()
"""

    def _arduino(self) -> str:
        return (f"name={self.name}\nversion=1.0.0\nauthor=microlith\nmaintainer=microlith\n"
                f"sentence=Sensor pipeline {self.name} (DSP + int8 model) compiled to C by microlith.\n"
                "paragraph=No interpreter and no dynamic memory; build with -ffp-contract=off.\n"
                "category=Data Processing\nurl=https://example.invalid/microlith\narchitectures=*\n")

    def _readme(self, res: dict) -> str:
        n, up = self.name, self._up
        return f"""# {n}: sensor pipeline generated by microlith {__version__}

Raw int16 samples in, class out: {type(self.block).__name__} features ({self.variant} DSP), the int8 model
`{n}_model` on each window of {self.window} samples (windows every {self.hop} samples), the outputs summed over
the windows of the buffer, then the decision ({self.post.mode}, threshold {self.post.threshold:g}).
Classes: {", ".join(f"{i} {lab}" for i, lab in enumerate(self.labels))}.

```c
#include "{n}.h"

{n}_result r;
int status = {n}_process(samples, n, &r);   /* {up}_WINDOW_SAMPLES <= n <= {up}_MAX_SAMPLES; 0 on success */
/* r.label, r.probability[c], r.windows */
```

Model: arena {res["arena_bytes"]} bytes, weights and parameters {res["weight_bytes"]} bytes. Build with
`-ffp-contract=off` (the CMake file does): the feature quantization is specified per float operation.
`pipeline.json` and `model.tflite` describe the pipeline for `microlith profile {n}-folder --target T`
and `microlith.pipeline.Pipeline.load()`.
"""


# ----------------------------------------------------------------------------- host build

class HostPipeline:
    """A generated pipeline folder built as a host shared library, called through ctypes in a
    child process, as verify runs generated C (see _child.py): a crash, hang or memory limit
    hit in the C is a MicrolithError naming the folder. timeout: seconds per call."""

    def __init__(self, folder, pipeline: Pipeline | None = None, workdir=None,
                 timeout: float | None = None, memory: int | None = None):
        from ._child import CALL_TIMEOUT, START_TIMEOUT, Child
        from .targets.build import build_host_library
        self.folder = Path(folder)
        self.p = pipeline or Pipeline.load(self.folder)
        self.timeout = CALL_TIMEOUT if timeout is None else float(timeout)
        self._tmp = tempfile.TemporaryDirectory(prefix="microlith-pipeline-", dir=workdir)
        self._child = Child("lib", "the generated pipeline C", str(self.folder), memory)  # starts while gcc runs
        try:
            lib = build_host_library(self.folder, Path(self._tmp.name) / f"lib{self.p.name}.so",
                                     extra_flags=["-ffp-contract=off"])
            self._child.request({"op": "load", "path": str(lib.resolve())}, timeout=START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        n = self.p.n_classes

        class Result(ctypes.Structure):  # decodes the bytes the child returns for NAME_result
            _fields_ = [("label", ctypes.c_int32), ("windows", ctypes.c_int32), ("sums", ctypes.c_int32 * n),
                        ("probability", ctypes.c_float * n), ("anomaly", ctypes.c_float),
                        ("anomalous", ctypes.c_int32)]
        self._Result = Result
        name = self.p.name
        self._fn = {"process": f"{name}_process", "window_input": f"{name}_window_input",
                    "model": f"{name}_model_invoke",
                    "features": f"{name}_features" + ("_q" if self.p.variant == "fixed" else "")}

    def close(self):
        self._child.close()
        self._tmp.cleanup()

    def _calls(self, fn: str, arg_lists: list[list], blobs, out_bytes: int) -> list[tuple[int, bytes]]:
        """Call `fn` once per argument list in one request; (status, output bytes) per call.
        Every call has exactly one ["out", out_bytes] argument."""
        if not arg_lists:
            return []
        reply, parts = self._child.request({"op": "call", "calls": [{"fn": self._fn[fn], "args": a}
                                                                    for a in arg_lists]},
                                           blobs, timeout=self.timeout * len(arg_lists))
        try:
            results = reply["results"]
            if len(results) != len(arg_lists) or len(parts) != len(arg_lists) or \
                    any(r["outs"] != 1 or len(p) != out_bytes for r, p in zip(results, parts)):
                raise ValueError("output sizes")
            return [(int(r["rc"]), p) for r, p in zip(results, parts)]
        except (KeyError, TypeError, ValueError) as e:
            raise self._child._fail(f"sent a malformed reply ({type(e).__name__})", "crash") from None

    @staticmethod
    def _samples(samples) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(samples).reshape(-1), dtype=np.int16)

    def process(self, samples) -> dict:
        x = self._samples(samples)
        ((st, raw),) = self._calls("process", [[["in", 0], ["size", x.size], ["out", ctypes.sizeof(self._Result)]]],
                                   [x], ctypes.sizeof(self._Result))
        if st != 0:
            raise MicrolithError(f"{self.p.name}_process returned {st} for {x.size} samples")
        r = self._Result.from_buffer_copy(raw)
        return {"label": r.label, "windows": r.windows, "sums": list(r.sums),
                "probability": [float(v) for v in r.probability], "anomaly": float(r.anomaly),
                "anomalous": int(r.anomalous)}

    def window_inputs(self, samples) -> np.ndarray:
        """The int8 model input of every window, as the C computes it."""
        x = self._samples(samples)
        nw = self.p.n_windows(x.size)
        size = self.p.graph.t(self.p.graph.inputs[0]).size
        out = np.zeros((nw, size), np.int8)
        res = self._calls("window_input", [[["in", 0], ["size", x.size], ["size", w], ["out", size]]
                                           for w in range(nw)], [x], size)
        for w, (st, raw) in enumerate(res):
            if st != 0:
                raise MicrolithError(f"{self.p.name}_window_input returned {st}")
            out[w] = np.frombuffer(raw, np.int8)
        return out

    def model(self, q: np.ndarray) -> np.ndarray:
        """The compiled model alone on int8 inputs (windows, ...) -> (windows, classes)."""
        q = np.ascontiguousarray(np.asarray(q, np.int8).reshape(len(q), -1))
        n = self.p.n_classes
        out = np.zeros((len(q), n), np.int8)
        res = self._calls("model", [[["in", i], ["out", n]] for i in range(len(q))], list(q), n)
        for i, (st, raw) in enumerate(res):
            if st != 0:
                raise MicrolithError(f"{self.p.name}_model_invoke returned {st}")
            out[i] = np.frombuffer(raw, np.int8)
        return out

    def features(self, samples) -> np.ndarray:
        """The C DSP block's features of one window (window blocks) or all frames (frame blocks)."""
        x = self._samples(samples)
        p = self.p
        count = p.units(x.size) * p.n_features if p.frame_based else p.n_features
        dtype = np.int32 if p.variant == "fixed" else np.float32
        nbytes = count * np.dtype(dtype).itemsize
        ((st, raw),) = self._calls("features", [[["in", 0], ["size", x.size], ["out", nbytes]]], [x], nbytes)
        if st != 0:
            raise MicrolithError(f"{p.name} DSP returned {st}")
        out = np.frombuffer(raw, dtype).copy()
        if p.variant == "fixed":
            out = out.astype(np.float64) / (1 << p.block.q_frac_bits)
        return out.reshape(-1, p.n_features) if p.frame_based else out


def compare(pipeline: Pipeline, host: HostPipeline, buffers, oracle_check: bool = True, on_buffer=None) -> dict:
    """C pipeline against the Python pipeline on real buffers.

    decisions_equal:   buffers where the C label equals numpy's (numpy DSP + TFLM);
    model_bit_exact:   windows where the compiled model's output equals TFLM's on the C's own
                       int8 inputs (the "same features" check);
    post_exact:        buffers where C sums/label equal Pipeline.decide() of the C's model
                       outputs (the post-processing, integer, must always agree);
    input_lsb_max:     largest |C - numpy| of the int8 model inputs (DSP error after quantization);
    feature_error:     max |C - numpy| feature error relative to each column's range over the
                       compared buffers (their first window; frame blocks: the first 64 buffers)."""
    n = len(buffers)
    same_label = model_exact = post_exact = windows = 0
    lsb = 0
    c_feats, py_feats = [], []
    for x in buffers:
        x = np.asarray(x, np.int16)
        c_res = host.process(x)
        qc = host.window_inputs(x)
        feats = pipeline.window_features(x)
        qp = pipeline.quantize(feats).reshape(len(feats), -1)
        lsb = max(lsb, int(np.max(np.abs(qc.astype(np.int32) - qp.astype(np.int32)))))
        out_c = host.model(qc)
        if oracle_check:
            out_o = pipeline.run_model(qc)
            model_exact += int(np.sum(np.all(out_c == out_o, axis=1)))
        windows += len(qc)
        scores = pipeline.anomaly.score(feats) if pipeline.anomaly is not None else None
        ref_c = pipeline.decide(out_c, scores)
        post_exact += int(ref_c["label"] == c_res["label"] and ref_c["sums"] == c_res["sums"])
        py_res = pipeline.decide(pipeline.run_model(qp), scores)
        same_label += int(py_res["label"] == c_res["label"])
        if not pipeline.frame_based:
            c_feats.append(host.features(pipeline._buffer(x)[:pipeline.window]))
            py_feats.append(feats[0])
        elif len(c_feats) < 64:
            c_feats.append(host.features(x)[:len(feats[0])])
            py_feats.append(feats[0])
        if on_buffer is not None:
            on_buffer()
    c_arr = np.concatenate([np.reshape(v, (-1, pipeline.n_features)) for v in c_feats])
    p_arr = np.concatenate([np.reshape(v, (-1, pipeline.n_features)) for v in py_feats])
    span = np.maximum(p_arr.max(axis=0) - p_arr.min(axis=0), 1e-12)
    rel = float(np.max(np.abs(c_arr - p_arr) / span))
    return {"buffers": n, "decisions_equal": same_label, "post_exact": post_exact, "windows": windows,
            "model_bit_exact": model_exact if oracle_check else None, "input_lsb_max": lsb,
            "feature_error": rel}


# ----------------------------------------------------------------------------- profile

def profile(folder, target: str, inputs=None, workdir=None, model_breakdown: bool = True) -> dict:
    """Build the pipeline folder into measurement firmware for `target`, run NAME_invoke (one
    window: DSP + model + post-processing) on the emulated core, and measure it.

    inputs: one window of int16 samples; default the folder's sample.npy, else a fixed
    pseudo-random signal. model_breakdown adds the model alone (microlith profile of model.tflite)."""
    from .targets import core_of, get_target
    from .targets import cortexm
    from . import profiling

    folder = Path(folder)
    p = Pipeline.load(folder)
    t = get_target(target)
    core = core_of(t)
    if inputs is None:
        sample_path = folder / SAMPLE_FILE
        if sample_path.is_file():
            x = np.load(sample_path)
        else:
            x = (np.random.default_rng(0).standard_normal(p.window) * 3000).astype(np.int16)
    else:
        x = np.asarray(np.load(inputs) if isinstance(inputs, (str, os.PathLike)) else inputs)
    if p.axes > 1 and np.ndim(x) == 2:
        x = p._interleaved(np.asarray(x, np.int16))
    x = np.asarray(x).reshape(-1)[:p.window].astype(np.int16)
    if x.size != p.window:
        raise MicrolithError(f"pipeline {p.name}: the profiling input needs {p.window} samples, got {x.size}")
    with tempfile.TemporaryDirectory(prefix="microlith-pipeline-profile-", dir=workdir) as tmp:
        tmp = Path(tmp)
        builder = cortexm.FirmwareBuilder(folder, p.name, t["name"], tmp / "fw",
                                          extra_cflags=["-ffp-contract=off"])
        fw = builder.link([[x]])
        run = cortexm.run_firmware(fw.elf, t["name"])
        # the same priced trace as a model profile: cycles, and latency and energy built on them
        cyc = profiling.trace_cycles(fw.elf, t["name"], p.name, profiling.DEFAULT_TIMEOUT, tmp)
        host = HostPipeline(folder, p, workdir=tmp)
        try:
            host_res = host.process(x)
        finally:
            host.close()
    sample = run.samples[0]
    if sample.status != 0:
        raise MicrolithError(f"pipeline {p.name}: {p.name}_invoke returned {sample.status} on {t['name']}")
    board_out = np.frombuffer(sample.outputs[0], dtype=np.int32)
    host_out = np.array([host_res["label"], host_res["windows"], *host_res["sums"]], dtype=np.int32)
    py_res = p.process(p.rows(x))
    sizes = fw.sizes
    out = {"model": str(folder), "pipeline": p.name, "name": p.name, "target": t["name"],
           "board": t["name"] if t["kind"] == "board" else None, "core": core["name"],
           "qemu_machine": core["qemu"]["machine"], "block": type(p.block).__name__, "variant": p.variant,
           "window_samples": p.window, "flash_bytes": sizes["flash_bytes"],
           "ram_bytes": sizes["data_bytes"] + sizes["bss_bytes"] + sample.stack_bytes,
           "stack_bytes": sample.stack_bytes, "text_bytes": sizes["text_bytes"],
           "rodata_bytes": sizes["rodata_bytes"], "data_bytes": sizes["data_bytes"], "bss_bytes": sizes["bss_bytes"],
           "input_bytes_excluded": sizes["input_bytes"], "instructions": sample.instructions,
           "label": int(board_out[0]), "label_name": p.label_name(int(board_out[0])),
           "output_matches_host": bool(np.array_equal(board_out, host_out)),
           "output_matches_python": int(board_out[0]) == py_res["label"],
           "measurement": (f"instructions counted exactly on QEMU {core['qemu']['machine']} with -icount between timer "
                           f"reads around {p.name}_invoke on one window of {p.window} samples (DSP + int8 model + "
                           "post-processing); flash = vector table + text + rodata + exidx + data initializers, "
                           "the test window excluded; RAM = data + bss (feature buffer, DSP work, model arena) + "
                           "painted-stack high-water mark")}
    out.update(profiling.estimates(sample.instructions, t["name"], cyc, None))
    budget = cortexm.check_budget(out, t)
    out["fits_budget"] = None if t["kind"] != "board" else budget is None
    out["budget_message"] = budget
    if model_breakdown:
        with tempfile.TemporaryDirectory(prefix="microlith-pipeline-model-", dir=workdir) as tmp:
            mpath = Path(tmp) / f"{p.name}_model.tflite"
            mpath.write_bytes(p.model_bytes)
            q = p.quantize(p.window_features(p.rows(x)))[0]
            m = profiling.profile(str(mpath), t["name"], inputs=[q.reshape(p.graph.t(p.graph.inputs[0]).shape)])
        out["model_instructions"] = m["instructions"]
        out["dsp_and_glue_instructions"] = sample.instructions - m["instructions"]
        out["macs"] = m["macs"]
        out["model_arena_bytes"] = m["arena_bytes"]
        if m.get("cycles_est") is not None:
            out["model_cycles_est"] = m["cycles_est"]
    return out
