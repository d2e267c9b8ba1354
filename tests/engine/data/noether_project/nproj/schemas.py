"""The project's config classes, as a Noether user writes them (pydantic)."""

from typing import Annotated, Literal, Union

from pydantic import Field

from noether.core.schemas import ConfigSchema
from noether.core.schemas.callbacks import CheckpointCallbackConfig, PeriodicDataIteratorCallbackConfig
from noether.core.schemas.dataset import DatasetBaseConfig
from noether.core.schemas.models import ModelBaseConfig
from noether.core.schemas.trainers import BaseTrainerConfig


class BlobsConfig(DatasetBaseConfig):
    num_samples: int = Field(64, ge=2, description="Number of points (half of each class).")
    seed: int = Field(0, ge=0, description="Seed of the point positions.")


class ClassifierConfig(ModelBaseConfig):
    hidden: int = Field(16, ge=1, description="Hidden width.")


class AccuracyCallbackConfig(PeriodicDataIteratorCallbackConfig):
    name: Literal["AccuracyCallback"] = "AccuracyCallback"


AnyCallback = Annotated[Union[AccuracyCallbackConfig, CheckpointCallbackConfig], Field(discriminator="name")]


class ClassifierTrainerConfig(BaseTrainerConfig):
    callbacks: list[AnyCallback] | None = Field(None, description="The project's callbacks.")


class ProjectSchema(ConfigSchema):
    datasets: dict[str, BlobsConfig]
    model: ClassifierConfig
    trainer: ClassifierTrainerConfig
