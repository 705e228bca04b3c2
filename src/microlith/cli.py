"""The `microlith` command: a thin layer over the Python API (api.py).

Exit status: 0 success; 1 the check failed (not byte-exact, over budget); 2 bad input or
usage, with one line on stderr naming the problem. Set MICROLITH_DEBUG=1 for tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .ir import MicrolithError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse would print the whole usage)
        raise MicrolithError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="microlith", description="Compile TinyML models to standalone C, byte-exact with TFLite Micro.")
    p.add_argument("--version", action="version", version=f"microlith {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    s = sub.add_parser("inspect", help="ops, tensors, MACs, parameter bytes, quantization")
    s.add_argument("model")
    _input_shape_option(s)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("compile", help="model -> folder of C")
    s.add_argument("model")
    s.add_argument("-o", "--out", required=True, help="output folder")
    s.add_argument("--target", default=None, help="core or board (see `microlith targets`); default host")
    s.add_argument("--name", default=None, help="C prefix of the generated API (default: from the file name)")
    s.add_argument("--force", action="store_true",
                   help="write into an existing folder microlith did not make (only the generated files are "
                        "written; nothing else there is touched)")
    s.add_argument("--max-arena", type=_bytes, default=None, metavar="BYTES",
                   help="refuse a model whose arena or any activation is larger (default: the most RAM of any "
                        "supported target)")
    s.add_argument("--max-flash", type=_bytes, default=None, metavar="BYTES",
                   help="refuse a model whose constant data is larger (default: the most flash of any target)")
    _optimize_option(s)
    _weights_options(s)
    _in_place_option(s)
    _input_shape_option(s)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("verify", help="byte-exact check of the generated C against TFLite Micro")
    s.add_argument("model")
    s.add_argument("--target", default="host")
    s.add_argument("--samples", type=int, default=100, help="random inputs (default 100)")
    s.add_argument("--inputs", default=None, help=".npy/.npz of extra inputs")
    s.add_argument("--seed", type=int, default=0)
    _optimize_option(s)
    _weights_options(s)
    _in_place_option(s)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("profile", help="instructions, flash, RAM, stack on an emulated Cortex-M board")
    s.add_argument("model", help="int8 model, or a pipeline folder (with pipeline.json) from `microlith app`")
    s.add_argument("--target", required=True)
    s.add_argument("--per-layer", action="store_true")
    _optimize_option(s)
    _weights_options(s)
    _in_place_option(s)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("report", help="HTML page with memory plan, per-layer cost and footprint on a target")
    s.add_argument("model")
    s.add_argument("--target", required=True)
    s.add_argument("-o", "--out", required=True, help="report.html (plots are also written as PNG beside it)")
    s.add_argument("--samples", type=int, default=20, help="random inputs for the byte-exact check")
    s.add_argument("--search", default=None, metavar="DIR",
                   help="add the results of `microlith search --out DIR` (Pareto front table and plot)")
    _weights_options(s)
    _in_place_option(s)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("quantize", help="float model + calibration data -> int8 .tflite, with an accuracy report")
    s.add_argument("model", help="float .tflite or .onnx")
    s.add_argument("--calibration", required=True,
                   help=".npy/.npz array, or a folder of images or WAV files")
    s.add_argument("-o", "--out", required=True, help="int8 .tflite to write")
    s.add_argument("--method", default="percentile", choices=["minmax", "percentile", "mse"],
                   help="activation ranges from calibration (default percentile)")
    s.add_argument("--percentile", type=float, default=99.99)
    s.add_argument("--activations", default="int8", choices=["int8", "int16"],
                   help="int8 activations, or int16 (TFLite's 16x8 mode: int8 weights, int64 bias)")
    s.add_argument("--io", default=None, choices=["int8", "int16", "float"],
                   help="model inputs/outputs in the activation type (default), or float ones with "
                        "QUANTIZE/DEQUANTIZE at the edges")
    s.add_argument("--fc-per-channel", action="store_true",
                   help="per-channel FULLY_CONNECTED weights (TFLM 2024+, CMSIS-NN 6+)")
    s.add_argument("--eval", default=None, help="held-out data for the accuracy report (default: calibration)")
    s.add_argument("--limit", type=int, default=None, help="use at most N calibration samples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scale", type=float, default=1.0, help="images: x = (pixel * scale - mean) / std")
    s.add_argument("--mean", type=float, default=0.0)
    s.add_argument("--std", type=float, default=1.0)
    s.add_argument("--resize", default=None, metavar="HxW", help="images: resize to HxW (default: model input)")
    s.add_argument("--sample-rate", type=int, default=None, help="WAV: required sample rate")
    s.add_argument("--length", type=int, default=None, help="WAV: samples per clip")
    _input_shape_option(s)
    s.add_argument("--json", action="store_true")

    sub.add_parser("targets", help="list cores and boards with their budgets")

    s = sub.add_parser("ops", help="every op the installed TFLM registers, and whether microlith compiles it "
                                   "(int8, int16)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--markdown", action="store_true", help="the table as Markdown (docs/OPS.md)")

    s = sub.add_parser("app", help="example applications on real data: train, quantize, compile DSP + model, "
                                   "evaluate, profile")
    s.add_argument("app", choices=["kws", "bearing", "ecg"])
    s.add_argument("--data", default=None, help="folder with the data archives (default $MICROLITH_DATA, "
                                                 "then ../shared/data beside the repository)")
    s.add_argument("--out", default="out/apps", help="results folder (default out/apps)")
    s.add_argument("--quick", action="store_true", help="reduced run (data subset, few epochs): a smoke test")
    s.add_argument("--target", default="nrf52840", help="board to profile the pipeline on (default nrf52840)")
    s.add_argument("--no-profile", action="store_true", help="skip the emulated-board measurement")
    s.add_argument("--benchmarks", default=None, metavar="BENCHMARKS.md",
                   help="update this file's <!-- apps:begin --> section with the results")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("search", help="the most accurate DSP + model pipeline that fits a board (Optuna, Ray)")
    s.add_argument("app", choices=["kws", "bearing", "ecg"])
    s.add_argument("--target", required=True, help="board whose flash, RAM and clock bound the search")
    s.add_argument("--max-latency-ms", type=float, default=None, help="latency limit (estimate from the board clock)")
    s.add_argument("--max-ram", type=_bytes, default=None, metavar="BYTES", help="RAM limit (default the board's)")
    s.add_argument("--max-flash", type=_bytes, default=None, metavar="BYTES", help="flash limit (default the board's)")
    s.add_argument("--trials", type=int, default=20, help="finished trials to reach (default 20)")
    s.add_argument("--workers", type=int, default=None,
                   help="parallel trials: 1 runs in this process; more start a local Ray instance (default 1, "
                        "or every CPU of the cluster with --ray-address)")
    s.add_argument("--ray-address", default=None, help="join an existing Ray cluster (`ray start --head`), "
                                                         "e.g. 127.0.0.1:6379")
    s.add_argument("--study", default="search.db", help="Optuna study file (SQLite); an existing one is resumed")
    s.add_argument("--out", default="out/search", help="results folder: pareto.md/png, search.json, best_pipeline/")
    s.add_argument("--data", default=None, help="folder with the data archives (as for `microlith app`)")
    s.add_argument("--quick", action="store_true", help="the app's reduced data and very short training")
    s.add_argument("--epochs", type=int, default=None, help="training epochs of a surviving candidate")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    return p


def _shape(text: str) -> list[int]:
    try:
        dims = [int(d) for d in text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise MicrolithError(f"--input-shape '{text}': expected integers like 1,3,32,32") from None
    if not dims or any(d < 1 for d in dims):
        raise MicrolithError(f"--input-shape '{text}': every dimension must be >= 1")
    return dims


def _bytes(text: str) -> int:
    """A byte count: 65536, 64K/64KB, 2M/2MB (binary multiples)."""
    t = text.strip().upper().removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20}.get(t[-1:], 1)
    try:
        n = int(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise MicrolithError(f"'{text}': expected a number of bytes such as 65536, 64K or 2M") from None
    if n < 1:
        raise MicrolithError(f"'{text}': must be at least 1 byte")
    return n


def _optimize(text: str) -> str:
    from .codegen.optimize import MODES
    if text not in MODES:
        raise argparse.ArgumentTypeError(f"'{text}' is not a mode; use one of {', '.join(MODES)}")
    return text


def _optimize_option(s) -> None:  # --- issue 11: code size
    s.add_argument("--optimize", type=_optimize, default=None, metavar="speed|size|balanced",
                   help="speed: every kernel variant, inline layer loops; size: one generic kernel per "
                        "family compiled for size; balanced (default): variants and loops only where they "
                        "save many instructions per byte of code")


def _stage_budget(text: str):
    t = text.strip().lower()
    return t if t == "free" else 0 if t == "0" else _bytes(text)


def _weights_options(s) -> None:  # --- issue 11: where the weights are read from (codegen/stage.py, c.py)
    s.add_argument("--stage-weights", type=_stage_budget, default=None, metavar="free|BYTES",
                   help="copy convolution filters that the kernel reads at least 3 times from flash into the "
                        "arena before their layer runs, for fewer flash wait states on boards that have them "
                        "(STM32L4: 5), and on DSP cores widened to int16 for a faster routine where the budget holds "
                        "twice the filter: 'free' only where the arena has room anyway (same arena), BYTES "
                        "every copy of up to BYTES (a larger arena, reported), 0 none; default 'free' (with "
                        "--optimize balanced the copies stay int8), none with --optimize size")
    s.add_argument("--weights-in-ram", action="store_true",
                   help="place every constant array (weights, biases, tables) in RAM (.data, copied from flash "
                        "by the start-up code) instead of flash: no flash wait states on any weight load, for "
                        "RAM of the weights' size (reported); for models that read their weights once (fully "
                        "connected layers), where --stage-weights cannot help")


def _in_place_option(s) -> None:  # --- issue 11: codegen/inplace.py, codegen/c.py _run_whole
    s.add_argument("--no-in-place", action="store_true",
                   help="run every layer whole: no convolution writes its output over its input in chunks of "
                        "rows (by default they do where that saves arena), for fewer instructions and, on tall "
                        "narrow depthwise layers, the faster path along the columns; a larger arena (reported)")


def _strategy(a) -> str:
    return "greedy-noinplace" if getattr(a, "no_in_place", False) else "greedy"


def _input_shape_option(s) -> None:
    s.add_argument("--input-shape", type=_shape, action="append", default=None, metavar="1,3,32,32",
                   help="static shape for a model input with dynamic dimensions (ONNX); repeat per input")


def _shapes(a):
    return None if not a.input_shape else (a.input_shape[0] if len(a.input_shape) == 1 else a.input_shape)


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=str))


def _kb(n) -> str:
    return "-" if n is None else f"{n:,} B"


def cmd_inspect(a) -> int:
    from .api import inspect
    r = inspect(a.model, input_shape=_shapes(a))
    if a.json:
        _print_json(r)
        return EXIT_OK
    computed = (f" ({r['macs_computed']:,} computed: channels no later layer reads are left out)"
                if r.get("macs_computed") is not None and r["macs_computed"] < r["macs"] else "")
    print(f"{r['model']}: {r['layers']} layers, {r['macs']:,} MACs{computed}, {r['parameter_bytes']:,} parameter "
          f"bytes, activations {'/'.join(r['activation_dtypes'])}")
    for kind in ("inputs", "outputs"):
        for t in r[kind]:
            q = f" scale {t['scale']:.6g} zp {t['zero_point']}" if "scale" in t else ""
            print(f"  {kind[:-1]:6} {t['name']}: {t['dtype']} {t['shape']}{q}")
    print(f"  {'#':>3}  {'op':20} {'output shape':18} quantization")
    for layer in r["layer_list"]:
        print(f"  {layer['index']:>3}  {layer['op']:20} {str(layer['shape']):18} {layer['quantization']}")
    return EXIT_OK


def cmd_compile(a) -> int:
    from .api import compile
    r = compile(a.model, a.out, target=a.target, name=a.name, input_shape=_shapes(a), force=a.force,
                max_arena=a.max_arena, max_flash=a.max_flash, optimize=a.optimize, stage_weights=a.stage_weights,
                strategy=_strategy(a), weights_in_ram=a.weights_in_ram)
    if a.json:
        _print_json(r)
    else:
        print(f"{r['model']} -> {r['out_dir']}/src/{r['name']}.[ch]  ({r['layers']} layers, "
              f"{r['compile_seconds']:.2f} s)")
        print(f"  arena {_kb(r['arena_bytes'])}, weights+params {_kb(r['weight_bytes'])}, "
              f"code+weights {_kb(r.get('code_and_weight_bytes'))}, {r['macs']:,} MACs")
        print(f"  optimize {r['optimize']}")
        if (line := _whole_line(r)) is not None:
            print(line)
        if (line := _staged_line(r)) is not None:
            print(line)
        if (line := _pairs_line(r)) is not None:
            print(line)
        if (line := _col_groups_line(r)) is not None:
            print(line)
        if (line := _filter_cache_line(r)) is not None:
            print(line)
        if r.get("weights_in_ram"):
            print(f"  constants in RAM (--weights-in-ram): {_kb(r.get('weight_bytes_linked') or r['weight_bytes'])} "
                  "of .data beside the arena, copied from flash at start-up")
        if r.get("state_bytes"):  # --- issue 10: recurrent layers' state, kept across invokes
            print(f"  state {_kb(r['state_bytes'])} (recurrent layers; kept between calls, reset by "
                  f"{r['name']}_reset)")
        if r.get("flash_bytes") is not None:
            print(f"  on {r['target']}: flash {_kb(r['flash_bytes'])}, RAM {_kb(r['ram_bytes'])} "
                  f"(stack {_kb(r['stack_bytes'])})")
        if r.get("stack_bound_basis"):
            print(f"  worst-case stack (static bound): {_kb(r.get('stack_bound_bytes'))} for {r['name']}_invoke, "
                  f"{_kb(r.get('stack_bound_firmware_bytes'))} for the whole firmware "
                  f"({r['stack_bound_basis'] if r.get('stack_bound_bytes') is None else 'from -fcallgraph-info'})")
        if r.get("budget_error"):
            print(f"  does not fit: {r['budget_error']}")
    if r.get("budget_error"):
        print(f"microlith: {r['budget_error']}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def cmd_verify(a) -> int:
    from .api import verify
    if a.samples < 0:
        raise MicrolithError("--samples must be >= 0")
    r = verify(a.model, target=a.target, samples=a.samples, inputs=a.inputs, seed=a.seed, optimize=a.optimize,
               stage_weights=a.stage_weights, strategy=_strategy(a), weights_in_ram=a.weights_in_ram)
    if a.json:
        _print_json(r)
    else:
        verdict = "bit-exact" if r["bit_exact"] else "MISMATCH"
        print(f"{r['model']} on {r['target']}: {verdict}: {r['samples'] - r['mismatched_samples']}/"
              f"{r['samples']} samples identical to TFLite Micro (max |diff| {r['max_abs_diff']})")
        if r.get("first_mismatch"):
            print(f"  sample {r['first_mismatch']['sample']}: {r['first_mismatch']['description']}")
        for note in r.get("notes") or []:
            print(f"  note: {note}")
    return EXIT_OK if r["bit_exact"] else EXIT_CHECK_FAILED


def _is_pipeline(path: str) -> bool:
    from .pipeline import CONFIG_FILE
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_FILE))


def _profile_pipeline(a) -> int:
    from .pipeline import profile
    if a.per_layer:
        raise MicrolithError("--per-layer is for models; for a pipeline, profile its model.tflite")
    r = profile(a.model, a.target)
    ok = r["output_matches_host"]
    if a.json:
        _print_json(r)
        return EXIT_OK if ok else EXIT_CHECK_FAILED
    print(f"pipeline {r['pipeline']} ({r['model']}) on {r['target']}"
          + (f" ({r['board']})" if r.get("board") not in (None, r["target"]) else ""))
    print(f"  one window of {r['window_samples']} samples ({r['block']} {r['variant']} DSP + int8 model + "
          f"post-processing): {r['instructions']:,} instructions (model {r.get('model_instructions', 0):,}, "
          f"DSP and glue {r.get('dsp_and_glue_instructions', 0):,})")
    print(f"  flash {_kb(r['flash_bytes'])}, RAM {_kb(r['ram_bytes'])} (stack {_kb(r['stack_bytes'])})")
    lat = "-" if r.get("latency_ms_est") is None else f"{r['latency_ms_est']:.2f} ms"
    print(f"  latency {lat} (estimate: {r.get('estimate_summary', '')}; how it is made: estimate_basis in --json)")
    if r.get("board"):
        print(f"  {'fits' if r['fits_budget'] else 'does not fit'} {r['board']}" +
              (f": {r['budget_message']}" if r.get("budget_message") else ""))
    print(f"  result label {r['label']} ({r['label_name']}), "
          f"{'identical to' if ok else 'DIFFERENT from'} the host build")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _pairs_line(r: dict) -> str | None:
    """--optimize speed: the layers that DSP builds run two output channels by three pixels."""
    if not r.get("pair_filters"):
        return None
    return (f"  layers {', '.join(map(str, r['pair_filters']))} run two output channels by three pixels on DSP "
            "cores, their filters laid out in channel pairs (--optimize speed)")


def _filter_cache_line(r: dict) -> str | None:
    """compile --target BOARD with a flash cache: the Cortex-M0/M3 convolution's channel chunks."""
    if not r.get("m0_filter_cache_bytes"):
        return None
    return (f"  convolutions on Cortex-M0/M0+/M3 in channel chunks of at most {_kb(r['m0_filter_cache_bytes'])} "
            f"of filter, one way of {r.get('tuned_for')}'s flash cache, so that they stay cached across the "
            "pixels (generated for that board: --target cortex-m0 or cortex-m3 for any)")


