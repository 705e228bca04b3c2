"""Bearing faults on the CWRU 12 kHz drive-end data: normal / ball / inner race / outer race.

Split: train on motor loads 0-2, test on load 3, so no recording has windows on both sides.
The only normal recording (normal_0_97.mat) is at load 0: it is split by time, its first 60 %
for training, then a 10 % gap (2 s), the last 30 % for testing, and the report says so.

Pipeline: VibrationBlock on windows of 2048 samples (0.17 s): rms, peak, crest factor,
kurtosis and the log power of 32 bands of 187.5 Hz over 0-6 kHz; an MLP 36-32-16-4; the
softmax outputs of 4 consecutive windows (0.68 s) are averaged for one decision. An anomaly
score (diagonal Gaussian of the same features, fitted on normal training windows only) is
computed by the same C library; its ROC AUC separates the held-out normal segment from the
load-3 faults.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from ..dsp import VibrationBlock
from ..ir import MicrolithError
from ..pipeline import Anomaly, Pipeline, PostProcess
from . import common as C

CLASSES = ["normal", "ball", "inner race", "outer race"]
FS = 12000
WINDOW = 2048
PER_DECISION = 4               # windows averaged per decision
SCALE = 1.0 / 2048             # g per int16 count: +-16 g
NORMAL_TRAIN, NORMAL_GAP = 0.6, 0.1
LOAD_RPM = {0: 1797, 1: 1772, 2: 1750, 3: 1730}
_NAME = re.compile(r"12k_Drive_End_(B|IR|OR)(\d{3})(@\d+)?_(\d)_(\d+)\.mat$")
_NORMAL = re.compile(r"normal_(\d)_(\d+)\.mat$")
_KIND = {"B": 1, "IR": 2, "OR": 3}


def block(window: int = WINDOW, bands: int = 32) -> VibrationBlock:
    """The app's vibration front end; `microlith search` varies the window length and band count."""
    edges = tuple(float(v) for v in np.linspace(0.0, FS / 2, bands + 1))
    return VibrationBlock(sample_rate=FS, n_samples=window, band_edges_hz=edges, scale=SCALE)


def make_model(n_in: int, widths=(32, 16)):
    """MLP n_in-32-16-4 by default; `microlith search` varies its widths and depth."""
    import torch
    layers, prev = [], n_in
    for w in widths:
        layers += [torch.nn.Linear(prev, w), torch.nn.ReLU()]
        prev = w
    return torch.nn.Sequential(*layers, torch.nn.Linear(prev, len(CLASSES)))


def split(recs: list[dict]) -> tuple[list, list]:
    """(train, test) segments: recordings by load (load 3 held out); the only normal recording by
    time with a gap."""
    train_seg, test_seg = [], []
    for r in recs:
        x = to_int16(r["x"])
        if r["label"] == 0 and not any(q["label"] == 0 and q["load"] != r["load"] for q in recs):
            n = len(x)
            train_seg.append((x[:int(NORMAL_TRAIN * n)], r))
            test_seg.append((x[int((NORMAL_TRAIN + NORMAL_GAP) * n):], r))
        elif r["load"] == 3:
            test_seg.append((x, r))
        else:
            train_seg.append((x, r))
    return train_seg, test_seg


def _harmonic_score(x: np.ndarray, f0: float, fs: float, skip_every: int = 0) -> float:
    """Mean log ratio of the spectrum at harmonics k*f0 to its local median (a sharp shaft
    line pattern scores high)."""
    n = min(len(x), 1 << 16)
    spec = np.abs(np.fft.rfft((x[:n] - x[:n].mean()) * np.hanning(n))) ** 2
    res = fs / n
    vals = []
    for k in range(1, 13):
        if skip_every and k % skip_every == 0:
            continue
        b = int(round(k * f0 / res))
        if b + 30 >= len(spec) or b < 3:
            continue
        peak = spec[b - 2:b + 3].max()
        local = np.median(spec[max(1, b - 30):b + 30])
        vals.append(np.log10(peak / max(local, 1e-30)))
    return float(np.mean(vals)) if vals else 0.0


