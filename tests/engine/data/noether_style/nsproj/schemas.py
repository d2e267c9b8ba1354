"""The project's config classes (no torch needed)."""

from __future__ import annotations

from typing import Annotated, Literal

import attrs

from noether.core.schemas import (
    BaseTrainerConfig,
    CallBackBaseConfig,
    CheckpointCallbackConfig,
    ConfigSchema,
    DatasetBaseConfig,
    Discriminator,
    ModelBaseConfig,
)


@attrs.frozen(kw_only=True)
class RampDatasetConfig(DatasetBaseConfig):
    """Samples x -> 2x + 1."""

    num_samples: int = 16
    """Number of samples."""


@attrs.frozen(kw_only=True)
class LineModelConfig(ModelBaseConfig):
    """A linear model."""

    hidden: int = 4
    """Hidden width."""


@attrs.frozen(kw_only=True)
class PrintLossCallbackConfig(CallBackBaseConfig):
    """Prints a marker line."""

    name: Literal["PrintLossCallback"] = "PrintLossCallback"
    """The callback's name (the union's tag)."""
    prefix: str = ">>"
    """Text in front of each line."""


@attrs.frozen(kw_only=True)
class CountCallbackConfig(CallBackBaseConfig):
    """Counts its calls."""

    name: Literal["CountCallback"] = "CountCallback"
    """The callback's name (the union's tag)."""
    start: int = 0
    """First count."""


AnyProjectCallback = Annotated[
    PrintLossCallbackConfig | CountCallbackConfig | CheckpointCallbackConfig, Discriminator("name")
]
"""The project's callbacks, chosen by ``name``."""


@attrs.frozen(kw_only=True)
class RampTrainerConfig(BaseTrainerConfig):
    """The trainer with the project's callbacks."""

    callbacks: tuple[AnyProjectCallback, ...] | None = None
    """Callbacks, dispatched by name."""


@attrs.frozen(kw_only=True)
class ProjectSchema(ConfigSchema):
    """The root config: narrows model, trainer and datasets to the project's classes."""

    datasets: dict[str, RampDatasetConfig]
    """Datasets."""
    model: LineModelConfig
    """The model."""
    trainer: RampTrainerConfig
    """The trainer."""


class NotDecoratedSchema(ConfigSchema):
    """A schema subclass someone forgot to decorate."""

    extra: int = 1
