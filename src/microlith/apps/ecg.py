"""Atrial fibrillation from a single-lead ECG: the PhysioNet/CinC Challenge 2017 sample.

Task: normal sinus rhythm (N) vs atrial fibrillation (A); the other rhythms (O) and noisy
recordings (~) are not trained on and are reported separately (how often the detector flags
them as AF). The set is small (150 N, 50 A), so accuracy comes from stratified 5-fold
cross-validation by record: every record is tested exactly once, by a model (and a compiled
C pipeline) that never saw it.

Pipeline: EcgRhythmBlock on windows of 10 s (3000 samples at 300 Hz, integer Pan-Tompkins R
peaks, 9 RR-interval features) every 5 s; an MLP 9-16-2; its AF probability averaged over
all windows of the record (up to 61 s) and compared with a detection threshold of 0.5.
Averaging over windows makes one missed or spurious beat cost one window, not the record.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from ..dsp import EcgRhythmBlock
from ..ir import MicrolithError
from ..pipeline import Pipeline, PostProcess
from . import common as C

FS = 300
WINDOW = 10 * FS
HOP = 5 * FS
MAX_SAMPLES = 61 * FS
LABELS = ["normal", "AF"]
NAMES = {"N": "normal", "A": "AF", "O": "other rhythm", "~": "noisy"}
THRESHOLD = 0.5
FOLDS = 5
REPEATS = 4   # repeated CV: one borderline record is 1.1 points of AF F1 on 50 AF records


def block(window: int = WINDOW) -> EcgRhythmBlock:
    """The app's R-peak/RR front end; `microlith search` varies the window length."""
    return EcgRhythmBlock(sample_rate=FS, n_samples=window)


def _read_header(path: Path) -> dict:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    first = lines[0].split()
    sig = lines[1].split() if len(lines) > 1 else []
    out = {"record": first[0], "channels": int(first[1]), "fs": float(first[2].split("/")[0]),
           "length": int(first[3]) if len(first) > 3 else None, "format": sig[1] if len(sig) > 1 else None,
           "gain": sig[2] if len(sig) > 2 else None}
    return out


def load(opts: C.AppOptions, checks: C.DataChecks) -> list[dict]:
    import scipy.io
    root = C.unpack("cinc2017_af_sample", opts) / "cinc2017_af_sample" / "validation"
    ref = root / "REFERENCE.csv"
    if not ref.is_file():
        raise MicrolithError(f"{ref}: missing; the CinC 2017 archive must hold validation/REFERENCE.csv")
    labels = {}
    bad_rows = []
    with ref.open() as f:
        for row in csv.reader(f):
            if len(row) != 2 or row[1] not in NAMES:
                bad_rows.append(",".join(row))
                continue
            if row[0] in labels and labels[row[0]] != row[1]:
                checks.add("cinc2017", "label file", "fatal", f"{row[0]} has two labels ({labels[row[0]]}, {row[1]})")
            labels[row[0]] = row[1]
    if bad_rows:
        checks.add("cinc2017", "label file", "fatal", f"REFERENCE.csv rows with an unknown label or format: "
                   f"{'; '.join(bad_rows[:3])}", len(bad_rows))
    files = {p.stem for p in root.glob("*.mat")}
    headers = {p.stem for p in root.glob("*.hea")}
    missing = sorted(set(labels) - files)
    unlabelled = sorted(files - set(labels))
    no_header = sorted(files - headers)
    records_file = root / "RECORDS"
    listed = set(records_file.read_text().split()) if records_file.is_file() else set(labels)
    checks.add("cinc2017", "labels vs recordings",
               "warning" if missing or unlabelled or no_header or listed != set(labels) else "ok",
               (f"labelled but missing: {', '.join(missing[:5])}; " if missing else "") +
               (f"recordings without a label (ignored): {', '.join(unlabelled[:5])}; " if unlabelled else "") +
               (f"without a .hea: {', '.join(no_header[:5])}; " if no_header else "") +
               (f"RECORDS differs from REFERENCE.csv ({len(listed ^ set(labels))} names)" if listed != set(labels)
                else "") or f"{len(labels)} labels, one .mat and .hea each, RECORDS agrees",
               len(missing) + len(unlabelled) + len(no_header))
    recs, rate_bad, len_bad, seen = [], [], [], {}
    for name in sorted(set(labels) & files):
        try:
            x = np.asarray(scipy.io.loadmat(str(root / f"{name}.mat"))["val"]).reshape(-1)
        except Exception as e:  # damaged file or no 'val'
            checks.add("cinc2017", "readable", "warning", f"{name}.mat: cannot read ({type(e).__name__}); skipped")
            continue
        if (root / f"{name}.hea").is_file():
            h = _read_header(root / f"{name}.hea")
            if h["fs"] != FS:
                rate_bad.append(f"{name} ({h['fs']:g} Hz)")
            if h["length"] is not None and h["length"] != x.size:
                len_bad.append(f"{name} (.hea {h['length']}, .mat {x.size})")
        recs.append({"record": name, "code": labels[name], "x": x.astype(np.int16)})
        seen.setdefault(C.digest(x), []).append(name)
    checks.add("cinc2017", "sample rate (.hea)", "fatal" if rate_bad else "ok",
               "; ".join(rate_bad) if rate_bad else f"all {FS} Hz", len(rate_bad))
    checks.add("cinc2017", "length (.hea vs .mat)", "warning" if len_bad else "ok",
               "; ".join(len_bad[:4]) if len_bad else "all agree", len(len_bad))
    _check(recs, seen, checks)
    return recs


