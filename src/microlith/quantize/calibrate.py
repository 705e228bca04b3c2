"""Activation ranges from the float reference run on calibration samples.

Three ways to turn the observed values of a tensor into its clipping range [lo, hi]:
- "minmax": the observed extremes (what the TFLite converter records);
- "percentile": the `percentile`-th value from the top and from the bottom, which ignores
  rare outliers;
- "mse": the range minimizing the expected int8 quantization error of the observed values
  (rounding noise scale^2/12 inside the range plus the squared clipping error outside).

The last two need the distribution: a second pass over the samples fills a histogram of
`bins` bins per tensor between the extremes found by the first. Exact zeros (ReLU outputs)
are counted apart: zero is always exactly representable, so they add no error.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, MicrolithError
from ..reference_float import run_float

METHODS = ("minmax", "percentile", "mse")


def batches(g: Graph, samples: list[list[np.ndarray]], size: int):
    """Samples stacked per graph input along axis 0, `size` at a time (one at a time if an
    input has no leading batch axis of 1)."""
    if any(not g.t(n).shape or g.t(n).shape[0] != 1 for n in g.inputs):
        size = 1
    for start in range(0, len(samples), size):
        chunk = samples[start:start + size]
        yield [np.concatenate([np.asarray(s[k], np.float32).reshape(g.t(name).shape) for s in chunk], axis=0)
               for k, name in enumerate(g.inputs)]


def _observe(g: Graph, samples, names, batch_size, visit):
    for xs in batches(g, samples, batch_size):
        values = run_float(g, xs)
        for name in names:
            visit(name, values[name])


def collect_ranges(g: Graph, samples: list[list[np.ndarray]], method: str = "minmax",
                   percentile: float = 99.99, bins: int = 2048, batch_size: int = 32,
                   tensors: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """{tensor name: (lo, hi)} for every float activation (or `tensors`), by `method`."""
    if method not in METHODS:
        raise MicrolithError(f"unknown calibration method {method!r}; use one of {', '.join(METHODS)}")
    if not 50.0 < percentile <= 100.0:
        raise MicrolithError(f"percentile must be in (50, 100], not {percentile}")
    if not samples:
        raise MicrolithError("no calibration samples")
    names = tensors if tensors is not None else [n for n in g.activations() if g.t(n).dtype == "float32"]
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}

    def extremes(name, v):
        if v.size:
            lo[name] = min(lo[name], float(v.min()))
            hi[name] = max(hi[name], float(v.max()))

    _observe(g, samples, names, batch_size, extremes)
    for n in names:
        if not np.isfinite(lo[n]) or not np.isfinite(hi[n]):
            raise MicrolithError(f"{g.source or g.name}: tensor '{n}' is not finite on the calibration "
                                 "samples (the float model overflows or divides by zero)")
    if method == "minmax":
        return {n: (lo[n], hi[n]) for n in names}

    hist = {n: np.zeros(bins, np.int64) for n in names}
    zeros = {n: 0 for n in names}

    def fill(name, v):
        # float64: numpy bins float32 values in their own type, and (v - lo) overflows to inf
        # for values near the float32 limit (a model file may hold such constants)
        v = v.reshape(-1).astype(np.float64)
        nz = v[v != 0]
        zeros[name] += v.size - nz.size
        if nz.size and hi[name] > lo[name]:
            hist[name] += np.histogram(nz, bins=bins, range=(lo[name], hi[name]))[0]

    _observe(g, samples, names, batch_size, fill)
    out = {}
    for n in names:
        edges = np.linspace(lo[n], hi[n], bins + 1)
        if method == "percentile":
            out[n] = percentile_range(hist[n], zeros[n], edges, percentile)
        else:
            out[n] = mse_range(hist[n], zeros[n], edges)
    return out


def percentile_range(hist: np.ndarray, zeros: int, edges: np.ndarray, pct: float) -> tuple[float, float]:
    """The (100-pct)-th and pct-th percentiles, interpolated inside a bin; zeros count at 0."""
    total = hist.sum() + zeros
    if total == 0 or edges[-1] <= edges[0]:
        return float(edges[0]), float(edges[-1])
    counts = hist.astype(np.float64).copy()
    if zeros:  # place the exact zeros in the bin holding 0
        k = int(np.clip(np.searchsorted(edges, 0.0, side="right") - 1, 0, len(hist) - 1))
        counts[k] += zeros
    cdf = np.cumsum(counts) / total

    def at(q):
        k = int(np.searchsorted(cdf, q, side="left"))
        k = min(k, len(counts) - 1)
        before = cdf[k - 1] if k else 0.0
        frac = (q - before) / max(cdf[k] - before, 1e-300)
        return float(edges[k] + np.clip(frac, 0, 1) * (edges[k + 1] - edges[k]))

    lo, hi = at(1.0 - pct / 100.0), at(pct / 100.0)
    if pct >= 100.0:
        lo, hi = float(edges[0]), float(edges[-1])
    return min(lo, hi), max(lo, hi)


def mse_range(hist: np.ndarray, zeros: int, edges: np.ndarray, steps: int = 100) -> tuple[float, float]:
    """The clipping range [lo, hi] (lo <= 0 <= hi, on a grid of fractions of the observed
    extremes) with the least expected squared int8 error of the observed values."""
    vmin, vmax = min(float(edges[0]), 0.0), max(float(edges[-1]), 0.0)
    if hist.sum() == 0 or vmax - vmin <= 0:
        return float(edges[0]), float(edges[-1])
    c = (edges[:-1] + edges[1:]) / 2
    n = hist.astype(np.float64)
    # Prefix sums of n, n*c, n*c^2: the clipping error of any threshold in O(1).
    p0 = np.concatenate([[0.0], np.cumsum(n)])
    p1 = np.concatenate([[0.0], np.cumsum(n * c)])
    p2 = np.concatenate([[0.0], np.cumsum(n * c * c)])
    frac = np.linspace(1.0 / steps, 1.0, steps)
    his = vmax * frac if vmax > 0 else np.zeros(1)
    los = vmin * frac if vmin < 0 else np.zeros(1)
    H, L = np.meshgrid(his, los)  # every (lo, hi) pair
    s = (H - L) / 255.0
    ih = np.searchsorted(c, H, side="right")  # bins [ih:] lie above hi
    il = np.searchsorted(c, L, side="left")   # bins [:il] lie below lo
    above = (p2[-1] - p2[ih]) - 2 * H * (p1[-1] - p1[ih]) + H * H * (p0[-1] - p0[ih])
    below = p2[il] - 2 * L * p1[il] + L * L * p0[il]
    inside = (p0[ih] - p0[il]) * s * s / 12.0
    err = above + below + inside
    k = np.unravel_index(int(np.argmin(err)), err.shape)
    return float(L[k]), float(H[k])
