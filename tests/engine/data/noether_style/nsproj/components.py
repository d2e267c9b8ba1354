"""The project's torch side: dataset, model, trainer, callbacks. None declares config_schema: the sections are
narrowed by config_schema_kind alone, and the inherited base config_schema must not veto that."""

from __future__ import annotations

import torch

import engine
from engine.callbacks import PeriodicCallback


class RampDataset(engine.Dataset):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.x = torch.linspace(0, 1, config.num_samples).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        return self.x[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        return 2 * self.x[index] + 1


class LineModel(engine.Model):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.net = torch.nn.Sequential(torch.nn.Linear(1, config.hidden), torch.nn.Linear(config.hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RampTrainer(engine.BaseTrainer):
    def loss_compute(self, outputs, targets):
        return torch.nn.functional.mse_loss(outputs, targets["y"])


class PrintLossCallback(PeriodicCallback):
    def periodic_callback(self, iteration, interval_type: str) -> None:
        print(f"{self.config.prefix} {type(self.config).__name__} at {iteration}")


class CountCallback(PeriodicCallback):
    def periodic_callback(self, iteration, interval_type: str) -> None:
        print(f"count {self.config.start} {type(self.config).__name__} at {iteration}")
