"""The callbacks every run gets (``trainer.add_default_callbacks``): dataset sizes, parameter counts,
progress lines, train time, peak memory (CUDA), learning rate / weight decay per group, the online loss."""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from noether.core.schemas import BaseTrainerConfig
from noether.core.training import Interval, TrainingIteration, TrainingPlan, default_intervals

from engine.callbacks.base import Callback, PeriodicCallback
from engine.callbacks.online_loss import OnlineLossCallback, item_weights
from engine.distributed import all_reduce_sum


class DatasetStatsCallback(Callback):
    """Record ``ds_stats/<key>/len`` for every dataset and print the sizes."""

    def before_training(self, iteration: TrainingIteration) -> None:
        """Log the dataset sizes once."""
        for key, dataset in self.run.datasets.items():
            self.run.writer.add_summary(f"ds_stats/{key}/len", len(dataset))
        if self.run.is_main_process:
            print("datasets: " + ", ".join(f"{key} {len(dataset)}" for key, dataset in self.run.datasets.items()))


class ParamCountCallback(Callback):
    """Record ``param_count/<model>/trainable`` and ``/frozen``; print the total."""

    def before_training(self, iteration: TrainingIteration) -> None:
        """Count the parameters once."""
        from engine.models import named_models

        total = 0
        for name, model in named_models(self.run.model).items():
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
            self.run.writer.add_summary(f"param_count/{name}/trainable", trainable)
            self.run.writer.add_summary(f"param_count/{name}/frozen", frozen)
            total += trainable + frozen
        self.run.writer.add_summary("param_count/total", total)
        if self.run.is_main_process:
            print(f"parameters: {total:,}")


