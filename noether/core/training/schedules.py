"""An optimizer's schedules bound to a run's plan, once: the value at each update as a plain function.

The engine calls ``schedules.lr(update)`` per update; what interval a schedule counts in, how long the run is
and which curve it follows were decided here, when the run was planned, so the loop builds and looks up
nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from noether.core.schedules import make_schedule
from noether.core.schemas.optimizers import OptimizerConfig
from noether.core.schemas.schedules import AnyScheduleConfig
from noether.core.training.plan import TrainingPlan

__all__ = ["UpdateSchedules", "bind_schedules", "per_update"]


@attrs.frozen
class UpdateSchedules:
    """The schedules of one optimizer over one run: the update's index (absolute, 0-based) -> value."""

    lr: Callable[[int], float] | None = None
    """The learning rate before each group's ``lr_scale``; ``None``: constant (the optimizer's ``lr``)."""
    weight_decay: Callable[[int], float] | None = None
    """The weight decay of the groups it drives; ``None``: no weight-decay schedule."""


def per_update(schedule: AnyScheduleConfig, plan: TrainingPlan) -> Callable[[int], float]:
    """The schedule's value at each update of the run (``plan.schedule_position`` of the update, its curve built
    once for the run's length).

    Args:
        schedule: A resolved schedule config (``max_value`` set).
        plan: The run's plan.

    Returns:
        ``update -> value``. For a run without updates (``max_*: 0``) calling it is a ``ValueError``.

    Raises:
        ValueError: If the schedule cannot be built for the run's length (see ``make_schedule``).

    >>> from noether.core.schemas.schedules import LinearDecreasingScheduleConfig
    >>> from noether.core.training.plan import _example
    >>> plan = _example()  # 10 updates, 4 per epoch
    >>> by_update = per_update(LinearDecreasingScheduleConfig(max_value=1.0, end_value=0.0), plan)
    >>> [round(by_update(u), 3) for u in (0, 5, 9)]
    [1.0, 0.444, 0.0]
    >>> by_epoch = per_update(LinearDecreasingScheduleConfig(max_value=1.0, end_value=0.0, interval="epoch"), plan)
    >>> [by_epoch(u) for u in (0, 3, 4, 9)]
    [1.0, 1.0, 0.5, 0.0]
    """
    interval = schedule.interval
    _, total_steps = plan.schedule_position(0, interval)
    if total_steps == 0:
        def no_updates(update: int) -> float:
            raise ValueError(f"the run has no {interval}s to schedule (update {update} requested)")

        return no_updates
    curve = make_schedule(schedule, total_steps)
    if interval == "update":
        return curve
    updates_per_epoch = plan.updates_per_epoch
    return lambda update: curve(update // updates_per_epoch)


def bind_schedules(config: OptimizerConfig, plan: TrainingPlan) -> UpdateSchedules:
    """Bind an optimizer config's learning-rate and weight-decay schedules to a run's plan.

    Args:
        config: A resolved optimizer config.
        plan: The run's plan.

    Returns:
        ``UpdateSchedules`` with a function for each schedule the config has.

    >>> from noether.core.schemas.schedules import ConstantScheduleConfig
    >>> config = OptimizerConfig(kind="torch.optim.SGD", lr=0.1, weight_decay_schedule=ConstantScheduleConfig(value=0.01))
    >>> from noether.core.training.plan import _example
    >>> bound = bind_schedules(config, _example())
    >>> bound.lr is None, bound.weight_decay(7)
    (True, 0.01)
    """
    return UpdateSchedules(
        lr=None if config.schedule_config is None else per_update(config.schedule_config, plan),
        weight_decay=None if config.weight_decay_schedule is None else per_update(config.weight_decay_schedule, plan),
    )
