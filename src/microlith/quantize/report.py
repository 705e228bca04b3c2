"""How much accuracy int8 quantization costs: float model vs int8 model on the same samples.

The float side is the float reference (microlith.reference_float); the int8 side is the
written .tflite run by the TFLM interpreter (the oracle), so the figures describe exactly
the file a user deploys. Reported:
- with labels: top-1 of both models and their agreement;
- always: argmax agreement and the output SQNR (signal-to-quantization-noise ratio, dB) of
  the dequantized int8 output against the float output;
- per layer: the SQNR of each op's dequantized int8 output against the float activation of
  the same name (the error accumulated up to there), and the op's own SQNR: its int8 output
  against the float op run on its dequantized int8 inputs, which isolates the error this op
  adds. The op with the lowest own SQNR is where precision goes.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, MicrolithError
from ..reference_float import const_value, run_float, run_node
from .calibrate import batches
from .ptq import quantize_values


def sqnr_db(signal_power: float, noise_power: float) -> float | None:
    """10 log10(signal / noise); None when there is no noise at all (exact)."""
    if noise_power <= 0:
        return None
    if signal_power <= 0:
        return float("-inf")
    return float(10.0 * np.log10(signal_power / noise_power))


def _dequantize(g: Graph, name: str, q: np.ndarray) -> np.ndarray:
    t = g.t(name)
    if t.dtype == "float32" or t.quant is None:
        return np.asarray(q, np.float64)
    return (np.asarray(q, np.float64) - t.quant.zero_point[0]) * t.quant.scale[0]


def int8_inputs(gq: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Float samples as the int8 model's inputs: quantized as TFLM's QUANTIZE would."""
    out = []
    for name, x in zip(gq.inputs, xs):
        t = gq.t(name)
        if t.dtype == "float32":
            out.append(np.asarray(x, np.float32).reshape(t.shape))
        else:
            out.append(quantize_values(x, t.quant.scale[0], t.quant.zero_point[0], t.np_dtype).reshape(t.shape))
    return out


def _float_name(gf: Graph, gq: Graph, name: str) -> str | None:
    """The float graph's tensor for an int8 graph tensor (io='float' renames the I/O edges)."""
    if name in gf.tensors and not gf.t(name).is_const:
        return name
    for suffix in ("_int8", "_int16"):  # io="float" renames the quantized edges name_<dtype>
        if name.endswith(suffix) and name[:-len(suffix)] in gf.tensors:
            return name[:-len(suffix)]
    return None


def _sample(g: Graph, values: dict, name: str, j: int, n: int) -> np.ndarray:
    """Sample j of tensor `name` in a run_float result over n samples."""
    arr = values[name]
    if n == 1:
        return arr
    return arr[j:j + 1] if g.t(name).shape[:1] == (1,) else arr[j]


class _Power:
    """Signal and noise power summed over samples, per tensor."""

    def __init__(self):
        self.sig: dict[str, float] = {}
        self.noise: dict[str, float] = {}

    def add(self, key: str, f: np.ndarray, dq: np.ndarray) -> None:
        f = np.asarray(f, np.float64).reshape(-1)
        dq = np.asarray(dq, np.float64).reshape(-1)
        self.sig[key] = self.sig.get(key, 0.0) + float(np.sum(f * f))
        self.noise[key] = self.noise.get(key, 0.0) + float(np.sum((f - dq) ** 2))

    def db(self, key: str) -> float | None:
        return sqnr_db(self.sig[key], self.noise[key])