def _check(recs: list[dict], seen: dict, checks: C.DataChecks) -> None:
    codes = [r["code"] for r in recs]
    counts = {c: codes.count(c) for c in NAMES}
    checks.add("cinc2017", "class counts (records)", "ok" if counts["N"] >= FOLDS and counts["A"] >= FOLDS else "fatal",
               ", ".join(f"{NAMES[c]} {n}" for c, n in counts.items()))
    dups = [v for v in seen.values() if len(v) > 1]
    checks.add("cinc2017", "duplicates", "warning" if dups else "ok",
               "; ".join(" = ".join(v) for v in dups) if dups else "no two records are identical", len(dups))
    short = [r["record"] for r in recs if r["x"].size < WINDOW]
    long = [r["record"] for r in recs if r["x"].size > MAX_SAMPLES]
    checks.add("cinc2017", "short or empty records", "warning" if short else "ok",
               f"shorter than one {WINDOW // FS} s window (excluded): {', '.join(short)}" if short
               else f"all >= {WINDOW // FS} s", len(short))
    if long:
        checks.add("cinc2017", "long records", "warning", f"longer than {MAX_SAMPLES // FS} s (truncated): "
                   f"{', '.join(long[:4])}", len(long))
    flat = [r["record"] for r in recs if r["x"].size and np.ptp(r["x"].astype(np.int32)) < 50]
    checks.add("cinc2017", "flat (silent) records", "warning" if flat else "ok",
               ", ".join(flat) if flat else "every record spans > 50 uV", len(flat))
    clipped = []
    for r in recs:
        x = r["x"].astype(np.int32)
        if not x.size:
            continue
        hi, lo = x.max(), x.min()
        n_hi, n_lo = np.count_nonzero(x == hi), np.count_nonzero(x == lo)
        if (hi >= 32767 or lo <= -32768) or max(n_hi, n_lo) >= 0.01 * x.size:
            clipped.append(f"{r['record']} ({max(n_hi, n_lo)} samples at {hi if n_hi >= n_lo else lo})")
    checks.add("cinc2017", "clipping", "warning" if clipped else "ok",
               ("saturated (kept): " + "; ".join(clipped[:4]) + (", ..." if len(clipped) > 4 else ""))
               if clipped else "no record saturates", len(clipped))


