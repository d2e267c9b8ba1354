"""The training loss averaged over the micro-batches since the last invocation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.distributed import all_reduce_sum


def item_weights(items: Sequence[int | torch.Tensor], device: torch.device) -> torch.Tensor:
    """The micro-batches' item counts as one float64 vector on ``device``, without reading a count on the host.

    >>> item_weights([3, torch.tensor(1)], torch.device("cpu"))
    tensor([3., 1.], dtype=torch.float64)
    """
    if not any(isinstance(count, torch.Tensor) for count in items):
        return torch.tensor(items, dtype=torch.float64, device=device)
    return torch.stack([torch.as_tensor(count, device=device).to(torch.float64) for count in items])


def item_weighted_sum(means: Sequence[torch.Tensor], items: Sequence[int | torch.Tensor]) -> torch.Tensor:
    """``sum_k means[k] * items[k]`` in float64 on the means' device: per-micro-batch means back to a sum over items.

    >>> item_weighted_sum([torch.tensor(1.0), torch.tensor(4.0)], [3, 1]).item()
    7.0
    """
    stacked = torch.stack(list(means)).double()
    return stacked @ item_weights(items, stacked.device)


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
        """Log the item-weighted means and clear the buffer; a non-finite mean is an error unless ``skip_nan_loss``.

        The sums stay on the device until one all-reduce and one host read of every name's sum and the item
        count together (this is the only place the online loss leaves the device)."""
        if interval_type == "eval" or not self._items:
            return
        names = list(self._losses[0])
        means = torch.stack([torch.stack([losses[name] for losses in self._losses]) for name in names]).double()
        weights = item_weights(self._items, means.device)
        *sums, total_items = all_reduce_sum(torch.cat([means @ weights, weights.sum().reshape(1)])).tolist()
        for name, summed in zip(names, sums, strict=True):
            mean = summed / total_items
            if not math.isfinite(mean) and not self.run.trainer.config.skip_nan_loss:
                raise RuntimeError(
                    f"the training loss {name!r} is {mean} at {iteration}; set trainer.skip_nan_loss: true to skip "
                    "such updates, or lower the learning rate"
                )
            self.run.writer.add_scalar(f"loss/online/{name}/{self.interval_string}", mean, iteration)
        self._losses, self._items = [], []
