"""From a validated config to a trained model: build the components, plan, train, and report.

``run(config)`` is the whole job, top to bottom: every step is one call, so the order of a run can be read
here. Everything that can be checked before the first update is checked before it.
"""

from __future__ import annotations

import os
import pathlib
import random
import re
import secrets
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from noether.core import config as core_config
from noether.core.config import ConfigError, Issue
from noether.core.config.kinds import declared_config_class
from noether.core.config.load import field_locator, in_document_order
from noether.core.config.yaml import compose_with_origins
from noether.core.schemas import ConfigSchema, TensorboardTrackerSchema
from noether.core.training import TrainingIteration, check_plan

from engine import environment
from engine.callbacks import Callback, RunContext, default_callbacks, make_callbacks
from engine.build import TRAIN_DATASET_KEY, build_components, build_optimizers  # noqa: F401 - also importable from here
from engine.checkpoint import CheckpointWriter
from engine.data import UpdateBatchSampler, make_train_loader
from engine.faults import SampleErrors, from_worker, lock_run_directory
from engine.distributed import (
    broadcast_from_main,
    gather_from_all,
    init_process_group,
    max_over_processes,
    rank,
    world_size,
    wrap_model,
)
from engine.initializers import apply_model_initializers, resume_request, run_checkpoint_directory
from engine.models import named_models
from engine.optimizer import OptimizerWrapper
from engine.precision import autocast_and_scaler
from engine.resume import (
    ResumePoint,
    check_resumable_config,
    find_resume_point,
    load_optimizers,
    load_weights,
    restore_rng_state,
    rank_rng_state,
    rng_state,
)
from engine.trackers import LogWriter, make_tracker
from engine.trainer import Loop, run_hooks, train
from engine.validate import check_callbacks


@attrs.frozen
class RunResult:
    """What a finished run leaves behind."""

    run_id: str
    """The id of this run (a resumed run gets a new one)."""
    run_dir: pathlib.Path
    """``<output_path>/<run_id>[/<stage_name>]``: resolved config, checkpoints, TensorBoard events, metrics."""
    iteration: TrainingIteration
    """Where training ended."""
    metrics: dict[str, float]
    """The last value of every logged scalar."""
    stopped_by: str | None = None
    """Why training ended before the plan's end: ``early_exit``, ``SIGTERM``, ``SIGINT``; ``None`` otherwise."""
    tensorboard_dir: pathlib.Path | None = None
    """The TensorBoard log directory the run wrote to (a resumed run continues its first ancestor's); ``None``
    without a TensorBoard tracker."""


def load_config(path: str | os.PathLike, overrides: Sequence[str] = (), schema: type = ConfigSchema) -> Any:
    """``noether.core.config.load_config`` that also structures each component's fields into the config class
    the component declares (``config_schema = MyModelConfig`` on a model, dataset or trainer class)."""
    return core_config.load_config(path, overrides, schema, config_class_for=declared_config_class)


def new_run_id() -> str:
    """A fresh run id: local time and a random suffix, e.g. ``2026-11-21_14-03-59_a3f9``."""
    return time.strftime("%Y-%m-%d_%H-%M-%S") + "_" + secrets.token_hex(2)


