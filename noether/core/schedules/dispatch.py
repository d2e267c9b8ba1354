"""From a schedule config to its curve: ``schedule_value`` and ``make_schedule``.

Each config class maps to one shape of ``shapes`` with its hyperparameters bound. ``make_schedule`` does that
binding (and every other computation that depends only on the config and the run length) once, so that
evaluating the returned function per update costs a few hundred nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from noether.core.schedules.shapes import (
    Shape,
    constant,
    cosine_decay,
    cosine_progress,
    custom,
    linear_decay,
    linear_progress,
    linear_warmup,
    overhang_total_steps,
    periodic_bool,
    polynomial_progress,
    progress_value,
    step_fixed,
    step_interval,
    step_progress,
    warmup_span,
    warmup_then_decay,
)
from noether.core.schemas.schedules import (
    AnyScheduleConfig,
    ConstantScheduleConfig,
    CosineDecreasingScheduleConfig,
    CosineIncreasingScheduleConfig,
    CustomScheduleConfig,
    DecreasingProgressScheduleConfig,
    IncreasingProgressScheduleConfig,
    LinearDecreasingScheduleConfig,
    LinearIncreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    PeriodicBoolScheduleConfig,
    PolynomialDecreasingScheduleConfig,
    PolynomialIncreasingScheduleConfig,
    ProgressScheduleConfig,
    ScheduleBaseConfig,
    SchedulerConfig,
    StepDecreasingScheduleConfig,
    StepFixedScheduleConfig,
    StepIntervalScheduleConfig,
)


def _max_value(config: AnyScheduleConfig) -> float:
    """Return the config's ``max_value``, which a learning-rate schedule may leave for ``resolve`` to fill in."""
    if config.max_value is None:
        raise ValueError(
            f"{type(config).__name__}.max_value is not set: resolve the config first "
            "(it defaults to the optimizer's lr, or its weight_decay for a weight-decay schedule)"
        )
    return config.max_value


def _progress(config: ProgressScheduleConfig, start_value: float, end_value: float, progress: Shape) -> Shape:
    """Bind ``progress_value`` for a progress config, carrying its exclude flags."""
    return partial(
        progress_value,
        start_value=start_value,
        end_value=end_value,
        progress=progress,
        exclude_first=config.exclude_first,
        exclude_last=config.exclude_last,
    )


def _warmup_then(
    config: LinearWarmupCosineDecayScheduleConfig | SchedulerConfig,
    decay: Shape,
    total: int,
    warmup_steps: int | None,
) -> Shape:
    """Bind the join of Noether's linear warmup and ``decay``, with the switch step already computed."""
    max_value = _max_value(config)
    switch_step, warmup_total_steps = warmup_span(
        total, warmup_steps=warmup_steps, warmup_percent=config.warmup_percent
    )
    return partial(
        warmup_then_decay,
        warmup_steps=switch_step,
        warmup_total_steps=warmup_total_steps,
        warmup=partial(linear_warmup, start_value=config.start_value, max_value=max_value),
        decay=partial(decay, max_value=max_value, end_value=config.end_value),
    )