def _col_groups_line(r: dict) -> str | None:
    """The convolutions that build several pixel groups' columns before their routine runs."""
    groups = r.get("col_groups") or {}
    if not groups:
        return None
    return ("  layers " + ", ".join(f"{i} ({n})" for i, n in groups.items()) + " build, on DSP cores, the "
            "columns of that many six-pixel groups before the routine runs on each (scratch where the arena is "
            "free anyway; fewer instruction-cache refills)")


def _staged_line(r: dict) -> str | None:
    st = r.get("staged_weights") or {}
    if not st.get("budget_bytes"):
        return None
    layers = st["layers"]
    if not layers:
        if not st.get("requested"):
            return None   # the default `free` found no room: nothing to say
        return (f"  --stage-weights {st['budget_bytes']}: no filter that is read 3 or more times fits; "
                "nothing staged")
    budget = st["budget_bytes"] if isinstance(st["budget_bytes"], str) else f"{st['budget_bytes']:,}"
    widened = st.get("widened") or []
    wide = (f"; {', '.join(map(str, widened))} widened to int16 for the DSP cores' two-channel routine"
            if widened else "")
    how = f"--stage-weights {budget}" if st.get("requested") else f"by default, --stage-weights {budget}"
    return (f"  weights staged in the arena ({how}): layers "
            f"{', '.join(str(i) for i in layers)} ({sum(layers.values()):,} B of copies, the largest "
            f"{max(layers.values()):,} B{wide}); arena {_kb(st['arena_bytes_without'])} without staging")


