"""Skipping non-finite updates without reading the device (``trainer.skip_nan_loss``).

The loop keeps a 0-d flag on the device per update (``finite_and``), all-reduces it over the ranks without a host
read (``engine.distributed.any_process_on_device``), and steps the optimizers under it with ``step_optimizers``:
a skipped update leaves parameters, optimizer state and step counts bit-identical, decided on the device by
``torch.where`` (or by a fused optimizer's own ``found_inf``). The count of skipped updates in a row is kept on the
device too (``count_skipped``) and checked against ``skip_nan_loss_max_count`` lazily (``check_skipped``): at every update
that logs scalars and at the end of training. Why: on a GPU every ``bool(tensor)`` drains the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def finite_and(finite: torch.Tensor | None, objective: torch.Tensor) -> torch.Tensor:
    """``finite & isfinite(objective)`` on the device (``isfinite(objective)`` for the first micro-batch).

    >>> finite_and(finite_and(None, torch.tensor(1.0)), torch.tensor(float("nan")))
    tensor(False)
    """
    is_finite = torch.isfinite(objective.detach())
    return is_finite if finite is None else finite & is_finite


def count_skipped(consecutive: int | torch.Tensor, longest: int | torch.Tensor,
                  skipped: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The run of skipped updates in a row after one more update, and the longest run so far, on the device.

    Args:
        consecutive: Skipped updates in a row before this update (an int from a checkpoint, or a tensor).
        longest: The longest run since the last ``check_skipped``.
        skipped: A 0-d bool tensor: this update was skipped.

    Returns:
        ``(consecutive', longest')``: the run grows by one when ``skipped``, else it restarts at 0.

    >>> count_skipped(2, 2, torch.tensor(True))
    (tensor(3), tensor(3))
    """
    consecutive = (consecutive + 1) * skipped.to(torch.int64)
    if not isinstance(longest, torch.Tensor):  # a fill on the device: copying a Python int there would synchronise
        longest = torch.full_like(consecutive, longest)
    return consecutive, torch.maximum(longest, consecutive)


def check_skipped(longest: int | torch.Tensor, limit: int) -> None:
    """Raise if the longest run of skipped updates is longer than ``limit`` (one host read of ``longest``).

    Args:
        longest: From ``count_skipped``.
        limit: ``trainer.skip_nan_loss_max_count``.

    Raises:
        RuntimeError: naming the length of the run and the limit.
    """
    longest = int(longest)
    if longest > limit:
        raise RuntimeError(f"{longest} updates in a row had a NaN or Inf loss "
                           f"(trainer.skip_nan_loss_max_count is {limit})")


def step_optimizers(optimizers: Sequence[Any], grad_scaler: torch.amp.GradScaler | None,
                    skipped: torch.Tensor | None) -> None:
    """Step every ``OptimizerWrapper`` and then the scaler once; with a ``skipped`` flag, as if nothing happened
    where it is true.

    Without a flag: ``optimizer.step(grad_scaler)`` for each, then ``grad_scaler.update()``. With one, an
    optimizer steps under ``masked_step`` (no host read) when it can; with a grad scaler, or an optimizer whose
    state ``masked_step`` cannot mask, the flag is read once (``GradScaler.step`` reads its own ``found_inf``
    anyway unless the optimizer is fused).

    Args:
        optimizers: The run's ``OptimizerWrapper`` objects.
        grad_scaler: The float16 loss scaler, or ``None``.
        skipped: A 0-d bool tensor on the device: true when the update is to be dropped; ``None``: never.
    """
    if skipped is None:
        for optimizer in optimizers:
            optimizer.step(grad_scaler)
    elif grad_scaler is None and all(map(maskable, optimizers)):
        for optimizer in optimizers:
            masked_step(optimizer, skipped)
    else:
        if bool(skipped):  # the one host read left: see the docstring
            return
        for optimizer in optimizers:
            optimizer.step(grad_scaler)
            _note_stateless(optimizer)
    if grad_scaler is not None:
        grad_scaler.update()  # once per update, whatever the number of optimizers


def _stateful(wrapper: Any) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    optimizer = wrapper.optimizer
    return optimizer, [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]


def _note_stateless(wrapper: Any) -> None:
    """Remember the parameters that a real step left without state (plain SGD): their steps are maskable."""
    optimizer, params = _stateful(wrapper)
    stateless = optimizer.__dict__.setdefault("_engine_stateless", set())
    stateless.update(id(param) for param in params if param not in optimizer.state)


def maskable(wrapper: Any) -> bool:
    """Whether ``masked_step`` can undo a step of ``wrapper``'s optimizer on the device: every parameter with a
    gradient has state already (a first step creates it, and created state cannot be un-created), or a step in
    this process left it without state (plain SGD); and all state is tensors on the parameters' devices (not
    Adam's CPU step counts in a CUDA run without ``capturable`` or ``fused``)."""
    optimizer, params = _stateful(wrapper)
    state = optimizer.state
    stateless = optimizer.__dict__.get("_engine_stateless", ())
    for param in params:
        values = state.get(param)  # not state[param]: torch's defaultdict would add the entry
        if values is None:
            if id(param) in stateless:
                continue
            return False
        for value in values.values():
            if not isinstance(value, torch.Tensor) or value.device != param.device:
                return False
    return True


def masked_step(wrapper: Any, skipped: torch.Tensor) -> None:
    """``wrapper.step()`` where ``skipped`` is false, no change at all where it is true, decided on the device.

    A fused torch optimizer (``fused=True``) gets the flag as its ``found_inf`` and skips inside its kernel
    (restoring its step counts); any other optimizer's parameters and state tensors are copied before the step
    and put back with ``torch.where(skipped, before, after)``, which is bit-exact (also for NaN results).
    Requires ``maskable(wrapper)``.

    Args:
        wrapper: An ``OptimizerWrapper``.
        skipped: A 0-d bool tensor on the parameters' device.
    """
    optimizer, params = _stateful(wrapper)
    if not params:
        return
    if getattr(optimizer, "_step_supports_amp_scaling", False) and optimizer.defaults.get("fused"):
        optimizer.found_inf = skipped.to(torch.float32)  # what GradScaler hands a fused optimizer
        try:
            wrapper.step()
        finally:
            del optimizer.found_inf
        return
    state = optimizer.state
    tensors = [*params, *(value for param in params for value in state.get(param, {}).values())]
    before = [tensor.detach().clone() for tensor in tensors]
    wrapper.step()
    for after, saved in zip(tensors, before, strict=True):
        torch.where(skipped, saved, after.detach(), out=after.detach())