def select_device(config: ConfigSchema) -> torch.device:
    """The device from ``accelerator`` (``None``: CUDA, else MPS, else CPU) and ``devices`` (first listed)."""
    accelerator = config.accelerator
    if accelerator is None:
        accelerator = "gpu" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if accelerator == "gpu":
        if not torch.cuda.is_available():
            raise ConfigError([Issue("accelerator", "no CUDA device is available (got 'gpu'); use 'cpu' or leave it unset")])
        local = int(os.environ.get("LOCAL_RANK", 0))
        indices = [int(index) for index in config.devices.split(",")] if config.devices else list(range(torch.cuda.device_count()))
        if local >= len(indices):
            raise ConfigError([Issue("devices", f"local rank {local} has no GPU: {len(indices)} listed (got "
                                     f"{config.devices!r}); start at most {len(indices)} processes per node")])
        return torch.device("cuda", indices[local])
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError([Issue("accelerator", "MPS is not available on this machine (got 'mps')")])
    return torch.device("mps" if accelerator == "mps" else "cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so that model initialisation is reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_directory(config: ConfigSchema, run_id: str) -> pathlib.Path:
    """``<output_path>/<run_id>[/<stage_name>]``."""
    run_dir = pathlib.Path(config.output_path) / run_id
    return run_dir / config.stage_name if config.stage_name else run_dir


def run(
    config: ConfigSchema | str | os.PathLike, overrides: Sequence[str] = (), *, allow_unsafe_resume: bool = False
) -> RunResult:
    """Train a model from a config object or a YAML file (with ``key=value`` overrides).

    With ``resume_run_id`` set, the run continues the ancestor run's checkpoint ``resume_checkpoint``
    (default ``latest``) from its exact update under a new run id; unsafe config changes (model, optimizer
    kind) are refused unless ``allow_unsafe_resume``.

    Raises:
        ConfigError: everything wrong with the config that can be known before the first update.
    """
    source = None
    if not isinstance(config, ConfigSchema):
        source = config
        config = load_config(config, overrides)
    elif overrides:
        raise ValueError("overrides apply to YAML files; change a config object with attrs.evolve")
    locate = None if source is None else lambda: field_locator(compose_with_origins(source, overrides)[0])
    return start(config, lambda config, device: _run(config, device, allow_unsafe_resume), locate)


def start(config: ConfigSchema, body: Callable[[ConfigSchema, torch.device], RunResult],
          locate: Callable[[], Callable[..., str | None]] | None = None) -> RunResult:
    """Set up the process for ``config`` (debug mode, logging, device, process group) and run ``body`` in it.

    Args:
        config: The validated config.
        body: ``(config, device) -> RunResult``: training (``run``) or an evaluation (``engine.evaluate``).
        locate: Gives a ``locate(path_steps, at_key)`` of the config's source, to add ``file:line:col`` to the
            issues found after loading; ``None``: the config did not come from a file.

    Raises:
        ConfigError: everything wrong with the config that can be known before the first update.
    """
    config = environment.for_debug(config)  # debug: no tracker, outputs under <output_path>/debug
    environment.configure_logging(config.debug)
    try:
        device = select_device(config)
        joined_process_group = init_process_group(device)
        try:
            return body(config, device)
        finally:
            if joined_process_group:
                torch.distributed.destroy_process_group()
    except ConfigError as exc:
        if locate is None or all(issue.location for issue in exc.issues):
            raise
        raise located(exc, locate()) from None


def located(error: ConfigError, locate: Callable[..., str | None]) -> ConfigError:
    """``error`` with every issue that has no location placed by ``locate(path_steps, at_key)``."""
    return ConfigError(in_document_order([
        issue if issue.location else Issue(issue.path, issue.message, locate(config_path_steps(issue.path), True))
        for issue in error.issues]))


def config_path_steps(path: str) -> tuple[str | int, ...]:
    """``datasets.train.pipeline.collators[0].items`` -> ``("datasets", "train", "pipeline", "collators", 0, "items")``."""
    return tuple(int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path))


@attrs.frozen(kw_only=True)
class EvaluationPlan:
    """What turns a run into an evaluation of a trained checkpoint (``engine.evaluate``): nothing is trained, the
    weights come from the checkpoint, and only evaluation callbacks run, once."""

    load_weights: Callable[[torch.nn.Module], str]
    """Loads the evaluated checkpoint into the built model; returns the tag it was found under."""
    extra_callbacks: Callable[[], list[Callback]] = list
    """Callbacks that run after the configured evaluation callbacks (e.g. the prediction writers)."""
    source: str = ""
    """What is evaluated, for the start line (``run <id>, checkpoint <tag>``)."""


def evaluates(callback: Callback) -> bool:
    """Whether ``callback`` belongs in an evaluation run: its class sets ``evaluates = True`` (an offline loss,
    a metric over a dataset, a writer of outputs), not a callback that trains, saves or tracks training."""
    return bool(getattr(type(callback), "evaluates", False))


