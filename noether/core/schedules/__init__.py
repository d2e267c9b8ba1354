"""Schedules as pure functions of the step count.

``schedule_value(config, step, total_steps)`` and ``make_schedule(config, total_steps)`` turn any schedule config
into values; the shapes in ``shapes`` are the curves themselves, ``f(step, total_steps, *, hyperparameters)``,
usable on their own and joined into composite curves.
"""

from noether.core.schedules.dispatch import make_schedule, schedule_value
from noether.core.schedules.shapes import (
    Shape,
    constant,
    cosine_decay,
    cosine_progress,
    custom,
    linear_decay,
    linear_progress,
    linear_warmup,
    linear_warmup_cosine_decay,
    linear_warmup_linear_decay,
    overhang_total_steps,
    periodic_bool,
    polynomial_progress,
    progress_value,
    step_decreasing,
    step_fixed,
    step_interval,
    step_progress,
    warmup_span,
    warmup_then_decay,
)

__all__ = [
    "Shape",
    "constant",
    "cosine_decay",
    "cosine_progress",
    "custom",
    "linear_decay",
    "linear_progress",
    "linear_warmup",
    "linear_warmup_cosine_decay",
    "linear_warmup_linear_decay",
    "make_schedule",
    "overhang_total_steps",
    "periodic_bool",
    "polynomial_progress",
    "progress_value",
    "schedule_value",
    "step_decreasing",
    "step_fixed",
    "step_interval",
    "step_progress",
    "warmup_span",
    "warmup_then_decay",
]
