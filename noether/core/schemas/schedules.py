"""Schedule configs: one frozen class per schedule kind of Noether, discriminated by ``kind``.

The values these configs describe are computed by ``noether.core.schedules``. A learning-rate schedule may
leave ``max_value`` unset: ``noether.core.config.resolve`` then takes it from the optimizer's ``lr``.
"""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import (
    FieldProblem,
    at_least,
    each,
    finite,
    in_closed_interval,
    non_empty,
    run_object_checks,
    value_rule,
)

_PREFIX = "noether.core.schedules."


@attrs.frozen(kw_only=True)
class ScheduleBaseConfig:
    """Fields every schedule kind shares: overhang, value range and the interval it counts in."""

    kind: str | None = None
    """The fully qualified class name of the schedule."""
    overhang_percent: float | None = attrs.field(default=None, validator=at_least(0.0))
    """Prolong the schedule by this fraction of the run (``T + int(T * p)``); exclusive with overhang_steps."""
    overhang_steps: int | None = attrs.field(default=None, validator=at_least(0))
    """Prolong the schedule by this many steps; mutually exclusive with overhang_percent."""
    start_value: float = attrs.field(default=0.0, validator=[at_least(0.0), finite])
    """Value at the first step, where the kind starts from a start value."""
    end_value: float = attrs.field(default=1e-6, validator=[at_least(0.0), finite])
    """Value at the last step, where the kind ends at an end value."""
    weight_decay: float | None = 0.0
    """Unused by every schedule; kept so Noether configs that set it still load."""
    start_percent: float | None = attrs.field(default=None, validator=in_closed_interval(0.0, 1.0))
    """Fraction of the run at which the schedule starts (validated, not used by any kind)."""
    end_percent: float | None = attrs.field(default=None, validator=in_closed_interval(0.0, 1.0))
    """Fraction of the run at which the schedule ends (validated, not used by any kind)."""
    start_step: int | None = attrs.field(default=None, validator=at_least(0))
    """Step at which the schedule starts (validated, not used by any kind)."""
    end_step: int | None = attrs.field(default=None, validator=at_least(0))
    """Step at which the schedule ends (validated, not used by any kind)."""
    interval: Literal["update", "epoch"] = "update"
    """Count steps in optimizer updates, or in epochs (the value is then constant within an epoch)."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, *self._object_checks())

    def _object_checks(self) -> tuple:
        return (self.check_mutual_exclusion, self.validate_start_end_steps, self.validate_start_end_percents)

    def check_mutual_exclusion(self) -> None:
        """Ensure that ``overhang_percent`` and ``overhang_steps`` are not both set."""
        if self.overhang_percent is not None and self.overhang_steps is not None:
            raise FieldProblem(
                "only one of overhang_percent and overhang_steps may be set "
                f"(got overhang_percent={self.overhang_percent!r}, overhang_steps={self.overhang_steps!r})",
                deletable="overhang_percent",
            )

    def validate_start_end_steps(self) -> None:
        """Ensure ``start_step`` and ``end_step`` are set together, before each other, and without percents."""
        _check_range(self, "start_step", "end_step", other=("start_percent", "end_percent"))

    def validate_start_end_percents(self) -> None:
        """Ensure ``start_percent`` and ``end_percent`` are set together and ``start_percent < end_percent``."""
        _check_range(self, "start_percent", "end_percent", other=None)


def _check_range(config: ScheduleBaseConfig, start: str, end: str, other: tuple[str, str] | None) -> None:
    low, high = getattr(config, start), getattr(config, end)
    if (low is None) != (high is None):
        raise FieldProblem(f"{start} and {end} must both be set or both be None (got {start}={low!r}, {end}={high!r})")
    if low is None:
        return
    if other is not None and (getattr(config, other[0]) is not None or getattr(config, other[1]) is not None):
        raise FieldProblem(f"cannot set both {start}/{end} and {other[0]}/{other[1]}")
    if not low < high:
        raise FieldProblem(f"{start} must be less than {end} (got {low!r} >= {high!r})")


def _check_decreasing(config: DecreasingProgressScheduleConfig) -> None:
    if config.max_value is not None and config.end_value > config.max_value:
        raise FieldProblem(
            f"end_value must be less than or equal to max_value (got end_value={config.end_value!r} > "
            f"max_value={config.max_value!r})",
            "end_value",
        )


def _check_increasing(config: IncreasingProgressScheduleConfig) -> None:
    if config.max_value is not None and config.start_value > config.max_value:
        raise FieldProblem(
            f"start_value must be less than or equal to max_value (got start_value={config.start_value!r} > "
            f"max_value={config.max_value!r})",
            "start_value",
        )


@attrs.frozen(kw_only=True)
class ProgressScheduleConfig(ScheduleBaseConfig):
    """A schedule that moves from a start to an end value as training progresses (linear for this kind)."""

    kind: Literal["noether.core.schedules.ProgressSchedule"] = _PREFIX + "ProgressSchedule"
    """The fully qualified class name of the schedule."""
    exclude_first: bool = False
    """Never emit the start value: the curve starts one step in."""
    exclude_last: bool = False
    """Never emit the end value: the curve stops one step short."""


@attrs.frozen(kw_only=True)
class DecreasingProgressScheduleConfig(ProgressScheduleConfig):
    """A progress schedule from ``max_value`` down to ``end_value`` (linear for this kind)."""

    kind: Literal["noether.core.schedules.DecreasingProgressSchedule"] = _PREFIX + "DecreasingProgressSchedule"
    """The fully qualified class name of the schedule."""
    max_value: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """Maximum (starting) value. ``None``: the optimizer's ``lr`` (or ``weight_decay``) when resolved."""
    end_value: float = attrs.field(default=0.0, validator=[at_least(0.0), finite])
    """Minimum (ending) value of the schedule."""

    def _object_checks(self) -> tuple:
        return (*super()._object_checks(), lambda: _check_decreasing(self))


