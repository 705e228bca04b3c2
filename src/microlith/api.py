"""The Python API. The command line (cli.py) is a thin layer over these functions."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .ir import INDEX_LIMIT, Graph, Limits, MicrolithError, Op, default_limits, macs


def load(model, name: str | None = None, input_shape: list[int] | None = None) -> Graph:
    """A model file (.tflite, .onnx) or an IR Graph -> Graph. `input_shape` fixes dynamic
    dimensions of an ONNX model's input."""
    if isinstance(model, Graph):
        return model
    path = str(model)
    if not os.path.exists(path):
        raise MicrolithError(f"{path}: no such file")
    if os.path.isdir(path):
        raise MicrolithError(f"{path}: is a folder, expected a model file (.tflite)")
    from .frontends.tflite import check_model_file
    check_model_file(path)  # a regular file within MICROLITH_MAX_MODEL_BYTES, before any byte is read
    ext = os.path.splitext(path)[1].lower()
    if ext in (".tflite", ".lite", ""):
        from .frontends.tflite import load_tflite
        if input_shape:  # a .tflite has static shapes; ignoring the option would hide a mistake
            raise MicrolithError(f"{path}: --input-shape is for ONNX models with dynamic dimensions; a .tflite "
                                 "model's input shapes are fixed in the file (see `microlith inspect`)")
        return load_tflite(path, name).sanitize_names()
    if ext == ".onnx":
        from .frontends.onnx import load_onnx
        return load_onnx(path, name=name, input_shape=input_shape).sanitize_names()
    raise MicrolithError(f"{path}: unknown model format '{ext}'; microlith reads .tflite and .onnx files")


def require_quantized(g: Graph) -> None:
    """Compilation needs int8 arithmetic inside; float may only cross QUANTIZE/DEQUANTIZE edges.
    The error names what the user wrote (the model's float input or first float op) and gives the
    command that fixes it, not an op a frontend inserted."""
    where = g.source or g.name
    for i, node in enumerate(g.nodes):
        if node.op in (Op.QUANTIZE, Op.DEQUANTIZE):
            continue
        # --- issue 10: extra ops. A hybrid EMBEDDING_LOOKUP dequantizes an int8 table into a float32
        # output, a DEQUANTIZE edge of its own (its prepare() refuses a float table).
        if node.op is Op.EMBEDDING_LOOKUP:
            continue
        for name in [n for n in node.inputs if n] + list(node.outputs):
            if g.t(name).dtype != "float32":
                continue
            float_inputs = [n for n in g.inputs if g.t(n).dtype == "float32"]
            what = (f"its input '{float_inputs[0]}' {list(g.t(float_inputs[0]).shape)} is float32" if float_inputs else
                    f"op #{i} {node.op.value} computes in float (tensor '{name}' is float32)")
            stem = os.path.splitext(os.path.basename(str(where)))[0] or "model"
            raise MicrolithError(
                f"{where}: float model: {what}; microlith compiles int8 models. Quantize it first: "
                f"microlith quantize {where} --calibration SAMPLES.npy -o {stem}_int8.tflite "
                "(SAMPLES.npy: a few hundred real inputs in the model's input layout), then compile that file")


def inspect(model, input_shape=None) -> dict:
    g = load(model, input_shape=input_shape)
    ops: dict[str, int] = {}
    for n in g.nodes:
        ops[n.op.value] = ops.get(n.op.value, 0) + 1
    const = [t for t in g.tensors.values() if t.is_const]

    def desc(name):
        t = g.t(name)
        d = {"name": name, "shape": list(t.shape), "dtype": t.dtype}
        if t.quant is not None and not t.quant.per_axis:
            d.update(scale=t.quant.scale[0], zero_point=t.quant.zero_point[0])
        return d

    layers = []
    for i, n in enumerate(g.nodes):
        out = g.t(n.outputs[0])
        layers.append({"index": i, "op": n.op.value, "output": out.name, "shape": list(out.shape),
                       "dtype": out.dtype,
                       "quantization": ("per-channel" if any(g.t(x).quant and g.t(x).quant.per_axis
                                                            for x in n.inputs if x) else
                                        "per-tensor" if out.quant else "none")})
    dtypes = sorted({g.t(x).dtype for n in g.nodes for x in list(n.inputs) + list(n.outputs)
                     if x and not g.t(x).is_const})
    computed = None   # the MACs compile would compute (passes/channels.py), for a quantized model
    if dtypes and all(d in ("int8", "int16") for d in dtypes):
        from .passes.channels import prune_unused_channels
        try:
            computed = macs(prune_unused_channels(g))
        except MicrolithError:
            pass   # compile names what it refuses; inspect only describes
    return {"model": g.source or g.name, "name": g.name, "layers": len(g.nodes), "ops": ops,
            "inputs": [desc(n) for n in g.inputs], "outputs": [desc(n) for n in g.outputs],
            "macs": macs(g), "macs_computed": computed, "parameter_bytes": int(sum(t.nbytes for t in const)),
            "activation_dtypes": dtypes, "tensors": len(g.tensors), "layer_list": layers}