def evaluate(gf: Graph, model_bytes: bytes, gq: Graph, samples: list[list[np.ndarray]],
             labels: np.ndarray | None = None, per_layer_samples: int = 16,
             batch_size: int = 32, run_int8=None) -> dict:
    """Accuracy figures of the int8 model `model_bytes` (graph `gq`) against float graph `gf`.
    `run_int8` runs one sample's int8 inputs and returns its outputs (default: the TFLM
    interpreter; pass a compiled C library's runner to score the code that ships)."""
    from ..frontends.tflite import parse_tflite
    from ..verify import Oracle
    if not samples:
        raise MicrolithError("no evaluation samples")
    if "tflite_index" not in gq.meta:  # an IR graph: take the written file's tensor order
        gq = parse_tflite(model_bytes)
    oracle = Oracle(model_bytes, gq, preserve=per_layer_samples > 0)
    outputs, layers, isolated = _Power(), _Power(), _Power()
    float_nodes = {node.outputs[0]: node for node in gf.nodes}
    agree = top1_f = top1_q = 0
    k = 0
    for xs in batches(gf, samples, batch_size):
        fvals = run_float(gf, xs)
        n = xs[0].shape[0] if all(gf.t(x).shape[:1] == (1,) for x in gf.inputs) else 1
        for j in range(n):
            sample = [samples[k][m] for m in range(len(gf.inputs))]
            qin = int8_inputs(gq, sample)
            outs = (run_int8 or oracle.run)(qin)
            for m, (name_f, name_q, out) in enumerate(zip(gf.outputs, gq.outputs, outs)):
                f = _sample(gf, fvals, name_f, j, n)
                dq = _dequantize(gq, name_q, out)
                outputs.add(str(m), f, dq)
                if m == 0:
                    best_f, best_q = int(np.argmax(f)), int(np.argmax(dq))
                    agree += best_f == best_q
                    if labels is not None:
                        top1_f += best_f == int(labels[k])
                        top1_q += best_q == int(labels[k])
            if k < per_layer_samples:
                for node in gq.nodes:
                    name = node.outputs[0]
                    fname = _float_name(gf, gq, name)
                    if fname is None or gq.t(name).dtype == "float32":
                        continue
                    got = _dequantize(gq, name, oracle.tensor(name))
                    layers.add(name, _sample(gf, fvals, fname, j, n), got)
                    fnode = float_nodes.get(fname)
                    if fnode is not None:  # the same op in float on this op's own int8 inputs
                        ins = [None if y is None else _op_input(gf, gq, oracle, qin, x, y)
                               for x, y in zip(node.inputs, fnode.inputs)]
                        isolated.add(name, run_node(gf, fnode, ins)[0], got)
            k += 1
    keys = [str(m) for m in range(len(gf.outputs))]
    res = {
        "samples": k,
        "argmax_agreement": agree / k,
        "output_sqnr_db": sqnr_db(sum(outputs.sig[m] for m in keys), sum(outputs.noise[m] for m in keys)),
    }
    if labels is not None:
        res.update(top1_float=top1_f / k, top1_int8=top1_q / k)
    if per_layer_samples > 0:
        rows = []
        for i, node in enumerate(gq.nodes):
            name = node.outputs[0]
            if name in layers.sig:
                rows.append({"index": i, "op": node.op.value, "tensor": name, "sqnr_db": layers.db(name),
                             "layer_sqnr_db": isolated.db(name) if name in isolated.sig else None})
        res["per_layer"] = rows
        ranked = [r for r in rows if r["layer_sqnr_db"] is not None]
        res["worst_layer"] = min(ranked, key=lambda r: r["layer_sqnr_db"]) if ranked else None
    return res


def _op_input(gf: Graph, gq: Graph, oracle, qin: list[np.ndarray], name_q: str, name_f: str) -> np.ndarray:
    """An op input for the isolated float run: a float constant as is, an activation as the
    int8 model holds it, dequantized."""
    if name_f in gf.tensors and gf.t(name_f).is_const:
        return const_value(gf, name_f)
    if name_q in gq.inputs:
        q = qin[gq.inputs.index(name_q)]
    else:
        q = oracle.tensor(name_q)
    return _dequantize(gq, name_q, q).astype(np.float32).reshape(gf.t(name_f).shape)


def format_report(res: dict) -> str:
    """A terminal table of the figures `evaluate` returns."""
    out_db = "exact" if res["output_sqnr_db"] is None else f"{res['output_sqnr_db']:.1f} dB"
    lines = [f"samples: {res['samples']}   argmax agreement: {res['argmax_agreement']:.2%}   "
             f"output SQNR: {out_db}"]
    if "top1_float" in res:
        lines.append(f"top-1: float {res['top1_float']:.2%}   int8 {res['top1_int8']:.2%}")
    if res.get("per_layer"):
        lines.append(f"{'#':>3} {'op':<18} {'SQNR dB':>8} {'layer dB':>8}  tensor")
        for r in res["per_layer"]:
            db = "exact" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}"
            own = "" if r["layer_sqnr_db"] is None else f"{r['layer_sqnr_db']:.1f}"
            lines.append(f"{r['index']:>3} {r['op']:<18} {db:>8} {own:>8}  {r['tensor'][:60]}")
        if res.get("worst_layer"):
            w = res["worst_layer"]
            lines.append(f"largest own loss: #{w['index']} {w['op']} '{w['tensor'][:60]}' "
                         f"(SQNR {w['layer_sqnr_db']:.1f} dB on its own int8 inputs)")
    return "\n".join(lines)
