"""`microlith profile`: compile a model, run it on an emulated board and measure it.

This is orchestration above the target layer: it uses the API (load, compile), the host
build (the output check) and targets.cortexm, which only builds and runs firmware. Keeping it
here, not in targets/, is what keeps targets free of imports back into the API.
"""
from __future__ import annotations

import concurrent.futures
import os
import tempfile
import types
from pathlib import Path

import numpy as np

from .api import compile as compile_model
from .api import load, require_quantized
from .ir import Graph, MicrolithError, macs
from .targets import core_of, get_target
from .targets.cortexm import (
    CC,
    DEFAULT_TIMEOUT,
    ICOUNT_SHIFT,
    QEMU,
    FirmwareBuilder,
    _mkdir,
    check_budget,
    estimate,
    find_tool,
    outputs_match,
    run_firmware,
    stack_bounds,
)
from .targets.cycles import board_figures, trace_cycles
from .verify import HostModel, load_inputs, random_inputs


def _layer_macs(g: Graph, node) -> int:
    return macs(types.SimpleNamespace(nodes=[node], t=g.t))


TRACE_TOLERANCE = 32  # instructions


def estimates(instructions: int, target: str, cyc, n_macs: int | None) -> dict:
    """The estimate keys of a profile (cycles, latency, energy and how they were made) from the
    measured instruction count and the priced trace of the same run (None: no trace, the
    latency then comes from a CPI). Shared by model and pipeline profiles."""
    # The trace must be the measured run, else its cycles belong to some other stream. The timer
    # method reads a few instructions off on SysTick-only boards (microbit); the trace is exact.
    if cyc is not None and abs(cyc.instructions - instructions) > TRACE_TOLERANCE:
        raise MicrolithError(f"{target}: the cycle trace saw {cyc.instructions} instructions where the "
                             f"measurement counted {instructions}; not pricing a different run")
    out = estimate(instructions, target, cyc)
    if cyc is not None:
        out["cycles_per_mac_est"] = round(cyc.cycles / n_macs, 3) if n_macs else None
        out["cycles_by_function"] = {fn: {"instructions": v[0], "cycles_est": v[1]}
                                     for fn, v in sorted(cyc.by_function.items(), key=lambda kv: -kv[1][1])}
        out.update(board_figures(cyc, target, n_macs))   # flash wait states and cache, where known
        if cyc.memory_cycles is not None:
            out["estimate_basis"] += (f"; cycles_est_board / latency_ms_est_board add the flash model: "
                                      f"{out['memory_model']['basis']}")
            for fn, v in out["cycles_by_function"].items():
                v["cycles_est_board"] = v["cycles_est"] + cyc.memory_by_function.get(fn, 0)
            # The board's figure is the one a user meets on the part (code and weights in flash),
            # so the headline latency and energy take it; the zero-wait latency stays beside it.
            if out.get("latency_ms_est") is not None and out.get("latency_ms_est_board") is not None:
                scale = out["cycles_est_board"] / max(cyc.cycles, 1)
                out["latency_ms_est_zero_wait"] = out["latency_ms_est"]
                out["latency_ms_est"] = out["latency_ms_est_board"]
                if out.get("energy_uj_est") is not None:
                    out["energy_uj_est"] = round(out["energy_uj_est"] * scale, 2)
                out["estimate_basis"] += ("; latency_ms_est and energy_uj_est are taken from cycles_est_board "
                                          "(latency_ms_est_zero_wait from cycles_est)")
    return out


def _code_figures(sizes: dict, res: dict) -> dict:
    """--- issue 11: flash split into code and weights (see the measurement text)."""
    # the constant arrays this build kept (the folder may carry one layout per kind of core)
    weights = sizes.get("weight_bytes_linked")
    weights = res["weight_bytes"] if weights is None else weights
    code = sizes["flash_bytes"] - weights
    harness, library = sizes.get("harness_bytes"), sizes.get("library_bytes")
    model_code = code - harness - library if harness is not None and library is not None else None
    return {"code_bytes": code, "weight_bytes_linked": weights, "model_code_bytes": model_code,
            "harness_bytes": harness,
            "library_bytes": library, "optimize": res.get("optimize"),
            "optimize_choices": res.get("optimize_choices"),
            "code_basis": ("code_bytes = flash_bytes - weight_bytes_linked: everything in flash but the "
                           "model's constant arrays this build kept (weights, biases, requantization and "
                           "layout tables, LUTs; from the linker map) and the test "
                           "inputs, so kernels, layer code and parameter structs, plus the measurement "
                           "firmware's harness (harness_bytes: startup, main, sample glue) and C/GCC "
                           "runtime library code (library_bytes: memcpy, memset...), from the linker map; "
                           "model_code_bytes = code_bytes - harness_bytes - library_bytes is the generated "
                           "folder's own code")}


