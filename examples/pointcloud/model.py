"""A small PointNet: a shared MLP per point, a max-pool over the real points (padding masked out), and a head
that predicts each point's value from its own feature and the shape's global feature."""

from __future__ import annotations

import torch
from torch import nn

import engine
from examples.pointcloud.schemas import PointNetConfig


class PointNet(engine.Model):
    """Per-point regression on padded point clouds: ``forward(position, mask) -> (batch, points, 1)``."""

    config_schema = PointNetConfig

    def __init__(self, config: PointNetConfig) -> None:
        super().__init__(config)
        width = config.hidden
        self.point_mlp = nn.Sequential(nn.Linear(3, width), nn.GELU(), nn.Linear(width, width), nn.GELU())
        self.head = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, 1))

    def forward(self, position: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        features = self.point_mlp(position)
        pooled = features.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        combined = torch.cat([features, pooled[:, None].expand_as(features)], dim=-1)
        return self.head(combined)
