"""The trainer and clock callbacks that the engine benchmarks name by ``kind``; the data and the network are the
engine's own toy (``engine.demos``: ``Regression``, ``Mlp``, ``make_regression``, ``make_mlp``), the one the tests
train too.

Importable as ``benchmarks._components`` when the repository root is on ``sys.path`` (the benchmark scripts
put it there). Not a test helper and not part of the engine.

- ``MSETrainer``: ``engine.demos.MseTrainer`` that adds ``LoopClock`` as its trainer callback;
- ``LoopClock``: times the training loop alone into ``CLOCK`` (every update: lr schedule, data loading,
  forward, backward, step, callbacks, tracker), without the run's setup, end-of-run checkpoint and teardown,
  and keeps the trained weights in ``FINAL_STATE``;
- ``first_batches``: the batches a hand-written loop of a given number of updates consumes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch

import engine
from engine.demos import MseTrainer
from noether.core.training import Interval, TrainingIteration

CLOCK: dict[str, float] = {}
"""``start`` and ``stop`` (``time.perf_counter()``) of the last run's training loop."""
ON_START: list = []
"""Called (no arguments) right after ``CLOCK["start"]`` is taken, e.g. ``profiler.enable``."""
ON_STOP: list = []
"""Called (no arguments) right before ``CLOCK["stop"]`` is taken, e.g. ``profiler.disable``."""
FINAL_STATE: dict[str, torch.Tensor] = {}
"""A copy of the last run's model ``state_dict`` at the end of training (taken after ``CLOCK["stop"]``)."""


def first_batches(loader: Iterable[Any], count: int) -> Iterator[Any]:
    """The first ``count`` batches of ``loader``, iterated again (a new epoch, reshuffled) as often as needed: the
    batches a hand-written loop of ``count`` updates consumes."""
    done = 0
    while done < count:
        for batch in loader:
            yield batch
            done += 1
            if done == count:
                return


class LoopClock(engine.PeriodicCallback):
    """Record ``CLOCK["start"]`` in ``before_training`` and ``CLOCK["stop"]`` in the ``after_update`` of the last
    update; copy the trained weights into ``FINAL_STATE`` then (after the clock stopped).

    Added by ``MSETrainer.trainer_callbacks``, so it comes after the configured and default callbacks: its
    ``before_training`` is the last hook before the loop and its last ``after_update`` runs after every other
    callback's. The window is the training loop without the run's setup, its end-of-run checkpoint and teardown;
    it leaves out only the tracker flush of the last update. Per update it costs three near-empty method calls
    (``after_update`` and the inherited no-op ``track_*`` hooks), well under a microsecond.
    """

    def __init__(self) -> None:
        super().__init__(interval=Interval(every_n_updates=1))  # unused: after_update is overridden

    def before_training(self, iteration: TrainingIteration) -> None:
        CLOCK["start"] = time.perf_counter()
        for hook in ON_START:
            hook()

    def after_update(self, iteration: TrainingIteration) -> None:
        if iteration.update == self.run.plan.total_updates:
            for hook in ON_STOP:
                hook()
            CLOCK["stop"] = time.perf_counter()
            FINAL_STATE.clear()
            FINAL_STATE.update({key: value.detach().clone() for key, value in self.run.model.state_dict().items()})


class MSETrainer(MseTrainer):
    """Mean squared error on ``y``; adds ``LoopClock``."""

    def trainer_callbacks(self) -> list[engine.Callback]:
        return [LoopClock()]
