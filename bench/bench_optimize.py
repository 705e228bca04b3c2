"""Code against instructions for `--optimize speed|balanced|size` on one core (default Cortex-M4).

    python3 bench/bench_optimize.py                 # print the markdown table
    python3 bench/bench_optimize.py --write         # replace the marked section of BENCHMARKS.md

Per MLPerf Tiny model and mode: instructions (exact, QEMU), their ratio to speed mode and to the
mode with the fewest (speed trades instructions for cycles: its convolutions run two channels by
three pixels, more instructions and fewer cycles), estimated cycles at zero wait states, text
(.isr_vector + .text of the whole firmware, the basis TinyEngine's 10.2 KB on KWS is given in),
code (flash - the constant arrays the build links), the generated folder's own code (code less
the measurement harness and the C library) and those weights. The issue-11 bounds it is held
against: size-mode KWS text <= 10 KB at <= 1.2x the speed instructions (held here against the
fewest instructions of any mode, the stricter reading); default (balanced) code <= 20 KB beside
the weights on every model.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microlith import profiling

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cortexm import MODELS, ROOT, ROWS, _n, compiler_version  # noqa: E402

BEGIN, END = "<!-- bench_optimize:begin -->", "<!-- bench_optimize:end -->"
MODES = ("speed", "balanced", "size")


def measure(target: str) -> list[dict]:
    rows = []
    for label, fname, inp in ROWS:
        speed, mine = None, []
        for mode in MODES:
            r = profiling.profile(MODELS / fname, target, inputs=MODELS / inp if inp else None, optimize=mode)
            speed = speed or r["instructions"]
            mine.append({"label": label, "mode": mode, "ratio": r["instructions"] / speed, **r})
            print(f"  {label} {mode}: {r['instructions']:,} instructions, text {r['text_bytes']:,} B",
                  file=sys.stderr)
        fewest = min(r["instructions"] for r in mine)
        rows += [{**r, "ratio_fewest": r["instructions"] / fewest} for r in mine]
    return rows


def table(rows: list[dict], target: str) -> str:
    lines = [f"{compiler_version()}, -O2 as the build says (size mode adds -Os through its ml_config.h), "
             f"{target} on QEMU, one inference. Measured with `python3 bench/bench_optimize.py --write`.", "",
             "| model | --optimize | instructions | x speed | x fewest | cycles (est.) | text B | code B | "
             "generated code B | weights B | output = host |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['mode']} | {_n(r['instructions'])} | {r['ratio']:.3f} | "
                     f"{r['ratio_fewest']:.3f} | {_n(r.get('cycles_est'))} | "
                     f"{_n(r['text_bytes'])} | {_n(r['code_bytes'])} | {_n(r.get('model_code_bytes'))} | "
                     f"{_n(r.get('weight_bytes_linked'))} | {'yes' if r['output_matches_host'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    block = f"{BEGIN}\n{text}{END}\n"
    old = path.read_text()
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n## Code size (`--optimize`)\n\n" + block
    path.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--file", type=Path, default=ROOT / "BENCHMARKS.md")
    a = ap.parse_args(argv)
    text = table(measure(a.target), a.target)
    print(text)
    if a.write:
        write_section(a.file, text)
        print(f"updated {a.file}")
    return 0 if all(line.endswith("yes |") for line in text.splitlines() if line.startswith("| ") and
                    "--optimize" not in line) else 1


if __name__ == "__main__":
    sys.exit(main())