def load(opts: C.AppOptions, checks: C.DataChecks) -> list[dict]:
    import scipy.io
    root = C.unpack("cwru_bearing_12k_drive_end", opts) / "cwru_bearing"
    if not root.is_dir():
        raise MicrolithError(f"{root}: the CWRU archive does not hold the expected folder cwru_bearing/")
    recs, seen = [], {}
    unknown, renamed = [], []
    files = sorted(root.glob("*.mat"))
    for f in files:
        m, mn = _NAME.search(f.name), _NORMAL.search(f.name)
        if not m and not mn:
            unknown.append(f.name)
            continue
        try:
            d = scipy.io.loadmat(str(f))
        except Exception as e:  # scipy raises several types for a damaged file
            checks.add("cwru", "readable", "warning", f"{f.name}: cannot read ({type(e).__name__}); skipped")
            continue
        num = int((m or mn).group(5 if m else 2))
        want = f"X{num:03d}_DE_time"
        keys = [k for k in d if k.endswith("_DE_time")]
        if not keys:
            checks.add("cwru", "label file vs recording", "fatal", f"{f.name}: no drive-end channel (*_DE_time)")
            continue
        key = want if want in d else keys[0]
        if key != want:
            renamed.append(f"{f.name} holds {key}")
        x = np.asarray(d[key], dtype=np.float64).reshape(-1)
        rpm_keys = [k for k in d if k.endswith("RPM")]
        rpm = int(np.asarray(d[rpm_keys[0]]).reshape(-1)[0]) if rpm_keys else None
        load_hp = int((m or mn).group(4 if m else 1))
        label = _KIND[m.group(1)] if m else 0
        recs.append({"file": f.name, "label": label, "load": load_hp, "rpm": rpm, "x": x,
                     "fault": (m.group(1) + m.group(2) + (m.group(3) or "")) if m else "normal"})
        seen.setdefault(C.digest(x), []).append(f.name)
    checks.add("cwru", "label file vs recording", "warning" if renamed else "ok",
               (f"variable number differs from the file number (CWRU's numbering of its 0.028 in files; the "
                f"file's only drive-end channel is used): {'; '.join(renamed[:2])}" + (", ..." if len(renamed) > 2
                                                                                     else ""))
               if renamed else "every file holds X<number>_DE_time of its own number", len(renamed))
    if unknown:
        checks.add("cwru", "file names", "warning", f"{len(unknown)} file(s) not named like CWRU's 12k drive-end "
                   f"set, ignored: {', '.join(unknown[:3])}", len(unknown))
    if not recs:
        raise MicrolithError(f"{root}: no CWRU recordings found")
    _check(recs, seen, checks)
    return recs