def _run(config: ConfigSchema, device: torch.device, allow_unsafe_resume: bool,
         evaluation: EvaluationPlan | None = None) -> RunResult:
    resume_from = resume_request(config)  # (run id, stage, tag) of the checkpoint to continue, or None
    autocast, grad_scaler = autocast_and_scaler(config.trainer.precision, device)
    seed_everything(config.seed)
    environment.set_cudnn_flags(config, device)
    datasets, model, trainer = build_components(config, device)
    trainer.prepare(device, autocast)  # which train_step signature: decided once, here
    if rank() > 0:  # the model starts equal on every rank (DDP broadcasts rank 0's); dropout and the like must not
        seed_everything(config.seed + rank())
    plan = check_plan(config, len(datasets[TRAIN_DATASET_KEY]), world_size())
    # model initializers (weights from earlier runs) apply to new runs; a resume loads its own checkpoint
    if evaluation is not None:  # the evaluated checkpoint, instead of initializers
        evaluated_tag = evaluation.load_weights(model)
        initial_optimizer_states = {}
    else:
        initial_optimizer_states = {} if resume_from else apply_model_initializers(model, pathlib.Path(config.output_path))
    optimizers = build_optimizers(model, plan)
    for name, state in initial_optimizer_states.items():
        optimizers[name].load_state_dict(state)
    callbacks = make_callbacks(config.trainer.callbacks)
    config_indices = list(range(len(callbacks)))  # where each configured callback is in trainer.callbacks
    if evaluation is not None:
        # the evaluated weights are the loaded ones: callbacks of the training run's EMA weights do not apply
        config_indices = [index for index, callback in zip(config_indices, callbacks)
                          if evaluates(callback) and not getattr(callback, "model_info", None)]
        callbacks = [callbacks[index] for index in config_indices]
        if config.trainer.add_trainer_callbacks:
            callbacks += [callback for callback in trainer.trainer_callbacks() if evaluates(callback)]
        callbacks += evaluation.extra_callbacks()
        if not callbacks:
            raise ConfigError([Issue("trainer.callbacks", "an evaluation needs an evaluation callback (e.g. an "
                                     "OfflineLossCallback with a dataset_key) or evaluation.predict (got none)")])
    else:
        if config.trainer.add_default_callbacks:
            callbacks += default_callbacks(config.trainer, plan, device, configured=callbacks)
        if config.trainer.add_trainer_callbacks:
            callbacks += trainer.trainer_callbacks()
    check_checkpoint_keys(callbacks)
    check_callbacks(callbacks, config_indices)  # watched metrics are logged, EMA model_info has its EmaCallback

    run_id = config.run_id or broadcast_from_main(new_run_id())
    config = attrs.evolve(config, run_id=run_id, accelerator={"cuda": "gpu"}.get(device.type, device.type))
    resume_point = find_resume(config, model, resume_from) if resume_from else None
    is_main = rank() == 0
    loop = Loop(iteration=plan.start)
    if resume_point is not None:
        loop = resume(resume_point, resume_from[0], config, model, optimizers, callbacks, grad_scaler,
                      allow_unsafe_resume, is_main)
        plan = plan.starting_at(min(loop.iteration.update, plan.total_updates))
    run_dir = run_directory(config, run_id)
    run_lock = None
    if is_main:
        run_lock = lock_run_directory(run_dir)  # a second process on this run id and output path refuses here
        config_yaml = core_config.to_yaml(config)
        (run_dir / "config.yaml").write_text(config_yaml, encoding="utf-8")
        if config.store_code_in_output and evaluation is None:
            environment.store_code(run_dir, exclude=[pathlib.Path(config.output_path)])
        if evaluation is None:
            (run_dir / "param_groups.txt").write_text(
                "".join(f"# {name}\n{optimizer.explain()}\n" for name, optimizer in optimizers.items()), encoding="utf-8")
    continue_in = tensorboard_to_continue(resume_point, config) if resume_point is not None else None
    tracker = make_tracker(config.tracker if is_main else None, run_dir, run_id, continue_in=continue_in,
                           resumed_at=loop.iteration.update + 1 if continue_in is not None else None)
    tensorboard_dir = getattr(tracker, "log_dir", None)
    writer = LogWriter(tracker, run_dir / "metrics.jsonl" if is_main else None)
    try:  # from here on the writer (an open file, TensorBoard's thread) is closed whatever happens
        if is_main:
            tracker.log_config(config_yaml, hyperparameters(config))
        ancestors = [*resume_point.trainer_state.get("ancestors", []), resume_from[0]] if resume_point and resume_point.trainer_state else []

        def trainer_state() -> dict[str, Any]:
            return {
                "training_iteration": loop.iteration.as_dict(),
                "consecutive_nonfinite": int(loop.consecutive_nonfinite),  # a device counter while training
                "callback_state_dicts": {key: state for key, state in ((c.checkpoint_key, c.state_dict()) for c in callbacks)
                                         if state is not None},
                "grad_scaler": grad_scaler.state_dict() if grad_scaler is not None else {},
                "rng": gather_from_all(rng_state()),  # every rank's generators, in rank order
                "config": core_config.unstructure(config),
                "run_id": run_id,
                "ancestors": ancestors,
                # where the TensorBoard run lives (relative to output_path), for the runs that resume this one
                "tensorboard_log_dir": os.path.relpath(tensorboard_dir, config.output_path) if tensorboard_dir else None,
            }

        checkpoints = CheckpointWriter(run_dir / "checkpoints", run_id=run_id, model=model, optimizers=optimizers,
                                       trainer_state=trainer_state, is_main_process=is_main)
        context = RunContext(trainer=trainer, model=model, optimizers=optimizers, datasets=datasets, plan=plan,
                             writer=writer, checkpoints=checkpoints, run_dir=run_dir, device=device,
                             is_main_process=is_main, num_workers=config.num_workers or 0)
        setup_callbacks(callbacks, context, indices=config_indices)
        if is_main and evaluation is not None:
            print(f"evaluating {evaluation.source}, checkpoint {evaluated_tag!r} on {device}: "
                  f"{', '.join(map(str, callbacks))}; output in {run_dir}")
        elif is_main:
            print(f"run {run_id}: {plan.total_updates} updates of {plan.effective_batch_size} samples "
                  f"({plan.updates_per_epoch} per epoch, micro-batches {list(plan.micro_batch_sizes)}) on {device}"
                  + (f", resuming {resume_from[0]} at {loop.iteration}" if resume_point else "")
                  + (f"; TensorBoard continues in {continue_in}" if continue_in is not None else "")
                  + f"; output in {run_dir}")
            for name, optimizer in optimizers.items():
                groups = ", ".join(f"{group.name} ({len(group.param_names)})" for group in optimizer.plan)
                print(f"param groups of {name}: {groups}; every parameter's group and rule: {run_dir / 'param_groups.txt'}")

        sampler = UpdateBatchSampler(
            dataset_length=plan.dataset_length, effective_batch_size=plan.effective_batch_size,
            micro_batch_sizes=plan.micro_batch_sizes, updates_per_epoch=plan.updates_per_epoch, seed=config.seed,
            start_update=loop.iteration.update, end_update=max(plan.total_updates, loop.iteration.update),
            rank=rank(), world_size=world_size(),
        )
        loader = make_train_loader(SampleErrors(datasets[TRAIN_DATASET_KEY], TRAIN_DATASET_KEY), sampler, num_workers=config.num_workers or 0,
                                   seed=config.seed, pin_memory=device.type == "cuda")
        forward_model = wrap_model(model, device, find_unused_parameters=config.trainer.find_unused_params,
                                   static_graph=config.trainer.static_graph)
        if config.trainer.use_torch_compile:
            forward_model = torch.compile(forward_model)
        stop_signal = StopSignal(config.trainer.save_on_sigint)
        model.eval()
        with torch.no_grad():
            run_hooks(callbacks, "before_training", loop.iteration)
        if resume_point is not None and resume_point.trainer_state is not None:
            restore_rng_state(rank_rng_state(resume_point.trainer_state["rng"]))  # last: the above may draw numbers
        if plan.total_updates <= plan.start.update and resume_point is None:  # nothing to train: evaluate once
            with torch.no_grad():
                run_hooks([c for c in callbacks if hasattr(c, "at_eval")], "at_eval", loop.iteration)
            writer.flush(loop.iteration)
            if evaluation is not None:  # what was evaluated and what came out, in summary.json
                writer.add_summary("evaluated", evaluation.source)
                writer.add_summary("checkpoint", evaluated_tag)
                for key, value in writer.latest.items():
                    writer.add_summary(key, value)
        else:
            with stop_signal:
                try:
                    train(context, callbacks, iter(loader), forward_model=forward_model, autocast=autocast,
                          grad_scaler=grad_scaler, loop=loop, should_stop=stop_signal.received)
                except Exception as exc:
                    save_quietly(checkpoints, f"{loop.iteration}.error", loop.iteration)
                    cause = from_worker(exc)  # a loader worker's error, without torch's wrapper
                    if cause is exc:
                        raise
                    raise cause from exc
            if loop.stop_reason == "early_exit":
                checkpoints.save(f"{loop.iteration}.early_exit", loop.iteration, weights=True, optim=True, trainer=True)
            checkpoints.save("latest", loop.iteration, weights=True, optim=True, trainer=True)
        model.eval()
        with torch.no_grad():
            run_hooks(callbacks, "after_training", loop.iteration)
        writer.flush(loop.iteration)
    finally:
        writer.close(run_dir / "summary.json" if is_main else None)
        if run_lock is not None:
            run_lock.release()
    stopped_by = loop.stop_reason
    if stopped_by == "signal":  # the signal may have reached another rank only: agree on which one
        stopped_by = signal.Signals(max_over_processes(stop_signal.number or 0)).name
    if is_main:
        if stopped_by in ("SIGTERM", "SIGINT"):
            print(f"stopped by {stopped_by} at {loop.iteration}; resumable checkpoint 'latest' in "
                  f"{run_dir / 'checkpoints'}; continue with resume_run_id={run_id}")
        elif stopped_by == "early_exit":
            print(f"stopped early at {loop.iteration} (checkpoint '{loop.iteration}.early_exit'); outputs in {run_dir}")
        else:
            print(f"done at {loop.iteration}; outputs in {run_dir}")
    return RunResult(run_id=run_id, run_dir=run_dir, iteration=loop.iteration, metrics=dict(writer.latest),
                     stopped_by=stopped_by, tensorboard_dir=tensorboard_dir)


