"""The callback framework: ``Callback`` for run-level hooks, ``PeriodicCallback`` for work at intervals.

Hook order (reference section 4.13): ``before_training``; per micro-batch ``track_after_accumulation_step``;
per update ``track_after_update_step`` then ``after_update``; at each completed epoch ``after_epoch``;
``after_training``. Callbacks receive the run's ``RunContext`` once (``setup``) and the current
``TrainingIteration`` at every hook; they never reach into the trainer's loop state.
"""

from __future__ import annotations

import inspect
import logging
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from noether.core.training import Interval, TrainingIteration, TrainingPlan

from engine.prefetch import to_device

if TYPE_CHECKING:
    import torch

    from engine.checkpoint import CheckpointWriter
    from engine.trackers import LogWriter
    from engine.trackers.log_writer import NoetherLogWriter
    from engine.trainer import BaseTrainer


@attrs.frozen(kw_only=True)
class RunContext:
    """What a callback may use: the run's fixed objects, built once before training."""

    trainer: BaseTrainer
    """The trainer (``train_step`` runs a forward pass and the loss, e.g. for offline evaluation)."""
    model: torch.nn.Module
    """The model being trained (not wrapped by DDP or ``torch.compile``)."""
    optimizers: Mapping[str, Any]
    """Model name -> ``OptimizerWrapper`` of every trained (sub)model."""
    datasets: Mapping[str, Any]
    """Dataset key -> dataset (wrappers and normalizers applied)."""
    plan: TrainingPlan
    """Batch sizes, updates per epoch and the run's length."""
    writer: LogWriter
    """Where scalars are logged."""
    checkpoints: CheckpointWriter
    """Writes model / optimizer / trainer checkpoints of this run."""
    run_dir: pathlib.Path
    """``<output_path>/<run_id>[/<stage_name>]``."""
    device: torch.device
    """The device the model lives on."""
    is_main_process: bool = True
    """True on rank 0: the only process that prints, tracks and writes files."""
    num_workers: int = 0
    """Data-loader worker processes for evaluation loaders."""


class _from_run:  # noqa: N801 - used as a decorator, like @property
    """A read-only attribute computed from the run (Noether's ``self.model``, ...) that a callback may still
    assign for itself (``self.model = ...`` shadows it): a non-data descriptor, unlike ``property``."""

    def __init__(self, getter: Callable[[Any], Any]) -> None:
        self.getter = getter
        self.__doc__ = getter.__doc__

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self if instance is None else self.getter(instance)


class Callback:
    """Base of every callback: run-level hooks and an optional resumable state. All hooks are no-ops.

    Noether's attributes are there too, once the run has started (``setup``): ``self.model``, ``self.trainer``
    (with ``autocast_context``), ``self.writer`` (``add_scalar(key, value, logger=None, format_str=None)``) and
    ``self.logger``; the constructor takes Noether's ``callback_config=`` keyword as well.
    """

    def __init__(self, config: Any = None, *, callback_config: Any = None) -> None:
        self.config = _one_config(config, callback_config, "callback_config")
        self.run: RunContext | None = None

    @_from_run
    def model(self) -> torch.nn.Module:
        """The model being trained (Noether's ``self.model``)."""
        return self._context().model

    @_from_run
    def trainer(self) -> BaseTrainer:
        """The run's trainer (Noether's ``self.trainer``; ``self.trainer.autocast_context`` for forward passes)."""
        return self._context().trainer

    @_from_run
    def writer(self) -> NoetherLogWriter:
        """Noether's log writer: ``self.writer.add_scalar(key=..., value=..., logger=self.logger, format_str=...)``."""
        writer = self.__dict__.get("_noether_writer")
        if writer is None:
            from engine.trackers.log_writer import NoetherLogWriter

            run = self._context()
            writer = self._noether_writer = NoetherLogWriter(run.writer, is_main_process=run.is_main_process)
        return writer

    @_from_run
    def logger(self) -> logging.Logger:
        """A logger named after the callback class (``engine.callbacks.<ClassName>``)."""
        return logging.getLogger(f"engine.callbacks.{type(self).__name__}")

    def _context(self) -> RunContext:
        if self.run is None:
            raise RuntimeError(f"{type(self).__name__}: the run's model, trainer and writer exist once training "
                               "starts (after setup), not in __init__")
        return self.run

    @property
    def checkpoint_key(self) -> str:
        """Key of this callback's state in the trainer checkpoint: the config's ``id``, else the class name."""
        return getattr(self.config, "id", None) or type(self).__name__

    def setup(self, run: RunContext) -> None:
        """Receive the run's context; called once before ``before_training``.

        Raises:
            ValueError: the class defines a Noether hook the engine never calls, or overrides a hook with a
                signature the engine cannot call (see :func:`check_hooks`).
        """
        self.run = run
        check_hooks(self)

    def before_training(self, iteration: TrainingIteration) -> None:
        """Called once before the first update (also for a resumed run), under ``no_grad``."""

    def after_training(self, iteration: TrainingIteration) -> None:
        """Called once after the last update, also after an early stop or a signal, under ``no_grad``."""

    def state_dict(self) -> dict[str, Any] | None:
        """The state to restore on resume; ``None`` for a stateless callback."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state returned by ``state_dict``."""

    def __str__(self) -> str:
        return type(self).__name__