def _check(recs: list[dict], seen: dict, checks: C.DataChecks) -> None:
    counts = np.bincount([r["label"] for r in recs], minlength=4)
    checks.add("cwru", "class counts (recordings)", "ok" if counts.all() else "fatal",
               ", ".join(f"{c} {n}" for c, n in zip(CLASSES, counts)))
    for load_hp in range(4):
        have = {r["label"] for r in recs if r["load"] == load_hp}
        if load_hp == 3 and not {1, 2, 3} <= have:
            checks.add("cwru", "held-out load 3", "fatal", "load 3 lacks a fault class: cannot test on it")
    if not any(r["label"] == 0 and r["load"] != 0 for r in recs):
        checks.add("cwru", "normal recordings", "info", "only one normal recording (load 0): split by time, "
                   f"first {NORMAL_TRAIN:.0%} train, {NORMAL_GAP:.0%} gap, last {1 - NORMAL_TRAIN - NORMAL_GAP:.0%} "
                   "test")
    dups = [v for v in seen.values() if len(v) > 1]
    checks.add("cwru", "duplicates", "warning" if dups else "ok",
               "; ".join(" = ".join(v) for v in dups) if dups else "no two recordings are identical", len(dups))
    bad = [r["file"] for r in recs if not np.all(np.isfinite(r["x"]))]
    if bad:
        checks.add("cwru", "NaN / infinite samples", "fatal", ", ".join(bad), len(bad))
    short = [r["file"] for r in recs if len(r["x"]) < PER_DECISION * WINDOW * 4]
    checks.add("cwru", "empty or short recordings", "fatal" if short else "ok",
               ", ".join(short) if short else f"all >= {PER_DECISION * WINDOW * 4} samples", len(short))
    flat = [r["file"] for r in recs if np.std(r["x"]) < 1e-3]
    if flat:
        checks.add("cwru", "silent recordings", "fatal", ", ".join(flat), len(flat))
    # clipping: the recorder or our int16 conversion saturating
    full = 32767 * SCALE
    over = [r["file"] for r in recs if np.max(np.abs(r["x"])) >= full]
    flat_top = []
    for r in recs:
        a = np.abs(r["x"])
        top = a.max()
        if np.count_nonzero(a >= top * 0.9999) >= 8:
            flat_top.append(f"{r['file']} ({np.count_nonzero(a >= top * 0.9999)} samples at {top:.2f} g)")
    checks.add("cwru", "clipping", "warning" if over or flat_top else "ok",
               ("int16 range +-16 g exceeded: " + ", ".join(over) + "; " if over else "") +
               ("flat tops (recorder saturation?): " + "; ".join(flat_top[:4]) if flat_top else
                "no flat tops; peaks within the +-16 g int16 range"), len(over) + len(flat_top))
    # sample rate: shaft harmonics must sit at RPM/60 for 12 kHz (a 48 kHz file read as 12 kHz
    # would show them at a quarter of that)
    wrong, rpm_bad, no_rpm = [], [], []
    for r in recs:
        if r["rpm"] is None:
            no_rpm.append(r["file"])
            continue
        if abs(r["rpm"] - LOAD_RPM[r["load"]]) > 40:
            rpm_bad.append(f"{r['file']} ({r['rpm']} rpm at load {r['load']})")
        f0 = r["rpm"] / 60.0
        at12 = _harmonic_score(r["x"], f0, FS)
        at48 = _harmonic_score(r["x"], f0 / 4.0, FS, skip_every=4)
        if at48 > at12 + 0.3:
            wrong.append(f"{r['file']} (shaft lines fit 48 kHz)")
    checks.add("cwru", "sample rate", "fatal" if wrong else "ok",
               "; ".join(wrong) if wrong else f"shaft-speed harmonics consistent with {FS} Hz in every file with an "
               "RPM value", len(wrong))
    checks.add("cwru", "RPM vs motor load", "warning" if rpm_bad else "ok",
               "; ".join(rpm_bad) if rpm_bad else "RPM matches the load in the file name", len(rpm_bad))
    if no_rpm:
        checks.add("cwru", "RPM missing", "info", f"{len(no_rpm)} files carry no RPM (0.028 in set); load from "
                   "the file name", len(no_rpm))


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x / SCALE), -32768, 32767).astype(np.int16)


def _windows(x: np.ndarray, hop: int, limit: int | None = None, window: int = WINDOW) -> list[np.ndarray]:
    out = [x[i:i + window] for i in range(0, len(x) - window + 1, hop)]
    return out[:limit] if limit else out


