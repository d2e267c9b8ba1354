"""The point-cloud trainer: squared error summed over the real points, counted per point.

Returning an ``engine.LossOutput`` (a sum and its count) makes the loss a mean over the points of the whole
update, whatever the padding and however the update is split into micro-batches or processes.
"""

from __future__ import annotations

import torch

import engine


class PointCloudTrainer(engine.BaseTrainer):
    """Masked per-point mean squared error of the pressure."""

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> engine.LossOutput:
        """Squared errors of the real points (``mask``), summed, with the number of real points."""
        mask = targets["mask"]
        squared = (outputs - targets["pressure"]).square().squeeze(-1) * mask
        return engine.LossOutput(total=squared.sum(), count=mask.sum())
