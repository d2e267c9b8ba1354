"""Config classes of the point-cloud example: what its dataset and model read from YAML (no torch needed)."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas import DatasetBaseConfig, ModelBaseConfig
from noether.core.schemas._checks import at_least


@attrs.frozen(kw_only=True)
class EllipsoidDatasetConfig(DatasetBaseConfig):
    """Random ellipsoids in a flow along x: surface points and the pressure coefficient at each point."""

    split: Literal["train", "val", "test"]
    """Which split; each is generated from its own seed."""
    num_samples: int = attrs.field(validator=at_least(1))
    """Number of shapes in the split."""
    min_points: int = attrs.field(default=200, validator=at_least(1))
    """Fewest surface points of a shape."""
    max_points: int = attrs.field(default=800, validator=at_least(1))
    """Most surface points of a shape (each shape draws its count from [min_points, max_points])."""


@attrs.frozen(kw_only=True)
class PointNetConfig(ModelBaseConfig):
    """A PointNet-style per-point regressor: a shared point MLP, a masked max-pool, a per-point head."""

    hidden: int = attrs.field(default=64, validator=at_least(1))
    """Width of the point MLP and of the global feature."""