def run(opts: C.AppOptions) -> dict:
    t_start = time.perf_counter()
    C.set_threads()
    import torch
    prog = C.Progress(opts.progress)
    out_dir = Path(opts.out) / "bearing"
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    checks = C.DataChecks()
    with prog.stage("loading CWRU recordings", 1) as bar:
        recs = load(opts, checks)
        bar.update()
    checks.raise_if_fatal()

    train_seg, test_seg = split(recs)
    blk = block()
    limit = 24 if opts.quick else None
    hop_train = WINDOW if opts.quick else WINDOW // 2
    t0 = time.perf_counter()
    Xtr, ytr = [], []
    with prog.stage("features (numpy DSP)", len(train_seg)) as bar:
        for x, r in train_seg:
            for w in _windows(x, hop_train, limit):
                Xtr.append(blk.numpy(w))
                ytr.append(r["label"])
            bar.update()
    Xtr, ytr = np.array(Xtr, np.float32), np.array(ytr)
    # held-out decision buffers: PER_DECISION consecutive windows, no overlap between buffers
    buf_len = PER_DECISION * WINDOW
    buffers, ybuf, bufsrc = [], [], []
    for x, r in test_seg:
        starts = range(0, len(x) - buf_len + 1, buf_len)
        for i, s in enumerate(starts):
            if limit and i >= max(2, limit // 8):
                break
            buffers.append(x[s:s + buf_len])
            ybuf.append(r["label"])
            bufsrc.append(r["file"])
    ybuf = np.array(ybuf)
    seconds["features"] = time.perf_counter() - t0

    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-6
    Ztr = (Xtr - mean) / std
    counts = np.bincount(ytr, minlength=4)
    weight = len(ytr) / (4.0 * np.maximum(counts, 1))
    torch.manual_seed(opts.seed)
    net = make_model(Ztr.shape[1])
    t0 = time.perf_counter()
    epochs = 8 if opts.quick else 40
    C.train(net, lambda ep: (Ztr, ytr), epochs, lr=2e-3, weight_decay=1e-4, class_weight=weight, progress=prog,
            name="training MLP", seed=opts.seed)
    seconds["training"] = time.perf_counter() - t0

    # float evaluation on the same buffers (windows of each buffer averaged)
    Xte = np.stack([blk.numpy(b[w * WINDOW:(w + 1) * WINDOW]) for b in buffers for w in range(PER_DECISION)])
    probs = C.predict_float(net, (Xte - mean) / std).reshape(len(buffers), PER_DECISION, 4)
    pred_float = probs.mean(axis=1).argmax(axis=1)
    window_float = probs.reshape(-1, 4).argmax(axis=1)
    acc_window_float = C.accuracy(np.repeat(ybuf, PER_DECISION), window_float)

    # int8 pipeline with the anomaly score of normal training windows
    t0 = time.perf_counter()
    rng = np.random.default_rng(opts.seed)
    cal = Ztr[rng.permutation(len(Ztr))[:600]]
    tfl = C.to_int8(net, (1, Ztr.shape[1]), cal, out_dir / "bearing_model.tflite")
    anomaly = Anomaly.fit(Xtr[ytr == 0])
    pipe = Pipeline("bearing", blk, tfl, CLASSES, mean, std, hop=WINDOW, max_samples=buf_len,
                    post=PostProcess(mode="argmax"), anomaly=anomaly)
    folder = out_dir / "bearing_pipeline"
    pipe.generate_c(folder, sample=buffers[int(np.argmax(ybuf == 2))][:WINDOW])
    seconds["quantize+compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = C.evaluate_c(pipe, folder, buffers, prog, compare_count=None if not opts.quick else 24)
    pred_c = np.array([r["label"] for r in ev["results"]])
    seconds["evaluate C"] = time.perf_counter() - t0
    acc_float, acc_c = C.accuracy(ybuf, pred_float), C.accuracy(ybuf, pred_c)
    cm = C.confusion(ybuf, pred_c, 4)
    png = C.plot_confusion(cm, CLASSES, out_dir / "confusion.png",
                           f"CWRU bearing, held-out load 3, int8 C pipeline: {C.pct(acc_c)}")
    # anomaly: normal (held-out time segment) vs faults at load 3, from the C pipeline's score
    an = np.array([r["anomaly"] for r in ev["results"]])
    auc_c = C.roc_auc(an[ybuf == 0], an[ybuf != 0])
    win_scores = anomaly.score(Xte).reshape(len(buffers), PER_DECISION)
    auc_window = C.roc_auc(win_scores[ybuf == 0].ravel(), win_scores[ybuf != 0].ravel())
    flagged = np.array([r["anomalous"] for r in ev["results"]])
    t0 = time.perf_counter()
    prof = C.profile_pipeline(folder, opts, prog)
    seconds["profile"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start

    targets = [C.target_line("accuracy on held-out load 3 >= 95%", acc_c, 0.95, acc_c >= 0.95),
               C.target_line("int8 C within 1 point of float", acc_c - acc_float, 0.01, abs(acc_c - acc_float) <= 0.01,
                             fmt=lambda v: f"{100 * v:+.1f} points")]
    if prof and not prof.get("skipped"):
        targets.append(C.target_line(f"fits {opts.target}", 1.0 if prof["fits_budget"] else 0.0, 1.0,
                                     bool(prof["fits_budget"]), fmt=lambda v: "yes" if v else "no"))
    per_class = {CLASSES[c]: C.pct(cm[c, c] / max(1, cm[c].sum())) for c in range(4)}
    n_norm_test = int(np.sum(ybuf == 0))
    res = {
        "app": "bearing", "title": "CWRU bearing faults (12 kHz drive end), 4 classes",
        "task": "bearing faults, 4 classes (CWRU 12k DE)", "heldout": "motor load 3 (normal: last 30% of its one "
        "recording)", "quick": opts.quick, "target": opts.target,
        "data_summary": f"{len(recs)} recordings; {len(Xtr)} training windows of {WINDOW} samples "
                        f"({', '.join(f'{c} {n}' for c, n in zip(CLASSES, counts))}); {len(buffers)} held-out "
                        f"decisions of {PER_DECISION} windows ({buf_len / FS:.2f} s)",
        "split": "train loads 0-2, test load 3 (whole recordings); the only normal recording (load 0) split by "
                 f"time: first {NORMAL_TRAIN:.0%} train, {NORMAL_GAP:.0%} gap, last "
                 f"{1 - NORMAL_TRAIN - NORMAL_GAP:.0%} test ({n_norm_test} decisions)",
        "checks": checks.rows, "checks_table": checks.table(),
        "float_accuracy": acc_float, "int8_accuracy": acc_c,
        "extra_metrics": {"per-window float accuracy": C.pct(acc_window_float),
                          "int8 C per-class accuracy": ", ".join(f"{k} {v}" for k, v in per_class.items()),
                          "anomaly ROC AUC (C score per decision, normal-only fit)": f"{auc_c:.4f}",
                          "anomaly ROC AUC (numpy score per window)": f"{auc_window:.4f}",
                          "anomaly flags (threshold = 99th percentile of normal training)":
                              f"{int(flagged[ybuf == 0].sum())}/{n_norm_test} normal, "
                              f"{int(flagged[ybuf != 0].sum())}/{int(np.sum(ybuf != 0))} faults"},
        "anomaly_auc": auc_c, "agreement": ev["compare"], "profile": prof, "confusion": cm.tolist(),
        "labels": CLASSES, "confusion_png": str(png), "out_dir": str(out_dir), "pipeline_dir": str(folder),
        "seconds": {k: round(v, 1) for k, v in seconds.items()}, "targets": targets,
    }
    res["benchmarks_details"] = _details(res)
    C.write_result(res, out_dir)
    return res


def _details(res: dict) -> str:
    m = res["extra_metrics"]
    return "\n".join([
        f"### bearing: {res['title']}",
        f"- split: {res['split']}",
        f"- data: {res['data_summary']}",
        f"- pipeline: VibrationBlock (rms, peak, crest, kurtosis, 32 log band powers) on {WINDOW}-sample windows "
        f"-> int8 MLP 36-32-16-4 -> softmax summed over {PER_DECISION} windows -> argmax; anomaly score "
        "(diagonal Gaussian of the features, normal data only) in the same C library",
        f"- per-window float accuracy {m['per-window float accuracy']}; int8 C per class: "
        f"{m['int8 C per-class accuracy']}",
        f"- anomaly ROC AUC {m['anomaly ROC AUC (C score per decision, normal-only fit)']} (compiled C, per "
        f"decision), {m['anomaly ROC AUC (numpy score per window)']} (numpy, per window)",
        f"- reproduce: `microlith app bearing --out out/apps` (total {res['seconds']['total']:.0f} s)",
    ])
