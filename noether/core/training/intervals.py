"""When a periodic callback is due: every n epochs, updates or samples (``Interval``).

The predicates are Noether's (reference section 5.3): an update interval fires when the update count is a
multiple of n, a sample interval when a multiple of n was crossed during the last update, an epoch interval at
the end of an epoch whose number is a multiple of n.
"""

from __future__ import annotations

from typing import Any

import attrs

from noether.core.schemas.trainers import BaseTrainerConfig
from noether.core.training.iteration import TrainingIteration
from noether.core.training.plan import TrainingPlan

_UNITS = (("every_n_epochs", "E"), ("every_n_updates", "U"), ("every_n_samples", "S"))


def _positive(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    """Accept ``None`` or an integer of at least 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{attribute.name} must be an int >= 1 or None (got {value!r})")


@attrs.frozen(kw_only=True)
class Interval:
    """How often a periodic callback runs: every n epochs, updates and/or samples (unset: never in that unit).

    >>> interval = Interval(every_n_samples=1000)
    >>> [u for u in range(1, 11) if interval.due_after_update(TrainingIteration(update=u, sample=300 * u), 300)]
    [4, 7, 10]
    >>> interval.short_string()
    'S1000'
    """

    every_n_epochs: int | None = attrs.field(default=None, validator=_positive)
    """Due at the end of every epoch whose number is a multiple of n."""
    every_n_updates: int | None = attrs.field(default=None, validator=_positive)
    """Due after every update whose count is a multiple of n."""
    every_n_samples: int | None = attrs.field(default=None, validator=_positive)
    """Due after every update during which the sample count crossed a multiple of n."""

    @classmethod
    def from_config(cls, config: Any) -> Interval:
        """The interval of any object with ``every_n_epochs`` / ``every_n_updates`` / ``every_n_samples`` fields.

        Args:
            config: A callback config (or anything else with those attributes; a missing one counts as unset).

        Returns:
            The interval.

        >>> from noether.core.schemas.callbacks import CheckpointCallbackConfig
        >>> Interval.from_config(CheckpointCallbackConfig(every_n_updates=100))
        Interval(every_n_epochs=None, every_n_updates=100, every_n_samples=None)
        """
        return cls(**{name: getattr(config, name, None) for name, _ in _UNITS})

    def due_after_update(self, iteration: TrainingIteration, effective_batch_size: int) -> bool:
        """Whether the callback is due after the update that reached ``iteration``.

        Formula: ``u % n_updates == 0``, or ``s // n_samples > (s - effective_batch_size) // n_samples`` (a
        multiple of n was crossed during the last update, i.e. lies in ``(s - ebs, s]``). Epoch intervals are
        never due here, see ``due_after_epoch``.

        Args:
            iteration: The iteration after the update; its ``update`` (and, for a sample interval, ``sample``)
                must be set.
            effective_batch_size: Samples per optimizer update over all devices.

        Returns:
            True if the update or the sample interval is due.

        >>> interval = Interval(every_n_updates=10)
        >>> interval.due_after_update(TrainingIteration(update=20), 4), interval.due_after_update(TrainingIteration(update=21), 4)
        (True, False)
        """
        if self.every_n_updates is not None and iteration.update % self.every_n_updates == 0:  # type: ignore[operator]
            return True
        if self.every_n_samples is not None:
            sample = iteration.sample
            return sample // self.every_n_samples > (sample - effective_batch_size) // self.every_n_samples  # type: ignore[operator]
        return False

    def due_after_epoch(self, iteration: TrainingIteration) -> bool:
        """Whether the callback is due at the end of the epoch that reached ``iteration``.

        Formula: ``every_n_epochs`` set and ``epoch % every_n_epochs == 0``.

        Args:
            iteration: The iteration at the end of an epoch; its ``epoch`` must be set.

        Returns:
            True if the epoch interval is due.

        >>> [e for e in range(1, 7) if Interval(every_n_epochs=2).due_after_epoch(TrainingIteration(epoch=e))]
        [2, 4, 6]
        """
        return self.every_n_epochs is not None and iteration.epoch % self.every_n_epochs == 0  # type: ignore[operator]

    def short_string(self) -> str:
        """The interval as used in log keys: ``E5``, ``U100``, ``S1000``; several joined by ``_``; ``""`` if unset.

        >>> Interval(every_n_updates=100).short_string(), Interval(every_n_epochs=1, every_n_samples=64).short_string()
        ('U100', 'E1_S64')
        """
        return "_".join(f"{letter}{getattr(self, name)}" for name, letter in _UNITS if getattr(self, name) is not None)

    def updates_per_interval(self, updates_per_epoch: int, effective_batch_size: int) -> float:
        """The length of the interval in optimizer updates.

        Formula: epochs ``n * updates_per_epoch``; updates ``n``; samples ``n / effective_batch_size`` (may be
        fractional). With several units set, the shortest.

        Args:
            updates_per_epoch: Optimizer updates per epoch.
            effective_batch_size: Samples per optimizer update over all devices.

        Returns:
            Updates per interval.

        Raises:
            ValueError: If no unit is set.

        >>> Interval(every_n_epochs=2).updates_per_interval(100, 32), Interval(every_n_samples=48).updates_per_interval(100, 32)
        (200.0, 1.5)
        """
        lengths = []
        if self.every_n_epochs is not None:
            lengths.append(float(self.every_n_epochs * updates_per_epoch))
        if self.every_n_updates is not None:
            lengths.append(float(self.every_n_updates))
        if self.every_n_samples is not None:
            lengths.append(self.every_n_samples / effective_batch_size)
        if not lengths:
            raise ValueError("the interval has no every_n_epochs, every_n_updates or every_n_samples set")
        return min(lengths)


DEFAULT_INTERVAL_FLOOR = 25
"""The default log and track intervals are at least this many updates (or the whole run when it is shorter)."""


def default_intervals(config: BaseTrainerConfig, plan: TrainingPlan) -> tuple[Interval, Interval]:
    """The log interval (printing) and the track interval (tracker scalars) of the default callbacks.

    ``log_every_n_*`` / ``track_every_n_*`` when set. Otherwise every ``max(total // 100, floor)`` and
    ``max(total // 500, floor)`` updates with ``floor = min(25, total)``: Noether's densities for long runs, but
    never more often than every 25 updates (Lightning logs every 50 by default), and at least once in a shorter
    run. Logging costs about as much as a small model's update; at this density the default callbacks and
    TensorBoard stay within 5% of a hand-written loop for a 0.8 ms update (``benchmarks/bench_engine_overhead.py``).

    >>> from noether.core.training.plan import _example
    >>> config = BaseTrainerConfig(kind="t", max_updates=10, effective_batch_size=16, track_every_n_updates=2)
    >>> [interval.every_n_updates for interval in default_intervals(config, _example())]  # a run of 10 updates
    [10, 2]
    """
    total = plan.total_updates - plan.start.update
    floor = min(DEFAULT_INTERVAL_FLOOR, max(total, 1))
    log = Interval(every_n_epochs=config.log_every_n_epochs, every_n_updates=config.log_every_n_updates,
                   every_n_samples=config.log_every_n_samples)
    track = Interval(every_n_epochs=config.track_every_n_epochs, every_n_updates=config.track_every_n_updates,
                     every_n_samples=config.track_every_n_samples)
    if log == Interval():
        log = Interval(every_n_updates=max(total // 100, floor))
    if track == Interval():
        track = Interval(every_n_updates=max(total // 500, floor))
    return log, track
