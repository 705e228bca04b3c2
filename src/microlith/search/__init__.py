"""`microlith search`: the most accurate model that fits a board, measured on the emulated board.

    problem.py   Dataset, the search space, Problem (dataset + space + training function)
    apps.py      the search problems of the kws, bearing and ecg applications
    trial.py     one trial, footprint first (untrained candidate profiled, then trained and scored)
    driver.py    the Optuna study (multi-objective, constraints, SQLite storage, resume) and the
                 workers (in process, or Ray actors: local or on a cluster)
    results.py   Pareto front table and plot, the best model as a pipeline folder
"""
from __future__ import annotations

from .problem import Dataset, Problem
from .trial import Limits


def search(data=None, space=None, train=None, *, app: str | None = None, target: str = "nrf52840",
           max_latency_ms: float | None = None, max_ram: int | None = None, max_flash: int | None = None,
           trials: int = 20, workers: int = 1, ray_address: str | None = None, study="search.db",
           out="out/search", seed: int = 0, default: dict | None = None, progress: bool = True,
           app_options=None, epochs: int | None = None) -> dict:
    """Search DSP front end + model for the most accurate pipeline that fits `target`.

    Your own problem: `data` a Dataset(train, buffers, labels) (buffers/labels: the held-out
    split, raw int16 sensor buffers); `space` {name: [choices] or (low, high)} or a function of
    an Optuna trial; `train(params, data, untrained) -> microlith.pipeline.Pipeline` (untrained:
    random weights, real shapes, for the footprint). `default` (optional): parameters of your
    hand-designed model, tried first for comparison.
    Or an application's: app="kws"|"bearing"|"ecg" (app_options: microlith.apps.AppOptions).

    Returns the results dict (rows, pareto, best, summary, best_pipeline, pareto_png) and writes
    them under `out`; the study (every finished trial) is kept in the SQLite file `study`.
    """
    from . import driver
    if app is not None:
        from ..apps.common import AppOptions, cache_dir, data_dir
        from ..ir import MicrolithError
        from .apps import PROBLEMS, dsp_variant
        if app not in PROBLEMS:
            raise MicrolithError(f"search: unknown application {app!r}; choose one of {', '.join(PROBLEMS)}")
        opts = app_options or AppOptions()
        # resolved here, so workers elsewhere (Ray) read the same folders
        opts.data, opts.cache, opts.progress = str(data_dir(opts).resolve()), str(cache_dir(opts).resolve()), False
        problem = PROBLEMS[app](opts, epochs, dsp_variant(target))
    else:
        problem = Problem(data, space, train, default=default)
    limits = Limits(target, max_flash=max_flash, max_ram=max_ram, max_latency_ms=max_latency_ms)
    return driver.run(problem, limits, trials=trials, workers=workers, ray_address=ray_address, study=study,
                      out=out, seed=seed, progress=progress)


__all__ = ["Dataset", "Limits", "Problem", "search"]
