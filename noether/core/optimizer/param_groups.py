"""Pure planning of an optimizer's parameter groups: which parameter gets which lr scale and weight decay, and why.

The rules are Noether's (reference section 3.2): parameters whose last name component is ``bias`` and
parameters with ``ndim <= 1`` get no weight decay, ``LrScaleByNameModifier`` multiplies a parameter's lr scale,
``WeightDecayByNameModifier`` sets its weight decay, and parameters with equal properties share a group named
after them (``default``, ``weight_decay=0``, ``lr_scale=2.5e-01&...``). Two deliberate differences: a by-name
weight decay overrides the bias / ``ndim <= 1`` rule instead of failing, and a modifier that matches no parameter
is a ``ConfigError`` naming the modifier's path (every such problem at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from noether.core.config.errors import ConfigError, Issue, did_you_mean
from noether.core.schemas.optimizers import (
    LR_SCALE_MODIFIER,
    WEIGHT_DECAY_MODIFIER,
    OptimizerConfig,
    is_custom_modifier,
    weight_decay_schedule_conflict,
)

DEFAULT_GROUP = "default"
"""Name of the group of parameters that no rule and no modifier touched."""
_PROPERTY_ORDER = ("weight_decay", "lr_scale")
"""Order of the properties in a group's name; fixed so that names do not depend on the order of modifiers."""


@attrs.frozen(kw_only=True)
class ParamGroupPlan:
    """One parameter group of an optimizer: its parameters, hyper-parameters and why each parameter is in it."""

    name: str
    """Noether's group name: ``default``, or ``&``-joined properties such as ``weight_decay=0&lr_scale=1.0e-01``."""
    param_names: tuple[str, ...]
    """The parameters of the group, in the order they were given."""
    lr_scale: float
    """Factor applied to the learning rate (or the learning-rate schedule's value) for this group."""
    weight_decay: float
    """The group's weight decay; ``0`` for groups excluded from weight decay."""
    reasons: tuple[str, ...]
    """Why each parameter is in this group, aligned with ``param_names`` (``default``, ``bias``, ``ndim <= 1``,
    ``modifier #2 (name 'cls_token')``, joined with ``, `` when several apply)."""
    weight_decay_scheduled: bool
    """Whether the weight-decay schedule sets this group's weight decay (False for groups excluded by rule or by
    an explicit by-name weight decay, and always False without a schedule)."""


def format_group_value(value: float) -> str:
    """Render a property value the way Noether names groups: ``0`` for zero, else one decimal in scientific notation
    with the exponent's ``+`` dropped (``2.0e00``, ``1.5e01``; negative exponents keep their sign).

    Args:
        value: The lr scale or weight decay.

    Returns:
        The text used in a group name.

    >>> format_group_value(0.0), format_group_value(0.25), format_group_value(0.05), format_group_value(1.0)
    ('0', '2.5e-01', '5.0e-02', '1.0e00')
    """
    return "0" if value == 0.0 else f"{value:.1e}".replace("e+", "e")


def _group_name(properties: dict[str, float]) -> str:
    """Name a group after its explicit properties, in the fixed property order; ``default`` when there are none."""
    items = [f"{key}={format_group_value(properties[key])}" for key in _PROPERTY_ORDER if key in properties]
    return "&".join(items) or DEFAULT_GROUP


