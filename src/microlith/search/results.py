"""Results of a study: every trial's footprint, the Pareto front of the models within budget
(accuracy vs instructions), a table and a plot, and the best model compiled as a pipeline folder."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np

from ..ir import MicrolithError


def _rows(study) -> list[dict]:
    from .driver import finished, trial_constraints
    rows = []
    for t in finished(study):
        ua = t.user_attrs
        fp = ua.get("footprint") or {}
        rows.append({"trial": t.number, "status": ua.get("status"), "role": ua.get("role"),
                     "accuracy": ua.get("accuracy"), "feasible": max(trial_constraints(t)) <= 0,
                     "reason": ua.get("reason"), "host": ua.get("host"), "seconds": ua.get("seconds"),
                     **{k: fp.get(k) for k in ("flash_bytes", "ram_bytes", "instructions", "latency_ms_est",
                                              "energy_uj_est")},
                     "params": dict(t.params or ua.get("params") or {})})
    return rows


def pareto(rows: list[dict]) -> list[dict]:
    """Trained models within budget that no other beats on both accuracy and instructions."""
    ok = [r for r in rows if r["status"] == "trained" and r["feasible"]]
    front = [r for r in ok if not any((o["accuracy"] >= r["accuracy"] and o["instructions"] <= r["instructions"])
                                      and (o["accuracy"] > r["accuracy"] or o["instructions"] < r["instructions"])
                                      for o in ok)]
    return sorted(front, key=lambda r: r["instructions"])


def _num(v, fmt="{:,}"):
    return "-" if v is None else fmt.format(v)


def table(rows: list[dict], markdown: bool = False) -> str:
    head = ["trial", "accuracy", "flash B", "RAM B", "instructions", "ms (est.)", "uJ (est.)", "parameters"]
    body = [[f"#{r['trial']}" + (" (app default)" if r.get("role") == "default" else ""),
             "-" if r["accuracy"] is None else f"{100 * r['accuracy']:.1f}%", _num(r["flash_bytes"]),
             _num(r["ram_bytes"]), _num(r["instructions"]), _num(r["latency_ms_est"], "{:.2f}"),
             _num(r["energy_uj_est"], "{:.1f}"), " ".join(f"{k}={v}" for k, v in r["params"].items())]
            for r in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
                         ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head)] + [fmt(b) for b in body])


def plot(rows: list[dict], front: list[dict], path: Path, title: str) -> Path | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    tr = [r for r in rows if r["status"] == "trained" and r["feasible"]]
    rej = [r for r in rows if not r["feasible"]]
    if tr:
        ax.scatter([r["instructions"] for r in tr], [100 * r["accuracy"] for r in tr], c="tab:blue", s=22,
                   label="trained, within budget")
    if rej:
        ax.scatter([r["instructions"] for r in rej], [0.0] * len(rej), c="gray", marker="x", s=22,
                   label="over budget (rejected untrained)")
    if front:
        ax.plot([r["instructions"] for r in front], [100 * r["accuracy"] for r in front], "-o", c="tab:red",
                ms=5, label="Pareto front")
    for r in rows:
        if r.get("role") == "default" and r["accuracy"] is not None:
            ax.annotate("app default", (r["instructions"], 100 * r["accuracy"]), fontsize=7,
                        textcoords="offset points", xytext=(4, -10))
    xs = [r["instructions"] for r in rows if r.get("instructions")]
    if xs and max(xs) > 4 * min(xs):   # a log axis only where it spreads the points; its minor labels overlap
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    else:
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    ax.set_xlabel("instructions per inference (QEMU, exact)")
    ax.set_ylabel("held-out accuracy, compiled C (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def best_pipeline(study, number: int, folder: Path):
    """The trial's trained pipeline, rebuilt from the model and configuration kept in the study."""
    from ..pipeline import Pipeline
    t = study.trials[number]
    cfg, model = t.user_attrs.get("pipeline_config"), t.user_attrs.get("model_bytes")
    if cfg is None or model is None:
        raise MicrolithError(f"search: trial #{number} kept no model")
    pipe = Pipeline.from_config(cfg, base64.b64decode(model))
    sample = None
    if t.user_attrs.get("sample_npy"):
        sample = np.load(io.BytesIO(base64.b64decode(t.user_attrs["sample_npy"])))
    pipe.generate_c(folder, sample=sample)
    return pipe


