"""Trainer config: how long to train, batch sizes and accumulation, precision, callbacks and logging."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import FieldProblem, InvalidFields, at_least, exactly_one_set, run_object_checks
from noether.core.schemas.callbacks import CallbacksConfig
from noether.core.schemas.initializers import AnyInitializer

PRECISIONS = ("float32", "fp32", "float16", "fp16", "bfloat16", "bf16")
"""Accepted spellings of the training precision."""


@attrs.frozen(kw_only=True)
class BaseTrainerConfig:
    """The training loop: end of training, batch sizes, precision, callbacks, intervals and DDP flags."""

    kind: str
    """The trainer class path."""
    max_epochs: int | None = attrs.field(default=None, validator=at_least(0))
    """Train for this many epochs. Exactly one ``max_*`` is set; 0 runs the callbacks once and trains nothing."""
    max_updates: int | None = attrs.field(default=None, validator=at_least(0))
    """Train for this many optimizer updates. Exactly one ``max_*`` is set; 0 trains nothing."""
    max_samples: int | None = attrs.field(default=None, validator=at_least(0))
    """Train for this many samples (rounded down to whole updates, as in Noether). Exactly one ``max_*`` is set; 0 trains nothing."""
    start_at_epoch: int | None = attrs.field(default=None, validator=at_least(0))
    """Start the counters (and schedules) at this epoch, skipping the epochs before it."""
    add_default_callbacks: bool | None = True
    """Add the default callbacks (progress, online loss, lr logging, parameter counts, dataset sizes, times)."""
    add_trainer_callbacks: bool | None = True
    """Add the callbacks the trainer class itself declares."""
    effective_batch_size: int = attrs.field(validator=at_least(1))
    """Samples per optimizer update over all devices; each device gets ``effective_batch_size / world_size``."""
    precision: Literal["float32", "fp32", "float16", "fp16", "bfloat16", "bf16"] = "float32"
    """Training precision; float16/bfloat16 run the forward pass under autocast (float16 with a GradScaler)."""
    callbacks: tuple[CallbacksConfig, ...] | None = None
    """The callbacks of the run, invoked in this order before the default callbacks."""
    initializer: AnyInitializer | None = None
    """The trainer-level initializer, e.g. a ``ResumeInitializer``."""
    log_every_n_epochs: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in epochs of the default logging callbacks (at most one ``log_every_n_*``)."""
    log_every_n_updates: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in updates of the default logging callbacks (at most one ``log_every_n_*``)."""
    log_every_n_samples: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in samples of the default logging callbacks (at most one ``log_every_n_*``)."""
    track_every_n_epochs: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in epochs of the default tracking callbacks (at most one ``track_every_n_*``)."""
    track_every_n_updates: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in updates of the default tracking callbacks (at most one ``track_every_n_*``)."""
    track_every_n_samples: int | None = attrs.field(default=None, validator=at_least(1))
    """Interval in samples of the default tracking callbacks (at most one ``track_every_n_*``)."""
    max_batch_size: int | None = attrs.field(default=None, validator=at_least(1))
    """Largest micro-batch per forward pass; a larger per-device batch is split and its gradients accumulated."""
    skip_nan_loss: bool = False
    """Skip updates whose loss is NaN or Inf instead of stopping, up to ``skip_nan_loss_max_count`` in a row."""
    skip_nan_loss_max_count: int = attrs.field(default=100, validator=at_least(1))
    """How many consecutive updates may be skipped for a non-finite loss before training stops."""
    disable_gradient_accumulation: bool = False
    """Ignore ``max_batch_size`` and run the whole per-device batch in one forward pass."""
    save_on_sigint: bool = False
    """On Ctrl+C, finish the update and write a resumable checkpoint (SIGTERM always does)."""
    use_torch_compile: bool = False
    """Compile the model with ``torch.compile``."""
    find_unused_params: bool = False
    """``find_unused_parameters`` of DistributedDataParallel."""
    static_graph: bool = False
    """``static_graph`` of DistributedDataParallel."""
    forward_properties: tuple[str, ...] | None = ()
    """Batch properties passed to the model's ``forward`` as keyword arguments."""
    target_properties: tuple[str, ...] | None = ()
    """Batch properties passed to ``loss_compute`` as targets."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.check_end_of_training, self.validate_callback_frequency)

    def check_end_of_training(self) -> None:
        """Ensure that exactly one of ``max_epochs``, ``max_updates`` or ``max_samples`` is specified."""
        problem = exactly_one_set(self, ("max_epochs", "max_updates", "max_samples"))
        if problem:
            raise problem

    def validate_callback_frequency(self) -> None:
        """Ensure that at most one ``log_every_n_*`` and at most one ``track_every_n_*`` is specified."""
        if not self.add_default_callbacks:
            return
        problems = []
        for prefix in ("log_every_n_", "track_every_n_"):
            names = tuple(prefix + unit for unit in ("epochs", "updates", "samples"))
            chosen = [name for name in names if getattr(self, name) is not None]
            if len(chosen) > 1:
                problems.append(FieldProblem(f"at most one of {', '.join(names)} may be set (got {', '.join(chosen)})",
                                             deletable=chosen[0]))
        if problems:
            raise problems[0] if len(problems) == 1 else InvalidFields(type(self), problems)

    @property
    def precision_name(self) -> Literal["float32", "float16", "bfloat16"]:
        """The precision under its canonical name (``fp16`` -> ``float16``)."""
        return {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}.get(self.precision, self.precision)  # type: ignore[return-value]
