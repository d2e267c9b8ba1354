"""After training: load a trained model in one call, evaluate a checkpoint, write predictions.

``load_model(run, checkpoint)`` rebuilds the model from the run's own resolved ``config.yaml`` and loads a
verified checkpoint into it. ``evaluate(run, inference_config)`` merges the run's resolved config with a small
inference config, loads the chosen checkpoint and runs the evaluation callbacks once (``max_*: 0``) in a new
stage directory of the run; nothing of the training run's files is touched.
"""

from __future__ import annotations

import copy
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from noether.core.config import ConfigError, Issue
from noether.core.config.kinds import resolve_kind
from noether.core.training import Interval, TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.checkpoint import MANIFEST_SUFFIX, file_stem, find_checkpoint, load_part
from engine.models import freeze, named_models
from engine.prefetch import to_device

CONFIG_FILE = "config.yaml"
"""The resolved config a run writes into its directory; what ``load_model`` and ``evaluate`` rebuild from."""


def find_run_directory(run: str | os.PathLike, output_path: str | os.PathLike | None = None,
                       stage_name: str | None = None) -> pathlib.Path:
    """The directory of a finished run: ``run`` itself when it is a directory with a ``config.yaml``, else the
    run id ``run`` under ``output_path`` (and ``stage_name``).

    Args:
        run: A run directory (``outputs/2026-11-21_14-03-59_a3f9``) or a run id.
        output_path: Where run ids are looked up (the config's ``output_path``); ``None``: ``run`` must be a path.
        stage_name: The stage of the run (``<run>/<stage_name>``); ``None``: the run directory itself.

    Returns:
        The directory that holds the run's ``config.yaml`` and ``checkpoints``.

    Raises:
        FileNotFoundError: the run does not exist (listing the runs under ``output_path``), or has no
            ``config.yaml`` there (listing its stages that have one).
    """
    given = pathlib.Path(run)
    if output_path is not None and not (given.is_dir() and given.is_absolute()):
        root = pathlib.Path(output_path)
        if not (root / given).is_dir():
            runs = sorted(entry.name for entry in root.iterdir() if entry.is_dir()) if root.is_dir() else []
            raise FileNotFoundError(f"no run {str(run)!r} in {root} (runs there: {', '.join(runs[-20:]) or 'none'})")
        given = root / given
    elif not given.is_dir():
        hint = "" if output_path is not None else "; pass output_path to look a run id up"
        raise FileNotFoundError(f"no run directory {str(run)!r}{hint}")
    directory = given / stage_name if stage_name else given
    if not (directory / CONFIG_FILE).is_file():
        stages = sorted(entry.parent.name for entry in given.glob(f"*/{CONFIG_FILE}"))
        raise FileNotFoundError(f"{directory} holds no {CONFIG_FILE} of a run"
                                + (f" (stages with one: {', '.join(stages)}; pass stage_name)" if stages else ""))
    return directory


def normalized_tag(checkpoint: str) -> str:
    """A checkpoint tag as files name it: a ``best_model`` tag may be written with the metric key's ``/``.

    >>> normalized_tag("best_model.loss/val/total"), normalized_tag("E3")
    ('best_model.loss.val.total', 'E3')
    """
    return checkpoint.replace("/", ".") if checkpoint.startswith("best_model.") else checkpoint


def stored_model_infos(directory: pathlib.Path, root_name: str) -> list[str]:
    """The ``model_info`` values (``ema=0.999``) with checkpoints of ``root_name`` in ``directory``."""
    prefix = f"{root_name}_"
    infos = {manifest.name[len(prefix):].split("_cp=", 1)[0]
             for manifest in directory.glob(f"{prefix}*_cp=*{MANIFEST_SUFFIX}")} if directory.is_dir() else set()
    return sorted(info for info in infos if "=" in info and not info.startswith("cp="))


