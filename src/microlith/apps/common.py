"""Shared parts of the applications: data location and unpacking, data checks, a progress bar,
training, int8 conversion, evaluation of the compiled pipeline, metrics, plots and reports."""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..ir import MicrolithError

REPO = Path(__file__).resolve().parents[3]
SOURCES = {
    "picovoice_wakeword": "the Picovoice wake-word benchmark, folder audio/ "
                          "(https://github.com/Picovoice/wake-word-benchmark, Apache-2.0)",
    "fsdd": "the Free Spoken Digit Dataset (https://github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0)",
    "cwru_bearing_12k_drive_end": "the Case Western Reserve University Bearing Data Center, 12k drive-end fault "
                                  "files and normal baseline 97.mat "
                                  "(https://engineering.case.edu/bearingdatacenter/download-data-file)",
    "cinc2017_af_sample": "the PhysioNet/Computing in Cardiology Challenge 2017, sample2017/validation "
                          "(https://physionet.org/content/challenge-2017/1.0.0/)",
}
BENCH_BEGIN, BENCH_END = "<!-- apps:begin -->", "<!-- apps:end -->"


# ----------------------------------------------------------------------------- options and data

@dataclass
class AppOptions:
    data: str | None = None        # folder with the archives (default $MICROLITH_DATA, then ../shared/data)
    out: str = "out/apps"          # results: <out>/<app>/ (pipeline C folder, PNG, result.json)
    quick: bool = False            # reduced run for tests: data subset, few epochs
    seed: int = 0
    progress: bool = True          # progress bars on stderr
    profile: bool = True           # measure the pipeline on the emulated board
    target: str = "nrf52840"
    benchmarks: str | None = None  # update this BENCHMARKS.md's apps section
    cache: str | None = None       # where archives are unpacked (default $MICROLITH_CACHE, then REPO/.cache)


def data_dir(opts: AppOptions) -> Path:
    if opts.data:
        d = Path(opts.data)
        if not d.is_dir():
            raise MicrolithError(f"--data {d}: no such folder")
        return d
    env = os.environ.get("MICROLITH_DATA")
    if env:
        d = Path(env)
        if not d.is_dir():
            raise MicrolithError(f"MICROLITH_DATA={d}: no such folder")
        return d
    return REPO.parent / "shared" / "data"


def cache_dir(opts: AppOptions) -> Path:
    """Where archives are unpacked: opts.cache, $MICROLITH_CACHE, or REPO/.cache (git-ignored)."""
    if opts.cache:
        return Path(opts.cache)
    return Path(os.environ["MICROLITH_CACHE"]) if os.environ.get("MICROLITH_CACHE") else REPO / ".cache"


def archive_path(name: str, opts: AppOptions) -> Path:
    return data_dir(opts) / f"{name}.tar.xz"


def unpack(name: str, opts: AppOptions) -> Path:
    """CACHE/<name>/ with the archive <data>/<name>.tar.xz unpacked in it (once)."""
    dest = cache_dir(opts) / name
    if (dest / ".complete").exists():
        return dest
    archive = archive_path(name, opts)
    if not archive.is_file():
        raise MicrolithError(f"{archive} is missing: download {SOURCES[name]} and pack it as {archive.name} "
                             f"(see shared/data/README.md), or point --data / MICROLITH_DATA at its folder")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise MicrolithError(f"{archive}: cannot unpack ({e})") from None
    (dest / ".complete").write_text("")
    return dest


def digest(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()


# ----------------------------------------------------------------------------- progress

class Progress:
    """Progress bars on stderr; on a terminal redrawn in place, elsewhere one line per stage."""

    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def stage(self, name: str, total: int) -> "_Stage":
        return _Stage(self, name, max(1, int(total)))

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"  {text}\n")
            self.stream.flush()


