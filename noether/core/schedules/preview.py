"""A run's learning-rate and weight-decay curves per param group, from its config alone (``noether-schedule``).

Pure: the curves are computed from the optimizer config, the planned param groups and the training plan,
with the same functions the engine uses at every update, so the preview is what the run will do.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import attrs

from noether.core.schemas import OptimizerConfig
from noether.core.training.schedules import per_update


@attrs.frozen(kw_only=True)
class GroupCurve:
    """The values one param group gets at every update of the run."""

    model: str
    """Name of the (sub)model the group belongs to."""
    group: str
    """The param group's name (``default``, ``weight_decay=0``, ``lr_scale=1.0e-01``, ...)."""
    lr: tuple[float, ...]
    """Learning rate used by update ``u`` at index ``u``."""
    weight_decay: tuple[float, ...]
    """Weight decay used by update ``u`` at index ``u``."""


def _curve(schedule, constant: float, plan) -> tuple[float, ...]:
    if schedule is None:
        return (constant,) * plan.total_updates
    value_at = per_update(schedule, plan)  # what the run's optimizer is given, so the preview is the run
    return tuple(value_at(update) for update in range(plan.total_updates))


def group_curves(model: str, config: OptimizerConfig, groups: Sequence, plan) -> list[GroupCurve]:
    """Learning rate and weight decay of every group at every update.

    Args:
        model: the (sub)model's name, used as a label.
        config: its resolved optimizer config (schedules' ``max_value`` filled in by ``resolve``).
        groups: its ``ParamGroupPlan``s (``noether.core.optimizer.plan_param_groups``).
        plan: the run's ``TrainingPlan``.

    Returns:
        One ``GroupCurve`` per group, in group order.
    """
    lr_base = _curve(config.schedule_config, config.lr, plan)
    wd_scheduled = _curve(config.weight_decay_schedule, 0.0, plan) if config.weight_decay_schedule else None
    curves = []
    for group in groups:
        lr = tuple(group.lr_scale * value for value in lr_base) if group.lr_scale != 1.0 else lr_base
        if wd_scheduled is not None and group.weight_decay_scheduled:
            weight_decay = wd_scheduled
        else:
            weight_decay = (group.weight_decay,) * plan.total_updates
        curves.append(GroupCurve(model=model, group=group.name, lr=lr, weight_decay=weight_decay))
    return curves


def key_updates(lr: Sequence[float]) -> list[tuple[str, int]]:
    """The updates worth showing: first, end of warmup (the learning-rate peak, if it is not the first
    update), middle and last.

    >>> key_updates([0.0, 0.5, 1.0, 0.5, 0.1])
    [('first', 0), ('warmup end', 2), ('middle', 2), ('last', 4)]
    >>> key_updates([])
    []
    """
    if not lr:
        return []
    rows = [("first", 0)]
    peak = max(range(len(lr)), key=lr.__getitem__)
    if peak > 0:
        rows.append(("warmup end", peak))
    rows += [("middle", len(lr) // 2), ("last", len(lr) - 1)]
    return rows


def preview_table(curves: Sequence[GroupCurve], plan) -> str:
    """A text table: per model and group, lr and weight decay at the key updates (``key_updates``).

    The update numbers are 0-based (update ``u`` is the ``u+1``-th optimizer step); the epoch is the epoch
    the update belongs to.
    """
    lines = [f"{plan.total_updates} updates, {plan.updates_per_epoch} per epoch, "
             f"{plan.effective_batch_size} samples per update (micro-batches {list(plan.micro_batch_sizes)})"]
    header = f"{'model':<16} {'group':<28} {'at':<11} {'update':>8} {'epoch':>6} {'lr':>12} {'weight decay':>13}"
    lines += [header, "-" * len(header)]
    for curve in curves:
        for label, update in key_updates(curve.lr):
            epoch = update // plan.updates_per_epoch
            lines.append(f"{curve.model:<16} {curve.group:<28} {label:<11} {update:>8} {epoch:>6} "
                         f"{curve.lr[update]:>12.4e} {curve.weight_decay[update]:>13.4e}")
    return "\n".join(lines) + "\n"


def curves_csv(curves: Sequence[GroupCurve], plan) -> str:
    """Every update as one CSV row: ``update,epoch`` then ``<model>/<group>/lr`` and ``/weight_decay`` columns.

    Floats are written with ``repr`` so the CSV holds the exact values the run uses.
    """
    buffer = io.StringIO()
    columns = ["update", "epoch"]
    for curve in curves:
        columns += [f"{curve.model}/{curve.group}/lr", f"{curve.model}/{curve.group}/weight_decay"]
    buffer.write(",".join(columns) + "\n")
    for update in range(plan.total_updates):
        row = [str(update), str(update // plan.updates_per_epoch)]
        for curve in curves:
            row += [repr(curve.lr[update]), repr(curve.weight_decay[update])]
        buffer.write(",".join(row) + "\n")
    return buffer.getvalue()