def _windows(x: np.ndarray, window: int = WINDOW, hop: int = HOP) -> list[np.ndarray]:
    x = x[:MAX_SAMPLES]
    return [x[s:s + window] for s in range(0, x.size - window + 1, hop)]


def _folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = np.zeros(len(y), int)
    for c in np.unique(y):
        idx = np.nonzero(y == c)[0]
        rng.shuffle(idx)
        f[idx] = np.arange(len(idx)) % k
    return f


def _net(seed: int, widths=(16,)):
    """MLP 9-16-2 by default; `microlith search` varies its widths and depth."""
    import torch
    torch.manual_seed(seed)
    layers, prev = [], 9
    for w in widths:
        layers += [torch.nn.Linear(prev, w), torch.nn.ReLU()]
        prev = w
    return torch.nn.Sequential(*layers, torch.nn.Linear(prev, 2))


def _fit(F: np.ndarray, y: np.ndarray, epochs: int, seed: int, prog, name: str):
    mean, std = F.mean(axis=0), F.std(axis=0) + 1e-6
    Z = ((F - mean) / std).astype(np.float32)
    net = _net(seed)
    C.train(net, lambda ep: (Z, y), epochs, lr=3e-3, weight_decay=1e-3, progress=prog, name=name, seed=seed,
            batch=128)
    return net, mean, std, Z


def _pipeline(net, mean, std, Z, path: Path, seed: int) -> Pipeline:
    rng = np.random.default_rng(seed)
    tfl = C.to_int8(net, (1, 9), Z[rng.permutation(len(Z))[:400]], path)
    return Pipeline("ecg_af", block(), tfl, LABELS, mean, std, hop=HOP, max_samples=MAX_SAMPLES,
                    post=PostProcess(mode="detect", positive=1, threshold=THRESHOLD))