@attrs.frozen(kw_only=True)
class IncreasingProgressScheduleConfig(ProgressScheduleConfig):
    """A progress schedule from ``start_value`` up to ``max_value`` (linear for this kind)."""

    kind: Literal["noether.core.schedules.IncreasingProgressSchedule"] = _PREFIX + "IncreasingProgressSchedule"
    """The fully qualified class name of the schedule."""
    start_value: float = attrs.field(default=0.0, validator=finite)
    """Minimum (starting) value of the schedule."""
    max_value: float | None = attrs.field(default=None, validator=finite)
    """Maximum (ending) value. ``None``: the optimizer's ``lr`` (or ``weight_decay``) when resolved."""

    def _object_checks(self) -> tuple:
        return (*super()._object_checks(), lambda: _check_increasing(self))


@attrs.frozen(kw_only=True)
class LinearDecreasingScheduleConfig(DecreasingProgressScheduleConfig):
    """Linear decrease from ``max_value`` to ``end_value``."""

    kind: Literal["noether.core.schedules.LinearDecreasingSchedule"] = _PREFIX + "LinearDecreasingSchedule"
    """The fully qualified class name of the schedule."""


@attrs.frozen(kw_only=True)
class LinearIncreasingScheduleConfig(IncreasingProgressScheduleConfig):
    """Linear increase from ``start_value`` to ``max_value``."""

    kind: Literal["noether.core.schedules.LinearIncreasingSchedule"] = _PREFIX + "LinearIncreasingSchedule"
    """The fully qualified class name of the schedule."""


@attrs.frozen(kw_only=True)
class CosineDecreasingScheduleConfig(DecreasingProgressScheduleConfig):
    """Half-cosine decrease from ``max_value`` to ``end_value``."""

    kind: Literal["noether.core.schedules.CosineDecreasingSchedule"] = _PREFIX + "CosineDecreasingSchedule"
    """The fully qualified class name of the schedule."""


@attrs.frozen(kw_only=True)
class CosineIncreasingScheduleConfig(IncreasingProgressScheduleConfig):
    """Half-cosine increase from ``start_value`` to ``max_value``."""

    kind: Literal["noether.core.schedules.CosineIncreasingSchedule"] = _PREFIX + "CosineIncreasingSchedule"
    """The fully qualified class name of the schedule."""


@attrs.frozen(kw_only=True)
class PolynomialDecreasingScheduleConfig(DecreasingProgressScheduleConfig):
    """Polynomial decrease ``end + (max - end) * (1 - p) ** power``."""

    kind: Literal["noether.core.schedules.PolynomialDecreasingSchedule"] = (
        _PREFIX + "PolynomialDecreasingSchedule"
    )
    """The fully qualified class name of the schedule."""
    power: float = attrs.field(default=1.0, validator=[at_least(0.0), finite])
    """The power of the polynomial function (1.0 is linear)."""