def tensorboard_to_continue(point: ResumePoint, config: ConfigSchema) -> pathlib.Path | None:
    """The TensorBoard log directory of the run that ``point``'s run continues (its first ancestor's), when it
    still exists under ``output_path``; ``None``: a checkpoint without it, or another tracker."""
    stored = (point.trainer_state or {}).get("tensorboard_log_dir")
    if not stored or not isinstance(config.tracker, TensorboardTrackerSchema):
        return None
    directory = pathlib.Path(config.output_path) / stored
    return directory if directory.is_dir() else None


def setup_callbacks(callbacks: Sequence[Callback], context: RunContext, *, indices: Sequence[int]) -> None:
    """Give every callback the run's context; the configured ones (the first ``len(indices)``, at those positions
    of ``trainer.callbacks``) report problems with their setting (unknown ``model_names``, a dataset key that does
    not exist) as config errors, all at once."""
    issues = []
    for index, callback in enumerate(callbacks):
        try:
            callback.setup(context)
        except (ValueError, KeyError) as exc:
            if index >= len(indices):
                raise
            issues.append(Issue(f"trainer.callbacks[{indices[index]}]", str(exc).strip("'\"")))
    if issues:
        raise ConfigError(issues)


def save_quietly(checkpoints: CheckpointWriter, tag: str, iteration: TrainingIteration) -> None:
    """Try to save an ``.error`` checkpoint while an exception propagates; never hide the original error.

    Not in a multi-process run: the trainer state gathers every rank's random state, and the other ranks, which
    did not fail, are waiting in a different collective; trying would hang instead of failing."""
    if world_size() > 1:
        warnings.warn(f"no {tag!r} checkpoint in a multi-process run (it would wait for the other ranks)", stacklevel=2)
        return
    try:
        checkpoints.save(tag, iteration, weights=True, optim=True, trainer=True)
    except Exception as exc:  # noqa: BLE001 - the training error matters more than this one
        warnings.warn(f"could not save the {tag!r} checkpoint: {exc}", stacklevel=2)


