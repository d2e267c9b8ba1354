"""``noether-schedule``'s engine side: the model's param groups (built on the meta device, no memory, no
weights initialised for real) and, when not given, the train dataset's length."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from noether.core.config import ConfigError, Issue
from noether.core.optimizer import plan_param_groups
from noether.core.schedules.preview import GroupCurve, group_curves
from noether.core.training import TrainingPlan, check_plan

from engine.data import Dataset, build_dataset
from noether.core.config.kinds import resolve_kind
from engine.models import trained_models
from engine.run import TRAIN_DATASET_KEY, load_config


def schedule_preview(
    path: str | os.PathLike, overrides: Sequence[str] = (), *, dataset_length: int | None = None
) -> tuple[list[GroupCurve], TrainingPlan]:
    """The curves of every trained (sub)model's param groups over the run that ``path`` describes.

    Raises:
        ConfigError: the config is invalid, or the plan or a schedule cannot be evaluated.
    """
    config = load_config(path, overrides)
    if dataset_length is None:
        if TRAIN_DATASET_KEY not in config.datasets:
            raise ConfigError([Issue("datasets", f"needs a '{TRAIN_DATASET_KEY}' dataset (got {sorted(config.datasets)})")])
        train = config.datasets[TRAIN_DATASET_KEY]
        dataset_class = resolve_kind(train.kind, Dataset, path=f"datasets.{TRAIN_DATASET_KEY}.kind")
        dataset_length = len(build_dataset(dataset_class, train, seed=config.seed))
    plan = check_plan(config, dataset_length)
    model_class = resolve_kind(config.model.kind, torch.nn.Module, path="model.kind")
    with torch.device("meta"):
        model = model_class(config.model)
    curves: list[GroupCurve] = []
    for name, leaf in trained_models(model).items():
        path_prefix = "model.optimizer_config" if leaf is model else f"model.{name.split('.', 1)[-1]}.optimizer_config"
        shapes = [(parameter_name, tuple(parameter.shape)) for parameter_name, parameter in leaf.named_parameters()]
        groups = plan_param_groups(shapes, leaf.optimizer_config, path=path_prefix)
        curves += group_curves(name, leaf.optimizer_config, groups, plan)
    return curves, plan


def plot_curves(curves: Sequence[GroupCurve], plan: TrainingPlan, path: str | os.PathLike) -> None:
    """Plot learning rate (top) and weight decay (bottom) against the update, one line per group; dotted
    vertical lines mark epoch boundaries when there are few enough to read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (lr_axis, wd_axis) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for curve in curves:
        label = f"{curve.model}/{curve.group}"
        lr_axis.plot(range(plan.total_updates), curve.lr, label=label)
        wd_axis.plot(range(plan.total_updates), curve.weight_decay, label=label)
    if plan.total_updates // max(plan.updates_per_epoch, 1) <= 50:
        for epoch_end in range(plan.updates_per_epoch, plan.total_updates, plan.updates_per_epoch):
            for axis in (lr_axis, wd_axis):
                axis.axvline(epoch_end, color="0.85", linestyle=":", linewidth=0.8)
    lr_axis.set_ylabel("learning rate")
    wd_axis.set_ylabel("weight decay")
    wd_axis.set_xlabel("update")
    lr_axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