def _listed(layers) -> str:
    return ", ".join(map(str, layers))


def _whole_line(r: dict) -> str | None:
    if r.get("arena_bytes_whole") is not None and r.get("in_place_layers"):
        layers, many = r["in_place_layers"], len(r["in_place_layers"]) > 1
        how = "in chunks of rows" + "".join(
            f"; on {cores} {'all' if whole == layers else _listed(whole)} in one call"
            for cores, whole in (("DSP cores", r.get("in_place_whole_on_dsp")),
                                 ("Cortex-M0/M0+/M3", r.get("in_place_whole_on_m0"))) if whole)
        return (f"  layer{'s' if many else ''} {_listed(layers)} write{'' if many else 's'} "
                f"{'their' if many else 'its'} output over {'their' if many else 'its'} input ({how}) to save "
                f"arena; --no-in-place runs every layer whole, without the chunks' copies and calls: arena "
                f"{_kb(r['arena_bytes_whole'])}")
    if r.get("arena_bytes_in_place") is None:
        return None
    return (f"  every layer run whole (--no-in-place): arena {_kb(r['arena_bytes'])} against "
            f"{_kb(r['arena_bytes_in_place'])} with layers in place")


def _flash_load_hint(r: dict) -> str | None:
    """What to do about the data loads that stall on flash (profile, board estimate), when they
    are a noticeable share: stage the filters read 3 or more times that are not staged yet, or,
    where none is left (fully connected weights, read once), keep every constant in RAM."""
    board = r.get("cycles_est_board")
    loads = (r.get("memory_model") or {}).get("flash_load_stall_cycles") or 0
    if not board or not loads:
        return None
    share = f"of which {loads:,} stall on data loads from flash ({100 * loads / board:.1f}%)"
    st = r.get("staged_weights") or {}
    cands = st.get("candidates") or {}
    left = sorted((k for k in cands if k not in (st.get("layers") or {})), key=int)
    if left and loads > 0.02 * board:
        which = (f"{len(left)} layers read their filters" if len(left) == len(cands) else
                 f"layers {', '.join(map(str, left))} also read their filters")
        biggest = max(cands[k] for k in left)
        fix = ("BYTES copies them to SRAM first (the arena has no room for them as it is)"
               if st.get("budget_bytes") == "free" else "free (same arena) or BYTES copies them to SRAM first")
        whole = ""
        if st.get("budget_for_all"):
            wide = ", widened for the two-channel routine" if st["budget_for_all"] > max(cands.values()) else ""
            whole = f" ({st['budget_for_all']:,} stages them all{wide})"
        return f"    {share}; {which} (up to {biggest:,} B) 3 or more times: --stage-weights {fix}{whole}"
    if not r.get("weights_in_ram") and loads > 0.1 * board:
        return (f"    {share}, --weights-in-ram reads every constant from RAM instead "
                f"({_kb(r.get('weight_bytes_linked', r['weight_bytes']))} more RAM)")
    return None