class StopSignal:
    """While active, SIGTERM (and SIGINT with ``save_on_sigint``) only set a flag: the loop finishes the
    current update, a resumable checkpoint is written, ``after_training`` runs. The previous handlers come
    back afterwards. Outside the main thread signals cannot be caught and nothing is installed."""

    def __init__(self, save_on_sigint: bool) -> None:
        self.signals = [signal.SIGTERM] + ([signal.SIGINT] if save_on_sigint else [])
        self.number: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, number: int, _frame: Any) -> None:
        self.number = number
        print(f"received {signal.Signals(number).name}: stopping after the current update", file=sys.stderr, flush=True)

    def received(self) -> bool:
        """True once a stop signal arrived."""
        return self.number is not None

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in self.signals}
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


def find_resume(config: ConfigSchema, model: torch.nn.Module, request: tuple[str, str | None, str]) -> ResumePoint:
    """The ancestor run's checkpoint that this run continues from (``request``: run id, stage, tag)."""
    if config.trainer.start_at_epoch is not None:
        raise ConfigError([Issue("trainer.start_at_epoch", "cannot be combined with resume_run_id: a resumed run "
                                 f"starts where its checkpoint ends (got {config.trainer.start_at_epoch})")])
    run_id, stage, tag = request
    directory = run_checkpoint_directory(pathlib.Path(config.output_path), run_id, stage,
                                         run_id_path="resume_run_id", stage_path="resume_stage_name")
    return find_resume_point(directory, getattr(model, "name", None) or "model", tag)


