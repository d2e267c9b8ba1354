"""The callback framework: ``Callback`` for run-level hooks, ``PeriodicCallback`` for work at intervals.

Hook order (reference section 4.13): ``before_training``; per micro-batch ``track_after_accumulation_step``;
per update ``track_after_update_step`` then ``after_update``; at each completed epoch ``after_epoch``;
``after_training``. Callbacks receive the run's ``RunContext`` once (``setup``) and the current
``TrainingIteration`` at every hook; they never reach into the trainer's loop state.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from noether.core.training import Interval, TrainingIteration, TrainingPlan

if TYPE_CHECKING:
    import torch

    from engine.checkpoint import CheckpointWriter
    from engine.trackers import LogWriter
    from engine.trainer import BaseTrainer


@attrs.frozen(kw_only=True)
class RunContext:
    """What a callback may use: the run's fixed objects, built once before training."""

    trainer: BaseTrainer
    """The trainer (``train_step`` runs a forward pass and the loss, e.g. for offline evaluation)."""
    model: torch.nn.Module
    """The model being trained (not wrapped by DDP or ``torch.compile``)."""
    optimizers: Mapping[str, Any]
    """Model name -> ``OptimizerWrapper`` of every trained (sub)model."""
    datasets: Mapping[str, Any]
    """Dataset key -> dataset (wrappers and normalizers applied)."""
    plan: TrainingPlan
    """Batch sizes, updates per epoch and the run's length."""
    writer: LogWriter
    """Where scalars are logged."""
    checkpoints: CheckpointWriter
    """Writes model / optimizer / trainer checkpoints of this run."""
    run_dir: pathlib.Path
    """``<output_path>/<run_id>[/<stage_name>]``."""
    device: torch.device
    """The device the model lives on."""
    is_main_process: bool = True
    """True on rank 0: the only process that prints, tracks and writes files."""
    num_workers: int = 0
    """Data-loader worker processes for evaluation loaders."""


class Callback:
    """Base of every callback: run-level hooks and an optional resumable state. All hooks are no-ops."""

    def __init__(self, config: Any = None) -> None:
        self.config = config
        self.run: RunContext | None = None

    @property
    def checkpoint_key(self) -> str:
        """Key of this callback's state in the trainer checkpoint: the config's ``id``, else the class name."""
        return getattr(self.config, "id", None) or type(self).__name__

    def setup(self, run: RunContext) -> None:
        """Receive the run's context; called once before ``before_training``."""
        self.run = run

    def before_training(self, iteration: TrainingIteration) -> None:
        """Called once before the first update (also for a resumed run), under ``no_grad``."""

    def after_training(self, iteration: TrainingIteration) -> None:
        """Called once after the last update, also after an early stop or a signal, under ``no_grad``."""

    def state_dict(self) -> dict[str, Any] | None:
        """The state to restore on resume; ``None`` for a stateless callback."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state returned by ``state_dict``."""

    def __str__(self) -> str:
        return type(self).__name__


def check_model_names(callback: Callback, model_names: Sequence[str] | None) -> None:
    """``model_names`` of a checkpoint callback must name models of the run (``<composite>.<attribute>`` for
    submodels); otherwise its checkpoints would silently hold no weights.

    Raises:
        ValueError: naming the unknown names, the closest known ones and every known name.
    """
    from noether.core.config.errors import did_you_mean

    from engine.models import named_models

    known = list(named_models(callback.run.model))
    unknown = [name for name in model_names or () if name not in known]
    if unknown:
        hints = "".join(did_you_mean(name, known) for name in unknown)
        raise ValueError(f"{callback}: model_names {unknown} are not models of this run (models: {known}){hints}")


class PeriodicCallback(Callback):
    """A callback whose ``periodic_callback`` runs every ``every_n_epochs`` / ``every_n_updates`` /
    ``every_n_samples`` (exactly one, from its config) and at an evaluation-only run (``interval_type="eval"``)."""

    def __init__(self, config: Any = None, *, interval: Interval | None = None) -> None:
        super().__init__(config)
        self.interval = interval if interval is not None else Interval.from_config(config)

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: int | torch.Tensor) -> None:
        """Called after every micro-batch with its detached, unscaled per-item mean losses and the number of items
        they average over (samples, or a ``LossOutput``'s count), in train mode under ``no_grad``."""

    def track_after_update_step(self, iteration: TrainingIteration, times: Mapping[str, float]) -> None:
        """Called after every update with its wall-clock times in seconds (``data_wait``, ``update``)."""

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """The callback's work; ``interval_type`` is ``"epoch"``, ``"update"``, ``"sample"`` or ``"eval"``."""

    def after_update(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` when an update or sample interval is due after this update."""
        interval = self.interval
        if interval.every_n_updates is not None and interval.every_n_samples is None:
            if iteration.update % interval.every_n_updates == 0:  # the common case, checked inline (every update)
                self.periodic_callback(iteration, "update")
        elif interval.every_n_updates is not None or interval.every_n_samples is not None:
            if interval.due_after_update(iteration, self.run.plan.effective_batch_size):
                self.periodic_callback(iteration, "sample" if interval.every_n_samples else "update")

    def after_epoch(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` when an epoch interval is due after this (completed) epoch."""
        if self.interval.due_after_epoch(iteration):
            self.periodic_callback(iteration, "epoch")

    def at_eval(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` once for a run with nothing to train (``max_*: 0``)."""
        self.periodic_callback(iteration, "eval")

    @property
    def interval_string(self) -> str:
        """``E5`` / ``U100`` / ``S1000``: the suffix of this callback's log keys."""
        return self.interval.short_string()

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.interval.short_string()})"


class EarlyStop(StopIteration):
    """Raised by a callback to end training after the current update (an ``.early_exit`` checkpoint is saved)."""
