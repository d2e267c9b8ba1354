"""Pure optimizer planning: parameter groups from parameter names and shapes (no torch).

``plan_param_groups`` applies Noether's grouping rules and the by-name modifiers of an ``OptimizerConfig``;
``explain_param_groups`` renders the plan as a table. The engine's ``OptimizerWrapper`` turns a plan into torch
param groups. The kind ``noether.core.optimizer.Lion`` names the engine's ``engine.lion.Lion``.
"""

from noether.core.optimizer.param_groups import (
    DEFAULT_GROUP,
    ParamGroupPlan,
    explain_param_groups,
    format_group_value,
    plan_param_groups,
)

__all__ = ["DEFAULT_GROUP", "ParamGroupPlan", "explain_param_groups", "format_group_value", "plan_param_groups"]