def compile(model, out_dir, target: str | None = None, name: str | None = None,
            strategy: str = "greedy", measure: bool = True, input_shape=None, force: bool = False,
            max_arena: int | None = None, max_flash: int | None = None, optimize: str | None = None,
            stage_weights: int | str | None = None, weights_in_ram: bool = False,
            tune_for: str | None = None) -> dict:
    """Model -> folder of C. Returns the figures of the compile (see DESIGN.md section 2).
    `max_arena` / `max_flash` (bytes) bound the arena and the constant data; by default the most
    RAM and flash of any supported target (ir.default_limits), beyond which a model is refused.
    An existing `out_dir` is replaced only if microlith made it; `force` writes the generated files
    into a folder of the user's, touching nothing else there (codegen/outdir.py).
    `optimize`: "speed", "size" or "balanced" (None: balanced), see codegen/optimize.py.
    `stage_weights`: for boards whose flash has wait states, copy filters the kernel reads again and
    again from flash into the arena before their layer: "free" where the arena has room anyway, a
    byte count for every filter up to that size, 0 never; None (the default): "free" (balanced
    copies without widening), 0 for optimize "size" (codegen/stage.py resolve_stage_budget).
    `weights_in_ram`: every constant array in RAM (.data), none in flash's wait states
    (codegen/c.py _IN_RAM_NOTE); RAM grows by weight_bytes.
    `tune_for`: the target the code is tuned for without measuring it there (profile and verify
    pass theirs); None: `target`. A board whose flash data goes through a cache (the RP2040's XIP
    cache) bounds the Cortex-M0/M3 convolution's channel chunks to one way of it
    (targets/memmodel.py filter_cache_bytes); a core name tunes for none."""
    from .codegen.c import generate, prepare
    from .codegen.stage import check_stage_budget, is_widened, stage_plan, staged_bytes
    from .codegen.optimize import check_mode
    optimize = check_mode(optimize)  # a bad mode is refused before the model is read
    check_stage_budget(stage_weights)  # and so is a bad budget (prepare resolves the default)
    asked_stage = stage_weights
    t0 = time.perf_counter()
    g = load(model, input_shape=input_shape)
    require_quantized(g)
    limits = default_limits()
    if max_arena is not None or max_flash is not None:
        limits = Limits(limits.max_arena if max_arena is None else max_arena,
                        limits.max_flash if max_flash is None else max_flash).checked()
    g.meta["codegen_limits"] = limits  # prepare() validates the graph against these
    prep = prepare(g, strategy, optimize, stage_weights)
    stage_weights = prep.stage_budget
    # what staging costs: the arena of the same plan without it (staged bytes take free arena first)
    unstaged = prepare(g, strategy, optimize, 0).plan.arena_size if prep.staged else prep.plan.arena_size
    if prep.plan.arena_size > limits.max_arena:
        staging = (f" ({prep.plan.arena_size - unstaged} of them for --stage-weights {stage_weights}: use "
                   "'free' or a smaller budget)" if prep.plan.arena_size > unstaged else "")
        raise MicrolithError(f"{g.source or g.name}: the memory plan needs an arena of {prep.plan.arena_size} "
                             f"bytes{staging}, more than the {limits.max_arena} allowed ({limits.origin}); use a "
                             "smaller model or raise the limit (max_arena)")
    if prep.plan.arena_size + prep.plan.state_size > limits.max_arena:  # state is RAM too
        raise MicrolithError(f"{g.source or g.name}: the arena ({prep.plan.arena_size} bytes) and the recurrent "
                             f"layers' state ({prep.plan.state_size} bytes) need more than the {limits.max_arena} "
                             f"bytes allowed ({limits.origin}); use a smaller model or raise the limit (max_arena)")
    from .targets.memmodel import filter_cache_bytes
    cache = filter_cache_bytes(tune_for or target)
    prep.optimize.m0_filter_cache = cache
    gen = generate(prep, out_dir, name, force=force, weights_in_ram=weights_in_ram)
    pg = prep.graph   # the graph the code was made from (channels nothing reads pruned)
    widened = {i for i, n in prep.staged.items() if is_widened(pg.nodes[i], pg, prep.params[i], n)}
    # what a byte budget would stage (profile's hint names the one that stages every candidate):
    # widened as a budget widens, even in balanced mode, whose default 'free' copies as they are
    offer = stage_plan(pg, prep.params, INDEX_LIMIT, prep.widen_if_budget)
    seconds = time.perf_counter() - t0
    result = {"model": g.source or g.name, "name": gen.name, "target": target or "host",
              "board": None, "out_dir": str(out_dir), "arena_bytes": gen.arena_bytes,
              "state_bytes": gen.state_bytes,
              "weight_bytes": gen.weight_bytes, "layout_bytes": gen.layout_bytes,
              "constants_crc32": f"0x{gen.constants_crc32:08X}",
              "code_and_weight_bytes": None, "macs": macs(g),
              # the MACs the code performs: channels no later layer reads are left out (passes/channels.py)
              "macs_computed": macs(pg),
              "layers": len(g.nodes), "kernels": gen.kernels, "flash_bytes": None, "ram_bytes": None,
              "stack_bytes": None, "stack_bound_bytes": None,
              "stack_bound_firmware_bytes": None, "stack_bound_basis": None,
              "compile_seconds": round(seconds, 3),
              "optimize": gen.optimize["mode"], "optimize_choices": gen.optimize,
              "weights_in_ram": bool(weights_in_ram),
              # --optimize speed: the layers whose filter DSP builds read laid out in channel pairs
              "pair_filters": sorted(i for i, p in enumerate(prep.params) if p.get("pair_filter")),
              # DSP builds: layer -> how many six-pixel groups' columns it builds before its routine runs
              "col_groups": {i: p["col_groups"] for i, p in enumerate(prep.params) if p.get("col_groups", 1) > 1},
              # Cortex-M0/M3 builds: the filter bytes per channel chunk of the convolution, one way of
              # the flash cache of the board tuned for (None: not chunked for a cache)
              "m0_filter_cache_bytes": cache[0] if cache else None,
              "tuned_for": tune_for or target or "host",
              "staged_weights": {"budget_bytes": stage_weights, "requested": asked_stage is not None,
                                 # the bytes of each layer's staged copy, and the layers staged widened
                                 "layers": {i: staged_bytes(pg.nodes[i], pg, prep.params[i], i in widened)
                                            for i in sorted(prep.staged)},
                                 "widened": sorted(widened),
                                 # every layer some budget would stage, with its filter's bytes
                                 "candidates": {i: staged_bytes(pg.nodes[i], pg, prep.params[i])
                                                for i in sorted(offer)},
                                 # the budget that stages every candidate, widened where it can be
                                 "budget_for_all": max(staged_bytes(pg.nodes[i], pg, prep.params[i],
                                                                    is_widened(pg.nodes[i], pg, prep.params[i], n))
                                                       for i, n in offer.items()) if offer else None,
                                 "arena_bytes_without": unstaged},
              # what --no-in-place costs: the arena with layers in place where that saves arena
              "arena_bytes_in_place": prepare(g, "greedy", optimize, asked_stage).plan.arena_size
              if strategy == "greedy-noinplace" else None,
              # and, by default, what it would cost: the layers in place and the arena without them
              "in_place_layers": sorted(prep.plan.inplace),
              # of them, those DSP builds run in one call, and those Cortex-M0/M0+ and M3 builds do
              # (other builds in chunks of rows)
              "in_place_whole_on_dsp": sorted(prep.dsp_whole),
              "in_place_whole_on_m0": sorted(prep.m0_whole),
              "arena_bytes_whole": prepare(g, "greedy-noinplace", optimize, asked_stage).plan.arena_size
              if strategy == "greedy" and prep.plan.inplace else None}
    if measure:
        from .targets.host import object_sizes
        sizes = object_sizes(gen.out_dir)
        result["code_and_weight_bytes"] = sizes["text"] + sizes["data"]
    if target not in (None, "host"):
        from .targets import cortexm
        result.update(cortexm.compile_figures(gen.out_dir, g, gen.name, target))
        if weights_in_ram and result.get("budget_error") and "RAM" in result["budget_error"]:
            linked = result.get("weight_bytes_linked") or gen.weight_bytes  # this core's layouts
            result["budget_error"] += (f" (the model's {linked:,} B of constants among it, in RAM by "
                                       "--weights-in-ram: leave it out to keep them in flash)")
    return result


