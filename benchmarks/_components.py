"""The model, dataset, trainer and clock callbacks that the engine benchmarks name by ``kind``.

Importable as ``benchmarks._components`` when the repository root is on ``sys.path`` (the benchmark scripts
put it there). Not a test helper and not part of the engine.

- ``MLP``: ``Linear(in, w) - GELU - Linear(w, w) - GELU - Linear(w, 1)``, in float32 or float64;
- ``RegressionDataset``: an in-memory ``(x, y)`` regression set drawn from a seeded generator, properties
  ``x`` and ``y`` read by ``getitem_x`` / ``getitem_y`` (the ordinary engine dataset path);
- ``MSETrainer``: mean squared error; it adds ``LoopClock`` as its trainer callback;
- ``LoopClock``: times the training loop alone into ``CLOCK`` (every update: lr schedule, data loading,
  forward, backward, step, callbacks, tracker), without the run's setup, end-of-run checkpoint and teardown,
  and keeps the trained weights in ``FINAL_STATE``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import torch
from torch import nn

import engine
from noether.core.schemas import BaseTrainerConfig, ModelBaseConfig
from noether.core.schemas.dataset import DatasetBaseConfig
from noether.core.training import Interval, TrainingIteration

DTYPES = {"float32": torch.float32, "float64": torch.float64}

CLOCK: dict[str, float] = {}
"""``start`` and ``stop`` (``time.perf_counter()``) of the last run's training loop."""
ON_START: list = []
"""Called (no arguments) right after ``CLOCK["start"]`` is taken, e.g. ``profiler.enable``."""
ON_STOP: list = []
"""Called (no arguments) right before ``CLOCK["stop"]`` is taken, e.g. ``profiler.disable``."""
FINAL_STATE: dict[str, torch.Tensor] = {}
"""A copy of the last run's model ``state_dict`` at the end of training (taken after ``CLOCK["stop"]``)."""


@attrs.frozen(kw_only=True)
class MLPConfig(ModelBaseConfig):
    """A three-layer MLP regressor."""

    in_features: int = 64
    """Input features."""
    width: int = 32
    """Hidden width."""
    dtype: str = "float32"
    """Parameter dtype: ``float32`` or ``float64``."""


class MLP(engine.Model):
    """``Linear(in, w) - GELU - Linear(w, w) - GELU - Linear(w, 1)``."""

    config_schema = MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__(config)
        self.net = make_mlp(config.in_features, config.width, DTYPES[config.dtype])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_mlp(in_features: int, width: int, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """The network of ``MLP`` (also used bare by the hand-written loops)."""
    return nn.Sequential(
        nn.Linear(in_features, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, 1)
    ).to(dtype)


@attrs.frozen(kw_only=True)
class RegressionDatasetConfig(DatasetBaseConfig):
    """An in-memory regression set."""

    num_samples: int = 64 * 200
    """Number of samples."""
    in_features: int = 64
    """Features per sample."""
    dtype: str = "float32"
    """Dtype of ``x`` and ``y``."""
    data_seed: int = 0
    """Seed of the generator that draws the data."""


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


def make_data(num_samples: int, in_features: int, dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x ~ N(0, 1)`` and ``y = sin(x @ w) + 0.1 * noise`` (shape ``num_samples x 1``), from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, in_features, generator=generator, dtype=torch.float64)
    w = torch.randn(in_features, 1, generator=generator, dtype=torch.float64) / in_features**0.5
    y = torch.sin(x @ w) + 0.1 * torch.randn(num_samples, 1, generator=generator, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)


class RegressionDataset(engine.Dataset):
    """Properties ``x`` (``in_features``) and ``y`` (1) of ``make_data``."""

    config_schema = RegressionDatasetConfig

    def __init__(self, config: RegressionDatasetConfig) -> None:
        super().__init__(config)
        self.x, self.y = make_data(config.num_samples, config.in_features, DTYPES[config.dtype], config.data_seed)

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        return self.x[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        return self.y[index]


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


class MSETrainer(engine.BaseTrainer):
    """Mean squared error on ``y``; adds ``LoopClock``."""

    config_schema = BaseTrainerConfig

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(outputs, targets["y"])

    def trainer_callbacks(self) -> list[engine.Callback]:
        return [LoopClock()]
