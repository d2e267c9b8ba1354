"""Build a run's parts from its config: datasets (wrappers, normalizers, pipelines), the model, the trainer and the
optimizers, with every kind and argument problem at once. ``engine.run`` trains with them; ``engine.validate``
(``noether-check``) builds them to check a config before any run."""

from __future__ import annotations

from typing import Any

import torch

from noether.core.config import ConfigError, Issue
from noether.core.config.kinds import resolve_kind
from noether.core.schemas import ConfigSchema
from noether.core.training import TrainingPlan, bind_schedules

from engine.data import Dataset, build_dataset
from engine.data.batching import build_pipeline
from engine.data.wrappers import user_kinds
from engine.models import Model, freeze, named_models, trained_models
from engine.optimizer import OptimizerWrapper
from engine.trainer import BaseTrainer

__all__ = ["TRAIN_DATASET_KEY", "build_components", "build_optimizers", "dataset_key_issues"]

TRAIN_DATASET_KEY = "train"
"""The dataset the model is trained on; other keys are for callbacks (validation, test)."""


def dataset_key_issues(config: Any) -> list[Issue]:
    """One issue per configured callback whose ``dataset_key`` names no dataset."""
    known = ", ".join(sorted(config.datasets))
    return [Issue(f"trainer.callbacks[{index}].dataset_key", f"no dataset {callback.dataset_key!r} (datasets: {known})")
            for index, callback in enumerate(config.trainer.callbacks or ())
            if getattr(callback, "dataset_key", None) is not None and callback.dataset_key not in config.datasets]


def build_components(config: ConfigSchema, device: torch.device, *,
                     check_usage: bool = True) -> tuple[dict[str, Dataset], Model, BaseTrainer]:
    """Import and construct the datasets, the model (on ``device``) and the trainer; every kind problem at once.
    ``check_usage``: also check that callback ``dataset_key``s name datasets and that the model's ``forward``
    takes the forward properties (``noether-check`` reports those together with its other checks instead)."""
    issues: list[Issue] = dataset_key_issues(config) if check_usage else []

    def resolved(kind: str, base: type, path: str) -> type | None:
        try:
            return resolve_kind(kind, base, path=path)
        except ConfigError as exc:
            issues.extend(exc.issues)
            return None

    dataset_classes = {key: resolved(ds.kind, Dataset, f"datasets.{key}.kind") for key, ds in config.datasets.items()}
    model_class = resolved(config.model.kind, torch.nn.Module, "model.kind")
    trainer_class = resolved(config.trainer.kind, BaseTrainer, "trainer.kind")
    if TRAIN_DATASET_KEY not in config.datasets:
        issues.append(Issue("datasets", f"needs a '{TRAIN_DATASET_KEY}' dataset (got {sorted(config.datasets)})"))
    pipelines = {}
    for key, ds in config.datasets.items():
        for path, kind, base in user_kinds(ds, f"datasets.{key}"):
            resolved(kind, base, path)
        if ds.pipeline is not None:
            try:
                pipelines[key] = build_pipeline(ds.pipeline, path=f"datasets.{key}.pipeline")
            except ConfigError as exc:
                issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    datasets = {key: build_dataset(dataset_classes[key], ds, seed=config.seed) for key, ds in config.datasets.items()}
    for key, dataset in datasets.items():
        dataset.dataset_key = key
        if key in pipelines:
            dataset.pipeline = pipelines[key]
    model = model_class(config.model).to(device)
    for leaf in named_models(model).values():
        if getattr(leaf, "is_frozen", False):
            freeze(leaf)
    trainer = trainer_class(config.trainer)
    problem = trainer.forward_problem(model) if check_usage else None
    if problem is not None:
        where = "model" if not config.trainer.forward_properties and config.model.forward_properties else "trainer"
        raise ConfigError([Issue(f"{where}.forward_properties", problem)])
    return datasets, model, trainer


def build_optimizers(model: torch.nn.Module, plan: TrainingPlan | None) -> dict[str, OptimizerWrapper]:
    """One ``OptimizerWrapper`` per trained (sub)model, its schedules bound to ``plan`` (``None``: not bound, to
    check the optimizers' arguments alone); every optimizer problem at once."""
    optimizers, issues = {}, []
    for name, leaf in trained_models(model).items():
        path = "model.optimizer_config" if leaf is model else f"model.{name.split('.', 1)[-1]}.optimizer_config"
        try:
            optimizers[name] = OptimizerWrapper(leaf, leaf.optimizer_config, path=path,
                                                schedules=plan and bind_schedules(leaf.optimizer_config, plan))
        except ConfigError as exc:
            issues.extend(exc.issues)
    if issues:
        raise ConfigError(issues)
    return optimizers
