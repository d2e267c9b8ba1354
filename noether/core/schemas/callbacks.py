"""Callback configs. Built-in callbacks are chosen by ``name`` (or Noether's ``kind`` strings); any other
``kind`` names a user callback class."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import FieldProblem, exactly_one_set, run_object_checks, value_rule

_INTERVALS = ("every_n_epochs", "every_n_updates", "every_n_samples")


def check_positive_values(v: int | None) -> int | None:
    """Ensure that an integer frequency or batch size is positive (``None`` passes)."""
    if v is not None and v <= 0:
        raise ValueError(f"must be a positive integer (got {v!r})")
    return v


def check_kind_is_not_empty(v: str | None) -> str | None:
    """Ensure that ``kind``, when given, is a non-empty string."""
    if v is not None and not v.strip():
        raise ValueError(f"must not be an empty string (got {v!r})")
    return v


def check_tolerance_positive(v: int) -> int:
    """Ensure that an early stopper's tolerance is at least 1."""
    if v < 1:
        raise ValueError(f"must be >= 1 (got {v!r})")
    return v


def check_model_info(v: str | None) -> str | None:
    """Ensure that a callback's ``model_info`` names EMA weights as ``ema=<factor>`` with a factor in [0, 1].

    >>> check_model_info("ema=0.999")
    'ema=0.999'
    >>> check_model_info("ema0.9")
    Traceback (most recent call last):
    ValueError: must be ema=<factor>, e.g. ema=0.999 (got 'ema0.9')
    """
    if v is None:
        return v
    prefix, _, factor = v.partition("=")
    try:
        valid = prefix == "ema" and 0.0 <= float(factor) <= 1.0
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"must be ema=<factor>, e.g. ema=0.999 (got {v!r})")
    return v


_positive = value_rule(check_positive_values)


@attrs.frozen(kw_only=True)
class CallBackBaseConfig:
    """Fields every periodic callback shares: its identity and the interval at which it runs."""

    name: str | None = None
    """The built-in callback's name (e.g. ``CheckpointCallback``); ``None`` for a user callback chosen by ``kind``."""
    kind: str | None = attrs.field(default=None, validator=value_rule(check_kind_is_not_empty))
    """The callback class path; required for user callbacks, optional for built-in ones."""
    id: str | None = None
    """Unique key of this callback's state in checkpoints; required when two stateful callbacks share a class."""
    every_n_epochs: int | None = attrs.field(default=None, validator=_positive)
    """Run the callback after every n epochs. Exactly one ``every_n_*`` must be set."""
    every_n_updates: int | None = attrs.field(default=None, validator=_positive)
    """Run the callback after every n optimizer updates. Exactly one ``every_n_*`` must be set."""
    every_n_samples: int | None = attrs.field(default=None, validator=_positive)
    """Run the callback after every n training samples; needs ``batch_size``. Exactly one ``every_n_*`` must be set."""
    batch_size: int | None = attrs.field(default=None, validator=_positive)
    """Batch size for the callback's own data passes. ``None``: the training batch size."""

    check_positive_values = staticmethod(check_positive_values)
    check_kind_is_not_empty = staticmethod(check_kind_is_not_empty)

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.validate_callback_frequency)

    def validate_callback_frequency(self) -> None:
        """Ensure that exactly one ``every_n_*`` is set and that ``every_n_samples`` comes with ``batch_size``."""
        problem = exactly_one_set(self, _INTERVALS)
        if problem:
            raise problem
        if self.every_n_samples is not None and self.batch_size is None:
            raise FieldProblem("required when every_n_samples is set (got None)", "batch_size")


@attrs.frozen(kw_only=True)
class PeriodicDataIteratorCallbackConfig(CallBackBaseConfig):
    """A periodic callback that iterates over a named dataset."""

    dataset_key: str
    """The key of the dataset (in the root ``datasets``) to iterate over."""
    model_info: str | None = attrs.field(default=None, validator=value_rule(check_model_info))
    """``ema=<factor>``: evaluate the weights of the ``EmaCallback`` with that factor instead of the trained ones,
    logging under ``ema=<factor>/<key>``. ``None``: the trained weights."""