class _Stage:
    def __init__(self, owner: Progress, name: str, total: int):
        self.o, self.name, self.total, self.done = owner, name, total, 0
        self.t0 = self.last = time.perf_counter()
        self.info = ""

    def __enter__(self):
        if self.o.enabled and not self.o.tty:
            self.o.stream.write(f"  {self.name} ...\n")
            self.o.stream.flush()
        self._draw(force=True)
        return self

    def update(self, n: int = 1, info: str = "") -> None:
        self.done = min(self.total, self.done + n)
        if info:
            self.info = info
        self._draw()

    def _line(self) -> str:
        width = 24
        fill = int(width * self.done / self.total)
        pct = 100.0 * self.done / self.total
        return (f"  {self.name:<30} [{'#' * fill}{'.' * (width - fill)}] {pct:5.1f}% "
                f"{time.perf_counter() - self.t0:6.1f}s {self.info}")

    def _draw(self, force: bool = False) -> None:
        if not self.o.tty:
            return
        now = time.perf_counter()
        if force or now - self.last > 0.1 or self.done == self.total:
            self.last = now
            self.o.stream.write("\r" + self._fit(self._line()))
            self.o.stream.flush()

    @staticmethod
    def _fit(line: str) -> str:
        """Cut and pad to the terminal width: a wrapped line could not be redrawn in place."""
        import shutil
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        return line[:width].ljust(width)

    def __exit__(self, *exc):
        if not self.o.enabled:
            return False
        self.done = self.total if exc[0] is None else self.done
        if self.o.tty:
            self.o.stream.write("\r" + self._fit(self._line()) + "\n")
        else:
            self.o.stream.write(self._line() + "\n")
        self.o.stream.flush()
        return False


# ----------------------------------------------------------------------------- data checks

LEVELS = ("ok", "info", "warning", "fatal")


@dataclass
class DataChecks:
    """One table of every data problem found; fatal ones stop the run with one error."""
    rows: list[dict] = field(default_factory=list)

    def add(self, dataset: str, check: str, status: str, detail: str, count: int | None = None) -> None:
        if status not in LEVELS:
            raise ValueError(status)
        self.rows.append({"dataset": dataset, "check": check, "status": status, "count": count, "detail": detail})

    def table(self) -> str:
        head = ("dataset", "check", "status", "count", "detail")
        rows = [[r["dataset"], r["check"], r["status"].upper() if r["status"] in ("warning", "fatal") else r["status"],
                 "" if r["count"] is None else str(r["count"]), r["detail"]] for r in self.rows]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head[:4])]
        lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(head[:4], widths)) + "  detail"]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
        return "\n".join(lines)

    def markdown(self) -> str:
        out = ["| dataset | check | status | count | detail |", "|---|---|---|---|---|"]
        for r in self.rows:
            out.append(f"| {r['dataset']} | {r['check']} | {r['status']} | "
                       f"{'' if r['count'] is None else r['count']} | {r['detail']} |")
        return "\n".join(out)

    def raise_if_fatal(self) -> None:
        fatal = [r for r in self.rows if r["status"] == "fatal"]
        if fatal:
            first = fatal[0]
            raise MicrolithError(f"data check failed ({len(fatal)} fatal problem(s)): {first['dataset']}: "
                                 f"{first['check']}: {first['detail']}\n{self.table()}")


# ----------------------------------------------------------------------------- training

def set_threads() -> None:
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def train(model, batches_for_epoch, epochs: int, *, lr: float = 3e-3, weight_decay: float = 1e-4,
          class_weight=None, progress: Progress | None = None, name: str = "training", seed: int = 0,
          label_smoothing: float = 0.0, batch: int = 64):
    """Adam with a cosine learning-rate schedule. batches_for_epoch(epoch) -> (X, y) numpy arrays
    (fresh augmentation each epoch if the caller wants it); minibatches in a seeded order."""
    import torch
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    w = None if class_weight is None else torch.tensor(np.asarray(class_weight), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    prog = progress or Progress(False)
    with prog.stage(name, epochs) as bar:
        for ep in range(epochs):
            X, y = batches_for_epoch(ep)
            X = torch.as_tensor(np.asarray(X, np.float32))
            y = torch.as_tensor(np.asarray(y, np.int64))
            model.train()
            order = torch.randperm(len(X), generator=gen)
            total, count = 0.0, 0
            for i in range(0, len(X), batch):
                idx = order[i:i + batch]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx], weight=w,
                                                         label_smoothing=label_smoothing)
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
                count += len(idx)
            sched.step()
            bar.update(1, f"loss {total / max(1, count):.3f}")
    model.eval()
    return model