def cmd_profile(a) -> int:
    if _is_pipeline(a.model):
        for flag, given in (("--stage-weights", a.stage_weights), ("--no-in-place", a.no_in_place),
                            ("--weights-in-ram", a.weights_in_ram)):
            if given:
                raise MicrolithError(f"{a.model}: {flag} applies to a model file; a pipeline folder's model "
                                     "was compiled by `microlith app`")
        return _profile_pipeline(a)
    from .profiling import profile
    r = profile(a.model, a.target, per_layer=a.per_layer, optimize=a.optimize, stage_weights=a.stage_weights,
                strategy=_strategy(a), weights_in_ram=a.weights_in_ram)
    if a.json:
        _print_json(r)
        return EXIT_OK if r.get("output_matches_host", True) else EXIT_CHECK_FAILED
    print(f"{r['model']} on {r['target']}" + (f" ({r['board']})" if r.get("board") not in (None, r["target"]) else ""))
    per_mac = "no MACs" if r["instructions_per_mac"] is None else \
        f"{r['instructions_per_mac']:.2f} per MAC, {r['macs']:,} MACs"  # a signal front end has none
    if r.get("macs_computed") is not None and r["macs_computed"] < r["macs"]:
        per_mac += (f"; {r['macs_computed']:,} computed: channels whose weights in every later layer are "
                    "zero, or whose zero filter makes them a constant the next dense layer's bias takes, are left out")
    print(f"  instructions {r['instructions']:,} ({per_mac})")
    if r.get("cycles_est") is not None:
        per_mac_c = "" if r.get("cycles_per_mac_est") is None else f"{r['cycles_per_mac_est']:.2f} per MAC, "
        print(f"  cycles {r['cycles_est']:,} (estimate; {per_mac_c}{r['cpi_estimate']:.2f} per instruction)")
    if r.get("cycles_est_board") is not None:  # the board's flash wait states behind its cache
        print(f"  cycles with {r['memory_model']['board']} flash {r['cycles_est_board']:,} (estimate; "
              f"{r['cycles_per_mac_est_board']:.2f} per MAC, {r['latency_ms_est_board']:.2f} ms)")
        if (line := _flash_load_hint(r)) is not None:
            print(line)
    ram_weights = f" + weights {_kb(r.get('weight_bytes_linked'))}" if r.get("weights_in_ram") else ""
    print(f"  flash {_kb(r['flash_bytes'])}, RAM {_kb(r['ram_bytes'])} = arena {_kb(r['arena_bytes'])}{ram_weights} "
          f"+ data/bss + stack {_kb(r['stack_bytes'])}")
    if (line := _whole_line(r)) is not None:
        print(line)
    if (line := _staged_line(r)) is not None:
        print(line)
    if (line := _pairs_line(r)) is not None:
        print(line)
    if (line := _col_groups_line(r)) is not None:
        print(line)
    if (line := _filter_cache_line(r)) is not None:
        print(line)
    if r.get("code_bytes") is not None:  # --- issue 11: code and weights apart
        print(f"  flash = code {_kb(r['code_bytes'])} (model and kernels {_kb(r['model_code_bytes'])}) + weights "
              f"{_kb(r.get('weight_bytes_linked', r['weight_bytes']))}; --optimize {r.get('optimize')}")
    if r.get("stack_bound_basis"):
        print(f"  stack: measured high-water mark {_kb(r['stack_bytes'])}, static worst-case bound "
              f"{_kb(r.get('stack_bound_firmware_bytes'))} (whole firmware; {_kb(r.get('stack_bound_bytes'))} "
              "for the model alone)")
    lat = "-" if r.get("latency_ms_est") is None else f"{r['latency_ms_est']:.2f} ms"
    energy = "-" if r.get("energy_uj_est") is None else f"{r['energy_uj_est']:.1f} uJ"
    print(f"  latency {lat}, energy {energy}  (estimates: {r.get('estimate_summary', '')}; how they are "
          "made: estimate_basis in --json)")
    print(f"  outputs {'identical to' if r['output_matches_host'] else 'DIFFERENT from'} the host build")
    layers = r.get("per_layer") or []
    cyc = any("cycles_est" in x for x in layers)
    board = any("cycles_est_board" in x for x in layers)
    if layers:
        head = f"    {'layer':<25} {'MACs':>10} {'instructions':>13} {'per MAC':>8}"
        if cyc:  # --- issue 11: cycles per layer, estimated (per_layer_cycles_basis)
            head += f" {'cycles (est.)':>14} {'per MAC':>8}"
        if board:
            head += f" {'with flash':>12} {'per MAC':>8}"
        print(head)

    def _pm(v):
        return f"{v:>8.2f}" if v is not None else f"{'-':>8}"
    for x in layers:
        line = f"    #{x['index']:>3} {x['op']:20} {x['macs']:>10,} {x['instructions']:>13,} {_pm(x['instructions_per_mac'])}"
        if cyc:
            line += f" {x.get('cycles_est', 0):>14,} {_pm(x.get('cycles_per_mac_est'))}"
        if board:
            line += f" {x.get('cycles_est_board', 0):>12,} {_pm(x.get('cycles_per_mac_est_board'))}"
        print(line)
    if cyc:
        print(f"    cycles per layer: {r['per_layer_cycles_basis']}")
    return EXIT_OK if r["output_matches_host"] else EXIT_CHECK_FAILED