@attrs.frozen(kw_only=True)
class CheckpointCallbackConfig(CallBackBaseConfig):
    """Save model weights (and optionally optimizer state) periodically."""

    name: Literal["CheckpointCallback"] = "CheckpointCallback"
    """The built-in callback's name."""
    save_weights: bool = True
    """Save the weights under the training iteration's tag (e.g. ``E3_U120_S3840``) at each invocation."""
    save_optim: bool = False
    """Save the optimizer state under the training iteration's tag at each invocation."""
    save_latest_weights: bool = True
    """Save the weights under the tag ``latest``, replacing the previous ``latest``."""
    save_latest_optim: bool = False
    """Save the optimizer state under the tag ``latest``, replacing the previous ``latest``."""
    model_names: tuple[str, ...] | None = None
    """The submodels of a composite model to save. ``None``: all models."""


@attrs.frozen(kw_only=True)
class BestCheckpointCallbackConfig(CallBackBaseConfig):
    """Save the weights whenever a metric reaches a new best."""

    name: Literal["BestCheckpointCallback"] = "BestCheckpointCallback"
    """The built-in callback's name."""
    metric_key: str
    """The key of the logged metric that decides the best model, e.g. ``loss/val/total``."""
    save_frozen_weights: bool = True
    """Whether to also save the frozen weights of the model."""
    tolerances: tuple[int, ...] | None = None
    """Also keep, per tolerance t, the model at the moment the metric had not improved for t intervals."""
    model_names: tuple[str, ...] | None = None
    """The submodels of a composite model to save. ``None``: all models."""


@attrs.frozen(kw_only=True)
class EmaCallbackConfig(CallBackBaseConfig):
    """Keep exponential moving averages of the weights and save them periodically."""

    name: Literal["EmaCallback"] = "EmaCallback"
    """The built-in callback's name."""
    target_factors: tuple[float, ...]
    """The EMA factors f in ``shadow = f * shadow + (1 - f) * weight``, one average per factor."""
    model_paths: tuple[str | None, ...] | None = None
    """Submodule paths to average (e.g. ``encoder``); ``None`` entries or ``None``: the whole model."""
    save_weights: bool = True
    """Save the EMA weights under the training iteration's tag at each invocation."""
    save_last_weights: bool = True
    """Save the EMA weights under the tag ``last`` at the end of training."""
    save_latest_weights: bool = False
    """Save the EMA weights under the tag ``latest`` at each invocation, replacing the previous one."""


@attrs.frozen(kw_only=True)
class FixedEarlyStopperConfig:
    """Stop training at a fixed epoch, update or sample."""

    kind: str | None = attrs.field(default=None, validator=value_rule(check_kind_is_not_empty))
    """The callback class path (optional for this built-in callback)."""
    name: Literal["FixedEarlyStopper"] = "FixedEarlyStopper"
    """The built-in callback's name."""
    id: str | None = None
    """Unique key of this callback's state in checkpoints."""
    stop_at_sample: int | None = attrs.field(default=None, validator=value_rule(check_positive_values))
    """Stop once this many samples have been trained."""
    stop_at_update: int | None = attrs.field(default=None, validator=value_rule(check_positive_values))
    """Stop once this many updates have been made."""
    stop_at_epoch: int | None = attrs.field(default=None, validator=value_rule(check_positive_values))
    """Stop once this many epochs have been trained."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.validate_callback_frequency)

    def validate_callback_frequency(self) -> None:
        """Ensure that exactly one ``stop_at_*`` is specified."""
        problem = exactly_one_set(self, ("stop_at_sample", "stop_at_update", "stop_at_epoch"))
        if problem:
            raise problem


@attrs.frozen(kw_only=True)
class MetricEarlyStopperConfig(CallBackBaseConfig):
    """Stop training when a metric has not improved for ``tolerance`` invocations."""

    name: Literal["MetricEarlyStopper"] = "MetricEarlyStopper"
    """The built-in callback's name."""
    metric_key: str
    """The key of the logged metric to monitor."""
    tolerance: int = attrs.field(validator=value_rule(check_tolerance_positive))
    """How many invocations in a row the metric may fail to improve before training stops (>= 1)."""

    check_tolerance_positive = staticmethod(check_tolerance_positive)


@attrs.frozen(kw_only=True)
class OnlineLossCallbackConfig(CallBackBaseConfig):
    """Log the mean training loss of the micro-batches since the last invocation."""

    name: Literal["OnlineLossCallback"] = "OnlineLossCallback"
    """The built-in callback's name."""
    verbose: bool = True
    """Also print the loss to the console; otherwise only the tracker receives it."""


@attrs.frozen(kw_only=True)
class OfflineLossCallbackConfig(PeriodicDataIteratorCallbackConfig):
    """Evaluate the loss on a named dataset, weighted per sample."""

    name: Literal["OfflineLossCallback"] = "OfflineLossCallback"
    """The built-in callback's name."""
    output_patterns_to_log: tuple[str, ...] | None = None
    """Also log model outputs whose key contains one of these patterns."""