def run(opts: C.AppOptions) -> dict:
    t_start = time.perf_counter()
    C.set_threads()
    prog = C.Progress(opts.progress)
    out_dir = Path(opts.out) / "ecg"
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    checks = C.DataChecks()
    with prog.stage("loading CinC 2017 records", 1) as bar:
        recs = load(opts, checks)
        bar.update()
    checks.raise_if_fatal()
    recs = [r for r in recs if r["x"].size >= WINDOW]
    blk = block()
    t0 = time.perf_counter()
    feats = []
    with prog.stage("features (numpy DSP)", len(recs)) as bar:
        for r in recs:
            feats.append(np.stack([blk.numpy(w) for w in _windows(r["x"])]).astype(np.float32))
            bar.update()
    seconds["features"] = time.perf_counter() - t0
    main = [i for i, r in enumerate(recs) if r["code"] in "NA"]
    other = [i for i, r in enumerate(recs) if r["code"] not in "NA"]
    y = np.array([1 if recs[i]["code"] == "A" else 0 for i in main])
    k = 3 if opts.quick else FOLDS
    repeats = 1 if opts.quick else REPEATS
    epochs = 15 if opts.quick else 80
    f1s_float, f1s_c, accs_float, accs_c = [], [], [], []
    cm2 = np.zeros((2, 2), np.int64)
    agreement = []
    t_train = t_c = 0.0
    for rep in range(repeats):
        folds = _folds(y, k, opts.seed + rep)
        pred_float = np.zeros(len(main), int)
        pred_c = np.zeros(len(main), int)
        for f in range(k):
            tr, te = np.nonzero(folds != f)[0], np.nonzero(folds == f)[0]
            F = np.concatenate([feats[main[i]] for i in tr])
            yw = np.concatenate([np.full(len(feats[main[i]]), y[i]) for i in tr])
            t0 = time.perf_counter()
            seed = opts.seed + 100 * rep + f
            net, mean, std, Z = _fit(F, yw, epochs, seed, prog,
                                     f"repeat {rep + 1}/{repeats} fold {f + 1}/{k}: MLP")
            t_train += time.perf_counter() - t0
            t0 = time.perf_counter()
            for i in te:
                pr = C.predict_float(net, (feats[main[i]] - mean) / std)
                pred_float[i] = int(pr[:, 1].mean() >= THRESHOLD)
            pipe = _pipeline(net, mean, std, Z, out_dir / "ecg_af_fold.tflite", seed)
            folder = out_dir / "fold_pipeline"
            pipe.generate_c(folder)
            ev = C.evaluate_c(pipe, folder, [recs[main[i]]["x"][:MAX_SAMPLES] for i in te], C.Progress(False))
            pred_c[te] = [r["label"] for r in ev["results"]]
            agreement.append(ev["compare"])
            t_c += time.perf_counter() - t0
        f1s_float.append(C.f1(y, pred_float))
        f1s_c.append(C.f1(y, pred_c))
        accs_float.append(C.accuracy(y, pred_float))
        accs_c.append(C.accuracy(y, pred_c))
        cm2 += C.confusion(y, pred_c, 2)
        prog.note(f"repeat {rep + 1}: AF F1 float {f1s_float[-1]:.3f}, int8 C {f1s_c[-1]:.3f}")
    seconds["cross-validation training"] = t_train
    seconds["quantize+compile+evaluate C"] = t_c
    # the deployed pipeline: trained on every N and A record; it also labels O and ~ records
    t0 = time.perf_counter()
    F = np.concatenate([feats[i] for i in main])
    yw = np.concatenate([np.full(len(feats[main[j]]), y[j]) for j in range(len(main))])
    net, mean, std, Z = _fit(F, yw, epochs, opts.seed, prog, "final model: MLP")
    pipe = _pipeline(net, mean, std, Z, out_dir / "ecg_af_model.tflite", opts.seed)
    folder = out_dir / "ecg_af_pipeline"
    af_rec = next(i for i in main if recs[i]["code"] == "A")
    pipe.generate_c(folder, sample=recs[af_rec]["x"][:WINDOW])
    ev_other = C.evaluate_c(pipe, folder, [recs[i]["x"][:MAX_SAMPLES] for i in other], prog,
                            compare_count=16 if opts.quick else None)
    agreement.append(ev_other["compare"])
    other_pred = np.array([r["label"] for r in ev_other["results"]])
    seconds["final model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    prof = C.profile_pipeline(folder, opts, prog)
    seconds["profile"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start

    f1_float, f1_c = float(np.mean(f1s_float)), float(np.mean(f1s_c))
    acc_float, acc_c = float(np.mean(accs_float)), float(np.mean(accs_c))
    codes_other = np.array([recs[i]["code"] for i in other])
    rows = [cm2[0], cm2[1]]
    for code in ("O", "~"):
        sel = other_pred[codes_other == code]
        rows.append(np.array([int(np.sum(sel == 0)), int(np.sum(sel == 1))]))
    cm4 = np.stack(rows)
    png = C.plot_confusion(cm4, ["normal", "AF", "other (not trained)", "noisy (not trained)"],
                           out_dir / "confusion.png",
                           f"CinC 2017 sample, {repeats}x{k}-fold CV by record (N, A rows summed over repeats), "
                           f"int8 C: AF F1 {f1_c:.3f}", col_labels=["normal", "AF"])
    agree = {key: sum(a[key] for a in agreement) if key not in ("input_lsb_max", "feature_error")
             else max(a[key] for a in agreement) for key in agreement[0]}
    targets = [C.target_line("AF F1 >= 0.8 (cross-validated by record)", f1_c, 0.8, f1_c >= 0.8,
                             fmt=lambda v: f"{v:.3f}"),
               C.target_line("int8 C within 1 point of float (AF F1 x 100)", f1_c - f1_float, 0.01,
                             abs(f1_c - f1_float) <= 0.01, fmt=lambda v: f"{100 * v:+.1f} points"),
               C.target_line("int8 C within 1 point of float (accuracy)", acc_c - acc_float, 0.01,
                             abs(acc_c - acc_float) <= 0.01, fmt=lambda v: f"{100 * v:+.1f} points")]
    if prof and not prof.get("skipped"):
        targets.append(C.target_line(f"fits {opts.target}", 1.0 if prof["fits_budget"] else 0.0, 1.0,
                                     bool(prof["fits_budget"]), fmt=lambda v: "yes" if v else "no"))
    n_o, n_n = int(np.sum(codes_other == "O")), int(np.sum(codes_other == "~"))
    res = {
        "app": "ecg", "title": "atrial fibrillation vs normal rhythm, single-lead ECG (CinC 2017 sample)",
        "task": "AF vs normal, single-lead ECG (CinC 2017 sample)",
        "heldout": f"{repeats}x{k}-fold CV by record",
        "quick": opts.quick, "target": opts.target,
        "data_summary": f"{len(recs)} records: {int(np.sum(y == 0))} normal, {int(np.sum(y == 1))} AF (trained), "
                        f"{n_o} other rhythm and {n_n} noisy (reported separately); windows of {WINDOW // FS} s "
                        f"every {HOP // FS} s, {sum(len(feats[i]) for i in main)} windows in N and A records",
        "split": f"stratified {k}-fold cross-validation by record, repeated {repeats} times with different fold "
                 f"assignments (seeds {opts.seed}..{opts.seed + repeats - 1}); each record tested once per repeat by "
                 "a model that never saw it; figures are means over repeats; O and ~ records labelled by the final "
                 "model trained on all N and A",
        "checks": checks.rows, "checks_table": checks.table(),
        "float_accuracy": acc_float, "int8_accuracy": acc_c, "af_f1_float": f1_float, "af_f1_int8": f1_c,
        "extra_metrics": {"AF F1 float / int8 C (mean over repeats)": f"{f1_float:.3f} / {f1_c:.3f}",
                          "AF F1 per repeat, float": " ".join(f"{v:.3f}" for v in f1s_float),
                          "AF F1 per repeat, int8 C": " ".join(f"{v:.3f}" for v in f1s_c),
                          "int8 C confusion summed over repeats (rows true N, A; cols predicted N, AF)":
                              str(cm2.tolist()),
                          "other rhythms flagged as AF by the int8 C": f"{int(cm4[2, 1])}/{n_o}",
                          "noisy records flagged as AF by the int8 C": f"{int(cm4[3, 1])}/{n_n}"},
        "agreement": agree, "profile": prof, "confusion": cm4.tolist(),
        "labels": ["normal", "AF"], "confusion_png": str(png), "out_dir": str(out_dir), "pipeline_dir": str(folder),
        "seconds": {key: round(v, 1) for key, v in seconds.items()}, "targets": targets,
    }
    res["benchmarks_details"] = "\n".join([
        f"### ecg: {res['title']}",
        f"- split: {res['split']}",
        f"- data: {res['data_summary']}",
        f"- pipeline: EcgRhythmBlock (integer Pan-Tompkins R peaks, 9 RR features) on {WINDOW // FS} s windows every "
        f"{HOP // FS} s -> int8 MLP 9-16-2 -> AF probability averaged over the record's windows -> AF if >= "
        f"{THRESHOLD}",
        f"- AF F1 float {f1_float:.3f}, int8 C {f1_c:.3f}; accuracy (N vs A) float {C.pct(acc_float)}, int8 C "
        f"{C.pct(acc_c)}; other rhythms flagged AF {int(cm4[2, 1])}/{n_o}, noisy {int(cm4[3, 1])}/{n_n}",
        f"- reproduce: `microlith app ecg --out out/apps` (total {res['seconds']['total']:.0f} s)",
    ])
    C.write_result(res, out_dir)
    return res
