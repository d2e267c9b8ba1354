"""Checks that need both the config and the run's plan: can every schedule be evaluated over this run?

A schedule config is valid on its own, but whether it fits a run depends on the run's length: a warmup of
1000 updates in a run of 500, a custom list of 100 values for 300 updates. ``schedule_issues`` finds those
before the first update; ``check_plan`` plans the run and reports every problem of plan and schedules at once.
"""

from __future__ import annotations

from typing import Any

import attrs

from noether.core.config.errors import ConfigError, Issue, PathKey, format_path
from noether.core.config.resolve import optimizer_configs
from noether.core.schedules import make_schedule
from noether.core.schemas.optimizers import OptimizerConfig
from noether.core.schemas.schedules import (
    SCHEDULES_WITH_MAX_VALUE,
    AnyScheduleConfig,
    CustomScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
)
from noether.core.training.plan import TrainingPlan, plan_training

_SCHEDULE_FIELDS = (("schedule_config", "lr"), ("weight_decay_schedule", "weight_decay"))
"""Each schedule field of an optimizer config, with the optimizer field its ``max_value`` defaults to."""


def _check_schedule(
    schedule: AnyScheduleConfig,
    path: tuple[PathKey, ...],
    plan: TrainingPlan,
    default_name: str,
    default_value: float | None,
) -> list[Issue]:
    """The problems of one schedule over the run of ``plan``; ``default_*`` is what ``max_value`` defaults to."""
    issues: list[Issue] = []

    def issue(field: str | None, message: str) -> None:
        issues.append(Issue(format_path((*path, field) if field else path), message))

    if isinstance(schedule, SCHEDULES_WITH_MAX_VALUE) and schedule.max_value is None:
        if default_value is None:
            issue("max_value", f"must be set, as the optimizer's {default_name} it defaults to is not set either (got None)")
        else:
            issue("max_value", f"must be set: resolve the config to take it from the optimizer's {default_name} (got None)")
    _, total = plan.schedule_position(0, schedule.interval)
    if total == 0:  # a run with max_*: 0 trains nothing and evaluates no schedule
        return issues
    unit = "updates" if schedule.interval == "update" else "epochs"
    if isinstance(schedule, LinearWarmupCosineDecayScheduleConfig) and schedule.warmup_steps is not None:
        if schedule.warmup_steps > total:
            issue("warmup_steps", f"must not exceed the run's {total} {unit} (got {schedule.warmup_steps})")
    if isinstance(schedule, CustomScheduleConfig) and len(schedule.values) < total:
        issue("values", f"must have a value for each of the run's {total} {unit} (got {len(schedule.values)} values)")
    if issues:
        return issues
    last = total - 1
    start, _ = plan.schedule_position(plan.start.update, schedule.interval)
    steps = {0, min(start, last), last}
    if isinstance(schedule, LinearWarmupCosineDecayScheduleConfig) and schedule.warmup_steps is not None:
        steps.add(min(schedule.warmup_steps, last))
    try:
        values = make_schedule(schedule, total)
        for step in sorted(steps):
            values(step)
    except (ValueError, ArithmeticError) as exc:
        issue(None, f"cannot be evaluated over the run's {total} {unit}: {exc}")
    return issues


def schedule_issues(config_schema: Any, plan: TrainingPlan) -> list[Issue]:
    """Every problem that keeps a schedule of the config from being evaluated over the run of ``plan``.

    Looks at the learning-rate and weight-decay schedule of every ``OptimizerConfig`` in the config tree (the
    model's, and each submodel's of a composite model) over the schedule's length: ``total_updates``, or the
    run's epochs for ``interval: epoch``. Reports a ``max_value`` still unset, a ``warmup_steps`` longer than
    the run, a ``CustomScheduleConfig`` with fewer ``values`` than the run has steps, and any other error the
    schedule raises at its first, start, warmup-end or last step.

    Args:
        config_schema: A config object (usually a ``ConfigSchema``; any attrs tree works).
        plan: The plan of the run.

    Returns:
        The issues, in config order, each naming the path of the schedule field.

    >>> from noether.core.schemas import (
    ...     BaseTrainerConfig, LinearWarmupCosineDecayScheduleConfig, ModelBaseConfig, OptimizerConfig)
    >>> schedule = LinearWarmupCosineDecayScheduleConfig(warmup_steps=200, max_value=1e-3)
    >>> model = ModelBaseConfig(kind="m", name="m", optimizer_config=OptimizerConfig(lr=1e-3, schedule_config=schedule))
    >>> plan = plan_training(BaseTrainerConfig(kind="t", max_updates=100, effective_batch_size=8), 800)
    >>> [str(issue) for issue in schedule_issues({"model": model}, plan)]
    ["model.optimizer_config.schedule_config.warmup_steps: must not exceed the run's 100 updates (got 200)"]
    """
    issues: list[Issue] = []
    for path, optimizer in optimizer_configs(config_schema):
        for field, default_name in _SCHEDULE_FIELDS:
            schedule = getattr(optimizer, field)
            if schedule is not None:
                default_value = getattr(optimizer, default_name)
                issues += _check_schedule(schedule, (*path, field), plan, default_name, default_value)
    return issues


def check_plan(config_schema: Any, dataset_length: int, world_size: int = 1) -> TrainingPlan:
    """Plan the run of a config and check that every schedule fits it; report all problems at once.

    Args:
        config_schema: The config; its ``trainer`` is planned (path ``trainer``).
        dataset_length: Samples in the train dataset, after its wrappers.
        world_size: Processes that train together, at least 1.

    Returns:
        The plan, as ``plan_training(config_schema.trainer, dataset_length, world_size)`` gives it.

    Raises:
        ConfigError: With every problem of the plan and, when the run could be planned, of the schedules.

    >>> from noether.core.schemas import (
    ...     BaseTrainerConfig, ConfigSchema, CustomScheduleConfig, DatasetBaseConfig, ModelBaseConfig, OptimizerConfig)
    >>> optimizer = OptimizerConfig(lr=0.1, schedule_config=CustomScheduleConfig(values=(0.1, 0.05)))
    >>> config = ConfigSchema(
    ...     datasets={"train": DatasetBaseConfig(kind="d")},
    ...     model=ModelBaseConfig(kind="m", name="m", optimizer_config=optimizer),
    ...     trainer=BaseTrainerConfig(kind="t", max_epochs=1, effective_batch_size=4),
    ...     output_path="out",
    ... )
    >>> check_plan(config, dataset_length=8).total_updates
    2
    >>> check_plan(config, dataset_length=12)
    Traceback (most recent call last):
    ...
    noether.core.config.errors.ConfigError: model.optimizer_config.schedule_config.values: must have a value for each of the run's 3 updates (got 2 values)
    """
    plan = plan_training(config_schema.trainer, dataset_length, world_size, path="trainer")
    issues = schedule_issues(config_schema, plan)
    if issues:
        raise ConfigError(issues)
    return plan
