"""Tiny user components for the distributed tests, named by kind ``ddp_components.<Name>`` (the tests put this
directory on ``PYTHONPATH`` of the processes torchrun starts)."""

from __future__ import annotations

import os
import signal

import attrs
import torch
from torch import nn

import engine
from noether.core.schemas import DatasetBaseConfig, ModelBaseConfig
from noether.core.training import TrainingIteration


@attrs.frozen(kw_only=True)
class RegressionConfig(DatasetBaseConfig):
    """A fixed random regression problem."""

    num_samples: int = 64
    """Samples in the dataset."""


class Regression(engine.Dataset):
    """``x`` (8 features) and ``y`` = a fixed linear map of ``x`` plus noise, from seed 0."""

    config_schema = RegressionConfig

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__(config)
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(config.num_samples, 8, generator=generator)
        self.y = self.x @ torch.randn(8, 1, generator=generator) + 0.1 * torch.randn(config.num_samples, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        """Features."""
        return self.x[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        """Target."""
        return self.y[index]


class Mlp(engine.Model):
    """8 -> 16 -> 1 with a GELU."""

    def __init__(self, config: ModelBaseConfig) -> None:
        super().__init__(config)
        self.net = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MseTrainer(engine.BaseTrainer):
    """Mean squared error."""

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(outputs, targets["y"])


class TerminatingCallback(engine.PeriodicCallback):
    """A user callback (by kind) that sends ``TERMINATE_SIGNAL`` (default SIGTERM) to the process of rank
    ``TERMINATE_RANK`` (default 1) after update ``TERMINATE_AT_UPDATE``."""

    def track_after_update_step(self, iteration: TrainingIteration, times) -> None:
        rank = int(os.environ.get("TERMINATE_RANK", 1))
        if int(os.environ.get("RANK", 0)) == rank and iteration.update == int(os.environ["TERMINATE_AT_UPDATE"]):
            os.kill(os.getpid(), getattr(signal, os.environ.get("TERMINATE_SIGNAL", "SIGTERM")))


class KillingCallback(engine.PeriodicCallback):
    """Kill this process with SIGKILL (no clean-up at all) after update ``KILL_AT_UPDATE``."""

    def after_update(self, iteration: TrainingIteration) -> None:
        if iteration.update == int(os.environ["KILL_AT_UPDATE"]):
            os.kill(os.getpid(), signal.SIGKILL)
