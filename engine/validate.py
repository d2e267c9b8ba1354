"""Validate first: everything a run would reject before its first update, found at once without training.

``check_config(config)`` is the engine's half of ``noether-check`` (registered as the ``noether.checks`` entry
point, so the torch-free core never imports the engine): it builds the datasets, the model and the trainer on the
CPU and reports, as config issues with their paths, a ``forward`` that does not take the forward properties,
optimizer arguments the optimizer rejects, callback ``dataset_key``s that are not datasets, metric keys that a
``BestCheckpointCallback``, a ``MetricEarlyStopper`` or a ``BestMetricCallback`` watches but no callback logs,
an EMA ``model_info`` that no ``EmaCallback`` keeps, and schedules that do not fit the run. A run checks the
callback rules with the same functions before it writes anything (``check_callbacks``).

Which keys a callback logs is declared per class: a callback's ``logged_keys()`` returns ``fnmatch`` patterns
(``loss/val/*``); the built-in ones are declared here. A callback that declares nothing may log anything, so a
run with one never reports a watched key as missing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any

from noether.core.config import ConfigError, Issue
from noether.core.training import Interval


def _offline(callback: Any) -> tuple[str, ...]:
    return (f"{callback.key_prefix}loss/{callback.dataset_key}/*", f"{callback.key_prefix}lossdiff/{callback.dataset_key}/*")


def _track_outputs(callback: Any) -> tuple[str, ...]:
    if not callback.config.log_output:
        return ()
    interval = callback.interval_string
    return (*(f"{key}/{interval}" for key in callback.keys), *(f"*{pattern}*/{interval}" for pattern in callback.patterns))


def _best_metric(callback: Any) -> tuple[str, ...]:
    targets = (*callback.target_metric_keys, *callback.optional_target_metric_keys)
    return tuple(f"{target}/at_best/{callback.source_metric_key}" for target in targets)


BUILTIN_LOGGED_KEYS: dict[str, Callable[[Any], tuple[str, ...]]] = {
    "OnlineLossCallback": lambda callback: (f"loss/online/*/{callback.interval_string}",),
    "OfflineLossCallback": _offline,
    "TrackAdditionalOutputsCallback": _track_outputs,
    "BestMetricCallback": _best_metric,
    "TrainTimeCallback": lambda callback: (f"train_time/*/mean/{callback.interval_string}",),
    "PeakMemoryCallback": lambda callback: (f"peak_memory/gb/{callback.interval_string}",),
    "LrCallback": lambda callback: ("optim/lr/*", "optim/wd/*"),
    **{name: lambda callback: () for name in (
        "CheckpointCallback", "BestCheckpointCallback", "EmaCallback", "FixedEarlyStopper", "MetricEarlyStopper",
        "DatasetStatsCallback", "ParamCountCallback", "ProgressCallback")},
}
"""Built-in callback class name -> the patterns of the keys it logs."""


def logged_keys(callback: Any) -> tuple[str, ...] | None:
    """The ``fnmatch`` patterns of the scalar keys ``callback`` logs: its own ``logged_keys()``, or the built-in
    declaration of its class; ``None`` when it declares nothing (it may log anything).

    >>> from engine.callbacks import OnlineLossCallback
    >>> from noether.core.training import Interval
    >>> logged_keys(OnlineLossCallback(interval=Interval(every_n_updates=10)))
    ('loss/online/*/U10',)
    """
    own = getattr(callback, "logged_keys", None)
    if callable(own):
        return tuple(own())
    for cls in type(callback).__mro__:
        if cls.__module__.startswith("engine.") and cls.__name__ in BUILTIN_LOGGED_KEYS:
            return BUILTIN_LOGGED_KEYS[cls.__name__](callback)
    return None


def watched_keys(callback: Any) -> list[tuple[str, str]]:
    """``(field, metric key)`` of every key ``callback`` needs another callback to log (``metric_key``,
    ``source_metric_key``, ``target_metric_keys[i]``)."""
    config = getattr(callback, "config", None)
    if config is None:
        return []
    name = type(callback).__name__
    if name in ("BestCheckpointCallback", "MetricEarlyStopper"):
        return [("metric_key", config.metric_key)]
    if name == "BestMetricCallback":
        return [("source_metric_key", config.source_metric_key),
                *((f"target_metric_keys[{index}]", key) for index, key in enumerate(config.target_metric_keys or ()))]
    return []


def can_read(logger: Any, watcher: Any) -> bool:
    """Whether every update at which ``watcher`` runs is one at which ``logger`` logs: the same unit with a
    multiple of the logger's period. Intervals in different units (or a callback without one) are not judged.

    >>> from engine.callbacks import PeriodicCallback
    >>> every = lambda **n: PeriodicCallback(interval=Interval(**n))
    >>> can_read(every(every_n_epochs=1), every(every_n_epochs=2)), can_read(every(every_n_updates=4), every(every_n_updates=6))
    (True, False)
    """
    first, second = getattr(logger, "interval", None), getattr(watcher, "interval", None)
    if first is None or second is None:
        return True
    for unit in ("every_n_epochs", "every_n_updates", "every_n_samples"):
        period, needed = getattr(first, unit), getattr(second, unit)
        if needed is not None and period is not None and needed % period != 0:
            return False
    return True


def watched_metric_issues(callbacks: Sequence[Any], indices: Sequence[int]) -> list[Issue]:
    """One issue per watched metric key that no callback logs, or that only callbacks running after the watcher
    (later in the list) or at other intervals log: the watcher reads the value logged in the same update. Nothing
    is reported while a callback logs keys it does not declare.

    Args:
        callbacks: The run's callbacks in the order they run (configured, default, trainer callbacks).
        indices: The position in ``trainer.callbacks`` of each configured callback.
    """
    declared = [logged_keys(callback) for callback in callbacks]
    if any(patterns is None for patterns in declared):
        return []
    patterns = [pattern for group in declared for pattern in group]
    issues = []
    for position, callback in enumerate(callbacks[:len(indices)]):
        for field, key in watched_keys(callback):
            path = f"trainer.callbacks[{indices[position]}].{field}"
            loggers = [(at, other) for at, (other, group) in enumerate(zip(callbacks, declared, strict=True))
                       if any(fnmatch.fnmatchcase(key, pattern) for pattern in group)]
            earlier = [other for at, other in loggers if at < position]
            if not loggers:
                issues.append(Issue(path, f"no callback logs {key!r} (logged: {', '.join(sorted(set(patterns)))})"))
            elif not earlier:
                issues.append(Issue(path, f"{key!r} is logged only after this callback runs (by {loggers[0][1]}); "
                                          "a callback that logs it must come earlier in trainer.callbacks"))
            elif not any(can_read(other, callback) for other in earlier):
                issues.append(Issue(path, f"{key!r} is logged at {earlier[0].interval_string}, but this callback runs "
                                          f"at {callback.interval_string} and reads the value of the same update; "
                                          "give it the interval of the callback that logs it (or a multiple)"))
    return issues


def check_callbacks(callbacks: Sequence[Any], indices: Sequence[int]) -> None:
    """The callback rules a run checks before it writes anything: watched metric keys that are logged, and an
    ``EmaCallback`` for every EMA ``model_info`` (which it links).

    Raises:
        ConfigError: every problem at once.
    """
    from engine.callbacks.ema import link_averages

    issues = watched_metric_issues(callbacks, indices)
    try:
        link_averages(callbacks, indices)
    except ConfigError as exc:
        issues += exc.issues
    if issues:
        raise ConfigError(issues)


def _collect(issues: list[Issue], step: Callable[[], Any]) -> Any:
    """Run ``step``; add its config issues to ``issues`` (returning ``None``) instead of raising them."""
    try:
        return step()
    except ConfigError as exc:
        issues.extend(exc.issues)
        return None


def check_config(config: Any) -> list[Issue]:
    """Every problem a run of ``config`` would report before its first update, at once (``noether-check``).

    Builds the datasets, the model and the trainer on the CPU; a kind that cannot be built stops there (the
    other checks need the objects).

    Args:
        config: A loaded, valid config (``ConfigSchema``).

    Returns:
        The issues, in no particular order (``noether-check`` sorts them into document order).
    """
    import torch

    from engine.callbacks import default_callbacks, make_callbacks
    from engine.models import named_models
    from engine.build import TRAIN_DATASET_KEY, build_components, build_optimizers, dataset_key_issues
    from noether.core.training import check_plan, plan_training

    device = torch.device("cpu")
    issues = dataset_key_issues(config)
    built = _collect(issues, lambda: build_components(config, device, check_usage=False))
    if built is None:
        return issues
    datasets, model, trainer = built
    problem = trainer.forward_problem(model)
    if problem is not None:
        where = "model" if not config.trainer.forward_properties and config.model.forward_properties else "trainer"
        issues.append(Issue(f"{where}.forward_properties", problem))
    plan = _collect(issues, lambda: check_plan(config, len(datasets[TRAIN_DATASET_KEY]), 1))
    feasible = plan is not None  # then every schedule can be bound to the run
    if plan is None:  # a schedule that does not fit: the run's length is still known for the default callbacks
        plan = _collect([], lambda: plan_training(config.trainer, len(datasets[TRAIN_DATASET_KEY]), 1))
    _collect(issues, lambda: build_optimizers(model, plan if feasible else None))
    callbacks = _collect(issues, lambda: make_callbacks(config.trainer.callbacks))
    if callbacks is None:
        return issues
    indices = list(range(len(callbacks)))
    known = list(named_models(model))
    for index, callback in enumerate(callbacks):
        unknown = [name for name in getattr(callback.config, "model_names", None) or () if name not in known]
        if unknown:
            issues.append(Issue(f"trainer.callbacks[{index}].model_names",
                                f"{unknown} are not models of this run (models: {known})"))
    everything = list(callbacks)
    if plan is not None and config.trainer.add_default_callbacks:
        everything += default_callbacks(config.trainer, plan, device, configured=callbacks)
    if config.trainer.add_trainer_callbacks:
        everything += trainer.trainer_callbacks()
    _collect(issues, lambda: check_callbacks(everything, indices))
    return issues
