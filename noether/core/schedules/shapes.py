"""Schedule shapes: one pure function per curve, ``f(step, total_steps, *, hyperparameters) -> float``.

Conventions shared by every shape (``k`` = step, ``T`` = total_steps):

- ``k`` counts from 0; the run's last step is ``T - 1``. Any ``k >= T`` holds the value at ``T - 1``
  (Noether's ``get_value`` allows ``k == T`` and overshoots past the end value there; we do not).
- ``k < 0`` or ``T < 1`` raises ``ValueError``. Nothing is stored, nothing is mutated.
- Progress curves use ``p = k / max(1, T - 1)``, so the last step has ``p = 1``; the step shapes of Noether
  (``step_decreasing``, ``step_fixed``, ``step_interval``) use ``k / T`` instead. The arithmetic follows
  Noether's order of operations (``start + progress * (end - start)``), so values agree with its values to
  1e-12 relative, rounding included (which can put the end value an ulp off).
- Composite curves are joins of smaller shapes (``warmup_then_decay``), not subclasses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

Shape = Callable[[int, int], float]
"""A schedule curve with its hyperparameters bound: ``shape(step, total_steps) -> value``."""


def _clamp_step(step: int, total_steps: int) -> int:
    """Validate ``(step, total_steps)`` and return the step to evaluate (steps past the run hold the last)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1 (got {total_steps!r})")
    if step < 0:
        raise ValueError(f"step must be >= 0 (got {step!r})")
    return step if step < total_steps else total_steps - 1