def profile(model, target: str, per_layer: bool = False, workdir=None, inputs=None,
            timeout: float = DEFAULT_TIMEOUT, strategy: str = "greedy", cycles: bool = True,
            optimize: str | None = None, stage_weights: int | str | None = None,
            weights_in_ram: bool = False) -> dict:
    """Compile `model`, run it once on the emulated core of `target`, and measure it.

    inputs: None (a fixed pseudo-random sample, seed 0), a list with one array per model
    input, or a .npy/.npz path (its first sample is used). cycles: also run the firmware with
    QEMU's block trace and price the executed instructions (targets/cycles.py), for
    cycles_est and the latency and energy estimates built on it. optimize: speed, size or
    balanced (None: balanced), as for compile (codegen/optimize.py). stage_weights: as for
    compile (codegen/stage.py). weights_in_ram: as for compile (the constants in RAM: RAM grows by
    them, and the board's flash model sees no weight load)."""
    from .codegen.optimize import check_mode
    from .codegen.stage import check_stage_budget
    optimize = check_mode(optimize)
    check_stage_budget(stage_weights)
    t = get_target(target)
    core = core_of(t)
    find_tool(CC)
    find_tool(QEMU)
    g = load(model)
    require_quantized(g)
    if inputs is None:
        xs = random_inputs(g, np.random.default_rng(0))
    elif isinstance(inputs, (str, os.PathLike)):
        xs = load_inputs(str(inputs), g)[0]
    else:
        xs = [np.asarray(x) for x in inputs]
    with tempfile.TemporaryDirectory(prefix="microlith-profile-", dir=workdir) as tmp:
        tmp = Path(tmp)
        res = compile_model(g, tmp / "c", strategy=strategy, measure=False, optimize=optimize,
                            stage_weights=stage_weights, weights_in_ram=weights_in_ram, tune_for=target)
        name = res["name"]
        builders = [FirmwareBuilder(tmp / "c", name, t["name"], tmp / "fw")]
        if per_layer:
            builders.append(FirmwareBuilder(tmp / "c", name, t["name"], tmp / "fw-layers", per_layer=True))
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(builders) + 1) as pool:
            fw_futs = [pool.submit(b.link, [xs]) for b in builders]
            host_fut = pool.submit(lambda: HostModel(tmp / "c", g, name, _mkdir(tmp / "host")).run(xs))
            fws = [f.result() for f in fw_futs]
            run_futs = [pool.submit(run_firmware, fw.elf, t["name"], timeout) for fw in fws]
            cyc_fut = pool.submit(trace_cycles, fws[0].elf, t["name"], name, timeout, tmp) if cycles else None
            layer_fut = (pool.submit(_layer_trace, fws[1].elf, t["name"], name, timeout, tmp)
                         if cycles and per_layer else None)
            bound = stack_bounds(fws[0])  # while the build's files exist; overlaps the QEMU runs
            runs = [f.result() for f in run_futs]
            cyc = cyc_fut.result() if cyc_fut is not None else None
            layer_cyc = layer_fut.result() if layer_fut is not None else None
            host_out = host_fut.result()
    fw, run = fws[0], runs[0]
    sample = run.samples[0]
    if sample.status != 0:
        raise MicrolithError(f"{g.source or g.name}: the generated C returned error {sample.status} on {t['name']}")
    matches = outputs_match(host_out, sample.outputs)
    sizes = fw.sizes
    n_macs = macs(g)
    out = {"model": g.source or g.name, "name": name, "target": t["name"],
           "board": t["name"] if t["kind"] == "board" else None, "core": core["name"],
           "qemu_machine": core["qemu"]["machine"],
           "arena_bytes": res["arena_bytes"], "weight_bytes": res["weight_bytes"],
           "layout_bytes": res.get("layout_bytes", 0),
           "flash_bytes": sizes["flash_bytes"],
           "ram_bytes": sizes["data_bytes"] + sizes["bss_bytes"] + sample.stack_bytes,
           "stack_bytes": sample.stack_bytes,
           "stack_bound_bytes": bound["stack_bound_bytes"],
           "stack_bound_firmware_bytes": bound["stack_bound_firmware_bytes"],
           "stack_bound_basis": bound["stack_bound_basis"],
           "text_bytes": sizes["text_bytes"], "rodata_bytes": sizes["rodata_bytes"],
           "data_bytes": sizes["data_bytes"], "bss_bytes": sizes["bss_bytes"],
           "input_bytes_excluded": sizes["input_bytes"],
           **_code_figures(sizes, res),
           "staged_weights": res.get("staged_weights"),
           "pair_filters": res.get("pair_filters"),
           "col_groups": res.get("col_groups"),
           "m0_filter_cache_bytes": res.get("m0_filter_cache_bytes"), "tuned_for": res.get("tuned_for"),
           "weights_in_ram": res.get("weights_in_ram", False),
           "arena_bytes_in_place": res.get("arena_bytes_in_place"),
           "in_place_layers": res.get("in_place_layers"),
           "in_place_whole_on_dsp": res.get("in_place_whole_on_dsp"),
           "in_place_whole_on_m0": res.get("in_place_whole_on_m0"), "arena_bytes_whole": res.get("arena_bytes_whole"),
           "macs": n_macs, "macs_computed": res.get("macs_computed", n_macs), "instructions": sample.instructions,
           "instructions_per_mac": round(sample.instructions / n_macs, 3) if n_macs else None,
           "output_matches_host": bool(matches),
           "measurement": (f"instructions counted exactly on QEMU {core['qemu']['machine']} with -icount "
                           f"shift={ICOUNT_SHIFT} between timer reads around {name}_invoke (their own cost "
                           "subtracted); flash = vector table + text + rodata + exidx + data initializers, "
                           "test inputs excluded; RAM = data + bss (holds the arena) + painted-stack "
                           "high-water mark (includes the harness's main frame)")}
    out.update(estimates(sample.instructions, t["name"], cyc, n_macs))
    budget = check_budget(out, t)
    out["fits_budget"] = None if t["kind"] != "board" else budget is None
    out["budget_message"] = budget
    if per_layer:
        lrun = runs[1]
        total = sum(lrun.layers) or 1
        out["per_layer"] = []
        for i, (node, n) in enumerate(zip(g.nodes, lrun.layers)):
            m = _layer_macs(g, node)
            out["per_layer"].append({"index": i, "op": node.op.value, "output": node.outputs[0], "macs": m,
                                     "instructions": n,
                                     "instructions_per_mac": round(n / m, 3) if m else None,
                                     "share": round(n / total, 4)})
        if layer_cyc is not None:
            _layer_cycles(out, layer_cyc, g, lrun.layers)
    return out