def cmd_quantize(a) -> int:
    from .api import load
    from .quantize.api import quantize
    resize = None
    if a.resize:
        resize = tuple(_shape(a.resize))
        if len(resize) != 2:
            raise MicrolithError(f"--resize '{a.resize}': expected HxW, e.g. 32x32")
    options = dict(limit=a.limit, seed=a.seed, scale=a.scale, mean=a.mean, std=a.std, resize=resize,
                   sample_rate=a.sample_rate, length=a.length)
    g = load(a.model, input_shape=_shapes(a))
    r = quantize(g, a.calibration, a.out, method=a.method, io=a.io, percentile=a.percentile,
                 fc_per_channel=a.fc_per_channel, data_options=options, evaluation=a.eval,
                 activations=a.activations)
    if a.json:
        _print_json({k: v for k, v in r.items() if k != "report_text"})
    else:
        print(f"{r['model']} -> {r['output']} ({r['method']}, {r['calibration_samples']} calibration samples)")
        if r.get("report_text"):
            print(r["report_text"])
    return EXIT_OK


def cmd_report(a) -> int:
    from .report.html import build_report
    r = build_report(a.model, a.target, a.out, samples=a.samples, search_dir=a.search,
                     stage_weights=a.stage_weights, strategy=_strategy(a), weights_in_ram=a.weights_in_ram)
    if a.json:
        _print_json(r)
    else:
        print(f"{r['report']} (plots: {', '.join(r['plots'])})")
    return EXIT_OK if r["bit_exact"] else EXIT_CHECK_FAILED


