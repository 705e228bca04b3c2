"""Long fuzz run of the TFLite and ONNX frontends, compile, quantize and its data loaders.

    python3 bench/fuzz.py --count 100000 --seed 0 [--jobs 2] [--verify-every N] [--save DIR]

Prints the inputs per kind and outcome, the findings grouped by where they were raised, the
wall time, and a CLI check: a few inputs of each outcome through `python3 -m microlith.cli` in
a subprocess (exit 0/1/2 and one stderr line only). Exit status 1 if anything was found.
Input k of seed s is rebuilt with `microlith.fuzz.make_input(s, k)`; --save writes every
finding's input and what happened to DIR (a candidate for tests/fuzz_regressions/).
See src/microlith/fuzz.py for the outcomes and the mutations.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from microlith import fuzz  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first input index (to resume or shard)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input")
    ap.add_argument("--verify-every", type=int, default=0, metavar="N",
                    help="also verify every Nth input that compiles against TFLM (0: never)")
    ap.add_argument("--memory-gib", type=float, default=4.0, help="RLIMIT_AS of each worker")
    ap.add_argument("--save", metavar="DIR", help="write each finding's input here")
    ap.add_argument("--cli", type=int, default=2, metavar="K",
                    help="run K inputs of each outcome through the CLI in a subprocess (0: skip)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    t0 = time.monotonic()
    done = [0]

    def progress(res):
        done[0] += 1
        if not a.json and done[0] % 1000 == 0:
            print(f"  {done[0]} inputs, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    results = fuzz.run(a.count, seed=a.seed, jobs=a.jobs, timeout=a.timeout, verify_every=a.verify_every,
                       memory_bytes=int(a.memory_gib * (1 << 30)), start=a.start, save_dir=a.save,
                       progress=progress)
    wall = time.monotonic() - t0
    summary = fuzz.summarize(results)
    groups = collections.Counter((r.outcome, r.kind, r.stage, r.detail.split(" [")[-1].rstrip("]")
                                  if "[" in r.detail else r.detail[:80])
                                 for r in results if r.outcome in fuzz.FINDINGS)
    examples = {}
    for r in results:
        if r.outcome in fuzz.FINDINGS:
            examples.setdefault((r.outcome, r.kind, r.stage), r)

    cli_rows = []
    if a.cli:
        picked, per = [], collections.Counter()
        for r in results:
            if r.kind != "data" and per[r.outcome] < a.cli:
                per[r.outcome] += 1
                picked.append(fuzz.make_input(a.seed, r.index))
        cli_rows = fuzz.cli_check(picked, memory_bytes=int(a.memory_gib * (1 << 30)))
    bad_cli = [r for r in cli_rows if not r["good"]]

    if a.json:
        print(json.dumps({**summary, "seconds": round(wall, 1), "seed": a.seed, "start": a.start,
                          "jobs": a.jobs, "timeout": a.timeout,
                          "finding_groups": [{"outcome": k[0], "kind": k[1], "stage": k[2], "where": k[3],
                                              "count": v} for k, v in groups.most_common()],
                          "cli": cli_rows}, indent=1))
    else:
        kinds = sorted(summary["by_kind"])
        print(f"fuzz: seed {a.seed}, inputs {a.start}..{a.start + a.count - 1}, {a.jobs} jobs, "
              f"{a.timeout:g} s per input, RLIMIT_AS {a.memory_gib:g} GiB, verify every "
              f"{a.verify_every or '-'}")
        print(f"{'outcome':<10}" + "".join(f"{k:>9}" for k in kinds) + f"{'total':>9}")
        for o in fuzz.OUTCOMES:
            row = [summary["by_kind"][k][o] for k in kinds]
            print(f"{o:<10}" + "".join(f"{v:>9}" for v in row) + f"{sum(row):>9}")
        print(f"{'inputs':<10}" + "".join(f"{sum(summary['by_kind'][k].values()):>9}" for k in kinds)
              + f"{summary['inputs']:>9}")
        print(f"verified against TFLM: {summary['verified']}; wall time {wall:.1f} s "
              f"({summary['inputs'] / max(wall, 1e-9):.1f} inputs/s)")
        if groups:
            print("findings:")
            for (o, kind, stage, where), n in groups.most_common():
                print(f"  {n:>6}  {o:<8} {kind:<6} {stage:<12} {where}")
            print("examples (rebuild with microlith.fuzz.make_input(seed, index)):")
            for (o, kind, stage), r in examples.items():
                print(f"  #{r.index} {kind} {r.seed_name} {r.mutation}: {stage}: {r.detail[:200]}")
        if cli_rows:
            print(f"CLI check: {len(cli_rows)} runs, {len(bad_cli)} bad; exits "
                  + str(dict(collections.Counter(str(r['exit']) for r in cli_rows))))
            for r in bad_cli:
                print(f"  bad: #{r['index']} {r['command']} exit {r['exit']}: {r['stderr']}")
    return 1 if summary["findings"] or bad_cli else 0


if __name__ == "__main__":
    sys.exit(main())