def collect(study, problem, limits, lim: dict, out: Path, *, wall_seconds: float, workers: int,
            session_trials: int, progress=None) -> dict:
    from ..pipeline import profile
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows(study)
    front = pareto(rows)
    ok = [r for r in rows if r["status"] == "trained" and r["feasible"]]
    best = max(ok, key=lambda r: (r["accuracy"], -r["instructions"]), default=None)
    default = next((r for r in rows if r.get("role") == "default"), None)
    res = {"problem": problem.name, "target": limits.target, "limits": lim, "trials": len(rows),
           "trained": sum(r["status"] == "trained" for r in rows),
           "rejected": sum(r["status"] == "rejected" for r in rows),
           "workers": workers, "session_trials": session_trials, "wall_seconds": round(wall_seconds, 1),
           "rows": rows, "pareto": front, "best": best, "default": default, "out_dir": str(out)}
    title = f"{problem.name} on {limits.target}: {len(rows)} trials, {len(front)} on the Pareto front"
    png = plot(rows, front, out / "pareto.png", title)
    res["pareto_png"] = str(png) if png else None
    if best is not None:
        folder = out / "best_pipeline"
        best_pipeline(study, best["trial"], folder)
        try:
            res["best_profile"] = {k: v for k, v in profile(folder, limits.target, model_breakdown=False).items()
                                   if k in ("flash_bytes", "ram_bytes", "instructions", "latency_ms_est",
                                            "energy_uj_est", "fits_budget", "budget_message")}
        except MicrolithError as e:
            res["best_profile"] = {"skipped": str(e)}
        res["best_pipeline"] = str(folder)
    res["summary"] = summary(res)
    (out / "pareto.md").write_text(markdown(res))
    (out / "search.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    return res


def summary(res: dict) -> str:
    lim = res["limits"]
    lines = [f"search {res['problem']} on {res['target']}: {res['trials']} finished trials ({res['trained']} trained, "
             f"{res['rejected']} rejected over budget before training); {res['session_trials']} ran now in "
             f"{res['wall_seconds']:.0f} s on {res['workers']} worker(s)",
             f"limits: flash {lim['flash_bytes']:,} B, RAM {lim['ram_bytes']:,} B"
             + (f", latency {lim['latency_ms_est']} ms (estimate)" if lim.get("latency_ms_est") else ""),
             "Pareto front (trained, within the limits; accuracy = compiled C on the held-out split):",
             table(res["pareto"]) if res["pareto"] else "  (empty: no trained model within the limits)"]
    b, d = res.get("best"), res.get("default")
    if b:
        lines.append(f"best within the limits: trial #{b['trial']}, accuracy {100 * b['accuracy']:.1f}%, "
                     f"{b['instructions']:,} instructions -> {res.get('best_pipeline')}")
        if d and d["status"] == "trained" and d["feasible"]:
            ratio = b["instructions"] / d["instructions"]
            lines.append(f"app default model (#{d['trial']}, same training): accuracy {100 * d['accuracy']:.1f}%, "
                         f"{d['instructions']:,} instructions; best/default instructions = {ratio:.2f}")
            cheap = [r for r in res["pareto"] if r["accuracy"] >= d["accuracy"] and
                     r["instructions"] <= d["instructions"] / 2]
            lines.append("  a model at least as accurate with at most half the instructions: " +
                         (f"#{cheap[0]['trial']} ({100 * cheap[0]['accuracy']:.1f}%, {cheap[0]['instructions']:,})"
                          if cheap else "none found in these trials"))
        elif d:
            lines.append(f"app default model (#{d['trial']}): {d['status']}"
                         + (f" ({d['reason']})" if d.get("reason") else "") + f", {_num(d['ram_bytes'])} B RAM, "
                         f"{_num(d['instructions'])} instructions")
    else:
        lines.append("no trained model meets the limits")
    if res.get("pareto_png"):
        lines.append(f"plot: {res['pareto_png']}")
    return "\n".join(lines)


def markdown(res: dict) -> str:
    return "\n".join([f"# microlith search: {res['problem']} on {res['target']}", "", "```", res["summary"], "```",
                      "", "## Pareto front", "", table(res["pareto"], markdown=True) if res["pareto"] else "(empty)",
                      "", "## Every trial", "", table(res["rows"], markdown=True), ""])


def html_section(folder) -> str:
    """The search section of `microlith report --search DIR`: summary, Pareto plot and table."""
    import html
    folder = Path(folder)
    path = folder / "search.json"
    if not path.is_file():
        raise MicrolithError(f"--search {folder}: no search.json there; give the --out folder of `microlith search`")
    try:
        res = json.loads(path.read_text())
    except ValueError as e:
        raise MicrolithError(f"{path}: not valid JSON ({e})") from None
    png = folder / "pareto.png"
    img = (f'<img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}" alt="Pareto front">'
           if png.is_file() else "")
    head = ["trial", "accuracy", "flash B", "RAM B", "instructions", "ms (est.)", "uJ (est.)", "parameters"]
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|")) +
                   "</tr>" for line in table(res.get("pareto") or [], markdown=True).splitlines()[2:])
    return (f"<h2>Architecture search: {html.escape(str(res.get('problem')))} on "
            f"{html.escape(str(res.get('target')))}</h2>\n<pre>{html.escape(res.get('summary', ''))}</pre>\n{img}\n"
            f"<table><thead><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr></thead><tbody>{rows}</tbody></table>")
