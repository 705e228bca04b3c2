"""The study driver: Optuna asks for parameters and is told results; workers run the trials.

- Sampler: Optuna's TPE, multi-objective (maximize held-out accuracy, minimize instructions
  per inference), with the board's limits as constraints (a trial over flash, RAM or latency
  is infeasible, and the sampler learns to avoid its region).
- Storage: an SQLite file (default search.db). Only this driver writes it, one row per finished
  trial as soon as it finishes. A search killed at any point resumes from the file: every
  finished trial is kept (with its model), trials that were running are marked failed and run
  again, and the search goes on to the requested number of finished trials.
- Workers: in this process (one worker, no Ray needed), or Ray actors: `--workers K` starts a
  local Ray instance with K workers; `--ray-address` joins an existing cluster (`ray start
  --head` on one machine, `ray start --address HEAD:6379` on the others). Each actor loads the
  data once and checks that its machine has the Arm toolchain and QEMU.
"""
from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

from ..ir import MicrolithError
from .trial import Limits, TrialWorker

STUDY_NAME = "microlith-search"


def _optuna():
    try:
        import optuna
    except ImportError:
        raise MicrolithError("microlith search needs Optuna (and Ray for --workers > 1 / --ray-address): "
                             "pip install 'microlith[search]'") from None
    import warnings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def trial_constraints(frozen) -> list[float]:
    return list(frozen.user_attrs.get("constraints", [0.0, 0.0, 0.0]))


# ----------------------------------------------------------------------------- executors

class InlineExecutor:
    """One worker, in this process."""

    def __init__(self, problem, threads: int | None):
        self.worker = TrialWorker(problem, threads)
        self.hosts = [self.worker.host]
        self.queue: list = []
        self.slots = 1

    def submit(self, key, params, limits):
        self.queue.append((key, params, limits))

    def wait(self):
        key, params, limits = self.queue.pop(0)
        return key, self.worker.run(params, limits)

    def busy(self) -> int:
        return len(self.queue)

    def close(self):
        pass


class RayExecutor:
    """K Ray actors, each holding its data; results come back in finishing order."""

    def __init__(self, problem, workers: int, address: str | None, threads: int | None):
        try:
            import ray
        except ImportError:
            raise MicrolithError("--workers > 1 and --ray-address need Ray: pip install 'microlith[search]'") \
                from None
        import microlith
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            kw = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": False,
                  # the workers import this microlith (shipped to them), not whatever they have installed
                  "runtime_env": {"py_modules": [microlith],
                                  "env_vars": {"PYTHONWARNINGS": "ignore"}}}
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=workers, **kw)
        if address and not workers:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1, max_restarts=0)(TrialWorker)
        self.actors = [actor.remote(problem, threads) for _ in range(workers)]
        try:
            self.hosts = ray.get([a.hello.remote() for a in self.actors])
        except Exception as e:  # the actor's constructor failed: a worker lacks the toolchain or QEMU
            self.close()
            msg = str(e)
            mark = "MicrolithError: "
            raise MicrolithError(msg[msg.rfind(mark) + len(mark):].strip().splitlines()[0] if mark in msg
                                 else f"a Ray worker could not start: {msg.splitlines()[0]}") from None
        self.idle = list(self.actors)
        self.running: dict = {}
        self.slots = workers

    def submit(self, key, params, limits):
        a = self.idle.pop()
        ref = a.run.remote(params, limits)
        self.running[ref] = (key, a)

    def busy(self) -> int:
        return len(self.running)

    def wait(self):
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        ref = ready[0]
        key, a = self.running.pop(ref)
        self.idle.append(a)
        try:
            return key, self.ray.get(ref)
        except Exception as e:  # a worker died (machine lost, killed): the trial failed, the search goes on
            return key, {"status": "error", "reason": f"worker failed: {str(e).splitlines()[0]}"}

    def close(self):
        for a in getattr(self, "actors", []):
            try:
                self.ray.kill(a)
            except Exception:
                pass
        if self.started:
            self.ray.shutdown()


# ----------------------------------------------------------------------------- study

def open_study(path: Path, key: dict, seed: int):
    optuna = _optuna()
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{path}"
    probe = optuna.create_study(storage=storage, study_name=STUDY_NAME, load_if_exists=True,
                                directions=["maximize", "minimize"])
    # a resumed search draws new parameters (the sampler's seed moves on with the trial count)
    # Optuna >= 5 takes constraints from Trial.set_constraint (record()); older ones from constraints_func
    kw = {} if hasattr(optuna.trial.Trial, "set_constraint") else {"constraints_func": trial_constraints}
    sampler = optuna.samplers.TPESampler(seed=seed + len(probe.trials), n_startup_trials=6, multivariate=True, **kw)
    study = optuna.load_study(storage=storage, study_name=STUDY_NAME, sampler=sampler)
    old = study.user_attrs.get("key")
    if old is None:
        study.set_user_attr("key", key)
    elif old != key:
        diff = ", ".join(f"{k}: {old.get(k)!r} there, {key.get(k)!r} now" for k in sorted(set(old) | set(key))
                         if old.get(k) != key.get(k))
        raise MicrolithError(f"{path}: this study file belongs to another search ({diff}); give another --study "
                             "file, or the same settings to resume it")
    return study


def recover(study) -> int:
    """Trials left running by a killed search: marked failed, their parameters queued again."""
    optuna = _optuna()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_system_attr(t._trial_id, "fail_reason", "interrupted (search killed)")
        study._storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
        params = t.params or t.user_attrs.get("params")
        if params:
            study.enqueue_trial(params, user_attrs={k: v for k, v in t.user_attrs.items() if k == "role"})
        n += 1
    return n


