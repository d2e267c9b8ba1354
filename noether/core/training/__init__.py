"""Training arithmetic: batch sizes, accumulation, updates per epoch, iterations, intervals, schedule positions.

``plan_training(trainer_config, dataset_length, world_size)`` gives a ``TrainingPlan``; ``check_plan`` also checks
that every schedule of the config can be evaluated over that run, and ``bind_schedules`` turns an optimizer's
schedules into ``update -> value`` functions for it. ``TrainingIteration`` is a point of training
(``E1_U4_S16``) and ``Interval`` says when a periodic callback is due. Pure: no torch, no I/O.
"""

from noether.core.training.checks import check_plan, schedule_issues
from noether.core.training.intervals import Interval, default_intervals
from noether.core.training.iteration import TrainingIteration
from noether.core.training.plan import TrainingPlan, plan_training
from noether.core.training.schedules import UpdateSchedules, bind_schedules, per_update

__all__ = [
    "Interval",
    "TrainingIteration",
    "TrainingPlan",
    "UpdateSchedules",
    "bind_schedules",
    "check_plan",
    "default_intervals",
    "per_update",
    "plan_training",
    "schedule_issues",
]
