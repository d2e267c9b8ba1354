"""``OptimizerWrapper``: a torch optimizer built from an ``OptimizerConfig``, with planned param groups,
schedules, clipping and a checkpoint format that survives regrouping.

The grouping itself is the pure ``noether.core.optimizer.plan_param_groups``; this module only turns the plan
into torch param groups and drives them.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import attrs
import torch

from noether.core.config.kinds import resolve_kind
from noether.core.config.errors import ConfigError, Issue, did_you_mean
from noether.core.optimizer import ParamGroupPlan, explain_param_groups, plan_param_groups
from noether.core.schemas.optimizers import OptimizerConfig, is_custom_modifier
from noether.core.training import UpdateSchedules

__all__ = ["OptimizerWrapper"]

def _signature(optimizer_class: type) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword arguments an optimizer class accepts after ``params``, and whether it takes ``**kwargs``."""
    try:
        parameters = list(inspect.signature(optimizer_class).parameters.values())
    except (TypeError, ValueError):
        return {}, True
    accepted: dict[str, inspect.Parameter] = {}
    takes_any = False
    for index, parameter in enumerate(parameters):
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            takes_any = True
        elif index > 0 and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            accepted[parameter.name] = parameter
    return accepted, takes_any


def _number_default(parameter: inspect.Parameter | None) -> float | None:
    """The default of a signature parameter if it is a plain number, else ``None``."""
    if parameter is None or isinstance(parameter.default, bool) or not isinstance(parameter.default, int | float):
        return None
    return float(parameter.default)


def _broadcasts_to(state_shape: torch.Size, param_shape: torch.Size) -> bool:
    """Whether a state tensor of the parameter's rank fits it (equal sizes, or 1 for factored states)."""
    return all(size in (1, param_size) for size, param_size in zip(state_shape, param_shape, strict=True))


class ParamGroupModifier:
    """Base of a param-group modifier of your own (Noether's ``ParamGroupModifierBase``): name its class path as
    the ``kind`` of an entry of ``param_group_modifiers_config``; it is built with that entry's config."""

    def __init__(self, config: Any) -> None:
        self.config = config

    def get_properties(self, model: torch.nn.Module, name: str, param: torch.nn.Parameter) -> dict[str, float]:
        """The group properties of one parameter: ``lr_scale`` (multiplies) and/or ``weight_decay``; ``{}``: none."""
        return {}


def custom_modifier_properties(model: torch.nn.Module, named: list[tuple[str, torch.nn.Parameter]],
                               config: OptimizerConfig, path: str, issues: list[Issue]) -> dict[int, dict[str, dict[str, float]] | None]:
    """Ask each modifier of the user's for the properties of every parameter (problems go to ``issues``).

    Returns:
        Modifier index -> parameter name -> its non-empty properties, for ``plan_param_groups`` (``None`` for a
        modifier whose class could not be built).
    """
    found: dict[int, dict[str, dict[str, float]] | None] = {}
    for index, modifier_config in enumerate(config.param_group_modifiers_config or ()):
        if not is_custom_modifier(modifier_config.kind):
            continue
        where = f"{path}.param_group_modifiers_config[{index}].kind"
        try:
            modifier = resolve_kind(modifier_config.kind, ParamGroupModifier, path=where)(modifier_config)
        except ConfigError as exc:
            issues.extend(exc.issues)
            found[index] = None  # reported already, not "matched nothing" as well
            continue
        found[index] = {name: dict(props) for name, param in named if (props := modifier.get_properties(model, name, param))}
    return found


