"""Random ellipsoids in a flow along x: every shape has its own number of surface points (variable-size
samples, the reason for a data pipeline) and a per-point target.

The target is the potential-flow-like pressure coefficient ``cp = 2 * (n . e_x)^2 - 1`` at each surface point
(``n``: the unit normal), which depends on where the point sits on the whole shape: a per-point model needs
the global shape to predict it. Nothing is downloaded; each split comes from its own seed.
"""

from __future__ import annotations

import torch

import engine
from examples.pointcloud.schemas import EllipsoidDatasetConfig

SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


def ellipsoid(num_points: int, axes: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_points`` surface points of the ellipsoid with semi-axes ``axes`` and their pressure coefficients."""
    unit = torch.randn(num_points, 3, generator=generator, dtype=torch.float64)
    unit = unit / unit.norm(dim=1, keepdim=True)
    position = unit * axes
    normal = unit / axes
    normal = normal / normal.norm(dim=1, keepdim=True)
    return position.float(), (2 * normal[:, :1] ** 2 - 1).float()


class EllipsoidDataset(engine.Dataset):
    """Properties ``position`` (``points x 3``) and ``pressure`` (``points x 1``); the number of points varies
    from shape to shape."""

    config_schema = EllipsoidDatasetConfig

    def __init__(self, config: EllipsoidDatasetConfig) -> None:
        super().__init__(config)
        if config.min_points > config.max_points:
            raise ValueError(f"min_points must be <= max_points (got {config.min_points} > {config.max_points})")
        generator = torch.Generator().manual_seed(SPLIT_SEEDS[config.split])
        counts = torch.randint(config.min_points, config.max_points + 1, (config.num_samples,), generator=generator)
        axes = 0.5 + torch.rand(config.num_samples, 3, generator=generator, dtype=torch.float64)
        self.shapes = [ellipsoid(int(count), shape_axes, generator) for count, shape_axes in zip(counts, axes)]

    def __len__(self) -> int:
        return len(self.shapes)

    def getitem_position(self, index: int) -> torch.Tensor:
        """The surface points."""
        return self.shapes[index][0]

    def getitem_pressure(self, index: int) -> torch.Tensor:
        """The pressure coefficient at each point."""
        return self.shapes[index][1]
