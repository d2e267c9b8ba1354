"""Tests for ``noether.core.training.checks``: schedules that cannot be evaluated over the planned run."""

from __future__ import annotations

import attrs
import pytest

from noether.core.config import ConfigError, resolve
from noether.core.schemas import (
    BaseTrainerConfig,
    ConfigSchema,
    ConstantScheduleConfig,
    CustomScheduleConfig,
    DatasetBaseConfig,
    LinearDecreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    ModelBaseConfig,
    OptimizerConfig,
    SchedulerConfig,
)
from noether.core.training import check_plan, plan_training, schedule_issues

LWCD = LinearWarmupCosineDecayScheduleConfig


@attrs.frozen(kw_only=True)
class CompositeModelConfig(ModelBaseConfig):
    """A composite model: named submodels, each with its own optimizer."""

    submodels: dict[str, ModelBaseConfig]
    """The submodels by name."""


def config(optimizer: OptimizerConfig | None = None, model: ModelBaseConfig | None = None, **trainer) -> ConfigSchema:
    """A root config with one model (or ``model``) and a trainer of ``max_updates=10`` and batch 4 unless given."""
    if not any(name in trainer for name in ("max_epochs", "max_updates", "max_samples")):
        trainer["max_updates"] = 10
    trainer.setdefault("effective_batch_size", 4)
    return ConfigSchema(
        datasets={"train": DatasetBaseConfig(kind="my_project.Dataset")},
        model=model or ModelBaseConfig(kind="my_project.Model", name="net", optimizer_config=optimizer),
        trainer=BaseTrainerConfig(kind="my_project.Trainer", **trainer),
        output_path="outputs",
    )


def issue_lines(root: ConfigSchema, dataset_length: int = 16) -> list[str]:
    """The rendered issues of the root's schedules over its plan (4 updates per epoch with the defaults)."""
    return [str(issue) for issue in schedule_issues(root, plan_training(root.trainer, dataset_length))]


def test_schedules_that_fit_have_no_issues():
    """A resolved warmup-cosine schedule, a constant and a linear decay fit a run of 10 updates."""
    optimizer = OptimizerConfig(
        lr=1e-3,
        weight_decay=0.05,
        schedule_config=LWCD(warmup_steps=10, max_value=1e-3),
        weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.05),
    )
    assert issue_lines(config(optimizer)) == []
    assert issue_lines(config(OptimizerConfig(lr=1e-3, schedule_config=ConstantScheduleConfig(value=1e-3)))) == []
    assert issue_lines(config(OptimizerConfig(lr=1e-3))) == []
    assert issue_lines(config(None)) == []


def test_warmup_longer_than_the_run():
    """A warmup of 11 updates in a run of 10 is an error at ``warmup_steps``."""
    optimizer = OptimizerConfig(lr=1e-3, schedule_config=LWCD(warmup_steps=11, max_value=1e-3))
    assert issue_lines(config(optimizer)) == [
        "model.optimizer_config.schedule_config.warmup_steps: must not exceed the run's 10 updates (got 11)"
    ]


def test_warmup_counted_in_epochs():
    """With ``interval: epoch`` the warmup is compared with the run's epochs, a final partial epoch included."""
    schedule = LWCD(warmup_steps=4, max_value=1e-3, interval="epoch")
    assert issue_lines(config(OptimizerConfig(lr=1e-3, schedule_config=schedule))) == [
        "model.optimizer_config.schedule_config.warmup_steps: must not exceed the run's 3 epochs (got 4)"
    ]
    assert issue_lines(config(OptimizerConfig(lr=1e-3, schedule_config=attrs.evolve(schedule, warmup_steps=3)))) == []


def test_custom_schedule_shorter_than_the_run():
    """A custom schedule needs a value per update (or per epoch with ``interval: epoch``)."""
    values = tuple(0.1 * k for k in range(9))
    optimizer = OptimizerConfig(lr=1e-3, schedule_config=CustomScheduleConfig(values=values))
    assert issue_lines(config(optimizer)) == [
        "model.optimizer_config.schedule_config.values: must have a value for each of the run's 10 updates (got 9 values)"
    ]
    by_epoch = OptimizerConfig(lr=1e-3, schedule_config=CustomScheduleConfig(values=(1.0, 0.5), interval="epoch"))
    assert issue_lines(config(by_epoch)) == [
        "model.optimizer_config.schedule_config.values: must have a value for each of the run's 3 epochs (got 2 values)"
    ]
    long_enough = OptimizerConfig(lr=1e-3, schedule_config=CustomScheduleConfig(values=values + (0.0,)))
    assert issue_lines(config(long_enough)) == []


