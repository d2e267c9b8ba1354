"""Stop training early: at a fixed point, or when a metric stopped improving."""

from __future__ import annotations

from typing import Any

from noether.core.training import Interval, TrainingIteration

from engine.callbacks.base import EarlyStop, PeriodicCallback
from engine.callbacks.best_checkpoint import higher_is_better, logged_metric


class FixedEarlyStopper(PeriodicCallback):
    """Stop once the run reaches ``stop_at_epoch`` / ``stop_at_update`` / ``stop_at_sample``."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, interval=Interval(every_n_updates=1))
        self.stop_at = TrainingIteration(epoch=config.stop_at_epoch, update=config.stop_at_update,
                                         sample=config.stop_at_sample)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Raise ``EarlyStop`` once the configured point is reached."""
        if interval_type != "eval" and iteration.reached(self.stop_at):
            raise EarlyStop(f"reached {self.stop_at}")


class MetricEarlyStopper(PeriodicCallback):
    """Stop when ``metric_key`` did not strictly improve for ``tolerance`` invocations in a row."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.higher_is_better = higher_is_better(config.metric_key)
        self.best: float | None = None
        self.counter = 0

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Count invocations without improvement; raise ``EarlyStop`` at the tolerance."""
        if interval_type == "eval":
            return
        value = logged_metric(self.run.writer, self.config.metric_key, self)
        if self.best is None or (value > self.best if self.higher_is_better else value < self.best):
            self.best, self.counter = value, 0
            return
        self.counter += 1
        if self.counter >= self.config.tolerance:
            raise EarlyStop(f"{self.config.metric_key} did not improve for {self.counter} evaluations")

    def state_dict(self) -> dict[str, Any]:
        """Best value and counter, so a resumed run keeps its patience."""
        return {"best": self.best, "counter": self.counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``'s values."""
        self.best, self.counter = state["best"], state["counter"]
