"""Optimizer configs: the torch optimizer, its schedules and the per-parameter modifiers."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from noether.core.schemas._checks import (
    FieldProblem,
    at_least,
    finite,
    greater_than,
    own_class_kind,
    run_object_checks,
)
from noether.core.schemas.schedules import AnyScheduleConfig

LR_SCALE_MODIFIER = "noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier"
"""Kind of the modifier that multiplies one parameter's learning rate."""
WEIGHT_DECAY_MODIFIER = "noether.core.optimizer.param_group_modifiers.WeightDecayByNameModifier"
"""Kind of the modifier that sets one parameter's weight decay."""


def weight_decay_schedule_conflict(name: str, schedule_path: str) -> str:
    """Why a non-zero by-name weight decay cannot go with a weight-decay schedule (one text for load and plan).

    >>> weight_decay_schedule_conflict("cls_token", "model.optimizer_config.weight_decay_schedule")[:40]
    "a non-zero weight decay for 'cls_token' "
    """
    return (f"a non-zero weight decay for {name!r} conflicts with {schedule_path}, which sets the weight decay of "
            "every group not excluded; use value: 0 to exclude the parameter, or remove the schedule")


MODIFIER_KINDS = (LR_SCALE_MODIFIER, WEIGHT_DECAY_MODIFIER)
"""The modifier kinds the planner implements."""


MODIFIER_MODULE = "noether.core.optimizer.param_group_modifiers."
"""Noether's module of the built-in modifiers: a kind there must be one of ``MODIFIER_KINDS``."""


def is_custom_modifier(kind: str | None) -> bool:
    """Whether ``kind`` names a modifier class of the user's (any class path outside Noether's modifier module).

    >>> is_custom_modifier("my_project.optim.LayerDecayModifier"), is_custom_modifier(LR_SCALE_MODIFIER)
    (True, False)
    """
    return kind is not None and kind not in MODIFIER_KINDS


@attrs.frozen(kw_only=True)
class ParamGroupModifierConfig:
    """Configuration for a parameter group modifier: an lr scale or a weight decay for one named parameter."""

    kind: str | None = attrs.field(default=None, validator=own_class_kind(MODIFIER_KINDS, MODIFIER_MODULE, "modifier"))
    """The modifier class: ``noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier``,
    ``...WeightDecayByNameModifier``, or the class path of a subclass of ``engine.optimizer.ParamGroupModifier``
    (Noether's ``ParamGroupModifierBase``), which is constructed with this config. ``None``: inferred from whether
    ``scale`` or ``value`` is set. (Checked by a field rule, not a ``Literal``, so that a wrong kind and a wrong
    scale/value are reported together.)"""
    scale: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """The factor for the parameter's learning rate (>= 0). Only for the LrScaleByNameModifier."""
    value: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """The weight decay of the parameter (>= 0; 0 excludes it). Only for the WeightDecayByNameModifier."""
    name: str
    """The exact name of the parameter within the model, e.g. ``backbone.cls_token``."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.check_scale_or_value_exclusive)

    def check_scale_or_value_exclusive(self) -> None:
        """Validate that either ``scale`` or ``value`` is provided, not both, and that it fits ``kind``."""
        if self.scale is not None and self.value is not None:
            raise FieldProblem(f"provide either scale or value, not both (got scale={self.scale!r}, value={self.value!r})")
        if self.scale is None and self.value is None:
            raise FieldProblem("either scale or value must be provided (got neither)")
        if self.kind == LR_SCALE_MODIFIER and self.scale is None:
            raise FieldProblem(f"an LrScaleByNameModifier needs scale, not value (got value={self.value!r})", "value")
        if self.kind == WEIGHT_DECAY_MODIFIER and self.value is None:
            raise FieldProblem(f"a WeightDecayByNameModifier needs value, not scale (got scale={self.scale!r})", "scale")

    @property
    def modifier_kind(self) -> str:
        """The modifier's kind, inferred from ``scale`` / ``value`` when ``kind`` is not given."""
        if self.kind is not None:
            return self.kind
        return LR_SCALE_MODIFIER if self.scale is not None else WEIGHT_DECAY_MODIFIER


_WRAPPER_FIELDS = (
    "clip_grad_value",
    "clip_grad_norm",
    "param_group_modifiers_config",
    "exclude_bias_from_weight_decay",
    "exclude_normalization_params_from_weight_decay",
    "weight_decay_schedule",
    "schedule_config",
)


@attrs.frozen(kw_only=True)
class OptimizerConfig:
    """The torch optimizer of a model, with clipping, schedules and per-parameter modifiers."""

    kind: str | None = None
    """The class path of the optimizer, e.g. ``torch.optim.AdamW`` or ``noether.core.optimizer.Lion``."""
    lr: float | None = attrs.field(default=None, validator=[greater_than(0.0), finite])
    """The learning rate (> 0); also the peak of a learning-rate schedule that leaves ``max_value`` unset."""
    weight_decay: float | None = attrs.field(default=0.0, validator=[at_least(0.0), finite])
    """The weight decay (decoupled for AdamW, L2 for others), >= 0."""
    clip_grad_value: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """Clip every gradient element to [-v, v] before the step; ``None``: no value clipping."""
    clip_grad_norm: float | None = attrs.field(default=None, validator=[at_least(0.0), finite])
    """Clip the global L2 norm of the gradients to this value (after value clipping); ``None``: no clipping."""
    param_group_modifiers_config: tuple[ParamGroupModifierConfig, ...] | None = None
    """Per-parameter learning-rate scales and weight decays, applied in order."""
    exclude_bias_from_weight_decay: bool = True
    """Exclude parameters whose last name component is ``bias`` from weight decay."""
    exclude_normalization_params_from_weight_decay: bool = True
    """Exclude every parameter with ``ndim <= 1`` (normalization weights, scalars, tokens) from weight decay."""
    weight_decay_schedule: AnyScheduleConfig | None = None
    """Schedule of the weight decay of every group not excluded by rule; ``max_value`` defaults to ``weight_decay``."""
    schedule_config: AnyScheduleConfig | None = None
    """Schedule of the learning rate (absolute values); ``max_value`` defaults to ``lr``."""
    optimizer_kwargs: dict[str, Any] = attrs.field(factory=dict)
    """Further keyword arguments of the optimizer class (``betas``, ``eps``, ``momentum``, ...), written
    as ordinary keys in YAML; the engine checks them against the optimizer's signature."""

    def return_optim_wrapper_args(self) -> dict:
        """Return the fields the optimizer wrapper consumes (clipping, modifiers, exclusions, schedules)."""
        return {name: getattr(self, name) for name in _WRAPPER_FIELDS}

    def torch_optimizer_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments for the torch optimizer: ``lr``, ``weight_decay`` and the extras, no ``None``."""
        base = {"lr": self.lr, "weight_decay": self.weight_decay}
        return {key: value for key, value in {**base, **self.optimizer_kwargs}.items() if value is not None}
