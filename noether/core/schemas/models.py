"""Model configs: the model class, its optimizer, initializers and inputs."""

from __future__ import annotations

import attrs

from noether.core.schemas.initializers import AnyInitializer
from noether.core.schemas.optimizers import OptimizerConfig


@attrs.frozen(kw_only=True)
class ModelBaseConfig:
    """A model: its class, unique name, optimizer, initializers and forward inputs."""

    kind: str
    """The model class path."""
    name: str
    """Name of the model, unique in the run; used in checkpoint file names and log keys."""
    optimizer_config: OptimizerConfig | None = None
    """The optimizer of this model. ``None``: the model is not trained (inference only or frozen)."""
    initializers: tuple[AnyInitializer, ...] | None = None
    """Initializers applied in order after the model is built."""
    is_frozen: bool | None = False
    """Freeze the model's parameters (not trained, no optimizer)."""
    forward_properties: tuple[str, ...] | None = ()
    """Batch properties passed to ``forward`` as keyword arguments."""

    @property
    def config_kind(self) -> str:
        """The fully qualified import path of this config class."""
        return f"{type(self).__module__}.{type(self).__qualname__}"
