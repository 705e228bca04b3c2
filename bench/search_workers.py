"""Wall time of the same search trials with --workers 1 and --workers 2, in one run.

    python3 bench/search_workers.py [--app bearing] [--trials 5] [--epochs 8] [--full] [--out out/bench-search]

Both searches start from a fresh study with the same seed, so they run the same trials (the
app's default model, then the TPE sampler's seeded random start-up candidates: the first 6
trials do not depend on earlier results). Prints both wall times (data loading, Ray start-up
and the final profile of the best model included) and their ratio."""
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
    a = ap.parse_args()
    import microlith
    from microlith.apps import AppOptions
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    walls, params = {}, {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        r = microlith.search(app=a.app, target=a.target, trials=a.trials, workers=workers, epochs=a.epochs,
                             study=out / f"w{workers}.db", out=out / f"w{workers}",
                             app_options=AppOptions(quick=not a.full), progress=True)
        walls[workers] = time.perf_counter() - t0
        params[workers] = sorted(json.dumps(row["params"], sort_keys=True) for row in r["rows"])
    same = params[1] == params[2]
    print(json.dumps({"app": a.app, "full_data": a.full, "trials": a.trials, "epochs": a.epochs, "same_trials": same,
                      "wall_s_workers_1": round(walls[1], 1), "wall_s_workers_2": round(walls[2], 1),
                      "ratio": round(walls[2] / walls[1], 3)}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
