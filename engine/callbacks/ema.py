"""Exponential moving averages of the weights (EMA), updated after every update and saved at intervals.

Unlike Noether, the shadows are part of the resumable state: ``state_dict`` returns them (on the CPU) and
``load_state_dict`` restores them bit-exactly, so a resumed run continues the averages as if it had never
stopped (Noether re-reads the last saved EMA weights, which may be older than the resume point).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback


def resolve_submodule(model: torch.nn.Module, path: str | None) -> torch.nn.Module:
    """The submodule at a dotted ``path`` (attribute, dict key or list index at each step); ``None``: the model.

    Args:
        model: The root module.
        path: E.g. ``encoder.blocks.0``; ``None`` for ``model`` itself.

    Returns:
        The submodule.

    Raises:
        LookupError: A step of the path does not exist, or the path leads to something that is not a module.

    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    >>> resolve_submodule(model, "0")
    Linear(in_features=2, out_features=3, bias=True)
    >>> resolve_submodule(model, "0.kernel")
    Traceback (most recent call last):
    ...
    LookupError: '0' has no attribute, key or index 'kernel'
    """
    if path is None:
        return model
    node: Any = model
    parts = path.split(".")
    for index, part in enumerate(parts):
        where = repr(".".join(parts[:index])) if index else "the model"
        if part and hasattr(node, part):
            node = getattr(node, part)
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, Sequence) and not isinstance(node, str) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise LookupError(f"{where} has no attribute, key or index {part!r}")
    if not isinstance(node, torch.nn.Module):
        raise LookupError(f"it is a {type(node).__name__}, not a torch.nn.Module")
    return node


@attrs.define
class _Target:
    """One averaged (sub)module: where it is, its parameters and under which names its EMA is saved."""

    path: str | None
    module: torch.nn.Module
    parameter_names: tuple[str, ...]
    parameters: list[torch.Tensor]
    """Detached views of the live parameters (the optimizer updates them in place)."""
    parameter_ids: tuple[int, ...]
    """``id`` of every ``nn.Parameter``, to find them in ``state_dict(keep_vars=True)``."""
    leaves: dict[str, torch.nn.Module]
    """Checkpoint name -> model saved through ``CheckpointWriter.save`` (the models inside this target)."""
    own_name: str | None
    """``<root>.<path>``: the name of a target that lies inside a model, saved as a file of its own."""


class EmaCallback(PeriodicCallback):
    """Keep ``shadow = f * shadow + (1 - f) * weight`` for every factor of ``target_factors`` and every
    (sub)module of ``model_paths`` after every update, and save the averaged weights as
    ``{model}_ema={f}_cp={tag}_model.th`` at each interval (``save_weights``), as ``latest``
    (``save_latest_weights``) and as ``last`` after training (``save_last_weights``).

    Buffers (e.g. batch-norm statistics) are not averaged: the saved EMA model takes the model's current
    buffers, which is what copying them after every update would give. Frozen parameters are averaged too (their
    average is their value). The averages live on the main process only, on the parameters' devices.
    """

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.target_factors = tuple(float(factor) for factor in config.target_factors)
        self.model_paths: tuple[str | None, ...] = tuple(config.model_paths) if config.model_paths else (None,)
        problems = []
        if not self.target_factors:
            problems.append("target_factors: must name at least one factor (got ())")
        for index, factor in enumerate(self.target_factors):
            if not (math.isfinite(factor) and 0.0 <= factor <= 1.0):
                problems.append(f"target_factors[{index}]: must be in [0, 1], e.g. 0.999 (got {factor!r})")
            elif factor in self.target_factors[:index]:
                problems.append(f"target_factors[{index}]: must not repeat a factor (got {factor!r})")
        for index, path in enumerate(self.model_paths):
            if path in self.model_paths[:index]:
                problems.append(f"model_paths[{index}]: must not repeat a path (got {path!r})")
        if problems:
            raise ValueError("; ".join(f"{self}: {problem}" for problem in problems))
        self._targets: list[_Target] | None = None
        self._shadows: dict[tuple[str | None, float], list[torch.Tensor]] | None = None
        """(path, factor) -> shadow of every parameter of the target, in ``parameter_names`` order."""
        self._groups: list[tuple[float, list[torch.Tensor], list[torch.Tensor]]] = []
        """Per factor below 1: every shadow and its parameter, for one ``_foreach_lerp_``."""
        self._pending: dict[str, Any] | None = None
        """A state loaded before ``before_training`` created the shadows."""
        self._latest_saved_at: TrainingIteration | None = None

    # ----- shadows ---------------------------------------------------------------------------------------
    def _resolve_targets(self) -> list[_Target]:
        from engine.models import named_models

        model = self.run.model
        root_name = getattr(model, "name", None) or "model"
        leaves = named_models(model)
        targets, problems, saved_as = [], [], {}
        for index, path in enumerate(self.model_paths):
            try:
                module = resolve_submodule(model, path)
            except LookupError as exc:
                problems.append(f"model_paths[{index}]: {exc} (got {path!r})")
                continue
            inside = set(module.modules())
            contained = {name: leaf for name, leaf in leaves.items() if leaf in inside}
            own_name = None if contained else root_name if path is None else f"{root_name}.{path}"
            for name in (*contained, *([own_name] if own_name else [])):
                if name in saved_as:
                    problems.append(f"model_paths[{index}]: saves model {name!r} like model_paths[{saved_as[name]}] "
                                    f"and would overwrite its files; remove one of them (got {path!r})")
                saved_as.setdefault(name, index)
            named = dict(module.named_parameters())
            targets.append(_Target(path=path, module=module, parameter_names=tuple(named),
                                   parameters=[parameter.detach() for parameter in named.values()],
                                   parameter_ids=tuple(id(parameter) for parameter in named.values()),
                                   leaves=contained, own_name=own_name))
        if problems:
            raise ValueError("; ".join(f"{self}: {problem}" for problem in problems))
        return targets

    def before_training(self, iteration: TrainingIteration) -> None:
        """Find the averaged (sub)modules; on the main process start every shadow at the current weights,
        unless a state was loaded (then continue from it)."""
        self._targets = self._resolve_targets()
        if not self.run.is_main_process:
            self._pending = None
            return
        self._shadows = {
            (target.path, factor): [parameter.clone() for parameter in target.parameters]
            for target in self._targets
            for factor in self.target_factors
        }
        self._groups = [
            (factor, [shadow for target in self._targets for shadow in self._shadows[(target.path, factor)]],
             [parameter for target in self._targets for parameter in target.parameters])
            for factor in self.target_factors
            if factor != 1.0  # f = 1 keeps the initial weights
        ]
        if self._pending is not None:
            self._restore(self._pending)
            self._pending = None

    def track_after_update_step(self, iteration: TrainingIteration, times: Mapping[str, float]) -> None:
        """``shadow = f * shadow + (1 - f) * weight`` for every shadow, as one fused ``lerp`` per factor."""
        if self._shadows is None:
            return
        for factor, shadows, parameters in self._groups:
            torch._foreach_lerp_(shadows, parameters, 1.0 - factor)

    # ----- saving ----------------------------------------------------------------------------------------
    @staticmethod
    def _averaged_state(module: torch.nn.Module, shadow_of: Mapping[int, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``module``'s state dict with every parameter replaced by its shadow (buffers as they are)."""
        state = module.state_dict(keep_vars=True)
        return {key: shadow_of.get(id(value), value).detach() for key, value in state.items()}

    def _save(self, tag: str, iteration: TrainingIteration) -> None:
        for factor in self.target_factors:
            self.save_averages(tag, iteration, factor)

    def save_averages(self, tag: str, iteration: TrainingIteration, factor: float,
                      model_names: Sequence[str] | None = None) -> None:
        """Save the averages of one factor as checkpoint ``tag`` with ``model_info`` ``ema=<factor>`` (only the
        models of ``model_names`` when given; e.g. a ``BestCheckpointCallback`` that watches an EMA metric)."""
        from engine.checkpoint import file_stem, model_config_of, save_checkpoint

        if self._shadows is None:
            return
        checkpoints = self.run.checkpoints
        model_info = f"ema={factor}"
        state_dicts: dict[str, dict[str, torch.Tensor]] = {}
        for target in self._targets:
            shadows = self._shadows[(target.path, factor)]
            shadow_of = dict(zip(target.parameter_ids, shadows, strict=True))
            for name, leaf in target.leaves.items():
                if not model_names or name in model_names:
                    state_dicts[name] = self._averaged_state(leaf, shadow_of)
            if target.own_name is not None and (not model_names or target.own_name in model_names):
                # A part of a model: CheckpointWriter.save only writes whole models, so this file is
                # written here, in the writer's format and with its own manifest.
                stem = file_stem(target.own_name, tag, model_info)
                state = self._averaged_state(target.module, shadow_of)
                content = {"state_dict": {key: value.cpu() for key, value in state.items()},
                           "checkpoint_tag": tag, "training_iteration": iteration.as_dict(),
                           "run_id": checkpoints.run_id, "model_config": model_config_of(target.module),
                           "ema": factor}
                save_checkpoint(checkpoints.directory, stem, {f"{stem}_model.th": content}, iteration)
        if state_dicts:
            checkpoints.save(tag, iteration, weights=True, model_names=list(state_dicts), model_info=model_info,
                             state_dicts=state_dicts, extra={"ema": factor})

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Save the averages under the iteration's tag (``save_weights``) and as ``latest``
        (``save_latest_weights``)."""
        if interval_type == "eval" or self._shadows is None:
            return
        if self.config.save_weights:
            self._save(str(iteration), iteration)
        if self.config.save_latest_weights:
            self._save("latest", iteration)
            self._latest_saved_at = iteration

    def after_training(self, iteration: TrainingIteration) -> None:
        """Save ``last`` (``save_last_weights``) and bring ``latest`` up to the final update
        (``save_latest_weights``)."""
        if self._shadows is None:
            return
        if self.config.save_last_weights:
            self._save("last", iteration)
        if self.config.save_latest_weights and self._latest_saved_at != iteration:
            self._save("latest", iteration)
            self._latest_saved_at = iteration

    # ----- evaluating the averages -----------------------------------------------------------------------
    @contextlib.contextmanager
    def averages_swapped_in(self, factor: float) -> Iterator[None]:
        """Within the block the model's parameters hold the averages of ``factor`` (on every process: rank 0's
        shadows are broadcast in a multi-process run); the trained values come back afterwards, bit-exactly."""
        from engine.distributed import is_distributed

        if self._targets is None:
            raise RuntimeError(f"{self}: the averages exist only from before_training on")
        parameters = [parameter for target in self._targets for parameter in target.parameters]
        if self._shadows is not None:
            averages = [shadow.clone() for target in self._targets for shadow in self._shadows[(target.path, factor)]]
        else:  # a rank without shadows receives rank 0's
            averages = [parameter.clone() for parameter in parameters]
        if is_distributed():
            for average in averages:
                torch.distributed.broadcast(average, src=0)
        trained = [parameter.clone() for parameter in parameters]
        try:
            for parameter, average in zip(parameters, averages, strict=True):
                parameter.copy_(average)
            yield
        finally:
            for parameter, value in zip(parameters, trained, strict=True):
                parameter.copy_(value)

    # ----- resumable state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The shadows, copied to the CPU: ``{"shadows": [{"model_path", "target_factor", "parameters":
        {name: tensor}}, ...]}`` (empty off the main process and before training)."""
        if self._shadows is None:
            return self._pending if self._pending is not None else {"shadows": []}
        return {"shadows": [
            {"model_path": target.path, "target_factor": factor,
             "parameters": {name: shadow.detach().to("cpu", copy=True)
                            for name, shadow in zip(target.parameter_names, self._shadows[(target.path, factor)],
                                                    strict=True)}}
            for target in self._targets
            for factor in self.target_factors
        ]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the shadows of ``state_dict`` exactly (now, or in ``before_training`` if they do not exist
        yet). A (path, factor) pair missing from ``state`` starts at the current weights, with a warning."""
        if not isinstance(state, Mapping) or not isinstance(state.get("shadows"), list):
            raise ValueError(f"{self}: the checkpoint's EMA state must be a dict with a list 'shadows' "
                             f"(got {type(state).__name__})")
        if self._shadows is None:
            self._pending = dict(state)
        else:
            self._restore(state)

    def _restore(self, state: Mapping[str, Any]) -> None:
        loaded = {(record["model_path"], float(record["target_factor"])): record["parameters"]
                  for record in state["shadows"]}
        unused = sorted((str(path), factor) for path, factor in loaded.keys() - self._shadows.keys())
        if unused:
            warnings.warn(f"{self}: ignoring EMA shadows of the checkpoint that are not configured (path, factor): "
                          f"{unused}", stacklevel=2)
        for target in self._targets:
            for factor in self.target_factors:
                parameters = loaded.get((target.path, factor))
                if parameters is None:
                    warnings.warn(f"{self}: the checkpoint has no EMA of model_paths entry {target.path!r} with "
                                  f"factor {factor}; it starts at the current weights", stacklevel=2)
                    continue
                if set(parameters) != set(target.parameter_names):
                    missing = sorted(set(target.parameter_names) - set(parameters))
                    extra = sorted(set(parameters) - set(target.parameter_names))
                    raise ValueError(f"{self}: model_paths entry {target.path!r}, factor {factor}: the checkpoint's "
                                     f"EMA has other parameters than the model (missing {missing}, unexpected {extra})")
                for name, shadow in zip(target.parameter_names, self._shadows[(target.path, factor)], strict=True):
                    value = parameters[name]
                    if value.shape != shadow.shape or value.dtype != shadow.dtype:
                        raise ValueError(f"{self}: model_paths entry {target.path!r}, factor {factor}: parameter "
                                         f"{name!r} is {tuple(shadow.shape)} {shadow.dtype} in the model but "
                                         f"{tuple(value.shape)} {value.dtype} in the checkpoint")
                    shadow.copy_(value)


def ema_factor(model_info: str | None) -> float | None:
    """The factor of ``model_info`` ``ema=<factor>`` (``None`` when it names no EMA weights).

    >>> ema_factor("ema=0.999"), ema_factor(None)
    (0.999, None)
    """
    if not model_info or not model_info.startswith("ema="):
        return None
    return float(model_info[len("ema="):])


def link_averages(callbacks: Sequence[Any], indices: Sequence[int]) -> None:
    """Give every callback that evaluates or saves EMA weights (its ``model_info`` is ``ema=<factor>``) the
    ``EmaCallback`` that keeps that factor, as its ``averages``.

    Args:
        callbacks: The run's callbacks, configured ones first.
        indices: The position in ``trainer.callbacks`` of each configured callback (for error paths).

    Raises:
        ConfigError: every callback whose factor no ``EmaCallback`` keeps, naming the factors that are kept.
    """
    from noether.core.config import ConfigError, Issue

    keepers = {factor: callback for callback in callbacks if isinstance(callback, EmaCallback)
               for factor in callback.target_factors}
    issues = []
    for position, callback in enumerate(callbacks):
        factor = ema_factor(getattr(callback, "model_info", None))
        if factor is None:
            continue
        if factor in keepers:
            callback.averages = keepers[factor]
            continue
        field = getattr(callback, "model_info_field", "model_info")
        where = f"trainer.callbacks[{indices[position]}].{field}" if position < len(indices) else str(callback)
        kept = ", ".join(map(str, sorted(keepers))) or "none: add an EmaCallback"
        issues.append(Issue(where, f"no EmaCallback keeps the factor {factor} (EMA factors: {kept}) "
                                   f"(got {getattr(callback.config, field, callback.model_info)!r})"))
    if issues:
        raise ConfigError(issues)
