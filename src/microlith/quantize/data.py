"""Calibration and evaluation data: arrays, .npy/.npz files, folders of images or WAV files.

Everything ends as a list of samples, one float32 array per graph input, each of the input's
shape; anything else is a MicrolithError that names the problem (wrong shape or dtype, NaN
or Inf, no samples at all).

Preprocessing is explicit, never guessed (DataOptions):
- images (PIL): converted to RGB or grayscale to match the input's channels, resized to the
  input's height x width (bilinear) unless `resize` says otherwise, then
  x = (pixel * scale - mean) / std with pixel values 0..255. The defaults (scale 1, mean 0,
  std 1) feed raw 0..255 values, which is what the MLPerf ResNet-8 expects; a model trained
  on 0..1 inputs needs scale=1/255.
- WAV (stdlib `wave`): PCM 8/16/24/32-bit, channels averaged, values scaled to [-1, 1);
  every clip cropped or zero-padded to `length` samples (default: the input's size); with
  `sample_rate` set, a clip at another rate is an error; without it, all clips must share
  one rate. Feature extraction (MFCC etc.) is not done here: give features as .npy.
- folders: files are taken recursively in sorted order; files in class subfolders get the
  folder name as label (classes sorted by name); `limit` keeps a seeded random subset.
"""
from __future__ import annotations

import math
import os
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..inputs import as_batch, as_sample
from ..ir import Graph, MicrolithError

IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
WAV_EXT = (".wav",)
LABEL_KEYS = ("labels", "label", "y")


@dataclass
class DataOptions:
    limit: int | None = None          # at most this many samples (seeded random subset)
    seed: int = 0
    resize: tuple[int, int] | None = None   # images: (height, width); default the input's
    scale: float = 1.0                # images: x = (pixel * scale - mean) / std
    mean: float | tuple = 0.0
    std: float | tuple = 1.0
    sample_rate: int | None = None    # WAV: required rate in Hz
    length: int | None = None         # WAV: samples per clip; default the input's size

    @classmethod
    def of(cls, options) -> "DataOptions":
        if options is None:
            return cls()
        if isinstance(options, cls):
            return options
        if isinstance(options, dict):
            unknown = set(options) - set(cls.__dataclass_fields__)
            if unknown:
                raise MicrolithError(f"unknown data option(s): {', '.join(sorted(unknown))}; known: "
                                     + ", ".join(cls.__dataclass_fields__))
            return cls(**options)
        raise MicrolithError(f"data options must be a DataOptions or a dict, not {type(options).__name__}")


@dataclass
class Dataset:
    samples: list[list[np.ndarray]]
    labels: np.ndarray | None = None
    classes: list[str] | None = None
    source: str = "<arrays>"
    notes: list[str] = field(default_factory=list)  # the preprocessing applied, for the report


def load_dataset(data, g: Graph, options=None, what: str = "calibration") -> Dataset:
    """`data` (a path, an array, or an iterable of samples) -> checked samples for graph `g`."""
    opts = DataOptions.of(options)
    if isinstance(data, Dataset):
        ds = data
    elif isinstance(data, (str, os.PathLike)):
        ds = _load_path(Path(data), g, opts, what)
    elif isinstance(data, np.ndarray):
        ds = Dataset(_split_arrays([data], g, what))
    elif isinstance(data, dict):
        missing = [n for n in g.inputs if n not in data]
        if missing:
            raise MicrolithError(f"{what} data has no array for input '{missing[0]}'")
        ds = Dataset(_split_arrays([np.asarray(data[n]) for n in g.inputs], g, what))
    else:
        try:
            items = list(data)
        except TypeError:
            raise MicrolithError(f"{what} data must be a path, an array or an iterable of arrays, "
                                 f"not {type(data).__name__}") from None
        ds = Dataset(items)
    ds.samples = check_samples(g, ds.samples, what, source=ds.source)
    if opts.limit is not None and not isinstance(data, (str, os.PathLike)) and len(ds.samples) > opts.limit:
        keep = _subset(len(ds.samples), opts.limit, opts.seed)
        ds.samples = [ds.samples[i] for i in keep]
        ds.labels = None if ds.labels is None else ds.labels[keep]
    if ds.labels is not None and len(ds.labels) != len(ds.samples):
        raise MicrolithError(f"{ds.source}: {len(ds.labels)} labels for {len(ds.samples)} samples")
    return ds


