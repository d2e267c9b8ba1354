"""The training loop: ``BaseTrainer`` turns micro-batches into losses and runs updates in the order of
DESIGN.md section 4.2. Users subclass it and implement ``loss_compute`` (or ``train_step``, in the engine's
shape or in Noether's); the loop itself is not overridden.

Gradient accumulation is weighted by items so that K micro-batches give the full batch's gradient:
a mean loss over ``b_k`` items is scaled by ``b_k / B`` before its backward pass (``B`` = items of the update);
a ``LossOutput`` (a sum over ``count`` items, e.g. tokens) is back-propagated unscaled and the accumulated
gradients are divided by the update's total count before the optimizer step.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import attrs
import torch

from noether.core.config import ConfigError, Issue
from noether.core.schemas import BaseTrainerConfig
from noether.core.training import TrainingIteration

from engine.callbacks.base import Callback, EarlyStop, PeriodicCallback, RunContext
from engine.prefetch import prefetch_to_device, to_device  # noqa: F401 - to_device also importable from here
from engine.distributed import (all_reduce_sum, any_process_on_device, is_distributed, max_each_over_processes,
                                world_size)
from engine.nonfinite import check_skipped, count_skipped, finite_and, step_optimizers


@attrs.frozen
class LossOutput:
    """A loss summed over a micro-batch's items (tokens, points, ...), for losses whose item count varies.

    The engine divides the update's gradient by the sum of ``count`` over its micro-batches, so the result
    equals the gradient of ``sum(total) / sum(count)`` over the whole batch.
    """

    total: torch.Tensor
    """Scalar tensor: the loss summed over the micro-batch's items."""
    count: int | torch.Tensor
    """Number of items summed into ``total``."""
    parts: Mapping[str, torch.Tensor] = attrs.field(factory=dict)
    """Named parts of ``total`` (also sums over items), logged as ``loss/online/<name>``."""


@attrs.frozen
class StepResult:
    """What one micro-batch produced: the objective to back-propagate and the losses to log."""

    objective: torch.Tensor
    """Scalar: a mean over the micro-batch (``is_sum`` False) or a sum over ``count`` items (``is_sum`` True)."""
    count: int | torch.Tensor
    """Items in the micro-batch (samples for mean losses, ``LossOutput.count`` for sums)."""
    is_sum: bool
    """True for a ``LossOutput``."""
    losses: Mapping[str, torch.Tensor]
    """Detached per-item mean losses: ``total`` and every named part."""
    outputs: Any
    """The model's outputs (for callbacks that track additional outputs)."""


@attrs.frozen(kw_only=True)
class TrainerResult:
    """What Noether's ``train_step(batch, model)`` returns: the loss to back-propagate and what to log.

    A ``train_step`` written for Noether keeps working: the engine detects its ``(batch, model)`` signature once,
    back-propagates ``total_loss`` (a mean over the micro-batch, weighted by its share of the update like every
    mean loss) and logs ``total_loss`` as ``loss/online/total`` and each of ``losses_to_log`` as
    ``loss/online/<name>``.
    """

    total_loss: torch.Tensor
    """Scalar tensor: the micro-batch's loss (a mean over its samples)."""
    losses_to_log: Mapping[str, torch.Tensor] | None = None
    """Named scalar losses to log besides the total (``None``: only the total)."""
    additional_outputs: Any = None
    """Anything else callbacks that track outputs should see (e.g. predictions)."""


MODEL_PARAMETER_NAMES = ("model", "dist_model", "trainer_model", "forward_model")
"""First parameter names of a ``train_step(model, batch)`` written for the engine."""


