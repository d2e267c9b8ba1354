"""Keep the weights of the best value of a logged metric (and, with tolerances, of later models)."""

from __future__ import annotations

import fnmatch
import math
import warnings
from typing import Any

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback, check_model_names

LOWER_IS_BETTER = ("*loss*", "*error*")
HIGHER_IS_BETTER = ("*accuracy*", "*acc*")


def higher_is_better(metric_key: str) -> bool:
    """Whether a larger value of ``metric_key`` is better: accuracy-like keys yes, loss/error keys no; other
    keys are treated as higher-is-better with a warning (as in Noether).

    >>> higher_is_better("loss/val/total"), higher_is_better("accuracy/val")
    (False, True)
    """
    if any(fnmatch.fnmatch(metric_key, pattern) for pattern in HIGHER_IS_BETTER):
        return True
    if any(fnmatch.fnmatch(metric_key, pattern) for pattern in LOWER_IS_BETTER):
        return False
    warnings.warn(f"cannot tell whether higher {metric_key!r} is better; assuming it is", stacklevel=2)
    return True


def logged_metric(writer: Any, metric_key: str, callback: Any) -> float:
    """The value of ``metric_key`` logged for the current update by an earlier callback."""
    if metric_key not in writer.current:
        available = ", ".join(sorted(writer.current)) or "nothing yet"
        raise KeyError(
            f"{callback}: metric {metric_key!r} was not logged in this update (logged: {available}); the callback "
            "that logs it must come earlier in trainer.callbacks and run at the same interval"
        )
    return writer.current[metric_key]


class BestCheckpointCallback(PeriodicCallback):
    """Save ``best_model.<metric>`` (weights only) whenever ``metric_key`` strictly improves. With
    ``tolerances``, also save the current model as ``best_model.<metric>.tolerance=<t>`` the first time
    the metric failed to improve more than ``t`` times in a row."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.metric_key = config.metric_key
        self.higher_is_better = higher_is_better(self.metric_key)
        self.tolerances = tuple(config.tolerances or ())
        self.best = -math.inf if self.higher_is_better else math.inf
        self.tolerance_counter = 0
        self.exceeded: dict[int, float] = {}
        prefix = self.metric_key.split("/", 1)[0]
        self.model_info: str | None = prefix if prefix.startswith("ema=") and "/" in self.metric_key else None
        """``ema=<factor>`` when ``metric_key`` is an EMA metric (``ema=0.999/loss/val/total``): the best EMA
        averages are saved (``{model}_ema=<factor>_cp=best_model.<metric>``) instead of the trained weights."""
        self.model_info_field = "metric_key"
        self.averages: Any = None
        """The ``EmaCallback`` keeping the averages of ``model_info`` (linked before training)."""

    def setup(self, run: Any) -> None:
        """Check ``model_names`` against the run's models."""
        super().setup(run)
        check_model_names(self, self.config.model_names)

    @property
    def tag(self) -> str:
        """``best_model.<metric_key with '/' -> '.'>``."""
        return "best_model." + self.metric_key.replace("/", ".")

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Compare the metric with the best so far and save."""
        value = logged_metric(self.run.writer, self.metric_key, self)
        improved = value > self.best if self.higher_is_better else value < self.best
        save = self.run.checkpoints.save
        if self.averages is not None:
            from engine.callbacks.ema import ema_factor

            factor = ema_factor(self.model_info)

            def save(tag: str, iteration: TrainingIteration, *, weights: bool, model_names: Any) -> None:
                self.averages.save_averages(tag, iteration, factor, model_names)
        if improved:
            self.best, self.tolerance_counter, self.exceeded = value, 0, {}
            save(self.tag, iteration, weights=True, model_names=self.config.model_names)
            return
        self.tolerance_counter += 1
        for tolerance in self.tolerances:
            if tolerance not in self.exceeded and self.tolerance_counter > tolerance:
                self.exceeded[tolerance] = value
                if math.isfinite(self.best):
                    save(f"{self.tag}.tolerance={tolerance}", iteration, weights=True, model_names=self.config.model_names)

    def state_dict(self) -> dict[str, Any]:
        """Best value, tolerance counter and the exceeded tolerances (so a resumed run keeps comparing)."""
        return {"best_metric_value": self.best, "tolerance_counter": self.tolerance_counter,
                "metric_at_exceeded_tolerance": dict(self.exceeded)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``'s values."""
        self.best = state["best_metric_value"]
        self.tolerance_counter = state["tolerance_counter"]
        self.exceeded = dict(state["metric_at_exceeded_tolerance"])
