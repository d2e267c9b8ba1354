"""Rules that span config objects, and the defaults derived from other fields.

``resolve`` runs after structuring: it fills a schedule's omitted ``max_value`` from its optimizer (one
source of truth, DESIGN.md section 5) and reports contradictions between objects, each naming the paths
involved. It never mutates: it returns a new config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from noether.core.config.errors import ConfigError, Issue, PathKey, format_path
from noether.core.schemas._checks import as_problems
from noether.core.schemas.optimizers import WEIGHT_DECAY_MODIFIER, OptimizerConfig, weight_decay_schedule_conflict
from noether.core.schemas.schedules import SCHEDULES_WITH_MAX_VALUE

Locate = Callable[[tuple[PathKey, ...], bool], "str | None"]


def resolve(config: Any, *, locate: Locate | None = None) -> Any:
    """Fill derived defaults and check cross-object rules of a structured config.

    Every ``OptimizerConfig`` in the tree (the model's, or a composite model's submodels') gets:
    a learning-rate schedule whose ``max_value`` is unset takes the optimizer's ``lr``; both set and
    different is an error naming both paths; a weight-decay schedule's unset ``max_value`` takes
    ``weight_decay``; a per-name non-zero weight decay together with a weight-decay schedule is an error.

    Args:
        config: A config object (usually a ``ConfigSchema``).
        locate: Optional ``(path, at_key) -> "file:line:col"`` for the error lines.

    Returns:
        A new config with the derived values filled in (the input is unchanged).

    Raises:
        ConfigError: With every cross-object problem.

    >>> from noether.core.schemas import LinearWarmupCosineDecayScheduleConfig as Lwcd, OptimizerConfig
    >>> resolve(OptimizerConfig(lr=1e-3, schedule_config=Lwcd(warmup_steps=5))).schedule_config.max_value
    0.001
    """
    issues: list[Issue] = []

    def problem(path: tuple[PathKey, ...], message: str) -> None:
        issues.append(Issue(format_path(path), message, locate(path, True) if locate else None))

    resolved = map_optimizer_configs(config, lambda optimizer, path: _resolve_optimizer(optimizer, path, problem))
    if issues:
        raise ConfigError(issues)
    return resolved


def optimizer_configs(config: Any) -> list[tuple[tuple[PathKey, ...], OptimizerConfig]]:
    """Every ``OptimizerConfig`` in a config tree (attrs objects, tuples, lists, dicts), with its path, in order.

    >>> from noether.core.schemas import ModelBaseConfig, OptimizerConfig
    >>> model = ModelBaseConfig(kind="m", name="m", optimizer_config=OptimizerConfig(lr=0.1))
    >>> [path for path, _ in optimizer_configs({"model": model})]
    [('model', 'optimizer_config')]
    """
    found: list[tuple[tuple[PathKey, ...], OptimizerConfig]] = []
    map_optimizer_configs(config, lambda optimizer, path: found.append((path, optimizer)) or optimizer)
    return found


def map_optimizer_configs(node: Any, visit: Callable[[Any, tuple], Any], path: tuple[PathKey, ...] = ()) -> Any:
    """The tree rebuilt bottom-up with each ``OptimizerConfig`` replaced by ``visit(optimizer, path)`` (the one
    walk over a config for its optimizers; unchanged parts are the same objects)."""
    _rebuild = lambda value, at: map_optimizer_configs(value, visit, at)  # noqa: E731
    if isinstance(node, OptimizerConfig):
        return visit(node, path)
    if attrs.has(type(node)):
        changes = {}
        for field in attrs.fields(type(node)):
            value = getattr(node, field.name)
            new = _rebuild(value, (*path, field.name))
            if new is not value:
                changes[field.name] = new
        return attrs.evolve(node, **changes) if changes else node
    if isinstance(node, (tuple, list)):
        items = tuple(_rebuild(item, (*path, index)) for index, item in enumerate(node))
        return items if any(a is not b for a, b in zip(items, node)) else node
    if isinstance(node, dict):
        items = {key: _rebuild(value, (*path, key)) for key, value in node.items()}
        return items if any(items[key] is not node[key] for key in node) else node
    return node


def _resolve_optimizer(optimizer: OptimizerConfig, path: tuple, problem: Callable[[tuple, str], None]) -> OptimizerConfig:
    schedule = _fill_max_value(optimizer.schedule_config, optimizer.lr, (*path, "schedule_config"), (*path, "lr"), True, problem)
    weight_decay_schedule = _fill_max_value(
        optimizer.weight_decay_schedule, optimizer.weight_decay, (*path, "weight_decay_schedule"), (*path, "weight_decay"), False, problem
    )
    if optimizer.weight_decay_schedule is not None:
        for index, modifier in enumerate(optimizer.param_group_modifiers_config or ()):
            if modifier.modifier_kind == WEIGHT_DECAY_MODIFIER and modifier.value:
                problem(
                    (*path, "param_group_modifiers_config", index, "value"),
                    weight_decay_schedule_conflict(modifier.name, format_path((*path, "weight_decay_schedule"))),
                )
    if schedule is optimizer.schedule_config and weight_decay_schedule is optimizer.weight_decay_schedule:
        return optimizer
    return attrs.evolve(optimizer, schedule_config=schedule, weight_decay_schedule=weight_decay_schedule)


def _fill_max_value(schedule: Any, base: float | None, at: tuple, base_path: tuple, must_match: bool, problem: Callable) -> Any:
    if not isinstance(schedule, SCHEDULES_WITH_MAX_VALUE):
        return schedule
    if schedule.max_value is None:
        if base is None:
            problem((*at, "max_value"), f"not set, and {format_path(base_path)} is not set either; set one of them")
            return schedule
        try:
            return attrs.evolve(schedule, max_value=base)
        except ValueError as exc:
            for item in as_problems(exc):
                field = (item.field,) if item.field else ()
                problem((*at, *field), f"{item.message} (max_value taken from {format_path(base_path)} = {base!r})")
            return schedule
    if must_match and base is not None and schedule.max_value != base:
        problem(
            (*at, "max_value"),
            f"{schedule.max_value!r} contradicts {format_path(base_path)} = {base!r}; set only one of them "
            "(max_value defaults to the optimizer's lr)",
        )
    return schedule
