"""The Poisson trainer: mean squared error between predicted and true solutions."""

from __future__ import annotations

import torch

import engine


class PoissonTrainer(engine.BaseTrainer):
    """Train the surrogate on the mean squared error of the solution."""

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean squared error over every grid point of the micro-batch."""
        return torch.nn.functional.mse_loss(outputs, targets["solution"])