@attrs.frozen(kw_only=True)
class PolynomialIncreasingScheduleConfig(IncreasingProgressScheduleConfig):
    """Polynomial increase ``start + (max - start) * (1 - (1 - p) ** power)``."""

    kind: Literal["noether.core.schedules.PolynomialIncreasingSchedule"] = (
        _PREFIX + "PolynomialIncreasingSchedule"
    )
    """The fully qualified class name of the schedule."""
    power: float = attrs.field(default=1.0, validator=[at_least(0.0), finite])
    """The power of the polynomial function (1.0 is linear)."""


def _interval_rule(value: float) -> float:
    """Ensure that an interval (``decreases_interval``, ``update_interval``) is a float in the range (0, 1)."""
    if not 0.0 < value < 1.0:
        raise ValueError(f"must be in (0, 1) (got {value!r})")
    return value


@attrs.frozen(kw_only=True)
class StepDecreasingScheduleConfig(DecreasingProgressScheduleConfig):
    """Multiply the value by ``factor`` after every ``decreases_interval`` fraction of the run."""

    kind: Literal["noether.core.schedules.StepDecreasingSchedule"] = _PREFIX + "StepDecreasingSchedule"
    """The fully qualified class name of the schedule."""
    factor: float = attrs.field(validator=[at_least(0.0), finite])
    """The factor by which the value decreases at each step."""
    decreases_interval: float = attrs.field(validator=value_rule(_interval_rule))
    """The fraction of the run, in (0, 1), after which the value decreases."""

    check_interval = staticmethod(_interval_rule)


@attrs.frozen(kw_only=True)
class StepFixedScheduleConfig(ScheduleBaseConfig):
    """Multiply ``start_value`` by ``factor`` at each of the given fractions of the run."""

    kind: Literal["noether.core.schedules.StepFixedSchedule"] = _PREFIX + "StepFixedSchedule"
    """The fully qualified class name of the schedule."""
    start_value: float = attrs.field(default=1.0, validator=[at_least(0.0), finite])
    """The initial value of the schedule."""
    factor: float = attrs.field(validator=[at_least(0.0), finite])
    """The factor by which the value is multiplied at each entry of ``steps``."""
    steps: tuple[float, ...]
    """Fractions of the run, each in (0, 1), at which the value changes (any order)."""

    def _object_checks(self) -> tuple:
        return (*super()._object_checks(), self.validate_steps)

    def validate_steps(self) -> None:
        """Ensure that ``steps`` is a non-empty list of floats in the range (0, 1)."""
        if not self.steps:
            raise FieldProblem("must not be empty (got ())", "steps")
        for index, step in enumerate(self.steps):
            if not 0.0 < step < 1.0:
                raise FieldProblem(f"must be in (0, 1) (got {step!r})", f"steps[{index}]")


@attrs.frozen(kw_only=True)
class StepIntervalScheduleConfig(ScheduleBaseConfig):
    """Multiply ``start_value`` by ``factor`` after every ``update_interval`` fraction of the run."""

    kind: Literal["noether.core.schedules.StepIntervalSchedule"] = _PREFIX + "StepIntervalSchedule"
    """The fully qualified class name of the schedule."""
    start_value: float = attrs.field(default=1.0, validator=[at_least(0.0), finite])
    """The initial value of the schedule, i.e. the value at step 0."""
    factor: float = attrs.field(validator=[at_least(0.0), finite])
    """The factor by which the value is multiplied after each interval."""
    update_interval: float = attrs.field(validator=value_rule(_interval_rule))
    """The fraction of the run, in (0, 1), after which the value changes."""

    check_update_interval = staticmethod(_interval_rule)


@attrs.frozen(kw_only=True)
class ConstantScheduleConfig(ScheduleBaseConfig):
    """The same value at every step."""

    kind: Literal["noether.core.schedules.ConstantSchedule"] = _PREFIX + "ConstantSchedule"
    """The fully qualified class name of the schedule."""
    value: float = attrs.field(validator=finite)
    """The value returned at every step (for a learning rate: normally the optimizer's ``lr``)."""


@attrs.frozen(kw_only=True)
class CustomScheduleConfig(ScheduleBaseConfig):
    """An explicit value per step; the run must not be longer than the list."""

    kind: Literal["noether.core.schedules.CustomSchedule"] = _PREFIX + "CustomSchedule"
    """The fully qualified class name of the schedule."""
    values: tuple[float, ...] = attrs.field(validator=[non_empty, each(finite)])
    """The value of each step, at least as many as the run has steps."""


