"""Components for the evaluation tests (named by kind ``evaluate_components.Pair``): a composite of two token
MLPs, and helpers that train a small run with validation, EMA and best checkpoints once per test module."""

from __future__ import annotations

import pathlib

import attrs
import torch

import engine
from engine_components import MODULE, TokenDatasetConfig, TokenMlp, TokenMlpConfig, token_config
from noether.core.schemas import ModelBaseConfig
from noether.core.schemas.callbacks import (
    BestCheckpointCallbackConfig,
    CheckpointCallbackConfig,
    EmaCallbackConfig,
    OfflineLossCallbackConfig,
)


@attrs.frozen(kw_only=True)
class PairConfig(ModelBaseConfig):
    """Two token MLPs, applied one after the other (the second maps 2 features back to 3 first)."""

    first: TokenMlpConfig
    """The first submodel."""
    second: TokenMlpConfig
    """The second submodel."""


class Pair(engine.CompositeModel):
    """``first(x) + second(x)``: checkpointed as ``pair.first`` and ``pair.second``."""

    config_schema = PairConfig

    def __init__(self, config: PairConfig) -> None:
        super().__init__(config)
        self.first = TokenMlp(config.first)
        self.second = TokenMlp(config.second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.first(x) + self.second(x)


def datasets() -> dict[str, TokenDatasetConfig]:
    """24 training and 10 validation samples (other data)."""
    return {"train": TokenDatasetConfig(kind=f"{MODULE}.TokenDataset", num_samples=24),
            "val": TokenDatasetConfig(kind=f"{MODULE}.TokenDataset", num_samples=10, data_seed=1)}


def trained_run(output_path: pathlib.Path, **fields) -> engine.RunResult:
    """4 updates of ``TokenMlp`` with the validation loss every update, a best checkpoint by it, EMA 0.9 and
    periodic checkpoints every 2 updates (``E1_U2_S24``, ``E2_U4_S48``)."""
    callbacks = (OfflineLossCallbackConfig(dataset_key="val", every_n_updates=1),
                 BestCheckpointCallbackConfig(metric_key="loss/val/total", every_n_updates=1),
                 EmaCallbackConfig(target_factors=(0.9,), every_n_updates=2),
                 CheckpointCallbackConfig(every_n_updates=2))
    config = token_config(output_path, datasets=datasets(), callbacks=callbacks, **fields)
    return engine.run(attrs.evolve(config, store_code_in_output=False))
