"""A small regression problem to try the engine on, and the one toy of the tests and the benchmarks.

``kind: engine.demos.Regression`` (an in-memory ``x -> sin(x @ w)`` regression set drawn from a seeded
generator), ``kind: engine.demos.Mlp`` and ``kind: engine.demos.MseTrainer`` make a complete run without a
project of your own:

```yaml
datasets:
  train: {kind: engine.demos.Regression, num_samples: 256}
model:
  kind: engine.demos.Mlp
  name: mlp
  optimizer_config: {kind: torch.optim.AdamW, lr: 0.001}
trainer:
  kind: engine.demos.MseTrainer
  max_epochs: 2
  effective_batch_size: 16
  forward_properties: [x]
  target_properties: [y]
```

The distributed and resume tests train it in subprocesses, the engine-overhead and accumulation benchmarks time
it (their hand-written loops use ``make_regression`` and ``make_mlp``, so both sides see the same data and
network).
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from noether.core.schemas import DatasetBaseConfig, ModelBaseConfig

from engine.data import Dataset
from engine.models import Model
from engine.trainer import BaseTrainer

__all__ = ["Mlp", "MlpConfig", "MseTrainer", "Regression", "RegressionConfig", "make_mlp", "make_regression"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
"""The dtypes the configs accept, by name."""


@attrs.frozen(kw_only=True)
class RegressionConfig(DatasetBaseConfig):
    """An in-memory regression set."""

    num_samples: int = 64
    """Number of samples."""
    in_features: int = 8
    """Features per sample."""
    dtype: str = attrs.field(default="float32", validator=attrs.validators.in_(DTYPES))
    """Dtype of ``x`` and ``y``: ``float32`` or ``float64``."""
    data_seed: int = 0
    """Seed of the generator that draws the data (the same data in every run, whatever the run's ``seed``)."""


def make_regression(num_samples: int, in_features: int, dtype: torch.dtype = torch.float32,
                    seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``x ~ N(0, 1)`` (``num_samples x in_features``) and ``y = sin(x @ w) + 0.1 * noise`` (``num_samples x 1``),
    drawn in float64 from a generator seeded with ``seed`` and then cast.

    >>> x, y = make_regression(4, 3)
    >>> tuple(x.shape), tuple(y.shape), x.dtype
    ((4, 3), (4, 1), torch.float32)
    >>> bool((make_regression(4, 3)[1] == y).all())
    True
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, in_features, generator=generator, dtype=torch.float64)
    w = torch.randn(in_features, 1, generator=generator, dtype=torch.float64) / in_features**0.5
    y = torch.sin(x @ w) + 0.1 * torch.randn(num_samples, 1, generator=generator, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)


class Regression(Dataset):
    """Properties ``x`` (``in_features``) and ``y`` (1) of ``make_regression``."""

    config_schema = RegressionConfig

    def __init__(self, config: RegressionConfig) -> None:
        super().__init__(config)
        self.x, self.y = make_regression(config.num_samples, config.in_features, DTYPES[config.dtype], config.data_seed)

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        """Features."""
        return self.x[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        """Target."""
        return self.y[index]


@attrs.frozen(kw_only=True)
class MlpConfig(ModelBaseConfig):
    """A three-layer MLP regressor."""

    in_features: int = 8
    """Input features."""
    width: int = 16
    """Hidden width."""
    dtype: str = attrs.field(default="float32", validator=attrs.validators.in_(DTYPES))
    """Parameter dtype: ``float32`` or ``float64``."""


def make_mlp(in_features: int, width: int, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """``Linear(in, w) - GELU - Linear(w, w) - GELU - Linear(w, 1)``: the network of ``Mlp``, also usable bare.

    >>> sum(p.numel() for p in make_mlp(8, 16).parameters())
    433
    """
    return nn.Sequential(
        nn.Linear(in_features, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, 1)
    ).to(dtype)


class Mlp(Model):
    """``make_mlp`` as a model: ``forward(x)`` returns the prediction."""

    config_schema = MlpConfig

    def __init__(self, config: MlpConfig) -> None:
        super().__init__(config)
        self.net = make_mlp(config.in_features, config.width, DTYPES[config.dtype])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The prediction for ``x``."""
        return self.net(x)


class MseTrainer(BaseTrainer):
    """Mean squared error against the ``y`` target."""

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """``mse_loss(outputs, targets["y"])``."""
        return nn.functional.mse_loss(outputs, targets["y"])