def test_max_value_left_unresolved():
    """A schedule whose ``max_value`` was not filled in from the optimizer is reported until ``resolve`` runs."""
    root = config(OptimizerConfig(lr=1e-3, weight_decay=0.05, schedule_config=LWCD(warmup_steps=2),
                                  weight_decay_schedule=LinearDecreasingScheduleConfig()))  # fmt: skip
    assert issue_lines(root) == [
        "model.optimizer_config.schedule_config.max_value: must be set: resolve the config to take it from the "
        "optimizer's lr (got None)",
        "model.optimizer_config.weight_decay_schedule.max_value: must be set: resolve the config to take it from "
        "the optimizer's weight_decay (got None)",
    ]
    assert issue_lines(resolve(root)) == []


def test_max_value_without_a_learning_rate():
    """With neither ``max_value`` nor the optimizer's ``lr`` the schedule has no peak at all."""
    root = config(OptimizerConfig(schedule_config=SchedulerConfig(warmup_percent=0.1, end_value=0.0)))
    assert issue_lines(root) == [
        "model.optimizer_config.schedule_config.max_value: must be set, as the optimizer's lr it defaults to is not "
        "set either (got None)"
    ]


def test_eval_run_evaluates_no_schedule():
    """A run with ``max_updates: 0`` has no schedule length to exceed, but an unset ``max_value`` is still reported."""
    too_long = OptimizerConfig(lr=1e-3, schedule_config=LWCD(warmup_steps=1000, max_value=1e-3))
    assert issue_lines(config(too_long, max_updates=0)) == []
    unset = OptimizerConfig(lr=1e-3, schedule_config=LWCD(warmup_steps=1000))
    assert issue_lines(config(unset, max_updates=0)) == [
        "model.optimizer_config.schedule_config.max_value: must be set: resolve the config to take it from the "
        "optimizer's lr (got None)"
    ]


def test_submodels_of_a_composite_model_are_checked_with_their_paths():
    """Every optimizer in the tree is found, and each issue names the submodel's path."""
    encoder = ModelBaseConfig(
        kind="my_project.Encoder", name="encoder",
        optimizer_config=OptimizerConfig(lr=1e-3, schedule_config=LWCD(warmup_steps=20, max_value=1e-3)),
    )  # fmt: skip
    decoder = ModelBaseConfig(
        kind="my_project.Decoder", name="decoder",
        optimizer_config=OptimizerConfig(lr=1e-3, schedule_config=CustomScheduleConfig(values=(1.0,))),
    )  # fmt: skip
    frozen = ModelBaseConfig(kind="my_project.Head", name="head", is_frozen=True)
    model = CompositeModelConfig(
        kind="my_project.Composite", name="composite", submodels={"encoder": encoder, "decoder": decoder, "head": frozen}
    )
    assert issue_lines(config(model=model)) == [
        "model.submodels.encoder.optimizer_config.schedule_config.warmup_steps: must not exceed the run's 10 "
        "updates (got 20)",
        "model.submodels.decoder.optimizer_config.schedule_config.values: must have a value for each of the run's "
        "10 updates (got 1 values)",
    ]


def test_check_plan_returns_the_plan():
    """``check_plan`` gives the same plan as ``plan_training`` when everything fits."""
    root = config(OptimizerConfig(lr=1e-3, schedule_config=LWCD(warmup_percent=0.1, max_value=1e-3)), max_epochs=2)
    assert check_plan(root, dataset_length=16) == plan_training(root.trainer, 16)
    assert str(check_plan(root, dataset_length=16, world_size=2).end) == "E2_U8_S32"


def test_check_plan_reports_every_schedule_problem_at_once():
    """All schedule problems come in one ``ConfigError``."""
    optimizer = OptimizerConfig(
        lr=1e-3,
        schedule_config=LWCD(warmup_steps=11, max_value=1e-3),
        weight_decay_schedule=CustomScheduleConfig(values=(0.1,)),
    )
    with pytest.raises(ConfigError) as info:
        check_plan(config(optimizer), dataset_length=16)
    assert str(info.value).splitlines() == [
        "model.optimizer_config.schedule_config.warmup_steps: must not exceed the run's 10 updates (got 11)",
        "model.optimizer_config.weight_decay_schedule.values: must have a value for each of the run's 10 updates "
        "(got 1 values)",
    ]
    assert [issue.path for issue in info.value.issues] == [
        "model.optimizer_config.schedule_config.warmup_steps",
        "model.optimizer_config.weight_decay_schedule.values",
    ]


def test_check_plan_reports_plan_problems_with_the_trainer_path():
    """When the run cannot be planned, the plan's problems are reported under ``trainer``."""
    with pytest.raises(ConfigError) as info:
        check_plan(config(OptimizerConfig(lr=1e-3), effective_batch_size=6), dataset_length=16, world_size=4)
    assert str(info.value).splitlines() == ["trainer.effective_batch_size: must be a multiple of the world size 4 (got 6)"]