def verify(model, target: str = "host", samples: int = 100, inputs: str | None = None,
           seed: int = 0, workdir: str | None = None, timeout: float | None = None,
           optimize: str | None = None, stage_weights: int | str | None = None, strategy: str = "greedy",
           weights_in_ram: bool = False) -> dict:
    """Compile, build and compare byte by byte with TFLM on random and given inputs. `strategy`:
    the memory plan's, as for compile ("greedy-noinplace" runs every layer whole);
    `weights_in_ram` as for compile.

    TFLM and the host C each run in a child process (see _child.py); `timeout` is the
    seconds each may take per sample (default _child.CALL_TIMEOUT). A crash, hang or memory
    limit hit there raises MicrolithError naming the model and what died."""
    from ._child import CALL_TIMEOUT
    from .verify import HostModel, Oracle, compare, first_differing_layer, load_inputs, random_inputs
    timeout = CALL_TIMEOUT if timeout is None else float(timeout)
    g = load(model)
    require_quantized(g)  # before making inputs or starting TFLM: compile() would refuse it anyway
    g.validate_for_codegen()  # likewise: a huge tensor is refused before random inputs are made
    model_bytes = Path(g.source).read_bytes()
    rng = np.random.default_rng(seed)
    cases = [random_inputs(g, rng) for _ in range(samples)]
    notes: list[str] = []
    if inputs:
        cases += load_inputs(inputs, g, notes)
    if not cases:
        raise MicrolithError("nothing to verify: --samples 0 and no --inputs")
    # TFLM starts and loads the model in its child while this process compiles and builds the C.
    oracle = Oracle(model_bytes, g, timeout=timeout, wait=False)
    runner = None
    try:
        with tempfile.TemporaryDirectory(prefix="microlith-verify-", dir=workdir) as tmp:
            tmp = Path(tmp)
            res = compile(g, tmp / "c", measure=False, optimize=optimize, stage_weights=stage_weights,
                          strategy=strategy, weights_in_ram=weights_in_ram, tune_for=target)
            if target not in ("host", None):
                from .targets.cortexm import BoardModel  # issue 3: same comparison on an emulated board
                runner = BoardModel(tmp / "c", g, res["name"], target, tmp)
                outs = runner.run_many(cases)  # one emulator run for every sample (or a few)
                by_case = {id(c): o for c, o in zip(cases, outs)}
                run_c = lambda xs: by_case[id(xs)]  # noqa: E731
            else:
                runner = HostModel(tmp / "c", g, res["name"], tmp, timeout=timeout)
                run_c = runner.run
            reset_c = runner.reset if isinstance(runner, HostModel) else None
            restarts = [] if isinstance(runner, HostModel) else runner.restarts(len(cases))
            if g.state_tensors():
                notes.append("the model keeps state (recurrent layers): the samples ran in order as one stream"
                             + (", then again after a reset of both sides" if reset_c else "")
                             + (f"; the firmware restarted (state reset, on both sides) at samples {restarts}"
                                if restarts else ""))
            cmp = compare(g, model_bytes, run_c, cases, oracle=oracle, reset_c=reset_c, restarts=restarts)
            oracle.close()
            out = {"model": g.source, "target": target or "host", "samples": len(cases),
                   "mismatched_samples": cmp["mismatched_samples"], "max_abs_diff": cmp["max_abs_diff"],
                   "bit_exact": cmp["mismatched_samples"] == 0, "arena_bytes": res["arena_bytes"],
                   "first_mismatch": None, "notes": notes,
                   "staged_weights": res.get("staged_weights")}
            if cmp["problem"] is not None:  # outputs of the wrong count, dtype, shape or size
                out["first_mismatch"] = {"sample": cmp["first_bad"], "description": cmp["problem"]}
            elif cmp["first_bad"] is not None and isinstance(runner, HostModel):
                diff = first_differing_layer(g, model_bytes, runner, cases[cmp["first_bad"]],
                                             history=cases[:cmp["first_bad"]])
                out["first_mismatch"] = {"sample": cmp["first_bad"],
                                         **(diff.__dict__ if diff else {}),
                                         "description": diff.describe() if diff else
                                         "every layer matches; the outputs differ in the copy-out"}
    finally:
        oracle.close()
        if isinstance(runner, HostModel):
            runner.close()
    return out