def overhang_total_steps(
    total_steps: int, *, overhang_percent: float | None = None, overhang_steps: int | None = None
) -> int:
    """Stretch the run the schedule sees, so it does not reach its end within the real run.

    Formula: ``T + int(T * overhang_percent)`` (truncated), or ``T + overhang_steps``, or ``T`` unchanged.

    Args:
        total_steps: The real number of steps ``T`` of the run, at least 1.
        overhang_percent: Fraction of ``T`` to add; exclusive with ``overhang_steps``.
        overhang_steps: Number of steps to add; exclusive with ``overhang_percent``.

    Returns:
        The total the schedule's curve is computed over.

    Raises:
        ValueError: If ``total_steps < 1`` or both overhangs are set.

    >>> overhang_total_steps(5, overhang_percent=0.5), overhang_total_steps(5, overhang_steps=5)
    (7, 10)
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1 (got {total_steps!r})")
    if overhang_percent is not None and overhang_steps is not None:
        raise ValueError(
            "only one of overhang_percent and overhang_steps may be set "
            f"(got overhang_percent={overhang_percent!r}, overhang_steps={overhang_steps!r})"
        )
    if overhang_percent is not None:
        return total_steps + int(total_steps * overhang_percent)
    if overhang_steps is not None:
        return total_steps + overhang_steps
    return total_steps


def linear_progress(step: int, total_steps: int) -> float:
    """Linear progress from 0 at the first step to 1 at the last.

    Formula: ``p = k / max(1, T - 1)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.

    Returns:
        The progress in [0, 1].

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [linear_progress(k, 5) for k in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    step = _clamp_step(step, total_steps)
    return step / max(1, total_steps - 1)


def cosine_progress(step: int, total_steps: int) -> float:
    """Half-cosine progress from 0 at the first step to 1 at the last.

    Formula: ``1 - (1 + cos(pi * p)) / 2`` with ``p = k / max(1, T - 1)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.

    Returns:
        The progress in [0, 1].

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [round(cosine_progress(k, 5), 10) for k in range(5)]
    [0.0, 0.1464466094, 0.5, 0.8535533906, 1.0]
    """
    step = _clamp_step(step, total_steps)
    return 1 - (1 + math.cos(math.pi * (step / max(1, total_steps - 1)))) / 2


def polynomial_progress(step: int, total_steps: int, *, power: float) -> float:
    """Polynomial progress from 0 at the first step to 1 at the last (``power = 1`` is linear).

    Formula: ``1 - (1 - p) ** power`` with ``p = k / max(1, T - 1)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        power: The exponent, at least 0 (``0`` keeps the progress at 0).

    Returns:
        The progress in [0, 1].

    Raises:
        ValueError: If ``step < 0``, ``total_steps < 1`` or ``power < 0`` (which divides by zero at the end).

    >>> [polynomial_progress(k, 5, power=2.0) for k in range(5)]
    [0.0, 0.4375, 0.75, 0.9375, 1.0]
    """
    if power < 0:
        raise ValueError(f"power must be >= 0 (got {power!r})")
    step = _clamp_step(step, total_steps)
    return 1 - (1 - step / max(1, total_steps - 1)) ** power


def step_progress(step: int, total_steps: int, *, factor: float, interval: float) -> float:
    """Progress of a step decay: the value has been multiplied by ``factor`` once per ``interval`` of the run.

    Formula: ``1 - factor ** n`` with ``n = int(round(k / T / interval, 10))`` (the rounding keeps
    ``2.9999999999`` from becoming 2).

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        factor: The multiplier applied at each interval, at least 0.
        interval: The fraction of the run between two multiplications, in (0, 1).

    Returns:
        The progress ``1 - factor ** n`` (in [0, 1] when ``factor <= 1``).

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [step_progress(k, 4, factor=0.5, interval=0.5) for k in range(4)]
    [0.0, 0.0, 0.5, 0.5]
    """
    step = _clamp_step(step, total_steps)
    return 1 - factor ** int(round(step / total_steps / interval, 10))


def progress_value(
    step: int,
    total_steps: int,
    *,
    start_value: float,
    end_value: float,
    progress: Shape = linear_progress,
    exclude_first: bool = False,
    exclude_last: bool = False,
) -> float:
    """Move from ``start_value`` to ``end_value`` along a progress curve.

    Formula: ``start + progress(k', T') * (end - start)`` where ``exclude_last`` gives ``T' = T + 1`` (the end
    value is never emitted) and ``exclude_first`` gives ``k' = k + 1`` and one more step in ``T'`` (the
    start value is never emitted).

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        start_value: The value at progress 0.
        end_value: The value at progress 1.
        progress: The progress curve, e.g. ``linear_progress`` or ``cosine_progress``.
        exclude_first: Start one step into the curve.
        exclude_last: Stop one step short of the end of the curve.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [progress_value(k, 5, start_value=1.0, end_value=0.0, exclude_last=True) for k in range(5)]
    [1.0, 0.8, 0.6, 0.4, 0.19999999999999996]
    """
    step = _clamp_step(step, total_steps)
    if exclude_last:
        total_steps += 1
    if exclude_first:
        step += 1
        total_steps += 1
    return start_value + progress(step, total_steps) * (end_value - start_value)


def step_decreasing(
    step: int,
    total_steps: int,
    *,
    max_value: float,
    end_value: float = 0.0,
    factor: float,
    decreases_interval: float,
    exclude_first: bool = False,
    exclude_last: bool = False,
) -> float:
    """Multiply the distance to ``end_value`` by ``factor`` after every ``decreases_interval`` of the run.

    Formula: ``max + (1 - factor ** n) * (end - max)`` with ``n = int(round(k' / T' / decreases_interval, 10))``
    (``k'``, ``T'`` as in ``progress_value``); with ``end = 0`` this is ``max * factor ** n``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        max_value: The value at the first step.
        end_value: The value the steps approach.
        factor: The multiplier per interval, at least 0.
        decreases_interval: The fraction of the run between two decreases, in (0, 1).
        exclude_first: Shift the curve one step in.
        exclude_last: Stretch the curve by one step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [step_decreasing(k, 8, max_value=1.0, factor=0.5, decreases_interval=0.5) for k in (0, 3, 4, 7)]
    [1.0, 1.0, 0.5, 0.5]
    """
    progress = partial(step_progress, factor=factor, interval=decreases_interval)
    return progress_value(
        step,
        total_steps,
        start_value=max_value,
        end_value=end_value,
        progress=progress,
        exclude_first=exclude_first,
        exclude_last=exclude_last,
    )


def step_fixed(step: int, total_steps: int, *, start_value: float, factor: float, steps: Sequence[float]) -> float:
    """Multiply ``start_value`` by ``factor`` at each given fraction of the run.

    Formula: ``start * factor ** n`` with ``n`` the number of entries ``s`` of ``steps`` with ``s <= k / T``
    (the order of ``steps`` does not matter).

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        start_value: The value before the first entry of ``steps``.
        factor: The multiplier at each entry, at least 0.
        steps: Fractions of the run, each in (0, 1).

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [step_fixed(k, 8, start_value=1.0, factor=0.5, steps=(0.5, 0.25)) for k in range(8)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    """
    step = _clamp_step(step, total_steps)
    progress = step / total_steps
    return start_value * factor ** sum(1 for fraction in steps if fraction <= progress)


def step_interval(step: int, total_steps: int, *, start_value: float, factor: float, update_interval: float) -> float:
    """Multiply ``start_value`` by ``factor`` after every ``update_interval`` of the run.

    Formula: ``start * factor ** n`` with ``n = int(round(k / T / update_interval, 10))``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        start_value: The value at the first step.
        factor: The multiplier per interval, at least 0.
        update_interval: The fraction of the run between two multiplications, in (0, 1).

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [step_interval(k, 10, start_value=1.0, factor=0.5, update_interval=0.2) for k in range(0, 10, 2)]
    [1.0, 0.5, 0.25, 0.125, 0.0625]
    """
    step = _clamp_step(step, total_steps)
    return start_value * factor ** int(round(step / total_steps / update_interval, 10))


def constant(step: int, total_steps: int, *, value: float) -> float:
    """The same value at every step.

    Formula: ``value``.

    Args:
        step: The step ``k``, at least 0.
        total_steps: The number of steps ``T``, at least 1.
        value: The value.

    Returns:
        ``value``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> constant(99, 100, value=0.05)
    0.05
    """
    _clamp_step(step, total_steps)
    return value


def custom(step: int, total_steps: int, *, values: Sequence[float]) -> float:
    """An explicit value per step.

    Formula: ``values[min(k, T - 1)]``; ``T`` must not exceed ``len(values)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value of the run.
        total_steps: The number of steps ``T`` of the run, at least 1 and at most ``len(values)``.
        values: The value of each step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0``, ``total_steps < 1`` or ``values`` is shorter than the run.

    >>> [custom(k, 3, values=(1.0, 2.0, 3.0)) for k in range(5)]
    [1.0, 2.0, 3.0, 3.0, 3.0]
    """
    if len(values) < total_steps:
        raise ValueError(f"values has {len(values)} entries but the run has {total_steps} steps")
    return values[_clamp_step(step, total_steps)]


def periodic_bool(
    step: int,
    total_steps: int,
    *,
    initial_state: bool,
    on_value: float = 1.0,
    off_value: float = 0.0,
    on_duration: int = 1,
    off_duration: int = 1,
    invert: bool = False,
) -> float:
    """Alternate between an on and an off state, starting in ``initial_state``.

    Formula: with ``first`` the duration of the initial state, the state at step ``k`` is ``initial_state``
    when ``k % (on_duration + off_duration) < first`` and the other state otherwise; the on state gives
    ``on_value`` and the off state ``off_value``, swapped when ``invert`` (durations stay with their states).

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        initial_state: The state at step 0 (``True``: on).
        on_value: The value in the on state.
        off_value: The value in the off state.
        on_duration: Steps per on phase, at least 1.
        off_duration: Steps per off phase, at least 1.
        invert: Swap the two values.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [periodic_bool(k, 6, initial_state=True, on_duration=2) for k in range(6)]
    [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    """
    step = _clamp_step(step, total_steps)
    first = on_duration if initial_state else off_duration
    in_first_phase = step % (on_duration + off_duration) < first
    is_on = in_first_phase == initial_state
    return on_value if is_on != invert else off_value


def linear_warmup(step: int, total_steps: int, *, start_value: float, max_value: float) -> float:
    """Noether's linear warmup: rises towards ``max_value`` and stops one step short of it.

    Formula: ``progress_value(k, T, linear, exclude_first=(start == 0), exclude_last=True)``, i.e.
    ``max * (k + 1) / (T + 1)`` when ``start == 0`` (a zero value would waste a step) and
    ``start + (max - start) * k / T`` otherwise. The peak is the first value of what follows.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of warmup steps ``T``, at least 1.
        start_value: The value the warmup starts from.
        max_value: The value the warmup leads to.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [linear_warmup(k, 3, start_value=0.0, max_value=1.0) for k in range(3)]
    [0.25, 0.5, 0.75]
    """
    return progress_value(
        step,
        total_steps,
        start_value=start_value,
        end_value=max_value,
        exclude_first=start_value == 0,
        exclude_last=True,
    )


def cosine_decay(step: int, total_steps: int, *, max_value: float, end_value: float) -> float:
    """Half-cosine decay from ``max_value`` at the first step to ``end_value`` at the last.

    Formula: ``max + (1 - (1 + cos(pi * p)) / 2) * (end - max)`` with ``p = k / max(1, T - 1)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        max_value: The value at the first step.
        end_value: The value at the last step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [cosine_decay(k, 3, max_value=1.0, end_value=0.0) for k in range(3)]
    [1.0, 0.5, 0.0]
    """
    return progress_value(step, total_steps, start_value=max_value, end_value=end_value, progress=cosine_progress)


def linear_decay(step: int, total_steps: int, *, max_value: float, end_value: float) -> float:
    """Linear decay from ``max_value`` at the first step to ``end_value`` at the last.

    Formula: ``max + p * (end - max)`` with ``p = k / max(1, T - 1)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        max_value: The value at the first step.
        end_value: The value at the last step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> [linear_decay(k, 3, max_value=1.0, end_value=0.0) for k in range(3)]
    [1.0, 0.5, 0.0]
    """
    return progress_value(step, total_steps, start_value=max_value, end_value=end_value)


def warmup_span(
    total_steps: int, *, warmup_steps: int | None = None, warmup_percent: float | None = None
) -> tuple[int, int]:
    """Where a warmup hands over to the decay, and how many steps the warmup curve is stretched over.

    Formula: ``warmup_steps = W`` gives ``(W, W)``. ``warmup_percent = q`` gives ``W = int(q * (T - 1))`` and
    ``(W, W)``, except ``q == 1.0``, which gives ``(T - 1, T)`` (Noether's percent schedule treats an end of
    1.0 as the end of the run). So ``q = 0.05``, ``T = 100`` warms up for 4 steps, not 5.

    Args:
        total_steps: The number of steps ``T``, at least 1.
        warmup_steps: The number of warmup steps, at least 0; exclusive with ``warmup_percent``.
        warmup_percent: The fraction of the run spent warming up, in [0, 1]; exclusive with ``warmup_steps``.

    Returns:
        ``(switch_step, warmup_total_steps)``: the first step of the decay, and the ``T`` of the warmup curve.

    Raises:
        ValueError: If ``total_steps < 1`` or not exactly one of ``warmup_steps``, ``warmup_percent`` is set.

    >>> warmup_span(100, warmup_percent=0.05), warmup_span(100, warmup_steps=5), warmup_span(5, warmup_percent=1.0)
    ((4, 4), (5, 5), (4, 5))
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1 (got {total_steps!r})")
    if (warmup_steps is None) == (warmup_percent is None):
        raise ValueError(
            "define exactly one of warmup_steps or warmup_percent "
            f"(got warmup_steps={warmup_steps!r}, warmup_percent={warmup_percent!r})"
        )
    if warmup_steps is not None:
        return warmup_steps, warmup_steps
    switch_step = int(warmup_percent * (total_steps - 1))
    return switch_step, total_steps if warmup_percent == 1.0 else switch_step


def warmup_then_decay(
    step: int,
    total_steps: int,
    *,
    warmup_steps: int,
    warmup: Shape,
    decay: Shape,
    warmup_total_steps: int | None = None,
) -> float:
    """Join a warmup curve and a decay curve at ``warmup_steps``.

    Formula: ``warmup(k, Tw)`` for ``k < W`` with ``Tw = warmup_total_steps or W``, and
    ``decay(k - W, T - W)`` for ``k >= W``. ``W = 0`` is the decay alone; ``W >= T`` never reaches the decay.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        warmup_steps: The first step ``W`` of the decay, at least 0.
        warmup: The warmup curve ``warmup(step, total_steps)``.
        decay: The decay curve ``decay(step, total_steps)``.
        warmup_total_steps: The ``T`` the warmup curve is computed over, at least ``W``; default ``W``.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0`` or ``total_steps < 1``.

    >>> warmup = partial(linear_warmup, start_value=0.0, max_value=1.0)
    >>> decay = partial(linear_decay, max_value=1.0, end_value=0.0)
    >>> [warmup_then_decay(k, 5, warmup_steps=2, warmup=warmup, decay=decay) for k in range(5)]
    [0.3333333333333333, 0.6666666666666666, 1.0, 0.5, 0.0]
    """
    step = _clamp_step(step, total_steps)
    if step < warmup_steps:
        return warmup(step, warmup_steps if warmup_total_steps is None else warmup_total_steps)
    return decay(step - warmup_steps, total_steps - warmup_steps)


def linear_warmup_cosine_decay(
    step: int,
    total_steps: int,
    *,
    warmup_steps: int | None = None,
    warmup_percent: float | None = None,
    start_value: float = 0.0,
    max_value: float,
    end_value: float,
) -> float:
    """Linear warmup from ``start_value`` to ``max_value``, then half-cosine decay to ``end_value``.

    Formula: ``warmup_then_decay`` of ``linear_warmup`` and ``cosine_decay`` over ``warmup_span``. With
    ``W >= 1`` switch steps and ``T > W``: ``max * (k + 1) / (W + 1)`` (start 0) or
    ``start + (max - start) * k / W`` for ``k < W``; then
    ``end + (max - end) * (1 + cos(pi * (k - W) / (T - W - 1))) / 2``, exactly ``max`` at ``k = W`` and
    ``end`` at ``k = T - 1``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        warmup_steps: Warmup length in steps; exclusive with ``warmup_percent``.
        warmup_percent: Warmup length as a fraction of the run (``int(q * (T - 1))`` steps).
        start_value: The value the warmup starts from.
        max_value: The peak, reached at the first step after the warmup.
        end_value: The value at the last step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0``, ``total_steps < 1`` or not exactly one warmup length is set.

    >>> [round(linear_warmup_cosine_decay(k, 6, warmup_steps=2, max_value=1.0, end_value=0.0), 10)
    ...  for k in range(6)]
    [0.3333333333, 0.6666666667, 1.0, 0.75, 0.25, 0.0]
    """
    switch_step, warmup_total_steps = warmup_span(total_steps, warmup_steps=warmup_steps, warmup_percent=warmup_percent)
    return warmup_then_decay(
        step,
        total_steps,
        warmup_steps=switch_step,
        warmup_total_steps=warmup_total_steps,
        warmup=partial(linear_warmup, start_value=start_value, max_value=max_value),
        decay=partial(cosine_decay, max_value=max_value, end_value=end_value),
    )


def linear_warmup_linear_decay(
    step: int,
    total_steps: int,
    *,
    warmup_steps: int | None = None,
    warmup_percent: float | None = None,
    start_value: float = 0.0,
    max_value: float,
    end_value: float,
) -> float:
    """Linear warmup from ``start_value`` to ``max_value``, then linear decay to ``end_value``.

    Our definition of Noether's ``SchedulerConfig`` (which has no implementation there): the same join as
    ``linear_warmup_cosine_decay``, warmup included, with ``linear_decay`` in place of the cosine. With ``W >= 1``
    switch steps and ``T > W``: the warmup as in ``linear_warmup_cosine_decay``, then
    ``max + (k - W) / (T - W - 1) * (end - max)``.

    Args:
        step: The step ``k``, at least 0; ``k >= T`` holds the last value.
        total_steps: The number of steps ``T``, at least 1.
        warmup_steps: Warmup length in steps; exclusive with ``warmup_percent``.
        warmup_percent: Warmup length as a fraction of the run (``int(q * (T - 1))`` steps).
        start_value: The value the warmup starts from.
        max_value: The peak, reached at the first step after the warmup.
        end_value: The value at the last step.

    Returns:
        The value at step ``k``.

    Raises:
        ValueError: If ``step < 0``, ``total_steps < 1`` or not exactly one warmup length is set.

    >>> [linear_warmup_linear_decay(k, 5, warmup_percent=0.5, start_value=0.5, max_value=1.0, end_value=0.0)
    ...  for k in range(5)]
    [0.5, 0.75, 1.0, 0.5, 0.0]
    """
    switch_step, warmup_total_steps = warmup_span(total_steps, warmup_steps=warmup_steps, warmup_percent=warmup_percent)
    return warmup_then_decay(
        step,
        total_steps,
        warmup_steps=switch_step,
        warmup_total_steps=warmup_total_steps,
        warmup=partial(linear_warmup, start_value=start_value, max_value=max_value),
        decay=partial(linear_decay, max_value=max_value, end_value=end_value),
    )
