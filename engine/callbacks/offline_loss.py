"""The loss on a named dataset (e.g. the validation split), evaluated at intervals."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.callbacks.ema import ema_factor
from engine.distributed import all_reduce_sum
from engine.prefetch import to_device


class OfflineLossCallback(PeriodicCallback):
    """Log ``loss/<dataset_key>/<name>``: the loss over the whole dataset ``dataset_key``, weighted per
    sample (per item for ``LossOutput`` losses), not a mean of batch means; and ``lossdiff/<dataset_key>/<name>``
    = offline - online when the online loss of the same interval was logged in this update."""

    evaluates = True
    """Runs in evaluation runs (``engine.evaluate``, ``noether-eval``)."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.dataset_key = config.dataset_key
        self._loader = None
        self.model_info: str | None = getattr(config, "model_info", None)
        """``ema=<factor>``: evaluate that EMA's averages and log under ``ema=<factor>/loss/...``."""
        self.averages: Any = None
        """The ``EmaCallback`` keeping the averages of ``model_info`` (linked before training)."""

    @property
    def key_prefix(self) -> str:
        """``""`` for the trained weights, ``ema=<factor>/`` for EMA averages."""
        from engine.callbacks.ema import ema_factor

        factor = ema_factor(self.model_info)
        return "" if factor is None else f"ema={factor}/"

    def before_training(self, iteration: TrainingIteration) -> None:
        """Build the evaluation loader once."""
        from engine.data import make_eval_loader
        from engine.distributed import rank, world_size

        if self.dataset_key not in self.run.datasets:
            raise KeyError(f"{self}: no dataset {self.dataset_key!r}; datasets are {sorted(self.run.datasets)}")
        if len(self.run.datasets[self.dataset_key]) < world_size():  # a rank without samples would skip collectives
            raise ValueError(f"{self}: dataset {self.dataset_key!r} has {len(self.run.datasets[self.dataset_key])} "
                             f"samples, fewer than the {world_size()} processes")
        batch_size = self.config.batch_size or self.run.plan.micro_batch_sizes[0]
        self._loader = make_eval_loader(self.run.datasets[self.dataset_key], batch_size,
                                        num_workers=self.run.num_workers, rank=rank(), world_size=world_size())

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Evaluate the dataset in eval mode and log the per-item weighted losses."""

        model, trainer = self.run.model, self.run.trainer
        was_training = model.training
        model.eval()
        sums: dict[str, torch.Tensor] = {}
        count = torch.zeros((), dtype=torch.float64)
        weights = (self.averages.averages_swapped_in(ema_factor(self.model_info)) if self.averages is not None
                   else contextlib.nullcontext())
        try:
            with weights:
                for batch in self._loader:
                    result = trainer.run_step(model, to_device(batch, self.run.device))
                    items = torch.as_tensor(result.count, dtype=torch.float64).cpu()
                    for name, value in result.losses.items():
                        sums[name] = sums.get(name, 0.0) + value.double().cpu() * items
                    count += items
        finally:
            model.train(was_training)
        total_count = all_reduce_sum(count)
        writer = self.run.writer
        for name, value in sums.items():
            loss = (all_reduce_sum(value) / total_count).item()
            writer.add_scalar(f"{self.key_prefix}loss/{self.dataset_key}/{name}", loss, iteration)
            online = writer.current.get(f"loss/online/{name}/{self.interval_string}")
            if online is not None:
                writer.add_scalar(f"{self.key_prefix}lossdiff/{self.dataset_key}/{name}", loss - online, iteration)