def resume(point: ResumePoint, ancestor: str, config: ConfigSchema, model: torch.nn.Module, optimizers: dict[str, OptimizerWrapper],
           callbacks: Sequence[Callback], grad_scaler: torch.amp.GradScaler | None, allow_unsafe: bool,
           is_main: bool) -> Loop:
    """Load weights, optimizer, callback and scaler state from ``point``; return the loop counters to continue."""
    state = point.trainer_state
    if state is not None:
        report = check_resumable_config(state["config"], core_config.unstructure(config), allow_unsafe=allow_unsafe)
        if report and is_main:
            print(f"resuming {ancestor} ({point.tag}) with a changed config:\n{report}")
    load_weights(point, named_models(model))
    exact = load_optimizers(point, optimizers) and state is not None
    if state is None:
        warnings.warn(f"checkpoint {point.tag!r} holds weights only: counters continue from {point.iteration}, "
                      "optimizer, random and callback states start fresh (not an exact resume)", stacklevel=2)
        return Loop(iteration=point.iteration)
    stored = state["callback_state_dicts"]
    for callback in callbacks:
        if callback.state_dict() is not None and callback.checkpoint_key in stored:
            callback.load_state_dict(stored[callback.checkpoint_key])
    if grad_scaler is not None and state["grad_scaler"]:
        grad_scaler.load_state_dict(state["grad_scaler"])
    if not exact and is_main:
        print("note: this resume is not exact (see the warning above)")
    return Loop(iteration=TrainingIteration(**state["training_iteration"]),
                consecutive_nonfinite=state["consecutive_nonfinite"])


def check_checkpoint_keys(callbacks: Sequence[Callback]) -> None:
    """Two stateful callbacks with the same checkpoint key would overwrite each other's resume state."""
    seen: dict[str, Callback] = {}
    for callback in callbacks:
        if callback.state_dict() is None:
            continue
        key = callback.checkpoint_key
        if key in seen:
            raise ConfigError([Issue("trainer.callbacks", f"two stateful callbacks share the checkpoint key {key!r}: "
                                     f"{seen[key]} and {callback}; set a unique 'id' on each")])
        seen[key] = callback


def hyperparameters(config: ConfigSchema) -> dict[str, Any]:
    """The flat scalar leaves of the config (``trainer.max_epochs``, ``model.optimizer_config.lr``, ...)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, (int, float, str, bool)):
            flat[prefix] = node

    walk(core_config.unstructure(config), "")
    return flat