class OptimizerWrapper:
    """A torch optimizer over a model's planned parameter groups, with schedules and gradient clipping.

    Construction resolves ``config.kind`` to any ``torch.optim.Optimizer`` subclass (``noether.core.optimizer.Lion``
    is ``engine.lion.Lion``), checks ``lr``, ``weight_decay`` and ``config.optimizer_kwargs`` against the class's
    signature, plans the groups over ``model.named_parameters()`` (parameters with ``requires_grad=False``
    included, as in Noether) and builds the optimizer with one torch group per planned group, parameters in
    ``named_parameters`` order. Each torch group carries ``name`` and ``lr_scale``; its ``lr`` starts at
    ``lr_scale * config.lr``.

    Attributes:
        config: The optimizer config.
        path: Its config path, used in error messages.
        plan: The planned groups (``plan_param_groups``).
        optimizer: The torch optimizer.
        param_names: Parameter names in the optimizer's index order (group 0 first), as in its state dict.

    Args:
        model: The module whose parameters are optimized.
        config: The optimizer config (resolved, so schedules have their ``max_value``).
        path: The config path of ``config``, used in error messages.
        schedules: The config's schedules bound to the run's plan (``noether.core.training.bind_schedules``),
            which :meth:`schedule_step` follows; needed only when the config has a schedule.

    Raises:
        ConfigError: If ``kind`` is unset, cannot be imported or is not an optimizer; an argument is unknown to
            the optimizer (with "did you mean"); a modifier matches no parameter; or the optimizer's constructor
            rejects the arguments (its ``TypeError`` / ``ValueError`` message at ``path``).

    Example:
        >>> model = torch.nn.Linear(3, 2)
        >>> wrapper = OptimizerWrapper(model, OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05))
        >>> wrapper.current_values()
        {'default': {'lr': 0.001, 'weight_decay': 0.05}, 'weight_decay=0': {'lr': 0.001, 'weight_decay': 0.0}}
    """

    def __init__(self, model: torch.nn.Module, config: OptimizerConfig, *, path: str = "model.optimizer_config",
                 schedules: UpdateSchedules | None = None) -> None:
        self.config = config
        self.path = path
        issues: list[Issue] = []
        # Without a class the arguments cannot be checked, but the modifiers still can: report both at once.
        accepted, takes_any = {}, True
        if config.kind is None:
            issues.append(Issue(f"{path}.kind", "must be set (got None), e.g. 'torch.optim.AdamW'"))
        else:
            try:
                optimizer_class = resolve_kind(config.kind, torch.optim.Optimizer, path=f"{path}.kind")
            except ConfigError as exc:
                issues.extend(exc.issues)
            else:
                accepted, takes_any = _signature(optimizer_class)
        kwargs: dict[str, Any] = {}
        for key, value in config.optimizer_kwargs.items():
            if key == "params":
                issues.append(Issue(f"{path}.{key}", "is set by the engine from the model's parameters; remove it"))
            elif takes_any or key in accepted:
                kwargs[key] = value
            else:
                hint = did_you_mean(key, accepted) or f"; {config.kind} accepts {', '.join(sorted(accepted))}"
                issues.append(Issue(f"{path}.{key}", f"is not an argument of {config.kind} (got {value!r}){hint}"))

        base_lr = config.lr if config.lr is not None else _number_default(accepted.get("lr"))
        if config.lr is not None:
            if takes_any or "lr" in accepted:
                kwargs["lr"] = config.lr
            else:
                issues.append(Issue(f"{path}.lr", f"is not an argument of {config.kind} (got {config.lr!r})"))
        self._sets_weight_decay = takes_any or "weight_decay" in accepted
        if not self._sets_weight_decay and (config.weight_decay or config.weight_decay_schedule is not None):
            issues.append(
                Issue(
                    f"{path}.weight_decay",
                    f"is not an argument of {config.kind} (got {config.weight_decay!r}); "
                    "set it to 0 and remove weight_decay_schedule",
                )
            )
        plan_config = config
        if config.weight_decay is None:
            # "Not set" means the optimizer's own default, which torch would broadcast into every group.
            plan_config = attrs.evolve(config, weight_decay=_number_default(accepted.get("weight_decay")) or 0.0)
        named = list(model.named_parameters())
        custom = custom_modifier_properties(model, named, config, path, issues)
        try:
            self.plan: tuple[ParamGroupPlan, ...] = plan_param_groups(
                ((name, tuple(param.shape)) for name, param in named), plan_config, path=path, custom_properties=custom
            )
        except ConfigError as exc:
            issues.extend(exc.issues)
        if issues:
            raise ConfigError(issues)
        if plan_config.weight_decay is not None and self._sets_weight_decay:
            kwargs["weight_decay"] = plan_config.weight_decay

        by_name = dict(named)
        groups = []
        for group in self.plan:
            torch_group: dict[str, Any] = {
                "params": [by_name[name] for name in group.param_names],
                "name": group.name,
                "lr_scale": group.lr_scale,
            }
            if base_lr is not None:
                torch_group["lr"] = group.lr_scale * base_lr
            if self._sets_weight_decay:
                torch_group["weight_decay"] = group.weight_decay
            groups.append(torch_group)
        try:
            self.optimizer: torch.optim.Optimizer = optimizer_class(groups, **kwargs)
        except (TypeError, ValueError, IndexError) as exc:  # e.g. betas: [0.9] fails on betas[1] inside torch
            given = ", ".join(f"{key}={value!r}" for key, value in sorted(kwargs.items()))
            raise ConfigError([Issue(path, f"{config.kind} rejected its arguments ({given}): {exc}")]) from None
        self.param_names: list[str] = [name for group in self.plan for name in group.param_names]

        self.schedules = schedules or UpdateSchedules()
        """The schedules ``schedule_step`` follows (bound to the run's plan)."""
        self._bind_groups()

    def _bind_groups(self) -> None:
        """Cache what ``schedule_step`` and ``step`` touch; torch replaces its group dicts on ``load_state_dict``."""
        torch_groups = self.optimizer.param_groups
        self._params: list[torch.Tensor] = [param for group in torch_groups for param in group["params"]]
        self._lr_groups = [(group, plan.lr_scale) for group, plan in zip(torch_groups, self.plan, strict=True)]
        self._weight_decay_groups = [
            group for group, plan in zip(torch_groups, self.plan, strict=True) if plan.weight_decay_scheduled
        ]

    @property
    def has_lr_schedule(self) -> bool:
        """Whether ``config.schedule_config`` drives the learning rate."""
        return self.config.schedule_config is not None

    @property
    def has_weight_decay_schedule(self) -> bool:
        """Whether ``config.weight_decay_schedule`` drives the weight decay of the scheduled groups."""
        return self.config.weight_decay_schedule is not None

    def schedule_step(self, update: int) -> None:
        """Set every group's lr (and scheduled weight decay) for the update with index ``update``.

        ``lr = lr_scale * schedules.lr(update)``; the weight-decay schedule's value (absolute, no scale) goes to the
        groups whose plan has ``weight_decay_scheduled``. Without a schedule nothing changes (the constant
        ``lr_scale * config.lr`` was set at construction).

        Args:
            update: The index of the update about to run (absolute, 0-based).

        Raises:
            RuntimeError: The config has a schedule but none was bound (construct with ``schedules=``).
        """
        lr, weight_decay = self.schedules.lr, self.schedules.weight_decay
        if lr is not None:
            value = lr(update)
            for group, lr_scale in self._lr_groups:
                group["lr"] = lr_scale * value
        elif self.config.schedule_config is not None:
            raise RuntimeError(f"{self.path}.schedule_config is not bound to a run: construct the OptimizerWrapper with "
                               "schedules=noether.core.training.bind_schedules(config, plan)")
        if weight_decay is not None:
            value = weight_decay(update)
            for group in self._weight_decay_groups:
                group["weight_decay"] = value
        elif self.config.weight_decay_schedule is not None:
            raise RuntimeError(f"{self.path}.weight_decay_schedule is not bound to a run: construct the OptimizerWrapper "
                               "with schedules=noether.core.training.bind_schedules(config, plan)")

    def step(self, grad_scaler: torch.amp.GradScaler | None = None) -> None:
        """Clip the gradients and take one optimizer step; nothing at all when no parameter has a gradient.

        Order: ``grad_scaler.unscale_`` (once, only when clipping is configured and the scaler is enabled), then
        ``clip_grad_value_``, then ``clip_grad_norm_`` (L2) over all parameters, then ``grad_scaler.step`` and
        ``grad_scaler.update()`` (or ``optimizer.step()`` without a scaler).

        Args:
            grad_scaler: The AMP gradient scaler, or ``None``.
        """
        params = self._params
        if all(param.grad is None for param in params):
            return
        clip_value = self.config.clip_grad_value
        clip_norm = self.config.clip_grad_norm
        if clip_value is not None or clip_norm is not None:
            if grad_scaler is not None and grad_scaler.is_enabled():
                grad_scaler.unscale_(self.optimizer)
            if clip_value is not None:
                torch.nn.utils.clip_grad_value_(params, clip_value)
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, clip_norm)
        if grad_scaler is None:
            self.optimizer.step()
        else:  # the caller runs grad_scaler.update() once per update, after every optimizer stepped
            grad_scaler.step(self.optimizer)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients; by default to ``None``, as Noether does.

        Args:
            set_to_none: Set gradients to ``None`` instead of zeroing them.
        """
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        """The torch optimizer's state dict plus ``param_names``: the parameter names in torch's index order.

        Returns:
            ``{"state": ..., "param_groups": ..., "param_names": [...]}``.
        """
        return {**self.optimizer.state_dict(), "param_names": list(self.param_names)}

    def load_state_dict(self, state: dict) -> None:
        """Load optimizer state by parameter name, keeping the current groups and their hyper-parameters.

        Each parameter's saved state (e.g. Adam's moments) goes to the parameter of the same name, whatever its
        group and index now. Parameters new in the model start fresh and checkpoint parameters no longer in the
        model are dropped, with one warning naming them. A state dict without ``param_names`` is loaded by torch
        as it is (same groups required).

        Args:
            state: A dict from ``state_dict``.

        Raises:
            ValueError: If a saved state tensor does not fit the shape of the parameter of the same name.
        """
        if "param_names" not in state:
            self.optimizer.load_state_dict(state)
            self._bind_groups()
            return
        saved_names = list(state["param_names"])
        saved_index = {name: index for index, name in enumerate(saved_names)}
        saved_state = state["state"]
        new_state: dict[int, dict[str, Any]] = {}
        for index, (name, param) in enumerate(zip(self.param_names, self._params, strict=True)):
            old = saved_index.get(name)
            if old is None or old not in saved_state:
                continue
            per_param = saved_state[old]
            for key, value in per_param.items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.dim() == param.dim() > 0
                    and not _broadcasts_to(value.shape, param.shape)
                ):
                    raise ValueError(
                        f"optimizer state {key!r} of parameter {name!r} has shape {tuple(value.shape)}, "
                        f"which does not fit the parameter's shape {tuple(param.shape)}"
                    )
            new_state[index] = per_param
        current = set(self.param_names)
        new = [name for name in self.param_names if name not in saved_index]
        dropped = [name for name in saved_names if name not in current]
        if new or dropped:
            parts = []
            if new:
                parts.append(f"{len(new)} parameter(s) not in the checkpoint start with fresh state: {', '.join(new)}")
            if dropped:
                parts.append(f"{len(dropped)} parameter(s) of the checkpoint are not in the model: {', '.join(dropped)}")
            warnings.warn("optimizer state loaded by name; " + "; ".join(parts), stacklevel=2)
        self.optimizer.load_state_dict({"state": new_state, "param_groups": self.optimizer.state_dict()["param_groups"]})
        self._bind_groups()

    def current_values(self) -> dict[str, dict[str, float]]:
        """The lr and weight decay of every group now, by group name (what an lr logger records).

        Returns:
            ``{group_name: {"lr": ..., "weight_decay": ...}}`` in group order.
        """
        return {
            group["name"]: {"lr": float(group["lr"]), "weight_decay": float(group.get("weight_decay", 0.0))}
            for group in self.optimizer.param_groups
        }

    def explain(self) -> str:
        """The plan as a table, one row per parameter (``explain_param_groups``).

        Returns:
            The table text.
        """
        return explain_param_groups(self.plan)

    def __repr__(self) -> str:
        return f"OptimizerWrapper({self.optimizer!r})"