class ProgressCallback(PeriodicCallback):
    """Print a progress line at the log interval: position, mean loss since the last line, lr, speed, ETA.
    On a terminal the line between two log points is refreshed in place every second."""

    def __init__(self, interval: Interval) -> None:
        super().__init__(interval=interval)
        self._losses: list[torch.Tensor] = []
        self._items: list[int | torch.Tensor] = []
        self._started = self._last_refresh = time.perf_counter()
        self._first_update = 0
        self._tty = sys.stdout.isatty()

    def before_training(self, iteration: TrainingIteration) -> None:
        """Start the clock."""
        self._started = self._last_refresh = time.perf_counter()
        self._first_update = iteration.update

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: int | torch.Tensor) -> None:
        """Keep the micro-batch's total loss and item count (no tensor work here)."""
        self._losses.append(losses["total"])
        self._items.append(items)

    def track_after_update_step(self, iteration: TrainingIteration, times: Mapping[str, float]) -> None:
        """Refresh the terminal status line at most once a second."""
        if self._tty and self.run.is_main_process:
            now = time.perf_counter()
            if now - self._last_refresh >= 1.0:
                self._last_refresh = now
                sys.stdout.write("\r" + self._line(iteration, None) + "\x1b[K")
                sys.stdout.flush()

    def _line(self, iteration: TrainingIteration, loss: float | None) -> str:
        plan = self.run.plan
        elapsed = time.perf_counter() - self._started
        done = iteration.update - self._first_update
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = (plan.total_updates - iteration.update) / rate if rate > 0 else 0.0
        parts = [f"E{iteration.epoch}/{plan.total_epochs} U{iteration.update}/{plan.total_updates}"]
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        for name, optimizer in self.run.optimizers.items():
            lr = next(iter(optimizer.current_values().values()))["lr"]
            parts.append(f"lr {lr:.3g}" if len(self.run.optimizers) == 1 else f"lr/{name} {lr:.3g}")
        parts.append(f"{rate:.1f} updates/s")
        parts.append(f"ETA {datetime.timedelta(seconds=round(remaining))}")
        return " | ".join(parts)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Print the line with the mean loss since the previous line, over the items of every process."""
        if interval_type == "eval":
            return
        loss = None
        if self._losses:  # every process has the same number of micro-batches: all join the reduction or none
            weights = item_weights(self._items, self._losses[0].device)
            sums = all_reduce_sum(torch.stack([torch.stack(self._losses).double() @ weights, weights.sum()]))
            summed, items = sums.tolist()
            loss = summed / items  # one host read per printed line
        self._losses, self._items = [], []
        if not self.run.is_main_process:
            return
        validation = {k: v for k, v in self.run.writer.current.items() if k.startswith("loss/") and "/online/" not in k}
        extra = "".join(f" | {key} {value:.4g}" for key, value in validation.items())
        print(("\r" if self._tty else "") + self._line(iteration, loss) + extra + ("\x1b[K" if self._tty else ""), flush=True)


class TrainTimeCallback(PeriodicCallback):
    """Log ``train_time/<kind>/mean/<interval>`` (seconds per update: ``update``, ``data_wait``) and the
    total training time at the end."""

    def __init__(self, interval: Interval) -> None:
        super().__init__(interval=interval)
        self._sums: dict[str, float] = {}
        self._count = 0
        self._total = 0.0

    def track_after_update_step(self, iteration: TrainingIteration, times: Mapping[str, float]) -> None:
        """Accumulate the update's times."""
        for key, value in times.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1
        self._total += times.get("update", 0.0)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Log the mean times since the last invocation."""
        if self._count:
            for key, value in self._sums.items():
                self.run.writer.add_scalar(f"train_time/{key}/mean/{self.interval_string}", value / self._count, iteration)
        self._sums, self._count = {}, 0

    def after_training(self, iteration: TrainingIteration) -> None:
        """Record the total training time (seconds, excluding callbacks' own work)."""
        self.run.writer.add_summary("train_time/total_seconds", self._total)


class PeakMemoryCallback(PeriodicCallback):
    """Log ``peak_memory/gb/<interval>``: the CUDA memory peak since the last log (CUDA runs only)."""

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Log and reset the peak."""
        device = self.run.device
        self.run.writer.add_scalar(f"peak_memory/gb/{self.interval_string}",
                                   torch.cuda.max_memory_allocated(device) / 2**30, iteration)
        torch.cuda.reset_peak_memory_stats(device)


class LrCallback(PeriodicCallback):
    """Log ``optim/lr/<model>/<group>`` (and ``optim/wd/<model>/<group>`` with a weight-decay schedule) after
    the first update and at the interval: the values the update used."""

    def after_update(self, iteration: TrainingIteration) -> None:
        """Also log after the very first update of the run."""
        if iteration.update == self.run.plan.start.update + 1 and not self.interval.due_after_update(
                iteration, self.run.plan.effective_batch_size):
            self.periodic_callback(iteration, "update")
        else:
            super().after_update(iteration)

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Log every group's learning rate (and weight decay)."""
        add = self.run.writer.add_scalar
        for model_name, optimizer in self.run.optimizers.items():
            for group, values in optimizer.current_values().items():
                add(f"optim/lr/{model_name}/{group}", values["lr"], iteration)
                if optimizer.has_weight_decay_schedule:
                    add(f"optim/wd/{model_name}/{group}", values["weight_decay"], iteration)


def default_callbacks(config: BaseTrainerConfig, plan: TrainingPlan, device: torch.device,
                      configured: Sequence[Callback] = ()) -> list[Callback]:
    """The default callbacks in order. With nothing to train (``max_*: 0``) only the summaries. The default online
    loss is left out when a ``configured`` one already logs at the track interval (same keys)."""
    callbacks: list[Callback] = [DatasetStatsCallback(), ParamCountCallback()]
    if plan.total_updates <= plan.start.update:
        return callbacks
    log, track = default_intervals(config, plan)
    callbacks += [ProgressCallback(log), TrainTimeCallback(log)]
    if device.type == "cuda":
        callbacks.append(PeakMemoryCallback(interval=log))
    callbacks.append(LrCallback(interval=track))
    if not any(isinstance(c, OnlineLossCallback) and c.interval == track for c in configured):
        callbacks.append(OnlineLossCallback(interval=track))  # one online loss per interval: no duplicate keys
    return callbacks
