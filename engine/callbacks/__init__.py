"""Callbacks: the framework (``Callback``, ``PeriodicCallback``, ``RunContext``), the built-in callbacks
selected by ``name`` in ``trainer.callbacks``, and the defaults every run gets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from noether.core.config import ConfigError, Issue
from noether.core.schemas.callbacks import BUILTIN_CALLBACKS

from engine.callbacks.base import (Callback, EarlyStop, PeriodicCallback, PeriodicDataIteratorCallback, RunContext,
                                   collate_results)
from engine.callbacks.best_checkpoint import BestCheckpointCallback
from engine.callbacks.best_metric import BestMetricCallback
from engine.callbacks.checkpoint import CheckpointCallback
from engine.callbacks.defaults import default_callbacks
from engine.callbacks.early_stopping import FixedEarlyStopper, MetricEarlyStopper
from engine.callbacks.ema import EmaCallback
from engine.callbacks.offline_loss import OfflineLossCallback
from engine.callbacks.online_loss import OnlineLossCallback
from engine.callbacks.track_outputs import TrackAdditionalOutputsCallback
from noether.core.config.kinds import resolve_kind

BUILTIN: dict[str, type[Callback]] = {
    cls.__name__: cls
    for cls in (CheckpointCallback, BestCheckpointCallback, EmaCallback, FixedEarlyStopper, MetricEarlyStopper,
                OnlineLossCallback, OfflineLossCallback, BestMetricCallback, TrackAdditionalOutputsCallback)
}
"""Callback classes by the ``name`` their configs carry."""

BY_CONFIG_CLASS: dict[type, type[Callback]] = {BUILTIN_CALLBACKS[name]: cls for name, cls in BUILTIN.items()}
"""Callback classes by their config class: what ``make_callbacks`` looks a structured config up by."""


def make_callbacks(configs: Sequence[Any] | None, *, path: str = "trainer.callbacks") -> list[Callback]:
    """Build the configured callbacks in order: built-ins by their config's class (the structured config already
    says which callback it is), user callbacks by ``kind`` (a subclass of ``engine.callbacks.Callback`` constructed
    with its config).

    Raises:
        ConfigError: every callback whose class cannot be found or is not a ``Callback``, at once.
    """
    callbacks, issues = [], []
    for index, config in enumerate(configs or ()):
        try:
            cls = BY_CONFIG_CLASS.get(type(config))
            if cls is None and getattr(config, "kind", None):
                cls = resolve_kind(config.kind, Callback, path=f"{path}[{index}].kind")
            elif cls is None:
                available = ", ".join(sorted(BUILTIN))
                raise ConfigError([Issue(f"{path}[{index}]", f"needs a built-in 'name' ({available}) or a 'kind' "
                                         f"naming a Callback class (got name {getattr(config, 'name', None)!r})")])
            callbacks.append(cls(config))
        except ConfigError as exc:
            issues += exc.issues
        except ValueError as exc:
            issues.append(Issue(f"{path}[{index}]", str(exc)))
    if issues:
        raise ConfigError(issues)
    return callbacks


__all__ = [
    "BUILTIN",
    "BY_CONFIG_CLASS",
    "BestCheckpointCallback",
    "BestMetricCallback",
    "Callback",
    "CheckpointCallback",
    "EarlyStop",
    "EmaCallback",
    "FixedEarlyStopper",
    "MetricEarlyStopper",
    "OfflineLossCallback",
    "OnlineLossCallback",
    "PeriodicCallback",
    "PeriodicDataIteratorCallback",
    "RunContext",
    "TrackAdditionalOutputsCallback",
    "collate_results",
    "default_callbacks",
    "make_callbacks",
]