def check_samples(g: Graph, samples, what: str = "calibration", source: str = "<arrays>") -> list[list[np.ndarray]]:
    """Each sample as [one float32 array of the input's shape per graph input]."""
    out = []
    for k, item in enumerate(samples):
        arrays = [item] if not isinstance(item, (list, tuple)) else list(item)
        if len(arrays) != len(g.inputs):
            raise MicrolithError(f"{source}: {what} sample #{k} has {len(arrays)} arrays; the model has "
                                 f"{len(g.inputs)} inputs")
        sample = []
        for a, name in zip(arrays, g.inputs):
            t = g.t(name)
            a = np.asarray(a)
            if a.dtype.kind != "f":
                raise MicrolithError(f"{source}: {what} sample #{k} for input '{name}' is {a.dtype}; "
                                     "the float model takes float values (convert and scale them first)")
            a = as_sample(a, t.shape, f"{source}: {what} sample #{k}", name)  # never reshaped to fit
            if not np.all(np.isfinite(a)):
                bad = "NaN" if np.isnan(a).any() else "Inf"
                raise MicrolithError(f"{source}: {what} sample #{k} for input '{name}' contains {bad}")
            sample.append(np.ascontiguousarray(a, np.float32).reshape(t.shape))
        out.append(sample)
    if not out:
        raise MicrolithError(f"{source}: no {what} samples")
    return out


def _split_arrays(arrays: list[np.ndarray], g: Graph, what: str, source: str = "<arrays>") -> list:
    """One array per graph input holding one sample or a batch of them -> samples."""
    if len(arrays) != len(g.inputs):
        raise MicrolithError(f"{source}: holds {len(arrays)} arrays; the model has {len(g.inputs)} inputs")
    per_input = []
    for a, name in zip(arrays, g.inputs):
        t = g.t(name)
        if a.size == 0:
            raise MicrolithError(f"{source}: no {what} samples (empty array for input '{name}')")
        per_input.append(as_batch(a, t.shape, source, name))  # the data contract of inputs.py
    n = per_input[0].shape[0]
    if any(p.shape[0] != n for p in per_input):
        raise MicrolithError(f"{source}: the arrays hold different numbers of samples")
    return [[p[k] for p in per_input] for k in range(n)]


def _subset(n: int, limit: int, seed: int) -> np.ndarray:
    if limit < 1:
        raise MicrolithError(f"limit must be at least 1, not {limit}")
    return np.sort(np.random.default_rng(seed).choice(n, size=min(limit, n), replace=False))


def _load_path(path: Path, g: Graph, opts: DataOptions, what: str) -> Dataset:
    src = str(path)
    if not path.exists():
        raise MicrolithError(f"{src}: no such file or folder ({what} data)")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_EXT]
        wavs = [p for p in files if p.suffix.lower() in WAV_EXT]
        if images and wavs:
            raise MicrolithError(f"{src}: holds both images and WAV files; use one kind per folder")
        chosen = images or wavs
        if not chosen:
            raise MicrolithError(f"{src}: no images ({', '.join(IMAGE_EXT)}) or WAV files found ({what} data)")
        if opts.limit is not None and len(chosen) > opts.limit:
            chosen = [chosen[i] for i in _subset(len(chosen), opts.limit, opts.seed)]
        labels, classes = _folder_labels(path, chosen)
        ds = _load_images(chosen, g, opts, src) if images else _load_wavs(chosen, g, opts, src)
        ds.labels, ds.classes = labels, classes
        return ds
    ext = path.suffix.lower()
    if ext not in (".npy", ".npz"):
        raise MicrolithError(f"{src}: unknown {what} data format '{ext}'; give a .npy/.npz file or a folder "
                             "of images or WAV files")
    members, labels = _read_npy_or_npz(path, what)
    keys = list(members)
    if set(keys) == set(g.inputs):
        keys = list(g.inputs)
    elif len(keys) != len(g.inputs) or (len(keys) > 1 and keys != [f"arr_{k}" for k in range(len(keys))]):
        raise MicrolithError(f"{src}: holds arrays {sorted(keys)}; the model's inputs are {list(g.inputs)}: give "
                             "one array per input, named after it (or arr_0, arr_1, ... in input order), plus "
                             f"optional labels named one of {list(LABEL_KEYS)}")
    arrays = [members[k] for k in keys]
    ds = Dataset(_split_arrays(arrays, g, what, src), labels, None, src)
    if labels is not None and len(labels) != len(ds.samples):
        raise MicrolithError(f"{src}: {len(labels)} labels for {len(ds.samples)} samples")
    if opts.limit is not None and len(ds.samples) > opts.limit:
        keep = _subset(len(ds.samples), opts.limit, opts.seed)
        ds.samples = [ds.samples[i] for i in keep]
        ds.labels = None if labels is None else labels[keep]
    return ds