@attrs.frozen(kw_only=True)
class LinearWarmupCosineDecayScheduleConfig(ScheduleBaseConfig):
    """Linear warmup from ``start_value`` to ``max_value``, then cosine decay to ``end_value``."""

    kind: Literal["noether.core.schedules.LinearWarmupCosineDecaySchedule"] = (
        _PREFIX + "LinearWarmupCosineDecaySchedule"
    )
    """The fully qualified class name of the schedule."""
    warmup_steps: int | None = attrs.field(default=None, validator=at_least(0))
    """The number of steps of the linear warmup; exclusive with ``warmup_percent``."""
    warmup_percent: float | None = attrs.field(default=None, validator=in_closed_interval(0.0, 1.0))
    """The fraction of the run, in [0, 1], spent in the linear warmup; exclusive with ``warmup_steps``."""
    max_value: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """The peak value at the end of warmup. ``None``: the optimizer's ``lr`` when resolved."""

    def _object_checks(self) -> tuple:
        return (
            *super()._object_checks(),
            self.validate_warmup,
            lambda: _check_decreasing(self),  # type: ignore[arg-type]
            lambda: _check_increasing(self),  # type: ignore[arg-type]
        )

    def validate_warmup(self) -> None:
        """Ensure that exactly one of ``warmup_steps`` or ``warmup_percent`` is specified."""
        if (self.warmup_steps is None) == (self.warmup_percent is None):
            raise FieldProblem(
                "define exactly one of warmup_steps or warmup_percent "
                f"(got warmup_steps={self.warmup_steps!r}, warmup_percent={self.warmup_percent!r})",
                deletable="warmup_steps" if self.warmup_steps is not None else None,
            )


@attrs.frozen(kw_only=True)
class PeriodicBoolScheduleConfig(ScheduleBaseConfig):
    """Alternate between ``on_value`` and ``off_value`` for fixed numbers of steps."""

    kind: Literal["noether.core.schedules.PeriodicBoolSchedule"] = _PREFIX + "PeriodicBoolSchedule"
    """The fully qualified class name of the schedule."""
    initial_state: bool
    """The state at step 0: ``True`` starts with ``on_duration`` steps of ``on_value``."""
    off_value: float = attrs.field(default=0.0, validator=finite)
    """The value returned in the off state."""
    on_value: float = attrs.field(default=1.0, validator=finite)
    """The value returned in the on state."""
    off_duration: int = attrs.field(default=1, validator=at_least(1))
    """The number of steps spent in the off state, at least 1."""
    on_duration: int = attrs.field(default=1, validator=at_least(1))
    """The number of steps spent in the on state, at least 1."""
    invert: bool = False
    """Swap the two values (the durations stay with their states)."""


@attrs.frozen(kw_only=True)
class SchedulerConfig(ScheduleBaseConfig):
    """Linear warmup from ``start_value`` over ``warmup_percent`` of the run, then linear decay to ``end_value``."""

    kind: Literal["noether.core.schedules.scheduler.SchedulerConfig"] = _PREFIX + "scheduler.SchedulerConfig"
    """The fully qualified class name of the schedule."""
    warmup_percent: float = attrs.field(validator=in_closed_interval(0.0, 1.0))
    """The fraction of the run, in [0, 1], spent in the linear warmup."""
    end_value: float = attrs.field(validator=[at_least(0.0), finite])
    """The value at the end of the run."""
    max_value: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """The peak value at the end of warmup (our addition). ``None``: the optimizer's ``lr`` when resolved."""

    def _object_checks(self) -> tuple:
        return (
            *super()._object_checks(),
            lambda: _check_decreasing(self),  # type: ignore[arg-type]
            lambda: _check_increasing(self),  # type: ignore[arg-type]
        )


AnyScheduleConfig = (
    ProgressScheduleConfig
    | DecreasingProgressScheduleConfig
    | IncreasingProgressScheduleConfig
    | LinearDecreasingScheduleConfig
    | LinearIncreasingScheduleConfig
    | CosineDecreasingScheduleConfig
    | CosineIncreasingScheduleConfig
    | PolynomialDecreasingScheduleConfig
    | PolynomialIncreasingScheduleConfig
    | StepDecreasingScheduleConfig
    | StepFixedScheduleConfig
    | StepIntervalScheduleConfig
    | ConstantScheduleConfig
    | CustomScheduleConfig
    | LinearWarmupCosineDecayScheduleConfig
    | PeriodicBoolScheduleConfig
    | SchedulerConfig
)
"""Any schedule config, selected by its ``kind``."""

SCHEDULES_WITH_MAX_VALUE = (
    DecreasingProgressScheduleConfig,
    IncreasingProgressScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    SchedulerConfig,
)
"""Schedule configs whose ``max_value`` may be left to the optimizer (``resolve`` fills it in)."""
