"""`microlith report`: one self-contained HTML page with what a model costs on a target.

Everything on the page is measured by the stages before it: the memory plan (planner), the
byte-exact check (verify), instructions per layer, flash, RAM and stack (profile on the
emulated board). Estimates (latency, energy) carry the basis `profile` gives them. The plots
are also written next to the page as PNG files.
"""
from __future__ import annotations

import base64
import html
import time
from pathlib import Path


from .. import __version__
from ..ir import MicrolithError, macs

_OP_COLORS = {"CONV_2D": "#1f77b4", "DEPTHWISE_CONV_2D": "#ff7f0e", "FULLY_CONNECTED": "#2ca02c",
              "AVERAGE_POOL_2D": "#9467bd", "MAX_POOL_2D": "#8c564b", "ADD": "#e377c2",
              "SOFTMAX": "#7f7f7f", "RESHAPE": "#bcbd22"}
_PALETTE = ("#17becf", "#d62728", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2",
            "#dbdb8d", "#9edae5", "#393b79", "#637939")


def _op_colors(ops) -> dict[str, str]:
    """One color per op in the plot, so every op has its own legend entry (TRANSPOSE, MEAN...)."""
    colors, spare = {}, iter(_PALETTE)
    for op in sorted(set(ops), key=lambda o: (o not in _OP_COLORS, o)):
        colors[op] = _OP_COLORS.get(op) or next(spare, "#444444")
    return colors


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        raise MicrolithError("the HTML report draws its plots with matplotlib: pip install matplotlib") from None