# A data file is as untrusted as a model file: .npy/.npz are parsed here (headers checked
# against the bytes actually present, numeric dtypes only, never pickles) instead of by
# np.load, whose readers allocate what a header claims before reading it and raise zipfile,
# zlib and EOF errors of their own on a damaged archive.
DEFAULT_MAX_DATA_BYTES = 2 << 30
_NUMERIC_KINDS = "biuf"


def max_data_bytes() -> int:
    """Bytes one .npy/.npz may hold when loaded (env MICROLITH_MAX_DATA_BYTES overrides)."""
    env = os.environ.get("MICROLITH_MAX_DATA_BYTES")
    try:
        return int(env) if env else DEFAULT_MAX_DATA_BYTES
    except ValueError:
        raise MicrolithError(f"MICROLITH_MAX_DATA_BYTES={env!r} is not a whole number of bytes") from None


def _read_npy(fp, size: int, where: str) -> np.ndarray:
    """One .npy stream of `size` bytes -> array, refusing anything but a plain numeric array."""
    fmt = np.lib.format
    start = fp.tell() if hasattr(fp, "tell") else 0
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unknown .npy format version {version}")
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- numpy's header parser (literal_eval) raises many types
        raise MicrolithError(f"{where}: not a readable .npy array ({type(e).__name__}: {e})") from None
    if not isinstance(shape, tuple) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise MicrolithError(f"{where}: the .npy header has an invalid shape {shape!r}")
    if math.prod(max(int(d), 1) for d in shape) * dtype.itemsize > max_data_bytes():
        # also for shapes with a 0 in them, which numpy cannot represent past 2^63 bytes
        raise MicrolithError(f"{where}: the .npy header claims shape {list(shape)}, larger than the "
                             f"{max_data_bytes()} bytes allowed (set MICROLITH_MAX_DATA_BYTES to raise it)")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _NUMERIC_KINDS:
        raise MicrolithError(f"{where}: holds a {dtype} array; calibration data must be a plain numeric "
                             "(float32) array (object arrays and pickles are never loaded)")
    count = math.prod(int(d) for d in shape)
    nbytes = count * dtype.itemsize
    header = (fp.tell() if hasattr(fp, "tell") else 0) - start
    if nbytes > size - header:
        raise MicrolithError(f"{where}: the .npy header claims shape {list(shape)} ({nbytes} bytes) but the "
                             f"file holds {max(size - header, 0)} bytes of data; the file is truncated or corrupt")
    if nbytes > max_data_bytes():
        raise MicrolithError(f"{where}: array of {nbytes} bytes is larger than the {max_data_bytes()} bytes "
                             "allowed (set MICROLITH_MAX_DATA_BYTES to raise it)")
    raw = fp.read(nbytes)
    if len(raw) != nbytes:
        raise MicrolithError(f"{where}: the .npy data ends after {len(raw)} of {nbytes} bytes")
    arr = np.frombuffer(raw, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)


