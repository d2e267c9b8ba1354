"""Tiny user components the engine tests name by kind (``engine_components.TokenMlp``): a dataset of token
sequences with a validity mask, a per-token MLP, a trainer with several loss styles, and a callback that records
the weights.

``tests/engine/conftest.py`` puts this directory on ``sys.path``, so the kinds import in any pytest import mode.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import torch
from torch import nn

import engine
from noether.core.schemas import (
    BaseTrainerConfig,
    CallBackBaseConfig,
    ConfigSchema,
    DatasetBaseConfig,
    ModelBaseConfig,
    OptimizerConfig,
)
from noether.core.training import TrainingIteration

MODULE = __name__
"""The import name of this module, the prefix of every kind below."""

INPUT_FEATURES = 3
"""Features of one input token."""
OUTPUT_FEATURES = 2
"""Features of one target token."""


@attrs.frozen(kw_only=True)
class TokenDatasetConfig(DatasetBaseConfig):
    """Random token sequences with a random number (``min_valid_tokens``..``tokens``) of valid tokens per sample."""

    num_samples: int
    """Samples in the dataset."""
    tokens: int = 5
    """Tokens per sample (valid and padding)."""
    min_valid_tokens: int = 1
    """The fewest valid tokens a sample has (0: some samples are all padding)."""
    data_seed: int = 0
    """Seed of the generator that draws the data (the run's seed does not change the data)."""
    dtype: Literal["float32", "float64"] = "float64"
    """Dtype of ``x`` and ``y``."""


class TokenDataset(engine.Dataset):
    """Properties ``x`` (tokens x 3), ``y`` (tokens x 2) and ``mask`` (tokens, True for valid tokens)."""

    config_schema = TokenDatasetConfig

    def __init__(self, config: TokenDatasetConfig) -> None:
        super().__init__(config)
        generator = torch.Generator().manual_seed(config.data_seed)
        dtype = getattr(torch, config.dtype)
        count, tokens = config.num_samples, config.tokens
        self.x = torch.randn(count, tokens, INPUT_FEATURES, generator=generator, dtype=torch.float64).to(dtype)
        self.y = torch.randn(count, tokens, OUTPUT_FEATURES, generator=generator, dtype=torch.float64).to(dtype)
        lengths = torch.randint(config.min_valid_tokens, tokens + 1, (count,), generator=generator)
        self.mask = torch.arange(tokens)[None, :] < lengths[:, None]

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        """Input tokens."""
        return self.x[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        """Target tokens."""
        return self.y[index]

    def getitem_mask(self, index: int) -> torch.Tensor:
        """Which tokens are valid."""
        return self.mask[index]


@attrs.frozen(kw_only=True)
class TokenMlpConfig(ModelBaseConfig):
    """A two-layer MLP applied to every token."""

    hidden: int = 8
    """Hidden features."""
    dtype: Literal["float32", "float64"] = "float64"
    """Dtype of the parameters."""


class TokenMlp(engine.Model):
    """``Linear(3, hidden) -> tanh -> Linear(hidden, 2)`` on every token."""

    config_schema = TokenMlpConfig

    def __init__(self, config: TokenMlpConfig) -> None:
        super().__init__(config)
        self.net = nn.Sequential(nn.Linear(INPUT_FEATURES, config.hidden), nn.Tanh(),
                                 nn.Linear(config.hidden, OUTPUT_FEATURES)).to(getattr(torch, config.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def per_token_loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared error averaged over the output features: one value per token."""
    return ((outputs - y) ** 2).mean(dim=-1)


@attrs.frozen(kw_only=True)
class TokenTrainerConfig(BaseTrainerConfig):
    """The test trainer: which loss style to return and which training steps return a non-finite loss."""

    loss: Literal["mean", "tokens", "parts", "vector"] = "mean"
    """``mean``: a scalar mean over every token; ``tokens``: an ``engine.LossOutput`` summed over the valid
    tokens; ``parts``: a dict of two scalar means; ``vector``: one loss per sample (not a scalar: an error)."""
    nan_steps: tuple[int, ...] = ()
    """Training micro-batches (0-based, counted over the run) whose loss is multiplied by NaN."""
    inf_steps: tuple[int, ...] = ()
    """Training micro-batches (0-based) whose loss is multiplied by Inf."""
    zero_steps: tuple[int, ...] = ()
    """Training micro-batches (0-based) whose loss is multiplied by 0 (a zero gradient)."""


class TokenTrainer(engine.BaseTrainer):
    """Returns the loss style its config asks for; evaluation passes (no grad) are not counted as steps."""

    config_schema = TokenTrainerConfig

    def __init__(self, config: TokenTrainerConfig) -> None:
        super().__init__(config)
        self.training_steps = 0

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> Any:
        """The loss of one micro-batch in the configured style."""
        y, mask = targets["y"], targets["mask"]
        per_token = per_token_loss(outputs, y)
        factor = 1.0
        if torch.is_grad_enabled():
            step = self.training_steps
            self.training_steps += 1
            config = self.config
            factor = (float("nan") if step in config.nan_steps else float("inf") if step in config.inf_steps
                      else 0.0 if step in config.zero_steps else 1.0)
        match self.config.loss:
            case "mean":
                return per_token.mean() * factor
            case "tokens":
                return engine.LossOutput(total=(per_token * mask).sum() * factor, count=mask.sum())
            case "parts":
                squared = (outputs - y) ** 2
                return {"first": squared[..., 0].mean() * factor, "second": squared[..., 1].mean() * factor}
            case "vector":
                return per_token.mean(dim=-1)
        raise AssertionError(self.config.loss)


@attrs.define
class Recording:
    """Weights of one run: before training, after every update (or the evaluation of a ``max_*: 0`` run), and
    after training."""

    initial: dict[str, torch.Tensor] | None = None
    after_interval: list[tuple[str, dict[str, torch.Tensor]]] = attrs.field(factory=list)
    final: dict[str, torch.Tensor] | None = None
    output_dtypes: set[torch.dtype] = attrs.field(factory=set)
    """Dtypes of the model outputs of the training micro-batches."""


RECORDINGS: dict[str, Recording] = {}
"""Callback ``id`` -> what a ``WeightRecorder`` with that id saw in its last run."""


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter, by name."""
    return {name: parameter.detach().clone() for name, parameter in model.named_parameters()}


class WeightRecorder(engine.PeriodicCallback):
    """Record the model's weights into ``RECORDINGS[config.id]`` before training, at every interval and after."""

    def before_training(self, iteration: TrainingIteration) -> None:
        """Start a new recording with the initial weights."""
        RECORDINGS[self.config.id] = Recording(initial=snapshot(self.run.model))

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: Any = None) -> None:
        """Record the dtype of the micro-batch's outputs."""
        RECORDINGS[self.config.id].output_dtypes.add(outputs.dtype)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Record the weights after this interval."""
        RECORDINGS[self.config.id].after_interval.append((str(iteration), snapshot(self.run.model)))

    def after_training(self, iteration: TrainingIteration) -> None:
        """Record the final weights."""
        RECORDINGS[self.config.id].final = snapshot(self.run.model)


def max_difference(first: Mapping[str, torch.Tensor], second: Mapping[str, torch.Tensor]) -> float:
    """The largest absolute difference between two weight dicts with the same names."""
    assert first.keys() == second.keys()
    return max((first[name] - second[name]).abs().max().item() for name in first)


def recorder(record_id: str, every_n_updates: int = 1) -> CallBackBaseConfig:
    """The config of a ``WeightRecorder`` that records into ``RECORDINGS[record_id]``."""
    return CallBackBaseConfig(kind=f"{MODULE}.WeightRecorder", id=record_id, every_n_updates=every_n_updates)


def token_config(
    output_path: pathlib.Path,
    *,
    num_samples: int = 24,
    dtype: Literal["float32", "float64"] = "float64",
    optimizer: OptimizerConfig | None = None,
    tracker: Any = None,
    datasets: Mapping[str, DatasetBaseConfig] | None = None,
    accelerator: Literal["cpu", "gpu"] = "cpu",
    **trainer_fields: Any,
) -> ConfigSchema:
    """A complete run of ``TokenMlp`` on ``TokenDataset`` as a config object: 4 updates of 12 samples (2 per
    epoch) with AdamW on the CPU, tracked every update, no tracker, unless ``trainer_fields`` and the arguments
    say otherwise."""
    trainer = {"kind": f"{MODULE}.TokenTrainer", "max_updates": 4, "effective_batch_size": 12, "track_every_n_updates": 1,
               "forward_properties": ("x",), "target_properties": ("y", "mask"), **trainer_fields}
    return ConfigSchema(
        datasets=dict(datasets) if datasets is not None else {
            "train": TokenDatasetConfig(kind=f"{MODULE}.TokenDataset", num_samples=num_samples, dtype=dtype)},
        model=TokenMlpConfig(
            kind=f"{MODULE}.TokenMlp", name="mlp", dtype=dtype,
            optimizer_config=optimizer or OptimizerConfig(kind="torch.optim.AdamW", lr=0.01, weight_decay=0.1),
        ),
        trainer=TokenTrainerConfig(**trainer),
        tracker=tracker,
        accelerator=accelerator,
        output_path=output_path,
        run_id="test-run",
    )
