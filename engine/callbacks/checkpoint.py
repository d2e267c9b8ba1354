"""Periodic checkpoints, the rolling ``latest`` and the final ``last``."""

from __future__ import annotations

from typing import Any

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback, check_model_names


class CheckpointCallback(PeriodicCallback):
    """Save ``E{e}_U{u}_S{s}`` checkpoints at every interval (weights, and the optimizer with ``save_optim``),
    overwrite ``latest`` (``save_latest_weights`` / ``save_latest_optim``) and save ``last`` after training.

    The trainer state (for an exact resume) is saved with every checkpoint. ``latest`` always holds weights,
    optimizer and trainer state when either latest flag is set, so it can always be resumed exactly (in
    Noether the default flags leave ``latest`` without optimizer state, which cannot be resumed)."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        if not (config.save_weights or config.save_optim or config.save_latest_weights or config.save_latest_optim):
            raise ValueError(f"{self}: at least one of save_weights, save_optim, save_latest_weights, "
                             "save_latest_optim must be true")

    def setup(self, run: Any) -> None:
        """Check ``model_names`` against the run's models."""
        super().setup(run)
        check_model_names(self, self.config.model_names)

    def _save(self, tag: str, iteration: TrainingIteration, weights: bool, optim: bool) -> None:
        if weights or optim:
            self.run.checkpoints.save(tag, iteration, weights=weights, optim=optim, trainer=True,
                                      model_names=self.config.model_names)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Save the iteration's checkpoint and refresh ``latest``."""
        if interval_type == "eval":
            return
        self._save(str(iteration), iteration, self.config.save_weights, self.config.save_optim)
        if self.config.save_latest_weights or self.config.save_latest_optim:
            self._save("latest", iteration, True, True)

    def after_training(self, iteration: TrainingIteration) -> None:
        """Save ``last`` with the same contents as the periodic checkpoints."""
        self._save("last", iteration, self.config.save_weights, self.config.save_optim)