def _layer_trace(elf, target: str, name: str, timeout: float, tmp):
    """The per-layer firmware's run priced phase by phase, split at every call of its layer hooks'
    timer read (ml_fw_stamp); None where the plugin is not available (the block-log route has no
    phases)."""
    from .targets.cycles import PluginUnavailable, trace_cycles_plugin
    from .targets.memmodel import host_cc
    if host_cc() is None:
        return None
    try:
        return trace_cycles_plugin(elf, target, name, timeout, tmp, mark="ml_fw_stamp")
    except PluginUnavailable:
        return None


def _layer_cycles(out: dict, cyc, g, layer_instructions: list[int]) -> None:
    """--- issue 11: cycles and cycles per MAC per layer. The hooks split the run into a prologue,
    then for each layer its body and the glue after it, so layer i is phase 2i + 1."""
    n = len(g.nodes)
    if len(cyc.phases) != 2 * n + 1:
        raise MicrolithError(f"{out['target']}: the per-layer cycle trace has {len(cyc.phases)} stretches "
                             f"for {n} layers (expected {2 * n + 1}); the layer hooks did not run once each")
    board = cyc.memory_cycles is not None
    for i, row in enumerate(out["per_layer"]):
        ph = cyc.phases[2 * i + 1]
        m = row["macs"]
        row["cycles_est"] = ph.cycles
        row["cycles_per_mac_est"] = round(ph.cycles / m, 3) if m else None
        if board:
            row["cycles_est_board"] = ph.cycles + ph.memory_cycles
            row["cycles_per_mac_est_board"] = round((ph.cycles + ph.memory_cycles) / m, 3) if m else None
    in_layers = sum(cyc.phases[2 * i + 1].cycles for i in range(n))
    drift = max((abs(cyc.phases[2 * i + 1].instructions - layer_instructions[i]) for i in range(n)), default=0)
    out["per_layer_cycles_basis"] = (
        "estimate, not a measurement: each layer's cycles price the per-layer firmware's run (QEMU plugin, "
        "the same timing table" + (" and flash model" if board else "") + " as cycles_est) between the layer "
        "hooks' calls of their timer read, which mark the stretches; the hooks themselves and the glue between "
        f"layers are left out ({in_layers:,} of the traced {cyc.cycles:,} zero-wait cycles are inside layers). "
        f"The stretches' instruction counts agree with the timer's per-layer counts within {drift} "
        "instructions: each stretch also holds its hooks' store and call, a few cycles, which is all an "
        "empty layer (a RESHAPE sharing its input's memory) shows")