def load_weights_into(model: torch.nn.Module, directory: pathlib.Path, checkpoint: str,
                      model_info: str | None = None) -> str:
    """Load the verified checkpoint ``checkpoint`` (``latest``, ``last``, ``E3``, ``best_model.<metric>``, ...)
    of ``model`` (every submodel of a composite) from a run's ``checkpoints`` directory, strictly.

    Args:
        model: The model, built from the run's config.
        directory: The run's ``checkpoints`` directory.
        checkpoint: The tag (``engine.checkpoint.candidate_tags`` resolves ``latest`` and counts).
        model_info: ``ema=<factor>`` for the EMA weights; ``None``: the trained weights.

    Returns:
        The tag the checkpoint was found under (``latest`` resolved).

    Raises:
        FileNotFoundError: no such checkpoint (listing the tags that exist, and the ``model_info`` values that
            have checkpoints), or it holds no weights of one of the models.
        ValueError: the weights do not fit the model built from the config.
    """
    models = named_models(model)
    root_name = getattr(model, "name", None) or "model"
    tag = normalized_tag(checkpoint)
    try:
        files = find_checkpoint(directory, root_name, tag, model_info)
    except FileNotFoundError:
        prefix = file_stem(root_name, "", model_info)
        tags = sorted(manifest.name[len(prefix):-len(MANIFEST_SUFFIX)]
                      for manifest in directory.glob(f"{prefix}*{MANIFEST_SUFFIX}")) if directory.is_dir() else []
        others = [info for info in stored_model_infos(directory, root_name) if info != model_info]
        with_info = f" with model_info {model_info!r}" if model_info else ""
        message = (f"no verified checkpoint {tag!r} of model {root_name!r}{with_info} in {directory}; "
                   + (f"available: {', '.join(tags)}" if tags else f"there are no checkpoints{with_info}"))
        if others:
            message += f"; checkpoints with model_info: {', '.join(others)}"
        if model_info is not None:
            message += "; without model_info: the trained weights"
        raise FileNotFoundError(message) from None
    info = f"_{model_info}" if model_info else ""
    found_tag = tag
    for name, leaf in models.items():
        prefix = f"{name}{info}_cp="
        matches = [file for file in files if file.startswith(prefix) and file.endswith("_model.th")]
        if not matches:
            held = sorted(file.split("_cp=", 1)[0] for file in files if file.endswith("_model.th"))
            raise FileNotFoundError(f"checkpoint {tag!r} in {directory} holds no weights of model {name!r} "
                                    f"(it holds: {', '.join(held) or 'no weights'})")
        found_tag = matches[0][len(prefix):-len("_model.th")]
        state = load_part(files[matches[0]])["state_dict"]
        try:
            leaf.load_state_dict(state)
        except RuntimeError as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
            raise ValueError(f"checkpoint {found_tag!r} of model {name!r} does not fit the model built from the "
                             f"config: {detail or exc}") from None
    return found_tag