def _bind(config: AnyScheduleConfig, total_steps: int) -> tuple[Shape, int]:
    """Return the config's shape with its hyperparameters bound, and the total its curve runs over."""
    if not isinstance(config, ScheduleBaseConfig):
        raise TypeError(f"not a schedule config: {type(config).__name__}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1 (got {total_steps!r})")
    # Overhang stretches the curve, not the run: steps past the run still hold the value at T - 1.
    total = overhang_total_steps(
        total_steps, overhang_percent=config.overhang_percent, overhang_steps=config.overhang_steps
    )
    # Subclasses before their bases. The base progress kinds, which Noether cannot build, are linear.
    match config:
        case StepDecreasingScheduleConfig():
            steps = partial(step_progress, factor=config.factor, interval=config.decreases_interval)
            shape = _progress(config, _max_value(config), config.end_value, steps)
        case CosineDecreasingScheduleConfig():
            shape = _progress(config, _max_value(config), config.end_value, cosine_progress)
        case PolynomialDecreasingScheduleConfig():
            power = partial(polynomial_progress, power=config.power)
            shape = _progress(config, _max_value(config), config.end_value, power)
        case LinearDecreasingScheduleConfig() | DecreasingProgressScheduleConfig():
            shape = _progress(config, _max_value(config), config.end_value, linear_progress)
        case CosineIncreasingScheduleConfig():
            shape = _progress(config, config.start_value, _max_value(config), cosine_progress)
        case PolynomialIncreasingScheduleConfig():
            power = partial(polynomial_progress, power=config.power)
            shape = _progress(config, config.start_value, _max_value(config), power)
        case LinearIncreasingScheduleConfig() | IncreasingProgressScheduleConfig():
            shape = _progress(config, config.start_value, _max_value(config), linear_progress)
        case ProgressScheduleConfig():
            shape = _progress(config, config.start_value, config.end_value, linear_progress)
        case StepFixedScheduleConfig():
            shape = partial(step_fixed, start_value=config.start_value, factor=config.factor, steps=config.steps)
        case StepIntervalScheduleConfig():
            shape = partial(
                step_interval,
                start_value=config.start_value,
                factor=config.factor,
                update_interval=config.update_interval,
            )
        case ConstantScheduleConfig():
            shape = partial(constant, value=config.value)
        case CustomScheduleConfig():
            # Noether indexes the list by step and ignores the total, so overhang has nothing to stretch.
            return partial(custom, values=config.values), total_steps
        case LinearWarmupCosineDecayScheduleConfig():
            shape = _warmup_then(config, cosine_decay, total, config.warmup_steps)
        case SchedulerConfig():
            # SchedulerConfig has only warmup_percent.
            shape = _warmup_then(config, linear_decay, total, None)
        case PeriodicBoolScheduleConfig():
            shape = partial(
                periodic_bool,
                initial_state=config.initial_state,
                on_value=config.on_value,
                off_value=config.off_value,
                on_duration=config.on_duration,
                off_duration=config.off_duration,
                invert=config.invert,
            )
        case _:
            raise TypeError(f"not a schedule config: {type(config).__name__}")
    return shape, total


def make_schedule(config: AnyScheduleConfig, total_steps: int) -> Callable[[int], float]:
    """Build the function ``step -> value`` of a schedule config for a run of ``total_steps`` steps.

    Values for ``0 <= step < total_steps`` equal Noether's ``get_value(step, total_steps)`` (overhang and
    exclude flags included); ``step >= total_steps`` holds the value at ``total_steps - 1``. The step is an
    optimizer update, or an epoch for ``interval: epoch`` (the training plan picks the counts). The function
    is evaluated once at the last step here, so a config the shapes reject fails when the run is planned.

    Args:
        config: Any schedule config; it is not modified.
        total_steps: The number of steps of the run, at least 1.

    Returns:
        A pure function of the step (at least 0).

    Raises:
        ValueError: If ``total_steps < 1``, ``max_value`` is not set yet, a custom list is shorter than the
            run, or a hyperparameter is outside the shape's domain (e.g. a negative ``power``).
        TypeError: If ``config`` is not a schedule config.

    >>> from noether.core.schemas.schedules import LinearWarmupCosineDecayScheduleConfig
    >>> config = LinearWarmupCosineDecayScheduleConfig(warmup_steps=2, max_value=1.0, end_value=0.0)
    >>> schedule = make_schedule(config, 6)
    >>> [round(schedule(k), 4) for k in range(8)]
    [0.3333, 0.6667, 1.0, 0.75, 0.25, 0.0, 0.0, 0.0]
    """
    shape, curve_total = _bind(config, total_steps)
    last = total_steps - 1

    def schedule(step: int) -> float:
        # The shape rejects a negative step; clamping here keeps overhang from extending the run.
        return shape(step if step < last else last, curve_total)

    schedule(last)
    return schedule


def schedule_value(config: AnyScheduleConfig, step: int, total_steps: int) -> float:
    """The value of a schedule config at one step of a run of ``total_steps`` steps.

    Same values and errors as ``make_schedule(config, total_steps)(step)``; use ``make_schedule`` to evaluate
    many steps of one run.

    Args:
        config: Any schedule config; it is not modified.
        step: The step, at least 0; ``step >= total_steps`` holds the value at ``total_steps - 1``.
        total_steps: The number of steps of the run, at least 1.

    Returns:
        The value at ``step``.

    Raises:
        ValueError: If ``step < 0``, ``total_steps < 1``, ``max_value`` is not set yet, a custom list is
            shorter than the run, or a hyperparameter is outside the shape's domain.
        TypeError: If ``config`` is not a schedule config.

    >>> from noether.core.schemas.schedules import CosineDecreasingScheduleConfig
    >>> schedule_value(CosineDecreasingScheduleConfig(max_value=1.0, end_value=0.0), 2, 5)
    0.5
    """
    if step < 0:
        raise ValueError(f"step must be >= 0 (got {step!r})")
    return make_schedule(config, total_steps)(step)
