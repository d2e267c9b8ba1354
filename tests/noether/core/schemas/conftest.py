"""Shared example data for the schema tests: one minimal, valid, YAML-like mapping per config class."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from noether.core.schemas import (
    BaseTrainerConfig,
    BestCheckpointCallbackConfig,
    BestMetricCallbackConfig,
    CallBackBaseConfig,
    CheckpointCallbackConfig,
    CheckpointInitializerConfig,
    ConfigSchema,
    ConstantScheduleConfig,
    CosineDecreasingScheduleConfig,
    CosineIncreasingScheduleConfig,
    CustomScheduleConfig,
    DatasetBaseConfig,
    DatasetWrapperConfig,
    DecreasingProgressScheduleConfig,
    EmaCallbackConfig,
    FixedEarlyStopperConfig,
    IncreasingProgressScheduleConfig,
    InitializerConfig,
    LinearDecreasingScheduleConfig,
    LinearIncreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    MeanStdNormalizerConfig,
    MetricEarlyStopperConfig,
    MultiStagePipelineConfig,
    ModelBaseConfig,
    NormalizerConfig,
    OfflineLossCallbackConfig,
    OnlineLossCallbackConfig,
    OptimizerConfig,
    ParamGroupModifierConfig,
    PeriodicBoolScheduleConfig,
    PeriodicDataIteratorCallbackConfig,
    PipelineConfig,
    PolynomialDecreasingScheduleConfig,
    PolynomialIncreasingScheduleConfig,
    PositionNormalizerConfig,
    PreviousRunInitializerConfig,
    ProgressScheduleConfig,
    RepeatWrapperConfig,
    ResumeInitializerConfig,
    ScheduleBaseConfig,
    SchedulerConfig,
    ShiftAndScaleNormalizerConfig,
    ShuffleWrapperConfig,
    SlurmConfig,
    StandardDatasetConfig,
    StepDecreasingScheduleConfig,
    StepFixedScheduleConfig,
    StepIntervalScheduleConfig,
    SubsetWrapperConfig,
    TensorboardTrackerSchema,
    TrackAdditionalOutputsCallbackConfig,
    WandBTrackerSchema,
)

TRAINER = {"kind": "my_project.trainers.Trainer", "max_epochs": 10, "effective_batch_size": 32}
MODEL = {"kind": "my_project.models.Net", "name": "net"}
DATASET = {"kind": "my_project.data.PoissonDataset"}

EXAMPLES: dict[type, dict] = {
    # data pipelines
    PipelineConfig: {"kind": "my_project.data.Pipeline"},
    MultiStagePipelineConfig: {
        "sample_processors": [{"kind": "engine.data.pipeline.PointSampling", "items": ["points"], "num_points": 128}],
        "collators": [{"kind": "engine.data.pipeline.PadCollator", "items": ["points"], "mask_key": "mask"}],
    },
    # callbacks
    CallBackBaseConfig: {"kind": "my_project.callbacks.PlotCallback", "every_n_epochs": 1},
    PeriodicDataIteratorCallbackConfig: {"kind": "my_project.callbacks.Eval", "every_n_epochs": 1, "dataset_key": "val"},
    CheckpointCallbackConfig: {"every_n_epochs": 1, "model_names": ["encoder"]},
    BestCheckpointCallbackConfig: {"every_n_epochs": 1, "metric_key": "loss/val/total", "tolerances": [5, 10]},
    EmaCallbackConfig: {"every_n_updates": 100, "target_factors": [0.999, 0.9999]},
    FixedEarlyStopperConfig: {"stop_at_epoch": 10},
    MetricEarlyStopperConfig: {"every_n_epochs": 1, "metric_key": "loss/val/total", "tolerance": 3},
    OnlineLossCallbackConfig: {"every_n_updates": 50},
    OfflineLossCallbackConfig: {"every_n_epochs": 1, "dataset_key": "val"},
    BestMetricCallbackConfig: {
        "every_n_epochs": 1,
        "source_metric_key": "loss/val/total",
        "target_metric_keys": ["accuracy/val"],
    },
    TrackAdditionalOutputsCallbackConfig: {"every_n_updates": 10, "keys": ["grad_norm"]},
    # datasets
    DatasetBaseConfig: DATASET,
    StandardDatasetConfig: {**DATASET, "root": "/data/poisson", "split": "train"},
    RepeatWrapperConfig: {"repetitions": 2},
    DatasetWrapperConfig: {"kind": "my_project.data.EveryOtherWrapper"},
    ShuffleWrapperConfig: {},
    SubsetWrapperConfig: {"indices": [0, 2, 4]},
    # initializers
    InitializerConfig: {"run_id": "2024-01-01_abcde"},
    CheckpointInitializerConfig: {"run_id": "2024-01-01_abcde", "load_optim": True},
    PreviousRunInitializerConfig: {"run_id": "2024-01-01_abcde"},
    ResumeInitializerConfig: {"run_id": "2024-01-01_abcde", "model_name": "net"},
    # models and optimizers
    ModelBaseConfig: MODEL,
    OptimizerConfig: {"kind": "torch.optim.AdamW", "lr": 0.001},
    ParamGroupModifierConfig: {"name": "backbone.cls_token", "value": 0.0},
    # normalizers
    MeanStdNormalizerConfig: {"mean": [0.0, 1.0], "std": [1.0, 2.0]},
    NormalizerConfig: {"kind": "my_project.data.LogNormalizer"},
    PositionNormalizerConfig: {"raw_pos_min": [0.0, 0.0], "raw_pos_max": [1.0, 2.0]},
    ShiftAndScaleNormalizerConfig: {"shift": 0.0, "scale": 2.0},
    # schedules
    ScheduleBaseConfig: {},
    ProgressScheduleConfig: {},
    DecreasingProgressScheduleConfig: {"max_value": 0.001},
    IncreasingProgressScheduleConfig: {"max_value": 0.001},
    LinearDecreasingScheduleConfig: {},
    LinearIncreasingScheduleConfig: {},
    CosineDecreasingScheduleConfig: {},
    CosineIncreasingScheduleConfig: {},
    PolynomialDecreasingScheduleConfig: {"power": 2},
    PolynomialIncreasingScheduleConfig: {"power": 2.0},
    StepDecreasingScheduleConfig: {"factor": 0.5, "decreases_interval": 0.25},
    StepFixedScheduleConfig: {"factor": 0.1, "steps": [0.5, 0.75]},
    StepIntervalScheduleConfig: {"factor": 0.5, "update_interval": 0.25},
    ConstantScheduleConfig: {"value": 0.5},
    CustomScheduleConfig: {"values": [1.0, 0.5, 0.25]},
    LinearWarmupCosineDecayScheduleConfig: {"warmup_steps": 10},
    PeriodicBoolScheduleConfig: {"initial_state": True},
    SchedulerConfig: {"warmup_percent": 0.1, "end_value": 0.0},
    # trackers, trainer, slurm, root
    TensorboardTrackerSchema: {},
    WandBTrackerSchema: {"project": "poisson"},
    BaseTrainerConfig: TRAINER,
    SlurmConfig: {"job_name": "exp", "nodes": 2, "time": "12:00:00"},
    ConfigSchema: {"datasets": {"train": DATASET}, "model": MODEL, "trainer": TRAINER, "output_path": "outputs"},
}
"""A minimal valid mapping per config class, as ``YAML(typ="safe")`` would load it (tags left to defaults)."""


@pytest.fixture
def examples() -> dict[type, dict]:
    """Every example mapping by config class (a deep copy, so a test may change it)."""
    return copy.deepcopy(EXAMPLES)


@pytest.fixture
def example() -> Callable[[type], dict]:
    """A function giving a fresh deep copy of one config class's example mapping."""
    return lambda cls: copy.deepcopy(EXAMPLES[cls])