def memory_timeline_png(prep, path: Path) -> bytes:
    """Each arena buffer as a box: x = the layers it lives through, y = its bytes in the arena."""
    plt = _pyplot()
    g, plan = prep.graph, prep.plan
    fig, ax = plt.subplots(figsize=(10, 4.2), dpi=110)
    inplace_out = {dst for _, dst in plan.inplace.values()} | {dst for _, dst in plan.shared.values()}
    for b in plan.buffers:
        off = plan.offsets[b.name]
        scratch = b.name.startswith("@scratch")
        staged = b.name.startswith("@stage")  # --- issue 11: a filter copied from flash (--stage-weights)
        color = "#d62728" if scratch else "#ff7f0e" if staged else ("#2ca02c" if b.name in inplace_out else "#1f77b4")
        ax.add_patch(plt.Rectangle((b.first - 0.4, off), b.last - b.first + 0.8, b.size, facecolor=color,
                                   edgecolor="black", linewidth=0.4, alpha=0.75, hatch="//" if scratch else None))
    ax.axhline(plan.arena_size, color="black", linestyle="--", linewidth=1)
    ax.text(len(g.nodes) - 0.5, plan.arena_size, f" arena {plan.arena_size:,} B", va="bottom", ha="right", fontsize=8)
    ax.set_xlim(-0.7, len(g.nodes) - 0.3)
    ax.set_ylim(0, max(plan.arena_size, 1) * 1.12)
    ax.set_xlabel("layer")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title("Memory plan: activation buffers over their lifetimes (blue), outputs written in place "
                 "(green), scratch (red)" + (", filters staged from flash (orange)" if prep.staged else ""),
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.read_bytes()


def layer_cost_png(layers: list[dict], path: Path) -> bytes:
    """Instructions per layer (bars, colored by op), instructions per MAC (dots) and, where the run
    was traced, estimated cycles per MAC (crosses)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    idx = [r["index"] for r in layers]
    op_colors = _op_colors(r["op"] for r in layers)
    ax.bar(idx, [r["instructions"] for r in layers], color=[op_colors[r["op"]] for r in layers])
    ax.set_xlabel("layer")
    ax.set_ylabel("instructions")
    ax2 = ax.twinx()
    pts = [(r["index"], r["instructions_per_mac"]) for r in layers if r.get("macs")]
    if pts:
        ax2.plot(*zip(*pts), "ko", markersize=3, label="instructions per MAC (counted)")
    key = next((k for k in ("cycles_per_mac_est_board", "cycles_per_mac_est") if any(k in r for r in layers)), None)
    cyc = [(r["index"], r[key]) for r in layers if r.get("macs") and r.get(key) is not None] if key else []
    if cyc:  # --- issue 11: the estimated cycles beside the counted instructions
        ax2.plot(*zip(*cyc), "rx", markersize=4, label="cycles per MAC (estimate"
                 + (", with flash)" if key == "cycles_per_mac_est_board" else ")"))
    ax2.set_ylabel("per MAC (dots, crosses)" if cyc else "instructions per MAC (dots)")
    ax2.set_ylim(bottom=0)
    # one legend under the plot, so that it hides no bar or point
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in op_colors.values()]
    marks, mark_labels = ax2.get_legend_handles_labels()
    ax.legend(handles + marks, list(op_colors) + mark_labels, fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncol=min(4, len(handles) + len(marks)), frameon=False)
    ax.set_title("Cost per layer, counted on the emulated board", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.read_bytes()


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _n(v, unit="") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}{unit}"
    return f"{v:,}{unit}"


def build_report(model, target: str, out_html, samples: int = 20, search_dir=None,
                 stage_weights: int | str | None = None, strategy: str = "greedy",
                 weights_in_ram: bool = False) -> dict:
    """Compile, verify and profile `model` on `target`; write the page and its PNGs. search_dir:
    a `microlith search` results folder, shown as a section (its Pareto front and plot).
    stage_weights and strategy (the memory plan's: "greedy-noinplace" is --no-in-place): as for
    compile, for all three; weights_in_ram (--weights-in-ram) for verify and profile."""
    from ..api import load, require_quantized, verify
    from ..codegen.c import prepare
    from .. import profiling
    from ..targets import get_target

    get_target(target)  # unknown targets fail before any work
    from ..search.results import html_section
    search_html = html_section(search_dir) if search_dir else ""  # a bad folder fails before any work
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise MicrolithError(f"{out_html}: the report is an HTML page; name it *.html")
    try:  # like compile -o, the report's folder is created when missing
        out_html.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MicrolithError(f"{out_html}: cannot create folder {out_html.parent} ({e.strerror})") from None
    t0 = time.perf_counter()
    g = load(model)
    require_quantized(g)
    prep = prepare(g, strategy, stage_weights=stage_weights)
    ver = verify(g.source, samples=samples, stage_weights=stage_weights, strategy=strategy,
                 weights_in_ram=weights_in_ram)
    prof = profiling.profile(g.source, target, per_layer=True, stage_weights=stage_weights, strategy=strategy,
                             weights_in_ram=weights_in_ram)
    stem = out_html.with_suffix("")
    mem_png = memory_timeline_png(prep, Path(f"{stem}.memory.png"))
    cost_png = layer_cost_png(prof["per_layer"], Path(f"{stem}.layers.png"))

    summary = [
        ["model", g.source], ["target", f"{target} ({prof.get('core')}, QEMU {prof.get('qemu_machine')})"],
        ["layers / MACs", f"{len(g.nodes)} / {macs(g):,}"],
        ["byte-exact with TFLM (host build)", f"{ver['bit_exact']} ({ver['samples'] - ver['mismatched_samples']}"
                                              f"/{ver['samples']} random inputs)"],
        ["outputs on the board equal the host build's", prof["output_matches_host"]],
        ["instructions per inference (exact)", f"{_n(prof['instructions'])} ({prof['instructions_per_mac']} per MAC)"],
        ["arena (planned)", _n(prof["arena_bytes"], " B")
         + (f"; every layer run whole (--no-in-place), {_n(prof['arena_bytes_in_place'], ' B')} with layers "
            "in place" if prof.get("arena_bytes_in_place") is not None else "")
         + (f"; layers {', '.join(map(str, prof['in_place_layers']))} in place, {_n(prof['arena_bytes_whole'], ' B')} "
            "with every layer run whole (--no-in-place)" if prof.get("arena_bytes_whole") is not None else "")],
        ["flash (firmware: code + weights)", _n(prof["flash_bytes"], " B")],
        # --- issue 11: code and weights apart
        [f"flash split (--optimize {prof.get('optimize')})",
         f"code {_n(prof.get('code_bytes'), ' B')} (generated folder {_n(prof.get('model_code_bytes'), ' B')}, "
         f"measurement harness {_n(prof.get('harness_bytes'), ' B')}, C library {_n(prof.get('library_bytes'), ' B')})"
         f" + weights {_n(prof.get('weight_bytes_linked', prof.get('weight_bytes')), ' B')}"],
        ["RAM (data + bss incl. arena + stack high-water mark)", _n(prof["ram_bytes"], " B")
         + (f", of it the weights {_n(prof.get('weight_bytes_linked'), ' B')} (--weights-in-ram: copied from flash "
            "at start-up, read without flash wait states)" if prof.get("weights_in_ram") else "")],
        *([["filters staged in the arena (--stage-weights)",
            f"layers {', '.join(map(str, st['layers']))}: {_n(sum(st['layers'].values()), ' B')} copied from "
            f"flash before their layer" + (f" ({', '.join(map(str, st['widened']))} widened to int16 for the DSP "
                                           "cores' two-channel routine)" if st.get("widened") else "")
            + f"; arena without staging {_n(st['arena_bytes_without'], ' B')}"]]
          if (st := prof.get("staged_weights") or {}).get("layers") else []),
        ["stack high-water mark", _n(prof["stack_bytes"], " B")],
        # --- issue 11: the cycle estimate itself, at zero wait states and with the board's flash
        ["cycles per inference (estimate)",
         f"{_n(prof.get('cycles_est'))} at zero wait states ({prof.get('cycles_per_mac_est')} per MAC)"
         + (f"; {_n(prof['cycles_est_board'])} with {prof['memory_model']['board']} flash "
            f"({prof.get('cycles_per_mac_est_board')} per MAC)" if prof.get("cycles_est_board") else "")],
        ["latency (estimate)", _n(prof.get("latency_ms_est"), " ms")],
        ["energy per inference (estimate)", _n(prof.get("energy_uj_est"), " uJ")],
        ["how the estimates are derived", prof.get("estimate_basis", "-")],
        ["how the figures are measured", prof.get("measurement", "-")],
    ]
    if prof.get("budget_message"):
        summary.append(["board budget", prof["budget_message"]])
    shapes = {i: "x".join(map(str, g.t(n.outputs[0]).shape)) for i, n in enumerate(g.nodes)}
    in_place = set(prep.plan.inplace) | set(prep.plan.shared)
    # --- issue 11: estimated cycles per layer beside the counted instructions, where traced
    cyc_key = next((k for k in ("cycles_est_board", "cycles_est") if all(k in r for r in prof["per_layer"])), None)
    layer_rows = [[r["index"], r["op"] + (" (in place)" if r["index"] in in_place else ""), shapes[r["index"]],
                   _n(r.get("macs")), _n(r["instructions"]),
                   "-" if not r.get("macs") else f"{r['instructions_per_mac']:.2f}", f"{100 * r['share']:.1f}%"]
                  + ([_n(r[cyc_key]), "-" if not r.get("macs") else f"{r[cyc_key] / r['macs']:.2f}"] if cyc_key else [])
                  for r in prof["per_layer"]]
    layer_head = ["#", "op", "output", "MACs", "instructions", "per MAC", "share"]
    if cyc_key:
        layer_head += ["cycles (estimate" + (f", {prof['memory_model']['board']} flash)"
                                             if cyc_key == "cycles_est_board" else ")"), "cycles per MAC"]
    cycles_note = (f'<p class="small">{html.escape(prof["per_layer_cycles_basis"])}</p>'
                   if cyc_key else "")
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>microlith report: {html.escape(g.name)} on {html.escape(target)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f0f0f0; }} img {{ max-width: 100%; }} .small {{ color: #666; font-size: 0.85em; }}
</style></head><body>
<h1>{html.escape(g.name)} on {html.escape(target)}</h1>
<p class="small">microlith {__version__}. Measured figures come from a real build run on the emulated board;
estimates say so and how they were derived.</p>
<h2>Summary</h2>
{_table(summary, ["", ""])}
<h2>Memory plan</h2>
<img src="data:image/png;base64,{b64(mem_png)}" alt="memory timeline">
<h2>Cost per layer</h2>
<img src="data:image/png;base64,{b64(cost_png)}" alt="instructions per layer">
{_table(layer_rows, layer_head)}
{cycles_note}
{search_html}
<p class="small">Generated in {time.perf_counter() - t0:.1f} s.</p>
</body></html>
"""
    out_html.write_text(page)
    return {"model": g.source, "target": target, "report": str(out_html),
            "plots": [f"{stem}.memory.png", f"{stem}.layers.png"], "bit_exact": ver["bit_exact"],
            "instructions": prof["instructions"], "arena_bytes": prof["arena_bytes"],
            "flash_bytes": prof["flash_bytes"], "ram_bytes": prof["ram_bytes"]}