@attrs.frozen(kw_only=True)
class BestMetricCallbackConfig(CallBackBaseConfig):
    """Log other metrics at the moment a source metric is at its best."""

    name: Literal["BestMetricCallback"] = "BestMetricCallback"
    """The built-in callback's name."""
    source_metric_key: str
    """The metric that decides the best moment, e.g. ``loss/val/total``."""
    target_metric_keys: tuple[str, ...] | None = None
    """Metrics logged at the best moment; each must exist."""
    optional_target_metric_keys: tuple[str, ...] | None = None
    """Metrics logged at the best moment when present (different model variants log different metrics)."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.validate_callback_frequency, self.check_targets)

    def check_targets(self) -> None:
        """Ensure that at least one target or optional target metric key is given."""
        if not self.target_metric_keys and not self.optional_target_metric_keys:
            raise FieldProblem("set target_metric_keys or optional_target_metric_keys (got neither)")


@attrs.frozen(kw_only=True)
class TrackAdditionalOutputsCallbackConfig(CallBackBaseConfig):
    """Track extra outputs of the trainer's update step and log or save them periodically."""

    name: Literal["TrackAdditionalOutputsCallback"] = "TrackAdditionalOutputsCallback"
    """The built-in callback's name."""
    keys: tuple[str, ...] | None = None
    """Exact keys of the additional outputs to track."""
    patterns: tuple[str, ...] | None = None
    """Track every additional output whose key contains one of these patterns."""
    verbose: bool = False
    """Also print the tracked values to the console."""
    reduce: Literal["mean", "last"] = "mean"
    """How the tracked values of an interval become one scalar."""
    log_output: bool = True
    """Log the reduced scalar values."""
    save_output: bool = False
    """Save the reduced values to disk under the run directory."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.validate_callback_frequency, self.check_keys_or_patterns)

    def check_keys_or_patterns(self) -> None:
        """Ensure that at least one of ``keys`` or ``patterns`` is given."""
        if not self.keys and not self.patterns:
            raise FieldProblem("set keys or patterns (got neither)")


CallbacksConfig = (
    CheckpointCallbackConfig
    | BestCheckpointCallbackConfig
    | EmaCallbackConfig
    | FixedEarlyStopperConfig
    | MetricEarlyStopperConfig
    | OnlineLossCallbackConfig
    | OfflineLossCallbackConfig
    | BestMetricCallbackConfig
    | TrackAdditionalOutputsCallbackConfig
    | CallBackBaseConfig
)
"""Any callback config: a built-in one chosen by ``name`` or kind, or a user callback (``CallBackBaseConfig``)."""

BUILTIN_CALLBACKS: dict[str, type] = {
    cls.__name__.removesuffix("Config"): cls
    for cls in (
        CheckpointCallbackConfig,
        BestCheckpointCallbackConfig,
        EmaCallbackConfig,
        FixedEarlyStopperConfig,
        MetricEarlyStopperConfig,
        OnlineLossCallbackConfig,
        OfflineLossCallbackConfig,
        BestMetricCallbackConfig,
        TrackAdditionalOutputsCallbackConfig,
    )
}
"""Built-in callback name -> config class."""

CALLBACK_KIND_PREFIXES = ("noether.core.callbacks.", "noether.training.callbacks.")
"""Module paths under which Noether names its built-in callbacks in ``kind``. A kind under them that names no
built-in callback is a config error (a misspelling, most likely), not a user callback."""

DEFAULT_CALLBACKS = ("DatasetStatsCallback", "ParamCountCallback", "ProgressCallback", "TrainTimeCallback",
                     "PeakMemoryCallback", "LrCallback")
"""Noether's default callbacks: every trainer adds them itself (with the log and track intervals), so a config
does not list them."""


def builtin_callback_for_kind(kind: str) -> type | None:
    """Return the built-in callback config class that a Noether kind string names, else ``None``.

    >>> builtin_callback_for_kind("noether.core.callbacks.CheckpointCallback").__name__
    'CheckpointCallbackConfig'
    >>> builtin_callback_for_kind("my_project.callbacks.Plot") is None
    True
    """
    for prefix in CALLBACK_KIND_PREFIXES:
        if kind.startswith(prefix):
            return BUILTIN_CALLBACKS.get(kind.rsplit(".", 1)[-1])
    return None
