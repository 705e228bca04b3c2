"""What a search explores: a dataset, a search space and a training function.

    Dataset(train, buffers, labels)   the user's data: `train` is anything the training function
                                      reads; buffers/labels are the held-out split, raw int16
                                      sensor buffers scored through the compiled C pipeline
    space                             {name: [choices]} or {name: (low, high)} (integers), or a
                                      function(optuna_trial) -> {name: value}
    train(params, data, untrained)    -> microlith.pipeline.Pipeline for these parameters. With
                                      untrained=True it must be quick: random weights with the
                                      real shapes (the footprint is measured on it, before any
                                      training); with untrained=False it trains, then quantizes.

A Problem bundles the three; the applications' problems (search/apps.py) load their data
themselves on each worker, a user's problem carries its Dataset to the workers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..ir import MicrolithError


@dataclass
class Dataset:
    train: Any
    buffers: list
    labels: Any
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.labels = np.asarray(self.labels)
        if len(self.buffers) != len(self.labels) or not len(self.buffers):
            raise MicrolithError(f"search: the held-out split needs one label per buffer and at least one buffer, "
                                 f"got {len(self.buffers)} buffers and {len(self.labels)} labels")


def suggest(space, trial) -> dict:
    """The parameters of one trial from a space: a dict of choices / integer ranges, or a function."""
    if callable(space):
        params = space(trial)
        if not isinstance(params, dict):
            raise MicrolithError("search: a space function must return a dict of parameters")
        return params
    if not isinstance(space, dict) or not space:
        raise MicrolithError("search: the space must be a non-empty dict {name: [choices] or (low, high)} "
                             "or a function(trial) -> dict")
    out = {}
    for name, dom in space.items():
        if isinstance(dom, tuple) and len(dom) == 2 and all(isinstance(v, int) for v in dom):
            out[name] = trial.suggest_int(name, dom[0], dom[1])
        elif isinstance(dom, (list, tuple)) and dom:
            out[name] = trial.suggest_categorical(name, list(dom))
        else:
            raise MicrolithError(f"search: space entry {name!r} must be a list of choices or an integer range "
                                 f"(low, high), got {dom!r}")
    return out


class Problem:
    """A dataset + space + training function. Subclasses (the apps) override load()."""
    name = "custom"

    def __init__(self, data: Dataset | None = None, space=None, train: Callable | None = None,
                 default: dict | None = None, name: str = "custom"):
        self._data, self._space, self._train = data, space, train
        self.default = default   # parameters of a hand-designed model, tried first for comparison
        self.name = name

    def key(self) -> dict:
        """What must match for a study file to be resumed with this problem."""
        return {"problem": self.name}

    def load(self) -> Dataset:
        if self._data is None:
            raise MicrolithError("search: no dataset given")
        return self._data

    def space(self, trial) -> dict:
        return suggest(self._space, trial)

    def train(self, params: dict, data: Dataset, untrained: bool = False, threads: int | None = None):
        return self._train(params, data, untrained)
