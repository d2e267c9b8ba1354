"""The training loss averaged over the micro-batches since the last invocation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.distributed import all_reduce_sum


def item_weighted_sum(means: Sequence[torch.Tensor], items: Sequence[int | torch.Tensor]) -> torch.Tensor:
    """``sum_k means[k] * items[k]`` in float64 on the CPU: per-micro-batch means back to a sum over items.

    >>> item_weighted_sum([torch.tensor(1.0), torch.tensor(4.0)], [3, 1]).item()
    7.0
    """
    weights = torch.as_tensor([float(count) for count in items], dtype=torch.float64)
    return torch.stack(list(means)).double().cpu() @ weights


class OnlineLossCallback(PeriodicCallback):
    """Log ``loss/online/<name>/<interval>``: the loss over every item trained on since the last log (micro-batch
    means weighted by their item counts, so the value does not depend on how updates are split)."""

    def __init__(self, config: Any = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.verbose = bool(getattr(config, "verbose", False))
        self._losses: list[Mapping[str, torch.Tensor]] = []
        self._items: list[int | torch.Tensor] = []

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: int | torch.Tensor) -> None:
        """Keep the micro-batch's losses and item count: two list appends, no tensor work, no device sync."""
        self._losses.append(losses)
        self._items.append(items)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Log the item-weighted means and clear the buffer; a non-finite mean is an error unless ``skip_nan_loss``."""
        if interval_type == "eval" or not self._items:
            return
        total_items = all_reduce_sum(torch.as_tensor(sum(float(items) for items in self._items), dtype=torch.float64))
        for name in self._losses[0]:
            weighted = item_weighted_sum([losses[name] for losses in self._losses], self._items)
            mean = (all_reduce_sum(weighted) / total_items).item()
            if not math.isfinite(mean) and not self.run.trainer.config.skip_nan_loss:
                raise RuntimeError(
                    f"the training loss {name!r} is {mean} at {iteration}; set trainer.skip_nan_loss: true to skip "
                    "such updates, or lower the learning rate"
                )
            self.run.writer.add_scalar(f"loss/online/{name}/{self.interval_string}", mean, iteration)
        self._losses, self._items = [], []