def _read_npy_or_npz(path: Path, what: str) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The arrays of a .npy or .npz file by name, and the labels of a .npz (LABEL_KEYS)."""
    import zipfile
    import zlib
    src = str(path)
    if not path.is_file():
        raise MicrolithError(f"{src}: not a regular file ({what} data)")
    if path.suffix.lower() == ".npy":
        try:
            with open(path, "rb") as f:
                return {"arr_0": _read_npy(f, path.stat().st_size, src)}, None
        except OSError as e:
            raise MicrolithError(f"{src}: cannot read {what} data ({e.strerror or e})") from None
    members: dict[str, np.ndarray] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                total += info.file_size
                if total > max_data_bytes():
                    raise MicrolithError(f"{src}: the archive unpacks to more than {max_data_bytes()} bytes "
                                         "(set MICROLITH_MAX_DATA_BYTES to raise it)")
                with z.open(info) as f:
                    members[key] = _read_npy(f, info.file_size, f"{src} (array '{key}')")
    except MicrolithError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError, struct.error, OverflowError, IndexError) as e:  # IndexError: an empty member name
        raise MicrolithError(f"{src}: not a readable .npz archive ({type(e).__name__}: {e})") from None
    labels = None
    label_keys = [k for k in members if k in LABEL_KEYS]
    if label_keys:
        raw = members[label_keys[0]]
        if raw.dtype.kind == "f" and not (np.all(np.isfinite(raw)) and np.all(raw == np.round(raw))):
            raise MicrolithError(f"{src}: labels '{label_keys[0]}' are not whole numbers")
        if raw.dtype.kind not in "iuf" or (raw.size and (raw.min() < 0 or raw.max() > 2 ** 31)):
            raise MicrolithError(f"{src}: labels '{label_keys[0]}' must be class numbers 0..2^31 "
                                 f"({raw.dtype} given)")
        labels = raw.reshape(-1).astype(np.int64)
    return {k: v for k, v in members.items() if k not in LABEL_KEYS}, labels


def _folder_labels(root: Path, files: list[Path]):
    parents = [p.parent.relative_to(root) for p in files]
    if any(str(p) == "." for p in parents):
        return None, None
    classes = sorted({str(p) for p in parents})
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[str(p)] for p in parents], np.int64), classes


def _load_images(files: list[Path], g: Graph, opts: DataOptions, src: str) -> Dataset:
    try:
        from PIL import Image
    except ImportError:
        raise MicrolithError(f"{src}: reading images needs Pillow (pip install pillow); or give the "
                             "samples as a .npy array") from None
    if len(g.inputs) != 1:
        raise MicrolithError(f"{src}: image folders feed single-input models; the model has {len(g.inputs)} inputs")
    shape = g.t(g.inputs[0]).shape
    if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
        raise MicrolithError(f"{src}: image folders need an NHWC input with 1 or 3 channels; "
                             f"input '{g.inputs[0]}' is {list(shape)}")
    h, w = opts.resize or (shape[1], shape[2])
    if (h, w) != (shape[1], shape[2]):
        raise MicrolithError(f"{src}: resize {h}x{w} does not match the model input {shape[1]}x{shape[2]}")
    mode = "RGB" if shape[3] == 3 else "L"
    mean = np.asarray(opts.mean, np.float32)
    std = np.asarray(opts.std, np.float32)
    if np.any(std == 0):
        raise MicrolithError("std must not be 0")
    samples, resized = [], 0
    for p in files:
        try:
            with Image.open(p) as im:
                im = im.convert(mode)
                if im.size != (w, h):
                    im = im.resize((w, h), Image.BILINEAR)
                    resized += 1
                px = np.asarray(im, np.float32)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 -- PIL's decoders raise many types on a damaged file
            raise MicrolithError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None
        x = (px.reshape(h, w, shape[3]) * np.float32(opts.scale) - mean) / std
        samples.append([x.reshape(shape).astype(np.float32)])
    notes = [f"{len(files)} images, {mode}, pixels 0..255 * {opts.scale} - mean {opts.mean} / std {opts.std}"
             + (f", {resized} resized to {h}x{w} (bilinear)" if resized else "")]
    return Dataset(samples, source=src, notes=notes)


def _read_wav(p: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(p), "rb") as f:
            ch, width, rate, n = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            raw = f.readframes(n)
    except (wave.Error, EOFError, OSError, struct.error, ValueError, OverflowError, RuntimeError) as e:
        raise MicrolithError(f"{p}: cannot read WAV file ({type(e).__name__}: {e}); only uncompressed PCM "
                             "is supported") from None
    if ch < 1 or width < 1:
        raise MicrolithError(f"{p}: WAV header says {ch} channels of {width}-byte samples")
    raw = raw[: len(raw) // (ch * width) * ch * width]  # a truncated last frame is dropped
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise MicrolithError(f"{p}: {8 * width}-bit WAV samples are not supported")
    if ch > 1:
        x = x[: len(x) // ch * ch].reshape(-1, ch).mean(axis=1)
    return x, rate


def _load_wavs(files: list[Path], g: Graph, opts: DataOptions, src: str) -> Dataset:
    if len(g.inputs) != 1:
        raise MicrolithError(f"{src}: WAV folders feed single-input models; the model has {len(g.inputs)} inputs")
    t = g.t(g.inputs[0])
    length = opts.length or t.size
    if length != t.size:
        raise MicrolithError(f"{src}: WAV length {length} samples does not match the model input "
                             f"'{t.name}' of {t.size} values {list(t.shape)}")
    samples, rates, padded, cropped = [], set(), 0, 0
    for p in files:
        x, rate = _read_wav(p)
        if opts.sample_rate is not None and rate != opts.sample_rate:
            raise MicrolithError(f"{p}: sample rate {rate} Hz, expected {opts.sample_rate} Hz")
        rates.add(rate)
        if len(rates) > 1:
            listed = ", ".join(map(str, sorted(rates)))
            raise MicrolithError(f"{src}: WAV files have different sample rates ({listed} Hz); "
                                 "resample them or set sample_rate to check")
        if len(x) < length:
            x = np.concatenate([x, np.zeros(length - len(x), np.float32)])
            padded += 1
        elif len(x) > length:
            x = x[:length]
            cropped += 1
        samples.append([x.reshape(t.shape).astype(np.float32)])
    notes = [f"{len(files)} WAV clips at {rates.pop()} Hz, scaled to [-1, 1), {length} samples each "
             f"({padded} zero-padded, {cropped} cropped)"]
    return Dataset(samples, source=src, notes=notes)
