"""Wall time of the same search trials with --workers 1 and --workers 2, in one run.

    python3 bench/search_workers.py [--app bearing] [--trials 5] [--epochs 8] [--full] [--out out/bench-search]

Both searches start from a fresh study with the same seed, so they run the same trials (the
app's default model, then the TPE sampler's seeded random start-up candidates: the first 6
trials do not depend on earlier results). Prints both wall times (data loading, Ray start-up
and the final profile of the best model included) and their ratio, with what bounds the ratio on this
machine: the sum of the trials' own seconds in each run, and (--bound) one trial run alone with 1
and with all the machine's threads (a single worker already trains on every core, so two workers
on two cores cannot reach 0.5x)."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default="bearing")
    ap.add_argument("--target", default="nrf52840")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", default="out/bench-search")
    ap.add_argument("--full", action="store_true", help="the app's full data (default: --quick data)")
    ap.add_argument("--bound", action="store_true", help="also time the app default trial alone, 1 thread vs all")
    a = ap.parse_args()
    import microlith
    from microlith.apps import AppOptions
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    walls, params, trial_s = {}, {}, {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        r = microlith.search(app=a.app, target=a.target, trials=a.trials, workers=workers, epochs=a.epochs,
                             study=out / f"w{workers}.db", out=out / f"w{workers}",
                             app_options=AppOptions(quick=not a.full), progress=True)
        walls[workers] = time.perf_counter() - t0
        params[workers] = sorted(json.dumps(row["params"], sort_keys=True) for row in r["rows"])
        trial_s[workers] = round(sum(float(row.get("seconds") or 0) for row in r["rows"]), 1)
    same = params[1] == params[2]
    res = {"app": a.app, "full_data": a.full, "trials": a.trials, "epochs": a.epochs, "same_trials": same,
           "wall_s_workers_1": round(walls[1], 1), "wall_s_workers_2": round(walls[2], 1),
           "ratio": round(walls[2] / walls[1], 3),
           "sum_trial_s_workers_1": trial_s[1], "sum_trial_s_workers_2": trial_s[2]}
    if a.bound:
        res.update(one_trial_threads(a))
    print(json.dumps(res))
    return 0 if same else 1


def one_trial_threads(a) -> dict:
    """The app default trial alone, on 1 thread and on all threads: the speed a single worker
    already gets from the second core, which two workers cannot get again."""
    import importlib
    import os

    from microlith.apps import AppOptions
    from microlith.search.trial import Limits, run_trial
    apps = importlib.import_module("microlith.search.apps")
    prob = apps.PROBLEMS[a.app](AppOptions(quick=not a.full), epochs=a.epochs)
    data = prob.load()
    out = {}
    for th in (1, os.cpu_count() or 1):
        out[f"one_trial_s_threads_{th}"] = run_trial(prob, data, dict(prob.default), Limits(a.target), th)["seconds"]
    return out


if __name__ == "__main__":
    sys.exit(main())