def check_model_names(callback: Callback, model_names: Sequence[str] | None) -> None:
    """``model_names`` of a checkpoint callback must name models of the run (``<composite>.<attribute>`` for
    submodels); otherwise its checkpoints would silently hold no weights.

    Raises:
        ValueError: naming the unknown names, the closest known ones and every known name.
    """
    from noether.core.config.errors import did_you_mean

    from engine.models import named_models

    known = list(named_models(callback.run.model))
    unknown = [name for name in model_names or () if name not in known]
    if unknown:
        hints = "".join(did_you_mean(name, known) for name in unknown)
        raise ValueError(f"{callback}: model_names {unknown} are not models of this run (models: {known}){hints}")


class PeriodicCallback(Callback):
    """A callback whose ``periodic_callback`` runs every ``every_n_epochs`` / ``every_n_updates`` /
    ``every_n_samples`` (exactly one, from its config) and at an evaluation-only run (``interval_type="eval"``)."""

    def __init__(self, config: Any = None, *, interval: Interval | None = None, callback_config: Any = None) -> None:
        super().__init__(config, callback_config=callback_config)
        self.interval = interval if interval is not None else Interval.from_config(self.config)

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any, items: int | torch.Tensor) -> None:
        """Called after every micro-batch with its detached, unscaled per-item mean losses and the number of items
        they average over (samples, or a ``LossOutput``'s count), in train mode under ``no_grad``."""

    def track_after_update_step(self, iteration: TrainingIteration, times: Mapping[str, float]) -> None:
        """Called after every update with its wall-clock times in seconds (``data_wait``, ``update``)."""

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """The callback's work; ``interval_type`` is ``"epoch"``, ``"update"``, ``"sample"`` or ``"eval"``."""

    def after_update(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` when an update or sample interval is due after this update."""
        interval = self.interval
        if interval.every_n_updates is not None and interval.every_n_samples is None:
            if iteration.update % interval.every_n_updates == 0:  # the common case, checked inline (every update)
                self.periodic_callback(iteration, "update")
        elif interval.every_n_updates is not None or interval.every_n_samples is not None:
            if interval.due_after_update(iteration, self.run.plan.effective_batch_size):
                self.periodic_callback(iteration, "sample" if interval.every_n_samples else "update")

    def after_epoch(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` when an epoch interval is due after this (completed) epoch."""
        if self.interval.due_after_epoch(iteration):
            self.periodic_callback(iteration, "epoch")

    def at_eval(self, iteration: TrainingIteration) -> None:
        """Run ``periodic_callback`` once for a run with nothing to train (``max_*: 0``)."""
        self.periodic_callback(iteration, "eval")

    @property
    def interval_string(self) -> str:
        """``E5`` / ``U100`` / ``S1000``: the suffix of this callback's log keys."""
        return self.interval.short_string()

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.interval.short_string()})"


class EarlyStop(StopIteration):
    """Raised by a callback to end training after the current update (an ``.early_exit`` checkpoint is saved)."""


