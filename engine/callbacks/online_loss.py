"""The training loss averaged over the micro-batches since the last invocation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.distributed import all_reduce_sum


class OnlineLossCallback(PeriodicCallback):
    """Log ``loss/online/<name>/<interval>``: the loss over every item trained on since the last log (micro-batch
    means weighted by their item counts, so the value does not depend on how updates are split)."""

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.verbose = bool(getattr(config, "verbose", False))
        self._sums: dict[str, list[torch.Tensor]] = {}
        self._items: list[int | torch.Tensor] = []

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: int | torch.Tensor) -> None:
        """Keep the micro-batch's item-weighted losses (no device sync here)."""
        for name, value in losses.items():
            self._sums.setdefault(name, []).append(value * items)
        self._items.append(items)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Log the weighted means and clear the buffer; a non-finite mean is an error unless ``skip_nan_loss``."""
        if interval_type == "eval" or not self._items:
            return
        items = all_reduce_sum(torch.as_tensor(sum(self._items), dtype=torch.float64).reshape(()).clone())
        for name, values in self._sums.items():
            mean = (all_reduce_sum(torch.stack(values).double().sum().cpu()) / items).item()
            if not math.isfinite(mean) and not self.run.trainer.config.skip_nan_loss:
                raise RuntimeError(
                    f"the training loss {name!r} is {mean} at {iteration}; set trainer.skip_nan_loss: true to skip "
                    "such updates, or lower the learning rate"
                )
            self.run.writer.add_scalar(f"loss/online/{name}/{self.interval_string}", mean, iteration)
        self._sums, self._items = {}, []
