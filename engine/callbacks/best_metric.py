"""Other metrics at the moment a source metric was at its best (e.g. the test loss at the best validation loss)."""

from __future__ import annotations

import math
from typing import Any

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.callbacks.best_checkpoint import higher_is_better


class BestMetricCallback(PeriodicCallback):
    """Log ``<target>/at_best/<source>`` for every target metric: its value when ``source_metric_key`` last
    strictly improved, re-logged at every invocation so the curve stays continuous.

    Every key of ``target_metric_keys`` must have been logged in the same update (by callbacks earlier in
    ``trainer.callbacks``); keys of ``optional_target_metric_keys`` are taken when present.
    """

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.source_metric_key: str = config.source_metric_key
        self.target_metric_keys = tuple(config.target_metric_keys or ())
        self.optional_target_metric_keys = tuple(config.optional_target_metric_keys or ())
        if not self.target_metric_keys and not self.optional_target_metric_keys:
            raise ValueError(f"{self}: target_metric_keys: set target_metric_keys or optional_target_metric_keys "
                             "(got neither)")
        self.higher_is_better = higher_is_better(self.source_metric_key)
        self.best = -math.inf if self.higher_is_better else math.inf
        self.metrics_at_best: dict[str, float] = {}
        """Target key -> its value when the source metric was at its best."""

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Compare the source metric with the best so far, remember the targets on an improvement, log them."""
        writer = self.run.writer
        current = writer.current
        missing = [f"{field} {key!r}" for field, keys in (("source_metric_key", (self.source_metric_key,)),
                                                        ("target_metric_keys", self.target_metric_keys))
                   for key in keys if key not in current]
        if missing:
            logged = ", ".join(sorted(current)) or "nothing yet"
            raise ValueError(f"{self}: not logged in this update: {', '.join(missing)} (logged: {logged}); the "
                             "callbacks that log them must come earlier in trainer.callbacks and run at the same "
                             "interval")
        value = current[self.source_metric_key]
        if value > self.best if self.higher_is_better else value < self.best:
            self.best = value
            self.metrics_at_best = {key: current[key] for key in (*self.target_metric_keys,
                                                                  *self.optional_target_metric_keys)
                                    if key in current}
        for key, target_value in self.metrics_at_best.items():
            writer.add_scalar(f"{key}/at_best/{self.source_metric_key}", target_value, iteration)

    def state_dict(self) -> dict[str, Any]:
        """The best source value and the targets remembered with it."""
        return {"best_metric_value": self.best, "metrics_at_best": dict(self.metrics_at_best)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``'s values."""
        self.best = state["best_metric_value"]
        self.metrics_at_best = dict(state["metrics_at_best"])