def _one_config(config: Any, noether_keyword: Any, keyword: str) -> Any:
    """The config given positionally or by Noether's keyword (``callback_config=``), not both."""
    if config is not None and noether_keyword is not None:
        raise TypeError(f"give the config once: positionally or as {keyword}=, not both")
    return noether_keyword if config is None else config


# ------------------------------------------------------------------------------ Noether's data-iterator callback
@attrs.frozen
class UpdateCounter:
    """The read-only view of Noether's ``update_counter`` handed to ``process_results``."""

    cur_iteration: TrainingIteration
    """Where training is (epoch, update, sample)."""
    end_iteration: TrainingIteration
    """Where training ends."""
    effective_batch_size: int
    """Samples per update over all processes."""
    updates_per_epoch: int
    """Updates in one epoch."""

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self.cur_iteration.epoch

    @property
    def update(self) -> int:
        """Completed updates."""
        return self.cur_iteration.update

    @property
    def sample(self) -> int:
        """Samples trained on."""
        return self.cur_iteration.sample

    @property
    def is_finished(self) -> bool:
        """True once the last update is done."""
        return self.cur_iteration.update >= self.end_iteration.update


class PeriodicDataIteratorCallback(PeriodicCallback):
    """Noether's evaluation callback: at each interval, run ``process_data(batch, trainer_model=model)`` on every
    batch of the dataset ``config.dataset_key`` (in eval mode, under ``no_grad``, batches of ``config.batch_size``
    or the training micro-batch), then ``process_results(results, interval_type=..., update_counter=...)`` once.

    ``results`` are the per-batch results concatenated in dataset order (gathered over processes): a dict of
    tensors per key, a tuple per position, tensors along the first dimension (0-d tensors and Python numbers
    one per batch), ``None`` stays ``None``.
    """

    def __init__(self, config: Any = None, *, interval: Interval | None = None, callback_config: Any = None) -> None:
        super().__init__(config, interval=interval, callback_config=callback_config)
        self.dataset_key = getattr(self.config, "dataset_key", None)
        """The dataset evaluated (a key of ``datasets``)."""
        self._loader = None

    def process_data(self, batch: Mapping[str, Any], *, trainer_model: torch.nn.Module) -> Any:
        """The result of one batch (a tensor, a dict of tensors or numbers, a tuple of those); override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement process_data(batch, *, trainer_model)")

    def process_results(self, results: Any, *, interval_type: str, update_counter: UpdateCounter, **_: Any) -> None:
        """Use the results of the whole dataset (e.g. compute and log a metric); override it."""

    def setup(self, run: RunContext) -> None:
        """Check the dataset and build its evaluation loader once.

        Raises:
            KeyError: ``dataset_key`` names no dataset of the run.
            ValueError: ``process_data`` is not implemented, or the dataset has fewer samples than processes.
        """
        from engine.data import make_eval_loader
        from engine.distributed import rank, world_size

        super().setup(run)
        if type(self).process_data is PeriodicDataIteratorCallback.process_data:
            raise ValueError(f"{type(self).__name__} must implement process_data(batch, *, trainer_model)")
        if self.dataset_key not in run.datasets:
            raise KeyError(f"{self}: no dataset {self.dataset_key!r}; datasets are {sorted(run.datasets)}")
        dataset = run.datasets[self.dataset_key]
        if len(dataset) < world_size():  # a rank without samples would skip the gathering collectives
            raise ValueError(f"{self}: dataset {self.dataset_key!r} has {len(dataset)} samples, fewer than the "
                             f"{world_size()} processes")
        batch_size = getattr(self.config, "batch_size", None) or run.plan.micro_batch_sizes[0]
        self._loader = make_eval_loader(dataset, batch_size, num_workers=run.num_workers, rank=rank(),
                                        world_size=world_size())

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Evaluate the dataset batch by batch, gather the results in dataset order, hand them over once."""

        run = self._context()
        model = run.model
        was_training = model.training
        model.eval()
        try:
            results = [self.process_data(to_device(batch, run.device), trainer_model=model) for batch in self._loader]
        finally:
            model.train(was_training)
        plan = run.plan
        counter = UpdateCounter(iteration, plan.iteration_at(plan.total_updates), plan.effective_batch_size,
                                plan.updates_per_epoch)
        collated = gather_in_dataset_order(collate_results(results), len(run.datasets[self.dataset_key]))
        self.process_results(collated, interval_type=interval_type, update_counter=counter)