def predict_float(model, X: np.ndarray, batch: int = 512) -> np.ndarray:
    """Softmax probabilities of the float model."""
    import torch
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            out.append(torch.softmax(model(torch.as_tensor(np.asarray(X[i:i + batch], np.float32))), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def with_softmax(model):
    """`torch.nn.Sequential(model, Softmax)`: the int8 model then outputs probabilities (scale
    1/256, zero point -128), which the pipeline sums over windows."""
    import torch
    return torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).eval()


def to_int8(model, example_shape, calibration: np.ndarray, path: Path, method: str = "percentile") -> bytes:
    """PyTorch float model (logits) -> int8 .tflite (softmax appended) with microlith's quantizer."""
    import torch
    from ..frontends.torch import from_torch
    from ..quantize.api import quantize
    g = from_torch(with_softmax(model), torch.zeros(*example_shape), name=path.stem)
    quantize(g, np.asarray(calibration, np.float32), path, method=method, io="int8", report=False)
    return path.read_bytes()


# ----------------------------------------------------------------------------- metrics

def confusion(y_true, y_pred, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        if 0 <= p < n:
            cm[int(t), int(p)] += 1
    return cm


def accuracy(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def f1(y_true, y_pred, positive: int = 1) -> float:
    t, p = np.asarray(y_true) == positive, np.asarray(y_pred) == positive
    tp, fp, fn = int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def roc_auc(scores_negative, scores_positive) -> float:
    """Probability that a positive scores above a negative (ties count half): the ROC AUC."""
    neg = np.asarray(scores_negative, np.float64)
    pos = np.asarray(scores_positive, np.float64)
    if not len(neg) or not len(pos):
        return float("nan")
    allv = np.concatenate([neg, pos])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):  # average ranks of ties
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    r_pos = ranks[len(neg):].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100.0 * x:.1f}%"


# ----------------------------------------------------------------------------- plots

def plot_confusion(cm: np.ndarray, labels, path: Path, title: str, col_labels=None) -> Path | None:
    """Confusion matrix PNG (rows: true class `labels`, columns: predicted `col_labels`, default
    the same), with matplotlib, or Pillow when matplotlib is not installed."""
    import textwrap
    cm = np.asarray(cm)
    rows, cols = list(labels), list(col_labels or labels)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        try:
            return _plot_confusion_pil(cm, rows, cols, path, title)
        except ImportError:  # neither matplotlib nor Pillow: the matrix stays in result.json
            return None
    fig, ax = plt.subplots(figsize=(max(4.5, 2.2 + 0.75 * len(cols)), 1.6 + 0.6 * len(rows)), dpi=110)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(cols)), cols, rotation=45 if len(cols) > 3 else 0, ha="right" if len(cols) > 3
                  else "center", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("\n".join(textwrap.wrap(title, 50)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_confusion_pil(cm: np.ndarray, labels, col_labels, path: Path, title: str) -> Path:
    from PIL import Image, ImageDraw
    n_rows, n_cols = cm.shape
    cell, left, top = 44, 110, 40
    img = Image.new("RGB", (left + cell * n_cols + 10, top + cell * n_rows + 90), "white")
    d = ImageDraw.Draw(img)
    d.text((5, 5), title, fill="black")
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    for i in range(n_rows):
        d.text((5, top + i * cell + cell // 3), str(labels[i])[:16], fill="black")
        for j in range(n_cols):
            v = int(255 - 200 * norm[i, j])
            x0, y0 = left + j * cell, top + i * cell
            d.rectangle([x0, y0, x0 + cell - 1, y0 + cell - 1], fill=(v, v, 255), outline="gray")
            d.text((x0 + 6, y0 + cell // 3), str(cm[i, j]), fill="black")
    for j in range(n_cols):
        d.text((left + j * cell + 2, top + n_rows * cell + 5 + 12 * (j % 2)), str(col_labels[j])[:7], fill="black")
    img.save(path)
    return path


# ----------------------------------------------------------------------------- the compiled pipeline

def evaluate_c(pipeline, folder: Path, buffers, progress: Progress, compare_count: int | None = None) -> dict:
    """Build the C pipeline for the host, run it on every buffer; compare it with the Python
    pipeline (numpy DSP + TFLM) on the first compare_count buffers (all by default)."""
    from ..pipeline import HostPipeline, compare
    host = HostPipeline(folder, pipeline)
    try:
        results = []
        with progress.stage("compiled C on held-out data", len(buffers)) as bar:
            for x in buffers:
                results.append(host.process(x))
                bar.update()
        k = len(buffers) if compare_count is None else min(compare_count, len(buffers))
        cmp = {}
        if k:
            with progress.stage("C vs Python pipeline", k) as bar:
                cmp = compare(pipeline, host, buffers[:k], on_buffer=bar.update)
    finally:
        host.close()
    return {"results": results, "compare": cmp}


def profile_pipeline(folder: Path, opts: AppOptions, progress: Progress) -> dict | None:
    """Footprint and instructions of the whole pipeline on the emulated board (None if skipped
    or the Arm toolchain / QEMU are missing; the reason goes to `skipped`)."""
    from ..pipeline import profile
    if not opts.profile:
        return {"skipped": "profiling disabled"}
    try:
        with progress.stage(f"profile on {opts.target} (QEMU)", 1) as bar:
            r = profile(folder, opts.target)
            bar.update()
    except MicrolithError as e:
        if "not found" in str(e):
            return {"skipped": str(e)}
        raise
    return r


def target_line(name: str, value: float, goal: float, met: bool, fmt=pct) -> dict:
    return {"target": name, "value": value, "goal": goal, "met": bool(met), "text": fmt(value)}


# ----------------------------------------------------------------------------- reports

def footprint_text(prof: dict | None, target: str) -> str:
    if not prof or prof.get("skipped"):
        return f"{target}: not profiled ({(prof or {}).get('skipped', 'skipped')})"
    fits = "fits" if prof.get("fits_budget") else "DOES NOT FIT"
    return (f"{target} (emulated {prof['core']}): flash {prof['flash_bytes']:,} B, RAM {prof['ram_bytes']:,} B, "
            f"{prof['instructions']:,} instructions per window (model {prof.get('model_instructions', 0):,}), "
            f"~{prof['latency_ms_est']:.1f} ms at {_clock_mhz(target)} MHz (estimate) -> {fits}")


def _clock_mhz(target: str) -> str:
    from ..targets import get_target
    t = get_target(target)
    hz = t.get("clock_hz")
    hz = hz.get("value") if isinstance(hz, dict) else hz
    return f"{hz / 1e6:g}" if hz else "?"


def summary_text(res: dict) -> str:
    lines = [f"{res['app']}: {res['title']}",
             f"  data: {res['data_summary']}",
             f"  split: {res['split']}",
             "  data checks:", res["checks_table"],
             f"  float accuracy {pct(res['float_accuracy'])}, int8 compiled C accuracy {pct(res['int8_accuracy'])}"]
    for k, v in res.get("extra_metrics", {}).items():
        lines.append(f"  {k}: {v}")
    cmp = res.get("agreement") or {}
    if cmp:
        lines.append(f"  C pipeline vs Python pipeline on {cmp['buffers']} held-out buffers: same decision "
                     f"{cmp['decisions_equal']}/{cmp['buffers']}; model byte-exact on the C's features "
                     f"{cmp['model_bit_exact']}/{cmp['windows']} windows; post-processing exact {cmp['post_exact']}/"
                     f"{cmp['buffers']}; DSP feature error {cmp['feature_error']:.1e} of range, int8 inputs within "
                     f"{cmp['input_lsb_max']} LSB")
    lines.append("  " + footprint_text(res.get("profile"), res["target"]))
    lines.append(f"  time: {', '.join(f'{k} {v:.1f}s' for k, v in res['seconds'].items())}")
    lines.append("  targets" + (" (quick run: reduced data and epochs, targets not enforced)" if res["quick"] else "")
                 + ":")
    for t in res["targets"]:
        lines.append(f"    [{'MET' if t['met'] else 'NOT MET'}] {t['target']}: {t['text']}")
    lines.append(f"  results: {res['out_dir']} (confusion matrix {res['confusion_png']})")
    return "\n".join(lines)


def write_result(res: dict, out_dir: Path) -> None:
    (out_dir / "result.json").write_text(json.dumps(res, indent=1, default=str) + "\n")


APP_ORDER = ("kws", "bearing", "ecg")


def benchmarks_row(res: dict) -> str:
    prof = res.get("profile") or {}
    ok = prof and not prof.get("skipped")
    fits = ("yes" if prof.get("fits_budget") else "no") if ok else "-"
    met = "all met" if all(t["met"] for t in res["targets"]) else \
        "not met: " + ", ".join(t["target"] for t in res["targets"] if not t["met"])
    num = (lambda key, f="{:,}": f.format(prof[key]) if ok else "-")  # noqa: E731
    return (f"| {res['app']} | {res['task']} | {res['heldout']} | {pct(res['float_accuracy'])} | "
            f"{pct(res['int8_accuracy'])} | {num('flash_bytes')} | {num('ram_bytes')} | {num('instructions')} | "
            f"{num('latency_ms_est', '{:.1f}')} | {fits} | {res['seconds']['total']:.0f} | {met} |")


def update_benchmarks(path: Path, res: dict) -> None:
    """Replace this app's row and details inside <!-- apps:begin --> ... <!-- apps:end --> of
    `path` (created, or the section appended, when missing); the rest of the file is untouched."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# microlith benchmarks\n"
    rows, details = {}, {}
    if BENCH_BEGIN in text and BENCH_END in text:
        head, rest = text.split(BENCH_BEGIN, 1)
        section, tail = rest.split(BENCH_END, 1)
        for line in section.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and cells and cells[0] in APP_ORDER:
                rows[cells[0]] = line
        for app in APP_ORDER:
            b, e = f"<!-- apps:{app}:begin -->", f"<!-- apps:{app}:end -->"
            if b in section and e in section:
                details[app] = section.split(b, 1)[1].split(e, 1)[0].strip("\n")
    else:
        head, tail = text.rstrip("\n") + "\n\n", "\n"
    rows[res["app"]] = benchmarks_row(res)
    details[res["app"]] = res["benchmarks_details"]
    body = [BENCH_BEGIN, "## Applications: DSP + int8 model pipelines on real data",
            "",
            "Produced by `microlith app kws|bearing|ecg --benchmarks BENCHMARKS.md` (from a clean install: "
            "`pip install -e .[apps]`, data archives in `../shared/data` or `--data DIR`; each run trains on 2 "
            "CPU cores in under 10 minutes). Accuracy of the int8 pipeline is the compiled C (host build of the "
            "generated folder: C DSP + C model + C post-processing) on held-out data; footprint and instructions "
            "are the whole pipeline (one window: DSP + model + post-processing) in measurement firmware on "
            "QEMU mps2-an386 (Cortex-M4F), instructions counted exactly; ms = the traced instruction stream "
            "priced by the Cortex-M4 timings (targets/cycles.py) / 64 MHz, an estimate.",
            "",
            "| app | task | held out | float acc. | int8 C acc. | flash B | RAM B | instructions / window | "
            "ms @ 64 MHz (est.) | fits nRF52840 (1 MB / 256 KB) | train+eval s | targets |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    body += [rows[a] for a in APP_ORDER if a in rows]
    for app in APP_ORDER:
        if app in details:
            body += ["", f"<!-- apps:{app}:begin -->", details[app], f"<!-- apps:{app}:end -->"]
    body.append(BENCH_END)
    path.write_text(head + "\n".join(body) + tail)