class BaseTrainer:
    """Base of user trainers: split a batch into model inputs and targets, compute the loss.

    Subclasses implement ``loss_compute(outputs, targets)``, or override ``train_step``: either the engine's
    ``train_step(model, batch)`` or Noether's ``train_step(batch, model)`` returning a ``TrainerResult`` (or a
    bare scalar tensor); which of the two is read once from the signature. They may declare ``config_schema``
    (an attrs subclass of ``BaseTrainerConfig``) and add callbacks with ``trainer_callbacks``.
    """

    config_schema: ClassVar[type] = BaseTrainerConfig

    def __init__(self, config: BaseTrainerConfig) -> None:
        self.config = config
        self.device: torch.device | None = None
        """The device the run trains on (set by the engine before training)."""
        self._autocast: Any = contextlib.nullcontext
        self._step: Any = None

    def prepare(self, device: torch.device, autocast: Any) -> None:
        """Called once by the engine before training: the device, the forward pass's autocast factory, and which
        ``train_step`` signature this trainer has.

        Raises:
            ConfigError: an overridden ``train_step`` whose parameters do not say which one is the batch.
        """
        self.device, self._autocast = device, autocast
        try:
            self._step = self._step_function()
        except TypeError as exc:
            raise ConfigError([Issue("trainer.kind", str(exc))]) from None

    @property
    def autocast_context(self) -> contextlib.AbstractContextManager:
        """The forward pass's autocast context (a fresh one on each access; Noether's ``trainer.autocast_context``),
        for callbacks that run the model themselves: ``with self.trainer.autocast_context: ...``."""
        return self.__dict__.get("_autocast", contextlib.nullcontext)()

    def run_step(self, model: torch.nn.Module, batch: Mapping[str, Any]) -> StepResult:
        """One micro-batch through this trainer's ``train_step``, whichever signature it has: the loop and the
        evaluation callbacks call this."""
        step = self.__dict__.get("_step")
        if step is None:  # a trainer used outside a run (prepare was not called)
            step = self._step = self._step_function()
        return step(model, batch)

    def _step_function(self) -> Any:
        """``(model, batch) -> StepResult`` for this trainer's ``train_step``, decided once from its signature."""
        if type(self).train_step is BaseTrainer.train_step:
            return self.train_step
        try:
            parameters = [p for p in inspect.signature(self.train_step).parameters.values()
                          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            parameters = []
        names = [p.name for p in parameters[:2]]
        if len(names) == 2 and names[0] == "batch":
            noether_step = self.train_step
            return lambda model, batch: self._as_step_result(noether_step(batch, model), batch)
        if len(names) == 2 and (names[0] in MODEL_PARAMETER_NAMES or names[1] == "batch"):
            engine_step = self.train_step
            return lambda model, batch: self._as_step_result(engine_step(model, batch), batch)
        raise TypeError(
            f"{type(self).__name__}.train_step({', '.join(names)}): cannot tell which parameter is the batch; "
            "name them (batch, model) as in Noether or (model, batch) as in the engine")

    def _as_step_result(self, result: Any, batch: Mapping[str, Any]) -> StepResult:
        """An overridden ``train_step``'s result as a ``StepResult`` (a ``TrainerResult``, a bare tensor, a dict
        of losses or a ``LossOutput``)."""
        if isinstance(result, StepResult):
            return result
        if isinstance(result, TrainerResult):
            _check_scalar(result.total_loss, "TrainerResult.total_loss")
            losses = {"total": result.total_loss.detach()}
            for name, value in (result.losses_to_log or {}).items():
                _check_scalar(value, f"TrainerResult.losses_to_log[{name!r}]")
                losses[name] = value.detach()
            return StepResult(result.total_loss, _batch_items(batch), False, losses, result.additional_outputs)
        if isinstance(result, (torch.Tensor, LossOutput, Mapping)):
            return self._step_result(result, None, _batch_items(batch))
        raise TypeError(f"{type(self).__name__}.train_step must return an engine.TrainerResult, a scalar tensor, "
                        f"a dict of scalar tensors or an engine.LossOutput (got {type(result).__name__})")

    # ----- what users override ---------------------------------------------------------------------------
    def loss_compute(self, outputs: Any, targets: dict[str, Any]) -> torch.Tensor | dict[str, torch.Tensor] | LossOutput:
        """Return the loss of a micro-batch: a scalar tensor (mean over items), a dict of scalar tensors (summed
        into the total) or a ``LossOutput`` (sums over a varying number of items)."""
        raise NotImplementedError(f"{type(self).__name__} must implement loss_compute(outputs, targets)")

    def trainer_callbacks(self) -> list[Callback]:
        """Callbacks this trainer always adds after the configured and default ones."""
        return []

    # ----- one micro-batch -------------------------------------------------------------------------------
    def forward_properties(self, model: torch.nn.Module) -> tuple[str, ...]:
        """The batch items ``train_step`` passes to the model by name: the trainer's ``forward_properties``, else
        the (unwrapped) model's."""
        return tuple(self.config.forward_properties or getattr(
            getattr(unwrapped(model), "config", None), "forward_properties", None) or ())

    def forward_problem(self, model: torch.nn.Module) -> str | None:
        """Why ``train_step`` cannot call ``model.forward`` with the ``forward_properties`` (a required parameter
        they do not pass, or a property it does not take), checked before training; ``None`` when it can, or
        when a trainer overrides ``train_step`` and so calls the model its own way."""
        if type(self).train_step is not BaseTrainer.train_step:
            return None
        try:
            parameters = inspect.signature(unwrapped(model).forward).parameters.values()
        except (TypeError, ValueError):  # a forward without a signature to read
            return None
        by_name = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        passed = self.forward_properties(model)
        missing = [p.name for p in by_name if p.default is p.empty and p.name not in passed]
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
        unknown = [] if takes_any else [name for name in passed if name not in {p.name for p in by_name}]
        if not missing and not unknown:
            return None
        forward = f"{type(unwrapped(model)).__name__}.forward({', '.join(p.name for p in by_name)})"
        found = "; ".join([*([f"it needs {', '.join(missing)}"] if missing else []),
                           *([f"it does not take {', '.join(unknown)}"] if unknown else [])])
        return f"train_step calls {forward} with these batch items by name, but {found} (got {list(passed)})"

    def train_step(self, model: torch.nn.Module, batch: Mapping[str, Any]) -> StepResult:
        """Forward ``batch``'s ``forward_properties`` through ``model`` and compute the loss on its
        ``target_properties``."""
        forward_properties = self.__dict__.get("_forward_properties")
        if forward_properties is None:  # resolved on the first call
            forward_properties = self._forward_properties = self.forward_properties(model)
        outputs = model(**{key: batch[key] for key in forward_properties})
        loss = self.loss_compute(outputs, {key: batch[key] for key in self.config.target_properties or ()})
        return self._step_result(loss, outputs, _batch_items(batch))

    def _step_result(self, loss: Any, outputs: Any, items: int) -> StepResult:
        if type(loss) is torch.Tensor and loss.ndim == 0:  # the common case first: a scalar mean loss
            return StepResult(loss, items, False, {"total": loss.detach()}, outputs)
        match loss:
            case LossOutput(total=total, count=count, parts=parts):
                _check_scalar(total, "LossOutput.total")
                # a micro-batch without items (all tokens masked) contributes 0 to every sum, not 0 / 0
                divisor = count.clamp(min=1) if isinstance(count, torch.Tensor) else max(count, 1)
                per_item = {"total": total.detach() / divisor, **{k: v.detach() / divisor for k, v in parts.items()}}
                return StepResult(total, count, True, per_item, outputs)
            case torch.Tensor():
                _check_scalar(loss, "the loss")
                return StepResult(loss, items, False, {"total": loss.detach()}, outputs)
            case Mapping() if loss:
                for name, value in loss.items():
                    _check_scalar(value, f"loss {name!r}")
                total = sum(loss.values())
                return StepResult(total, items, False, {"total": total.detach(), **{k: v.detach() for k, v in loss.items()}}, outputs)
        raise TypeError(
            f"{type(self).__name__}.loss_compute must return a scalar tensor, a non-empty dict of scalar tensors "
            f"or an engine.LossOutput (got {type(loss).__name__})"
        )


def _check_scalar(value: Any, what: str) -> None:
    if not isinstance(value, torch.Tensor) or value.ndim != 0:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{what} must be a scalar tensor (got {shape}); reduce it, e.g. with .mean()")


def _batch_items(batch: Mapping[str, Any]) -> int:
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.ndim > 0:
            return value.shape[0]
    raise ValueError("cannot count the items of a batch without tensors; return an engine.LossOutput with a count")


@attrs.define
class Loop:
    """The mutable state of a running loop, owned by ``train``: what a resume must restore besides weights."""

    iteration: TrainingIteration
    consecutive_nonfinite: int | torch.Tensor = 0
    """Updates skipped in a row because a loss was NaN or Inf (a 0-d device tensor while training with
    ``skip_nan_loss``: ``int()`` reads it)."""
    longest_nonfinite: int | torch.Tensor = 0
    """The longest run of skipped updates since the limit was last checked (``engine.nonfinite.check_skipped``)."""
    stop_reason: str | None = None
    """``early_exit`` or ``signal`` when training ended before the plan's end."""


class _WithoutGrad:
    """``torch.no_grad()`` for the per-update hooks at a fraction of its cost (one reusable object, no
    decorator machinery); not re-entrant, which the loop does not need."""

    def __enter__(self) -> None:
        self.previous = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)

    def __exit__(self, *exc_info: object) -> None:
        torch._C._set_grad_enabled(self.previous)