def cmd_targets(a) -> int:
    from .targets import list_targets
    rows = list_targets()
    print(f"{'target':12} {'kind':6} {'core':11} {'flash':>10} {'RAM':>10} {'clock':>8}  emulated on")
    for t in rows:
        fl = f"{t['flash_bytes'] // 1024} KB" if t.get("flash_bytes") else "-"
        ram = f"{t['ram_bytes'] // 1024} KB" if t.get("ram_bytes") else "-"
        mhz = f"{t['clock_mhz']} MHz" if t.get("clock_mhz") else "-"
        print(f"{t['name']:12} {t['kind']:6} {t.get('core', '-'):11} {fl:>10} {ram:>10} {mhz:>8}  "
              f"{t.get('qemu_machine', '-')}")
    return EXIT_OK


def cmd_ops(a) -> int:
    from . import coverage
    cov = coverage.coverage()
    if a.json:
        print(json.dumps(cov, indent=1))
    elif a.markdown:
        sys.stdout.write(coverage.markdown(cov))
    else:
        print(coverage.table(cov))
    return EXIT_OK


def cmd_app(a) -> int:
    from .apps import AppOptions, run
    from .apps.common import summary_text, update_benchmarks
    opts = AppOptions(data=a.data, out=a.out, quick=a.quick, seed=a.seed, progress=True,
                      profile=not a.no_profile, target=a.target, benchmarks=a.benchmarks)
    r = run(a.app, opts)
    if a.benchmarks:
        update_benchmarks(a.benchmarks, r)
    if a.json:
        _print_json({k: v for k, v in r.items() if k not in ("checks_table", "benchmarks_details")})
    else:
        print(summary_text(r))
    met = all(t["met"] for t in r["targets"])
    return EXIT_OK if met or a.quick else EXIT_CHECK_FAILED