def build_model(config: Any, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model a run's config describes (frozen submodels frozen), on ``device``, with fresh weights.

    Raises:
        ConfigError: at ``model.kind`` when the class cannot be imported or is not a ``torch.nn.Module``.
    """
    model_class = resolve_kind(config.model.kind, torch.nn.Module, path="model.kind")
    model = model_class(config.model).to(device)
    for leaf in named_models(model).values():
        if getattr(leaf, "is_frozen", False):
            freeze(leaf)
    return model


def load_model(
    run: str | os.PathLike,
    checkpoint: str = "latest",
    *,
    model_info: str | None = None,
    device: torch.device | str = "cpu",
    output_path: str | os.PathLike | None = None,
    stage_name: str | None = None,
) -> torch.nn.Module:
    """The trained model of a run, in eval mode: built from the run's resolved ``config.yaml``, with the weights
    of one verified checkpoint (every submodel of a composite model, under its ``<composite>.<attribute>`` name).

    Args:
        run: The run directory, or its run id (then ``output_path`` says where runs are).
        checkpoint: ``latest`` (the newest verified checkpoint), ``last``, ``best_model.<metric>`` (``/`` or
            ``.`` between the metric's parts), an exact tag ``E1_U4_S16``, or one count ``E3`` / ``U120`` / ``S4096``.
        model_info: ``ema=<factor>`` to load the EMA weights an ``EmaCallback`` saved; ``None``: the trained ones.
        device: Where the model is put.
        output_path: The directory under which run ids are looked up.
        stage_name: The stage of the run that trained the model (``None``: the run directory itself).

    Returns:
        The model (``model.config`` is its config), in eval mode.

    Raises:
        FileNotFoundError: the run or the checkpoint does not exist; the message lists the runs or tags that do.
        ConfigError: the run's config names a model class that cannot be imported.
        ValueError: the checkpoint's weights do not fit the model.

    >>> load_model("no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no run directory 'no/such/run'; pass output_path to look a run id up
    """
    from engine.run import load_config

    directory = find_run_directory(run, output_path, stage_name)
    config = load_config(directory / CONFIG_FILE)
    model = build_model(config, device)
    load_weights_into(model, directory / "checkpoints", checkpoint, model_info)
    return model.eval()


# ----------------------------------------------------------------------------------------------- evaluate
DEFAULT_STAGE = "eval"
"""The stage directory of an evaluation whose inference config names none: ``eval``, then ``eval_2``, ..."""


@attrs.frozen(kw_only=True)
class EvaluationConfig:
    """The ``evaluation`` section of an inference config: which checkpoint to evaluate and what to predict."""

    checkpoint: str = "latest"
    """The evaluated checkpoint's tag: ``latest``, ``last``, ``best_model.<metric>``, ``E3``, ``E1_U4_S16``, ..."""
    model_info: str | None = None
    """``ema=<factor>``: evaluate the EMA weights an ``EmaCallback`` saved; ``None``: the trained weights."""
    predict: tuple[str, ...] = ()
    """Dataset keys whose model outputs are written per sample to ``predictions/<key>.th`` in the stage directory."""
    batch_size: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """Samples per forward pass of the predictions. ``None``: the run's micro-batch size."""


@attrs.frozen(kw_only=True)
class _InferenceSection:
    """Holder that gives the ``evaluation`` section its path in error lines."""

    evaluation: EvaluationConfig = attrs.field(factory=EvaluationConfig)
    """The ``evaluation`` section."""


EVALUATION_KEY = "evaluation"
"""The root key of an inference config that holds the ``EvaluationConfig``."""
FORCED_FIELDS = {"resume_run_id": None, "resume_stage_name": None, "resume_checkpoint": None,
                 "store_code_in_output": False}
"""Root fields an evaluation sets whatever the configs say: it resumes nothing and stores no code."""


def _merge(base: Any, update: Any) -> Any:
    """``update`` over ``base``: mappings merge key by key, anything else (lists included) replaces."""
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return update


def model_changes(stored: dict[str, Any], merged: dict[str, Any], locate: Any) -> list[Issue]:
    """One issue per model field the inference config changed (the checkpoint's weights fit the stored model
    only); the model's optimizer, initializers and ``is_frozen`` may change, they do not shape the model."""
    from noether.core.config.diff import config_differences

    from engine.run import config_path_steps

    differences = config_differences({"model": stored.get("model")}, {"model": merged.get("model")})
    issues = []
    for difference in differences:
        parts = difference.path.split(".")
        if "optimizer_config" in parts or any(part.split("[")[0] in ("initializers", "is_frozen") for part in parts):
            continue
        issues.append(Issue(difference.path, f"an evaluation cannot change the trained model (the run has "
                            f"{difference.old!r}, got {difference.new!r}); its checkpoints fit the run's model only",
                            locate(config_path_steps(difference.path), True)))
    return issues


def evaluation_stage(run_root: pathlib.Path, requested: str | None, trained_stage: str | None) -> str:
    """The stage directory name of a new evaluation: ``requested`` when it is new, else ``eval`` / ``eval_2`` / ...

    Raises:
        ConfigError: at ``stage_name`` when the requested stage already exists (nothing is ever overwritten).
    """
    if requested is not None and requested != trained_stage:
        if (run_root / requested).exists():
            raise ConfigError([Issue("stage_name", f"the stage directory {run_root / requested} already exists; "
                                     f"choose another stage_name (got {requested!r})")])
        return requested
    number, name = 1, DEFAULT_STAGE
    while (run_root / name).exists():
        number += 1
        name = f"{DEFAULT_STAGE}_{number}"
    return name


def evaluation_config(
    run_dir: pathlib.Path,
    inference_config: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
) -> tuple[Any, EvaluationConfig, Any]:
    """The config of an evaluation: the run's resolved ``config.yaml`` merged with ``inference_config`` (its
    mappings merge, its lists replace, e.g. ``trainer.callbacks``), then ``overrides``; nothing is trained
    (``trainer.max_epochs: 0``) and nothing resumed.

    Returns:
        The config, its ``evaluation`` section, and ``locate(path_steps, at_key)`` of where each node was written.

    Raises:
        ConfigError: every problem at once: unknown keys, a changed model, a bad ``evaluation`` section.
    """
    from noether.core.config.kinds import declared_config_class
    from noether.core.config.load import is_schema_field, structure_composed
    from noether.core.config.yaml import Composed, apply_override, compose_with_origins, parse_overrides
    from noether.core.config.converter import structure
    from noether.core.schemas import ConfigSchema

    stored, issues = compose_with_origins(run_dir / CONFIG_FILE)
    data, origins = stored.data, dict(stored.origins)
    stored_data = copy.deepcopy(data)
    if inference_config is not None:
        inference, inference_issues = compose_with_origins(inference_config)
        issues += inference_issues
        data = _merge(data, inference.data)
        origins.update(inference.origins)
    composed = Composed(data, origins)
    defaults = {key: list(value) if isinstance(value, tuple) else value
                for key, value in attrs.asdict(EvaluationConfig()).items()}
    if isinstance(data.get(EVALUATION_KEY), dict) or data.get(EVALUATION_KEY) is None:
        data[EVALUATION_KEY] = {**defaults, **(data.get(EVALUATION_KEY) or {})}  # every key can be overridden
    fields = {field.name for field in attrs.fields(EvaluationConfig)}
    parsed, override_issues = parse_overrides(overrides)
    issues += override_issues
    for override in parsed:
        problem = apply_override(composed, override, lambda at: (
            tuple(at[:1]) == (EVALUATION_KEY,) and len(at) == 2 and at[1] in fields) or is_schema_field(ConfigSchema, at))
        if problem:
            issues.append(problem)
    section = data.pop(EVALUATION_KEY) or {}
    try:
        evaluation = structure({EVALUATION_KEY: section}, _InferenceSection, locate=composed.locate).evaluation
    except ConfigError as exc:
        issues += exc.issues
        evaluation = EvaluationConfig()
    issues += model_changes(stored_data, data, composed.locate)
    trainer = data.get("trainer")
    if isinstance(trainer, dict):
        for key in ("max_updates", "max_samples", "start_at_epoch", "initializer"):
            trainer.pop(key, None)
        trainer["max_epochs"] = 0
    data.update(FORCED_FIELDS)
    known = data.get("datasets") if isinstance(data.get("datasets"), dict) else {}
    issues += [Issue(f"evaluation.predict[{index}]", f"no dataset {key!r} in the run (datasets: "
                     f"{', '.join(sorted(known))})", composed.locate((EVALUATION_KEY, "predict", index), False))
               for index, key in enumerate(evaluation.predict) if key not in known]
    config = structure_composed(composed, issues, config_class_for=declared_config_class)
    return config, evaluation, composed.locate


class PredictionWriter(PeriodicCallback):
    """Write the model's outputs for every sample of one dataset to ``<stage>/predictions/<dataset_key>.th``:
    ``{"index": LongTensor[N], "outputs": ..., "dataset_key", "checkpoint"}`` with the outputs in dataset order
    (a tensor with one row per sample, a dict of such tensors, or, when the samples' shapes differ, a list of one
    tensor per sample)."""

    evaluates = True

    def __init__(self, dataset_key: str, batch_size: int | None, checkpoint: str) -> None:
        super().__init__(None, interval=Interval(every_n_epochs=1))
        self.dataset_key = dataset_key
        self.batch_size = batch_size
        self.checkpoint = checkpoint

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Forward every sample of the dataset (eval mode, no gradients) and save the outputs with their indices."""
        from engine.data import make_eval_loader
        from engine.data.sampler import eval_indices
        from engine.distributed import gather_from_all, rank, world_size

        dataset, model, trainer = self.run.datasets[self.dataset_key], self.run.model, self.run.trainer
        batch_size = self.batch_size or self.run.plan.micro_batch_sizes[0]
        loader = make_eval_loader(dataset, batch_size, num_workers=self.run.num_workers, rank=rank(),
                                  world_size=world_size())
        properties = trainer.forward_properties(model)
        rows: list[Any] = []
        model.eval()
        with torch.no_grad():
            for batch in loader:
                outputs = model(**{key: to_device(batch, self.run.device)[key] for key in properties})
                rows.extend(per_sample(outputs, self))
        indices = list(eval_indices(len(dataset), rank(), world_size()))
        if len(rows) != len(indices):
            raise ValueError(f"{self}: the model's outputs have {len(rows)} rows for the {len(indices)} samples of "
                             f"dataset {self.dataset_key!r}; predictions need one row per sample")
        gathered = gather_from_all(list(zip(indices, rows, strict=True)))
        if not self.run.is_main_process:
            return
        ordered = sorted((pair for part in gathered for pair in part), key=lambda pair: pair[0])
        directory = self.run.run_dir / "predictions"
        directory.mkdir(parents=True, exist_ok=True)
        torch.save({"index": torch.tensor([index for index, _ in ordered], dtype=torch.long),
                    "outputs": stacked([row for _, row in ordered]), "dataset_key": self.dataset_key,
                    "checkpoint": self.checkpoint}, directory / f"{self.dataset_key}.th")

    def __str__(self) -> str:
        return f"PredictionWriter({self.dataset_key})"


def per_sample(outputs: Any, writer: Any) -> list[Any]:
    """A batch's outputs split into one CPU value per sample: a tensor's rows, or dicts of rows."""
    if isinstance(outputs, torch.Tensor):
        return list(outputs.detach().cpu().unbind(0))
    if isinstance(outputs, dict) and outputs and all(isinstance(value, torch.Tensor) for value in outputs.values()):
        columns = {key: value.detach().cpu().unbind(0) for key, value in outputs.items()}
        counts = {len(column) for column in columns.values()}
        if len(counts) == 1:
            return [{key: column[row] for key, column in columns.items()} for row in range(counts.pop())]
    raise TypeError(f"{writer}: predictions are kept per sample, so the model must return a tensor or a dict of "
                    f"tensors with one row per sample (got {type(outputs).__name__})")


def stacked(rows: list[Any]) -> Any:
    """Rows back into one tensor (or a dict of tensors) when their shapes agree, else the list of rows."""
    if rows and isinstance(rows[0], dict):
        return {key: stacked([row[key] for row in rows]) for key in rows[0]}
    if rows and all(row.shape == rows[0].shape for row in rows):
        return torch.stack(rows)
    return rows


def evaluate(
    run: str | os.PathLike,
    inference_config: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    *,
    output_path: str | os.PathLike | None = None,
    stage_name: str | None = None,
) -> Any:
    """Evaluate a trained run's checkpoint: its resolved config merged with ``inference_config`` and
    ``overrides``, the checkpoint of ``evaluation.checkpoint`` (``evaluation.model_info: ema=<f>`` for EMA
    weights) loaded, only the evaluation callbacks (offline losses, metrics) run once, and the model's outputs
    written for the datasets of ``evaluation.predict``. Nothing is trained, and nothing of the training run is
    written: the results go to a new stage directory ``<run>/<stage>`` (``eval``, ``eval_2``, ..., or the
    inference config's ``stage_name``) with ``config.yaml``, ``metrics.jsonl``, ``summary.json``, TensorBoard
    events and ``predictions/<dataset>.th``.

    Args:
        run: The run directory or its run id (under ``output_path``).
        inference_config: A YAML file merged over the run's config: mappings merge, lists (``trainer.callbacks``)
            replace; its ``evaluation`` section is an ``EvaluationConfig``.
        overrides: Dotted overrides applied after the merge (``evaluation.checkpoint=last``, ``+datasets.test...``).
        output_path: Where run ids are looked up.
        stage_name: The stage of the run that trained the model (``None``: the run directory itself).

    Returns:
        The ``RunResult`` of the evaluation (``run_dir``: its stage directory; ``metrics``: what it logged).

    Raises:
        ConfigError: every problem with the merged config, a changed model, a dataset key the run lacks.
        FileNotFoundError: the run or the checkpoint does not exist (the message lists those that do).
    """
    from engine.run import EvaluationPlan, _run, start

    run_dir = find_run_directory(run, output_path, stage_name)
    config, evaluation, locate = evaluation_config(run_dir, inference_config, overrides)
    run_root = run_dir.parent if stage_name else run_dir
    stage = evaluation_stage(run_root, config.stage_name, stage_name)
    config = attrs.evolve(config, run_id=run_root.name, stage_name=stage, output_path=run_root.parent)

    loaded: dict[str, str] = {}

    def load(model: torch.nn.Module) -> str:
        loaded["tag"] = load_weights_into(model, run_dir / "checkpoints", evaluation.checkpoint, evaluation.model_info)
        return loaded["tag"]

    described = f"run {run_root.name}" + (f" (stage {stage_name})" if stage_name else "")
    plan = EvaluationPlan(
        load_weights=load, source=described + (f" ({evaluation.model_info})" if evaluation.model_info else ""),
        extra_callbacks=lambda: [PredictionWriter(key, evaluation.batch_size, loaded["tag"])
                                 for key in evaluation.predict])
    return start(config, lambda config, device: _run(config, device, False, evaluation=plan), lambda: locate)