without_grad = _WithoutGrad()


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The user's model behind ``torch.compile`` and ``DistributedDataParallel`` wrappers."""
    model = model.__dict__.get("_orig_mod", model)
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def ddp_module(model: torch.nn.Module) -> torch.nn.parallel.DistributedDataParallel | None:
    """The ``DistributedDataParallel`` module behind ``model`` (also under ``torch.compile``), else ``None``."""
    model = model.__dict__.get("_orig_mod", model)  # not getattr: a missing nn.Module attribute costs ~5 µs
    return model if isinstance(model, torch.nn.parallel.DistributedDataParallel) else None


def accumulation_context(ddp: torch.nn.parallel.DistributedDataParallel | None,
                         is_last_micro_batch: bool) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` for all but the last micro-batch of an update: gradients are all-reduced once."""
    if ddp is not None and not is_last_micro_batch:
        return ddp.no_sync()
    return contextlib.nullcontext()


def run_hooks(callbacks: Sequence[Callback], hook: str, iteration: TrainingIteration) -> bool:
    """Call ``hook(iteration)`` on every callback that has it (callers hold ``torch.no_grad()``); return True
    if one asked to stop early. The first other error is re-raised after the remaining callbacks ran."""
    return call_hooks([method for c in callbacks if (method := getattr(c, hook, None)) is not None], iteration)


def call_hooks(methods: Sequence[Any], iteration: TrainingIteration) -> bool:
    """``run_hooks`` over bound methods looked up once (the loop calls the same hooks every update)."""
    stop, error = False, None
    for method in methods:
        try:
            method(iteration)
        except EarlyStop:
            stop = True
        except Exception as exc:  # noqa: BLE001 - the other callbacks still run, then the first error is raised
            error = error or exc
    if error is not None:
        raise error
    return stop


def overriding(callbacks: Sequence[PeriodicCallback], hook: str) -> list[Any]:
    """The bound ``hook`` methods of the callbacks whose class overrides ``PeriodicCallback``'s no-op."""
    base = getattr(PeriodicCallback, hook)
    return [getattr(callback, hook) for callback in callbacks if getattr(type(callback), hook) is not base]


def train(
    run: RunContext,
    callbacks: Sequence[Callback],
    micro_batches: Iterator[Mapping[str, Any]],
    *,
    forward_model: torch.nn.Module,
    autocast: Any,
    grad_scaler: torch.amp.GradScaler | None,
    loop: Loop,
    should_stop: Any = lambda: False,
) -> Loop:
    """Run the updates ``loop.iteration.update .. plan.total_updates`` (DESIGN.md section 4.2).

    Args:
        run: the run's fixed objects (plan, model, optimizers, writer, ...).
        callbacks: every callback, configured ones first; periodic ones get the per-update hooks.
        micro_batches: an iterator over the run's micro-batches in order, starting at this update.
        forward_model: the model to call (the DDP / compiled wrapper of ``run.model`` or the model itself).
        autocast: a factory of the forward pass's autocast context.
        grad_scaler: the float16 loss scaler, or ``None``.
        loop: counters to continue from; updated in place and returned.
        should_stop: called after every update; True ends training (a signal was received).
    """
    plan, trainer, model, writer = run.plan, run.trainer, run.model, run.writer
    optimizers = tuple(run.optimizers.values())
    periodic = [callback for callback in callbacks if isinstance(callback, PeriodicCallback)]
    # only callbacks that override a per-step hook are called for it: the loop stays microseconds per update
    micro_batch_trackers = overriding(periodic, "track_after_accumulation_step")
    update_trackers = overriding(periodic, "track_after_update_step")
    after_update_hooks = [callback.after_update for callback in periodic]
    after_epoch_hooks = [callback.after_epoch for callback in periodic]
    update_items = plan.batch_size_per_device
    micro_batch_weights = [size / update_items for size in plan.micro_batch_sizes]
    single_micro_batch = len(micro_batch_weights) == 1
    last_micro_batch = len(micro_batch_weights) - 1
    skip_nonfinite = trainer.config.skip_nan_loss
    trains = not model_is_frozen(model)
    ddp = ddp_module(forward_model)
    distributed = is_distributed()  # then every rank must stop after the same update
    device = run.device
    on_cpu = device.type == "cpu"

    forward_model.train()
    if not on_cpu:  # pinned host memory -> device on a side stream, one micro-batch ahead of the compute
        micro_batches = prefetch_to_device(micro_batches, device)
    for update in range(loop.iteration.update, plan.total_updates):
        # 1. learning rate and weight decay of this update
        for optimizer in optimizers:
            optimizer.schedule_step(update)
        # 2. micro-batches: forward, weighted backward, tracking
        started = time.perf_counter()
        data_wait, summed_items, uses_sums, finite = 0.0, 0, False, None
        for index, weight in enumerate(micro_batch_weights):
            fetch_started = time.perf_counter()
            batch = next(micro_batches)
            data_wait += time.perf_counter() - fetch_started
            with accumulation_context(ddp, index == last_micro_batch):
                with autocast():
                    result = trainer.run_step(forward_model, batch)
                if skip_nonfinite:  # a flag on the device: reading it here would stall a GPU every micro-batch
                    finite = finite_and(finite, result.objective)
                # every micro-batch is back-propagated, also after a non-finite one: under DDP all ranks must
                # take part in the same gradient all-reduce; the update is dropped as a whole below
                if trains:
                    objective = result.objective if result.is_sum or single_micro_batch else result.objective * weight
                    (grad_scaler.scale(objective) if grad_scaler is not None else objective).backward()
            if result.is_sum:  # the same on every rank (one trainer), so the all-reduce below is collective
                summed_items, uses_sums = summed_items + result.count, True
            if micro_batch_trackers:
                with without_grad:
                    for track in micro_batch_trackers:
                        track(loop.iteration, batch, result.losses, result.outputs, result.count)
        # 3. optimizer step (skipped on the device when any rank saw a NaN or Inf loss), then clear gradients
        skipped = None
        if skip_nonfinite:
            skipped = any_process_on_device(~finite)
            loop.consecutive_nonfinite, loop.longest_nonfinite = count_skipped(
                loop.consecutive_nonfinite, loop.longest_nonfinite, skipped)
        if uses_sums:  # LossOutput sums: normalise by the items of the whole update, over all ranks
            divide_gradients(model, update_items_over_processes(summed_items, device))
        step_optimizers(optimizers, grad_scaler, skipped)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        # 4. counters, callbacks, stop checks
        loop.iteration = iteration = plan.iteration_at(update + 1)
        times = {"data_wait": data_wait, "update": time.perf_counter() - started}
        with without_grad, run.checkpoints.deferred:  # checkpoints hold the state after all callbacks ran
            for track in update_trackers:
                track(iteration, times)
            stop = call_hooks(after_update_hooks, iteration)
            if plan.is_epoch_end(update + 1):
                stop = call_hooks(after_epoch_hooks, iteration) or stop
        if skip_nonfinite and (writer.current or update + 1 == plan.total_updates):
            # the skip limit is checked where the host reads values anyway: updates that log, and the last
            check_skipped(loop.longest_nonfinite, trainer.config.skip_nan_loss_max_count)
            loop.longest_nonfinite = 0
        writer.flush(iteration)
        early_exit, signalled = max_each_over_processes(int(stop), int(should_stop())) if distributed else (stop, should_stop())
        if early_exit:
            loop.stop_reason = "early_exit"
            break
        if signalled:
            loop.stop_reason = "signal"
            break
    if skip_nonfinite and loop.stop_reason is not None:
        check_skipped(loop.longest_nonfinite, trainer.config.skip_nan_loss_max_count)
    return loop


def model_is_frozen(model: torch.nn.Module) -> bool:
    """True for a frozen ``engine.Model`` (no backward at all)."""
    return bool(getattr(model, "is_frozen", False))


def update_items_over_processes(summed_items: int | torch.Tensor, device: torch.device) -> float | torch.Tensor:
    """The update's ``LossOutput`` item count summed over all ranks, at least 1, divided by the number of ranks
    (DDP averages gradients): the divisor of the accumulated gradients. A host number when the counts are
    Python ints in one process; otherwise a 0-d float64 tensor on ``device``, never read on the host.

    >>> update_items_over_processes(12, torch.device("cpu"))
    12.0
    """
    if not isinstance(summed_items, torch.Tensor) and not is_distributed():
        return float(max(summed_items, 1))
    if isinstance(summed_items, torch.Tensor):
        items = summed_items.to(device=device, dtype=torch.float64)
    else:  # a fill on the device: no host-to-device copy to wait for
        items = torch.full((), float(summed_items), dtype=torch.float64, device=device)
    return all_reduce_sum(items).clamp_(min=1.0) / world_size()


def divide_gradients(model: torch.nn.Module, count: float | torch.Tensor) -> None:
    """Divide every accumulated gradient by the update's item count (for ``LossOutput`` sums); a 0-d tensor
    ``count`` is used on the device, without a host read."""
    gradients = [parameter.grad for parameter in model.parameters() if parameter.grad is not None]
    if gradients:
        torch._foreach_div_(gradients, count if isinstance(count, torch.Tensor) else float(count))


