"""Weights & Biases tracker, available with the optional ``wandb`` package (``pip install wandb``)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from noether.core.config import ConfigError, Issue
from noether.core.schemas import WandBTrackerSchema

from engine.trackers.base import Tracker


class WandBTracker(Tracker):
    """Log scalars to a W&B run named after the run id; the resolved config becomes the run's config."""

    def __init__(self, config: WandBTrackerSchema, run_dir: pathlib.Path, run_id: str) -> None:
        try:
            import wandb
        except ImportError:
            raise ConfigError(
                [Issue("tracker.kind", "the WandB tracker needs the 'wandb' package: pip install wandb "
                       "(or use the default TensorBoard tracker by removing the 'tracker' key)")]
            ) from None
        self._wandb = wandb
        self.run = wandb.init(entity=config.entity, project=config.project, mode=config.mode, name=run_id,
                              id=run_id, dir=str(run_dir), resume="allow")

    def log(self, update: int, scalars: Mapping[str, float]) -> None:
        """Log the scalars at step ``update``."""
        self.run.log(dict(scalars), step=update)

    def log_config(self, config_yaml: str, hyperparameters: Mapping[str, float | int | str | bool]) -> None:
        """Attach the hyper-parameters to the run config."""
        self.run.config.update(dict(hyperparameters), allow_val_change=True)

    def close(self) -> None:
        """Finish the W&B run."""
        self.run.finish()