def plan_param_groups(
    params: Iterable[tuple[str, tuple[int, ...]]],
    config: OptimizerConfig,
    *,
    path: str = "model.optimizer_config",
    custom_properties: Mapping[int, Mapping[str, Mapping[str, float]] | None] | None = None,
) -> tuple[ParamGroupPlan, ...]:
    """Plan the parameter groups of an optimizer from parameter names and shapes.

    Per parameter, in this order: its last dotted name component is ``bias`` and
    ``exclude_bias_from_weight_decay`` -> weight decay 0 (reason ``bias``); else ``ndim <= 1`` and
    ``exclude_normalization_params_from_weight_decay`` -> weight decay 0 (reason ``ndim <= 1``); then every
    modifier of ``param_group_modifiers_config`` whose ``name`` equals the parameter's name, in order: an lr-scale
    modifier multiplies the lr scale (two of 0.5 give 0.25), a weight-decay modifier sets the weight decay (also
    over the bias / ``ndim <= 1`` rule). Parameters with the same explicit properties share a group; groups come
    in the order of their first parameter, parameters in the order given. The set of groups and the group of each
    parameter do not depend on the order of ``params``.

    A group's weight decay is its explicit value, else ``config.weight_decay`` (``None`` counts as 0; the engine
    fills in the optimizer's default first). With ``config.weight_decay_schedule`` set, every group without an
    explicit weight decay is ``weight_decay_scheduled``.

    Args:
        params: ``(name, shape)`` pairs, e.g. from ``model.named_parameters()``; names must be unique.
        config: The optimizer config (rules, modifiers, base weight decay, weight-decay schedule).
        path: The config path of ``config``, used in error messages.
        custom_properties: For a modifier of the user's (a ``kind`` outside Noether's modifier module), by its
            index in ``param_group_modifiers_config``: parameter name -> the properties its ``get_properties``
            returned (``lr_scale`` and/or ``weight_decay``), as the engine computed them. They merge like the
            built-in modifiers' (an lr scale multiplies, a weight decay is set once); a user modifier that returned
            properties for no parameter is an error, as in Noether; ``None``: its class could not be built (already
            reported), and it is left out.

    Returns:
        The groups, in order of first appearance.

    Raises:
        ConfigError: With one issue per modifier whose name matches no parameter (with "did you mean"), and per
            second weight-decay modifier of the same parameter.
        ValueError: If a parameter name occurs twice.

    >>> from noether.core.schemas.optimizers import OptimizerConfig, ParamGroupModifierConfig
    >>> config = OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05,
    ...     param_group_modifiers_config=(ParamGroupModifierConfig(name="head.weight", scale=0.25),))
    >>> params = [("embed", (10, 4)), ("norm.weight", (4,)), ("head.weight", (2, 4)), ("head.bias", (2,))]
    >>> for group in plan_param_groups(params, config):
    ...     print(group.name, group.param_names, group.lr_scale, group.weight_decay, group.reasons)
    default ('embed',) 1.0 0.05 ('default',)
    weight_decay=0 ('norm.weight', 'head.bias') 1.0 0.0 ('ndim <= 1', 'bias')
    lr_scale=2.5e-01 ('head.weight',) 0.25 0.05 ("modifier #0 (name 'head.weight')",)
    """
    params = tuple((name, tuple(shape)) for name, shape in params)
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        seen: set[str] = set()
        duplicates = sorted({name for name in names if name in seen or seen.add(name)})
        raise ValueError(f"parameter names must be unique (got {', '.join(map(repr, duplicates))} more than once)")
    modifiers = tuple(config.param_group_modifiers_config or ())
    modifiers_path = f"{path}.param_group_modifiers_config"

    issues: list[Issue] = []
    by_name: dict[str, list[int]] = {}
    for index, modifier in enumerate(modifiers):
        if not is_custom_modifier(modifier.kind):
            by_name.setdefault(modifier.name, []).append(index)
    name_set = set(names)
    custom = {index: dict(found or {}) for index, found in (custom_properties or {}).items()}
    for index, modifier in enumerate(modifiers):
        if is_custom_modifier(modifier.kind):
            if index not in custom:
                issues.append(Issue(f"{modifiers_path}[{index}].kind", f"{modifier.kind} is a modifier of your own: "
                                    "pass what its get_properties returns as custom_properties (the engine does)"))
            elif (custom_properties or {}).get(index) is not None and not custom[index]:
                issues.append(Issue(f"{modifiers_path}[{index}].kind", f"{modifier.kind} returned properties for no "
                                    "parameter (its get_properties gave an empty dict for every one)"))
            for name, properties in custom.get(index, {}).items():
                unknown = sorted(set(properties) - {"lr_scale", "weight_decay"})
                if unknown:
                    issues.append(Issue(f"{modifiers_path}[{index}].kind", f"{modifier.kind}.get_properties returned "
                                        f"{', '.join(map(repr, unknown))} for {name!r}; only 'lr_scale' and "
                                        "'weight_decay' are properties of a group"))
                if config.weight_decay_schedule is not None and properties.get("weight_decay"):
                    issues.append(Issue(f"{modifiers_path}[{index}].kind",
                                        weight_decay_schedule_conflict(name, f"{path}.weight_decay_schedule")))
            for name in custom.get(index, {}):
                by_name.setdefault(name, []).append(index)
            continue
        if config.weight_decay_schedule is not None and modifier.modifier_kind == WEIGHT_DECAY_MODIFIER and modifier.value:
            issues.append(Issue(f"{modifiers_path}[{index}].value", weight_decay_schedule_conflict(modifier.name, f"{path}.weight_decay_schedule")))
        if modifier.name not in name_set:
            issues.append(
                Issue(
                    f"{modifiers_path}[{index}].name",
                    f"matches no parameter (got {modifier.name!r}){did_you_mean(modifier.name, names)}",
                )
            )

    base_weight_decay = float(config.weight_decay or 0.0)
    scheduled = config.weight_decay_schedule is not None
    # Keyed by the explicit properties (order-free), valued by (properties, names, reasons) in first appearance.
    groups: dict[frozenset, tuple[dict[str, float], list[str], list[str]]] = {}
    for name, shape in params:
        properties: dict[str, float] = {}
        reasons: list[str] = []
        rule = None
        if name.rpartition(".")[2] == "bias":
            if config.exclude_bias_from_weight_decay:
                rule = "bias"
        elif len(shape) <= 1 and config.exclude_normalization_params_from_weight_decay:
            rule = "ndim <= 1"
        if rule is not None:
            properties["weight_decay"] = 0.0
            reasons.append(rule)
        weight_decay_from: int | None = None
        for index in sorted(by_name.get(name, ())):
            modifier = modifiers[index]
            found = custom.get(index, {}).get(name, {}) if is_custom_modifier(modifier.kind) else None
            reason = f"modifier #{index} (name {name!r}" if found is None else f"modifier #{index} ({modifier.kind}"
            if found is not None and "weight_decay" not in found:
                if "lr_scale" in found:
                    properties["lr_scale"] = properties.get("lr_scale", 1.0) * float(found["lr_scale"])
            elif modifier.modifier_kind == LR_SCALE_MODIFIER:
                properties["lr_scale"] = properties.get("lr_scale", 1.0) * float(modifier.scale)
            elif weight_decay_from is not None:
                issues.append(
                    Issue(
                        f"{modifiers_path}[{index}].name",
                        f"sets the weight decay of {name!r} again (got {modifier.value if found is None else found['weight_decay']!r} after "
                        f"{modifiers[weight_decay_from].value!r} from param_group_modifiers_config[{weight_decay_from}]); "
                        "keep one of the two",
                    )
                )
                continue
            else:
                weight_decay_from = index
                if found is not None and "lr_scale" in found:
                    properties["lr_scale"] = properties.get("lr_scale", 1.0) * float(found["lr_scale"])
                properties["weight_decay"] = float(modifier.value if found is None else found["weight_decay"])
                if rule is not None:
                    reasons.remove(rule)
                    reason += f", overrides {rule}"
            reasons.append(reason + ")")
        key = frozenset(properties.items())
        if key not in groups:
            groups[key] = (properties, [], [])
        groups[key][1].append(name)
        groups[key][2].append(", ".join(reasons) or DEFAULT_GROUP)
    if issues:
        raise ConfigError(issues)

    return tuple(
        ParamGroupPlan(
            name=_group_name(properties),
            param_names=tuple(group_names),
            lr_scale=properties.get("lr_scale", 1.0),
            weight_decay=properties.get("weight_decay", base_weight_decay),
            reasons=tuple(group_reasons),
            weight_decay_scheduled=scheduled and "weight_decay" not in properties,
        )
        for properties, group_names, group_reasons in groups.values()
    )