def finished(study) -> list:
    optuna = _optuna()
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def record(study, trial, res: dict) -> None:
    """One finished trial into the study (the only writer): values, constraints, footprint, model."""
    optuna = _optuna()
    for k in ("status", "reason", "host", "footprint", "footprint_of", "constraints", "accuracy", "seconds",
              "seconds_footprint", "seconds_training", "pipeline_config"):
        if k in res:
            trial.set_user_attr(k, res[k])
    for k in ("model_bytes", "sample_npy"):
        if k in res:
            trial.set_user_attr(k, base64.b64encode(res[k]).decode("ascii"))
    if res.get("status") == "error":
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    if hasattr(trial, "set_constraint"):
        for name, v in zip(("flash", "ram", "latency"), res["constraints"]):
            trial.set_constraint(name, v)
    instr = float(res["footprint"]["instructions"])
    acc = float(res.get("accuracy", 0.0)) if res["status"] == "trained" else 0.0
    study.tell(trial, [acc, instr])


# ----------------------------------------------------------------------------- progress

def _fmt_s(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Reporter:
    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.enabled, self.stream = total, enabled, stream or sys.stderr
        self.t0 = time.perf_counter()
        self.session_done = 0

    def line(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"  {text}\n")
            self.stream.flush()

    def trial(self, number: int, res: dict, study, in_flight: int) -> None:
        self.session_done += 1
        done = len(finished(study))
        fp = res.get("footprint") or {}
        if res.get("status") == "trained":
            what = f"accuracy {100 * res['accuracy']:.1f}%"
        elif res.get("status") == "rejected":
            what = f"rejected before training ({res['reason']})"
        else:
            what = f"failed: {res.get('reason', '?')}"
        feas = [t for t in finished(study) if t.user_attrs.get("status") == "trained"
                and max(trial_constraints(t)) <= 0]
        best = max(feas, key=lambda t: (t.values[0], -t.values[1]), default=None)
        best_s = (f"best #{best.number} {100 * best.values[0]:.1f}% at {int(best.values[1]):,} instr"
                  if best else "no model within budget yet")
        elapsed = time.perf_counter() - self.t0
        left = max(0, self.total - done)
        eta = elapsed / self.session_done * left if self.session_done else 0
        ins = fp.get("instructions")
        self.line(f"trial #{number}: {what}; " + (f"{ins:,} instr, flash {fp.get('flash_bytes', 0):,} B, "
                                                  f"RAM {fp.get('ram_bytes', 0):,} B" if ins else "")
                  + f" [{res.get('host', '?')}, {res.get('seconds', 0):.0f}s] | done {done}/{self.total}, "
                  f"{best_s} | {_fmt_s(elapsed)} elapsed, ~{_fmt_s(eta)} left")


# ----------------------------------------------------------------------------- search

def run(problem, limits: Limits, *, trials: int = 20, workers: int = 1, ray_address: str | None = None,
        study: str | os.PathLike = "search.db", out: str | os.PathLike = "out/search", seed: int = 0,
        progress: bool = True, stream=None) -> dict:
    """Run (or resume) a search until `trials` trials have finished; returns the results (and writes
    them under `out`: search.json, pareto.md, pareto.png, best_pipeline/)."""
    from . import results
    if trials < 1 or workers < 0:
        raise MicrolithError("search: --trials must be >= 1 and --workers >= 1")
    lim = limits.resolved()
    key = {**problem.key(), "target": limits.target, "limits": lim}
    st = open_study(Path(study), key, seed)
    rep = Reporter(trials, progress, stream)
    interrupted = recover(st)
    done0 = len(finished(st))
    if interrupted:
        rep.line(f"resuming {study}: {done0} finished trials kept, {interrupted} interrupted trial(s) run again")
    elif done0:
        rep.line(f"resuming {study}: {done0} finished trials kept")
    if not st.trials and problem.default:
        st.enqueue_trial(problem.default, user_attrs={"role": "default"})
    use_ray = ray_address is not None or workers > 1
    threads = max(1, (os.cpu_count() or 1) // max(1, workers)) if not ray_address else 1
    t0 = time.perf_counter()
    ex = RayExecutor(problem, workers, ray_address, threads) if use_ray else InlineExecutor(problem, threads)
    try:
        rep.line(f"search {problem.name} on {limits.target}: {trials} trials, {ex.slots} worker(s) on "
                 f"{', '.join(sorted(set(ex.hosts)))}; limits flash {lim['flash_bytes']:,} B, RAM "
                 f"{lim['ram_bytes']:,} B" + (f", latency {lim['latency_ms_est']} ms" if lim["latency_ms_est"] else "")
                 + f"; study {study}")
        pending, failures = {}, 0
        while True:
            need = trials - len(finished(st)) - ex.busy()
            while need > 0 and ex.busy() < ex.slots:
                tr = st.ask()
                params = problem.space(tr)
                tr.set_user_attr("params", params)   # also for spaces that do not suggest through the trial
                pending[tr.number] = tr
                ex.submit(tr.number, params, limits)
                need -= 1
            if not ex.busy():
                break
            number, res = ex.wait()
            tr = pending.pop(number)
            record(st, tr, res)
            rep.trial(number, res, st, ex.busy())
            failures += res.get("status") == "error"
            if failures >= max(3, trials):  # a broken problem: stop instead of retrying forever
                raise MicrolithError(f"search: {failures} trials failed; the last: {res.get('reason')}")
    finally:
        ex.close()
    wall = time.perf_counter() - t0
    return results.collect(st, problem, limits, lim, Path(out), wall_seconds=wall, workers=ex.slots,
                           session_trials=rep.session_done, progress=rep)