def cmd_search(a) -> int:
    from .apps import AppOptions
    from .search import search
    opts = AppOptions(data=a.data, quick=a.quick, seed=a.seed, progress=False)
    workers = a.workers if a.workers is not None else (0 if a.ray_address else 1)
    r = search(app=a.app, target=a.target, max_latency_ms=a.max_latency_ms, max_ram=a.max_ram,
               max_flash=a.max_flash, trials=a.trials, workers=workers, ray_address=a.ray_address, study=a.study,
               out=a.out, seed=a.seed, app_options=opts, epochs=a.epochs, progress=not a.json)
    if a.json:
        _print_json({k: v for k, v in r.items() if k != "summary"})
    else:
        print(r["summary"])
    return EXIT_OK if r.get("best") else EXIT_CHECK_FAILED


COMMANDS = {"inspect": cmd_inspect, "compile": cmd_compile, "verify": cmd_verify,
            "profile": cmd_profile, "quantize": cmd_quantize, "report": cmd_report, "targets": cmd_targets,
            "ops": cmd_ops, "app": cmd_app, "search": cmd_search}


ERROR_MAX_CHARS = 2000


def one_line(text: str, limit: int = ERROR_MAX_CHARS) -> str:
    """A message as one bounded terminal line: control and bidi characters (which a model file
    can carry in its names) are shown as '?', newlines as spaces."""
    text = " ".join(str(text).split())
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    try:
        a = _parser().parse_args(argv)
        return COMMANDS[a.cmd](a)
    except MicrolithError as e:
        print(f"microlith: error: {one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `microlith inspect ... | head`: the reader left; not an error of ours
        try:  # so the interpreter's final flush of stdout does not raise again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        print("microlith: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in microlith, not in the user's input
        if os.environ.get("MICROLITH_DEBUG"):
            raise
        print(f"microlith: internal error: {type(e).__name__}: {one_line(e, 500)} (set MICROLITH_DEBUG=1 for a traceback "
              "and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