def collate_results(results: Sequence[Any]) -> Any:
    """Concatenate per-batch results: dicts per key, tuples and lists per position, tensors along dim 0 (0-d
    tensors and numbers stacked, one per batch), ``None`` stays ``None``.

    >>> import torch
    >>> collate_results([{"y": torch.tensor([1, 2]), "n": 2}, {"y": torch.tensor([3]), "n": 1}])
    {'y': tensor([1, 2, 3]), 'n': tensor([2, 1])}

    Raises:
        TypeError: a result type that cannot be concatenated (named).
    """
    import torch

    first = results[0] if results else None
    if isinstance(first, Mapping):
        return {key: collate_results([r[key] for r in results]) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(collate_results([r[i] for r in results]) for i in range(len(first)))
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        parts = [r.detach() for r in results]
        return torch.stack(parts) if first.ndim == 0 else torch.cat(parts)
    if isinstance(first, (int, float, bool)) or hasattr(first, "item"):
        return torch.tensor([r.item() if hasattr(r, "item") else r for r in results])
    raise TypeError(f"process_data returned a {type(first).__name__}, which cannot be concatenated; return "
                    "tensors, numbers, or dicts / tuples of them")


def gather_in_dataset_order(collated: Any, dataset_length: int) -> Any:
    """The collated results of every process, in dataset order (rank ``r`` evaluated indices ``r, r + W, ...``);
    the results of this process alone when not distributed. Tensors whose first dimension is not the number of
    this process's samples (one value per batch) are concatenated in rank order."""
    from engine.distributed import gather_from_all, is_distributed, world_size

    if not is_distributed():
        return collated
    import torch

    size = world_size()
    local_length = len(range(_rank(), dataset_length, size))

    def gather(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: gather(item) for key, item in value.items()}
        if isinstance(value, (tuple, list)):
            return type(value)(gather(item) for item in value)
        if not isinstance(value, torch.Tensor):
            return value
        parts = [part.to(value.device) for part in gather_from_all(value.cpu())]
        if value.ndim == 0 or value.shape[0] != local_length:
            return torch.cat([part.reshape(-1, *part.shape[1:]) if part.ndim else part.reshape(1) for part in parts])
        order = torch.cat([torch.arange(r, dataset_length, size) for r in range(size)])
        out = torch.empty((dataset_length, *value.shape[1:]), dtype=value.dtype, device=value.device)
        out[order.to(value.device)] = torch.cat(parts)
        return out

    return gather(collated)


def _rank() -> int:
    from engine.distributed import rank

    return rank()


# ------------------------------------------------------------------------------ Noether hooks, checked at setup
NOETHER_HOOKS_NOT_CALLED: dict[str, str] = {
    "resume_from_checkpoint": "a resume restores callback state through state_dict() / load_state_dict(state)",
    "get_children": "list child callbacks in trainer.callbacks instead",
    "register_sampler_config": "a PeriodicDataIteratorCallback reads config.dataset_key and config.batch_size",
    "to_short_interval_string": "log keys use the interval_string property (E5 / U100 / S1000)",
    "updates_per_log_interval": "the interval comes from the config's every_n_* field",
    "updates_till_next_log": "the interval comes from the config's every_n_* field",
    "_iterate_over_dataset": "override process_data / process_results instead",
    "_collate_result": "process_results receives the results concatenated by engine.callbacks.collate_results",
}
"""Hooks of Noether's callback classes that the engine never calls, and what to do instead."""

ENGINE_HOOKS: dict[str, tuple[str, ...]] = {
    "before_training": ("iteration",),
    "after_training": ("iteration",),
    "after_update": ("iteration",),
    "after_epoch": ("iteration",),
    "at_eval": ("iteration",),
    "periodic_callback": ("iteration", "interval_type"),
    "track_after_update_step": ("iteration", "times"),
    "track_after_accumulation_step": ("iteration", "batch", "losses", "outputs", "items"),
    "process_data": ("batch",),
    "process_results": ("results",),
    "state_dict": (),
    "load_state_dict": ("state",),
}
"""Hooks the engine calls -> the arguments it passes (``process_data`` also gets ``trainer_model=``,
``process_results`` ``interval_type=`` and ``update_counter=``)."""

NOETHER_KEYWORDS: dict[str, Callable[..., dict[str, Any]]] = {
    "before_training": lambda counter: {"update_counter": counter},
    "after_training": lambda counter: {"update_counter": counter},
    "after_update": lambda counter: {"update_counter": counter},
    "after_epoch": lambda counter: {"update_counter": counter},
    "at_eval": lambda counter: {"update_counter": counter},
    "periodic_callback": lambda counter, interval_type: {"update_counter": counter, "interval_type": interval_type},
    "track_after_update_step": lambda counter, times: {"update_counter": counter, "times": times},
    "track_after_accumulation_step": lambda counter, batch, losses, outputs, items, steps, step: {
        "update_counter": counter, "batch": batch, "losses": losses, "update_outputs": outputs,
        "accumulation_steps": steps, "accumulation_step": step},
}
"""Hooks a Noether callback may write with Noether's signature (an ``update_counter`` parameter, usually
keyword-only): how the engine's positional arguments are passed to it then (the iteration as an
``UpdateCounter``; for the accumulation hook also the number of micro-batches per update and this one's index)."""

_KEYWORDS = {"process_data": {"trainer_model": None},
             "process_results": {"interval_type": None, "update_counter": None}}


def check_hooks(callback: Callback) -> None:
    """Make sure no hook a user callback defines is silently never called.

    A Noether hook the engine does not call is an error; a hook written with Noether's keyword-only signature
    (``periodic_callback(self, *, interval_type, update_counter, **kwargs)``) is called that way; any other
    signature the engine cannot call is an error naming the class, the hook and the call.

    Raises:
        ValueError: naming the class and the hook.
    """
    cls = type(callback)
    for hook, instead in NOETHER_HOOKS_NOT_CALLED.items():
        if _user_defined(cls, hook):
            raise ValueError(f"{cls.__name__} defines Noether's hook {hook}(), which the engine never calls; "
                             f"{instead}")
    for hook, arguments in ENGINE_HOOKS.items():
        if not _user_defined(cls, hook):
            continue
        method = getattr(callback, hook)
        try:
            signature = inspect.signature(method)
        except (TypeError, ValueError):
            continue
        if hook in NOETHER_KEYWORDS and "update_counter" in signature.parameters:
            extra = ("steps", "step") if hook == "track_after_accumulation_step" else ()
            placeholders = NOETHER_KEYWORDS[hook](*arguments, *extra)
            if _binds(signature, (), placeholders):
                setattr(callback, hook, _noether_call(callback, method, hook))
                continue
        elif _binds(signature, arguments, _KEYWORDS.get(hook, {})):
            continue
        call = ", ".join([*arguments, *(f"{key}=..." for key in _KEYWORDS.get(hook, {}))])
        raise ValueError(f"{cls.__name__}.{hook}{signature} cannot be called the way the engine calls it: "
                         f"{hook}({call})")


def _user_defined(cls: type, name: str) -> bool:
    """True when ``name`` is defined by a class outside the engine (the user's)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return not klass.__module__.startswith("engine.")
    return False


def _binds(signature: inspect.Signature, positional: Sequence[str], keywords: Mapping[str, Any]) -> bool:
    try:
        signature.bind(*positional, **keywords)
    except TypeError:
        return False
    return True


def _noether_call(callback: Callback, method: Callable, hook: str) -> Callable:
    """``method`` called with Noether's keywords from the engine's positional arguments."""
    to_keywords = NOETHER_KEYWORDS[hook]
    plan = callback._context().plan
    end = plan.iteration_at(plan.total_updates)
    micro_batches = [0]  # calls of the accumulation hook so far: the loop calls it once per micro-batch, in order
    steps = len(plan.micro_batch_sizes)

    def call(iteration: TrainingIteration, *rest: Any) -> Any:
        counter = UpdateCounter(iteration, end, plan.effective_batch_size, plan.updates_per_epoch)
        if hook == "track_after_accumulation_step":
            rest = (*rest, steps, micro_batches[0] % steps)
            micro_batches[0] += 1
        return method(**to_keywords(counter, *rest))

    return call
