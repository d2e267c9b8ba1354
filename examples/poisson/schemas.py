"""Config classes of the Poisson example: what its dataset and model read from YAML (no torch needed)."""

from __future__ import annotations

import attrs

from noether.core.schemas import ConfigSchema, ModelBaseConfig, StandardDatasetConfig
from noether.core.schemas._checks import at_least


@attrs.frozen(kw_only=True)
class PoissonDatasetConfig(StandardDatasetConfig):
    """Random source terms on a periodic grid and the Poisson solutions, generated from the split's seed."""

    num_samples: int = attrs.field(validator=at_least(1))
    """Number of (source, solution) pairs in the split."""
    grid_size: int = attrs.field(default=32, validator=at_least(4))
    """Points per side of the square grid."""


@attrs.frozen(kw_only=True)
class PoissonModelConfig(ModelBaseConfig):
    """A small Fourier neural operator mapping a source term to its solution."""

    hidden_channels: int = attrs.field(default=32, validator=at_least(1))
    """Channels of the hidden layers."""
    modes: int = attrs.field(default=8, validator=at_least(1))
    """Fourier modes per direction kept by each spectral layer (at most ``grid_size // 2``)."""


@attrs.frozen(kw_only=True)
class PoissonConfigSchema(ConfigSchema):
    """The root config of the Poisson example."""

    datasets: dict[str, PoissonDatasetConfig]
    """The train and validation splits."""
    model: PoissonModelConfig
    """The surrogate model."""