def _format_number(value: float) -> str:
    """Short text for a table cell: ``0``, ``1``, ``0.05``, ``2.5e-05``."""
    return f"{value:g}"


def explain_param_groups(plan: Iterable[ParamGroupPlan]) -> str:
    """Render a plan as a fixed-width table, one row per parameter in the optimizer's index order.

    Columns: parameter, group, lr scale, weight decay, wd scheduled (``yes`` / ``no``), reason.

    Args:
        plan: The groups from ``plan_param_groups``.

    Returns:
        The table, lines joined with ``\\n``, no trailing newline.

    >>> from noether.core.schemas.optimizers import OptimizerConfig
    >>> plan = plan_param_groups([("fc.weight", (2, 3)), ("fc.bias", (2,))], OptimizerConfig(weight_decay=0.05))
    >>> print(explain_param_groups(plan))
    parameter  group           lr scale  weight decay  wd scheduled  reason
    ---------  --------------  --------  ------------  ------------  -------
    fc.weight  default         1         0.05          no            default
    fc.bias    weight_decay=0  1         0             no            bias
    """
    header = ("parameter", "group", "lr scale", "weight decay", "wd scheduled", "reason")
    rows = [
        (name, group.name, _format_number(group.lr_scale), _format_number(group.weight_decay),
         "yes" if group.weight_decay_scheduled else "no", reason)
        for group in plan
        for name, reason in zip(group.param_names, group.reasons, strict=True)
    ]  # fmt: skip
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)
