"""Benchmark: how fast a full config becomes a validated config object, next to pydantic v2.

Not a test: it prints a table (medians of per-call means, and minimums, measured in the same run) and
whether the targets are met; it never fails on a timing. What it measures, on one full ``ConfigSchema``
written as YAML (a trainer with six callbacks of different kinds, an optimizer with two parameter-group
modifiers, a learning-rate and a weight-decay schedule, a model, two datasets with wrappers and
normalizers, a tracker and a ``slurm`` section):

(a) ``noether.core.config.structure(data, ConfigSchema)`` on the already parsed dict (the converter's hooks);
(b) ``noether.core.config.load_config(path)`` end to end (parse, compose, structure, resolve);
(c) parsing the YAML text alone with ruamel's safe C loader;
(d) ``model_validate(data)`` of the same schema written with pydantic v2 (strict scalars, no extra keys,
    discriminated unions), checked to accept the same dict, to produce the same field values and to reject
    the same wrong inputs;
and the time of ``import noether`` / ``import noether.core.config`` in a fresh interpreter.

Run: ``PYTHONPATH=. python benchmarks/bench_config.py`` (``--profile`` adds a cProfile of ``structure``;
``--quick`` uses fewer repetitions; ``--baseline REV`` also times (a) and (b) of the ``noether`` package of git
revision ``REV``, in fresh interpreters alternating with this tree's, to compare a change side by side).
"""

from __future__ import annotations

import copy
import cProfile
import gc
import importlib.metadata
import math
import os
import pathlib
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

import attrs
from annotated_types import Ge, Gt, Le
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from ruamel.yaml import YAML

from noether.core.config import ConfigError, compose, load_config, structure, unstructure
from noether.core.schemas import ConfigSchema

# ----------------------------------------------------------------------------------------------- the config
CONFIG_YAML = """\
name: bench
accelerator: gpu
stage_name: train
seed: 42
output_path: /tmp/noether-bench/outputs
num_workers: 8
master_port: 29500
cudnn_benchmark: true
tracker:
  kind: noether.core.trackers.TensorboardTracker
  log_dir: runs
  flush_secs: 30

datasets:
  train:
    kind: my_project.datasets.ShapeNetCarDataset
    included_properties: [surface_position, surface_pressure, volume_position]
    dataset_wrappers:
      - kind: noether.data.base.wrappers.RepeatWrapper
        repetitions: 4
      - kind: noether.data.base.wrappers.ShuffleWrapper
        seed: 0
    dataset_normalizers:
      surface_pressure:
        kind: noether.data.preprocessors.normalizers.MeanStdNormalization
        mean: -36.4
        std: 48.2
      surface_position:
        - kind: noether.data.preprocessors.normalizers.PositionNormalizer
          raw_pos_min: [-1.0, -1.0, 0.0]
          raw_pos_max: [4.0, 1.0, 1.5]
          scale: 1000.0
  val:
    kind: my_project.datasets.ShapeNetCarDataset
    included_properties: [surface_position, surface_pressure]
    dataset_wrappers:
      - kind: noether.data.base.wrappers.SubsetWrapper
        start_index: 0
        end_index: 100
    dataset_normalizers:
      surface_pressure:
        kind: noether.data.preprocessors.normalizers.MeanStdNormalization
        mean: -36.4
        std: 48.2
      surface_position:
        - kind: noether.data.preprocessors.normalizers.PositionNormalizer
          raw_pos_min: [-1.0, -1.0, 0.0]
          raw_pos_max: [4.0, 1.0, 1.5]
          scale: 1000.0

model:
  kind: my_project.models.Transolver
  name: transolver
  forward_properties: [surface_position, volume_position]
  optimizer_config:
    kind: torch.optim.AdamW
    lr: 5.0e-4
    weight_decay: 0.05
    betas: [0.9, 0.95]
    clip_grad_norm: 1.0
    param_group_modifiers_config:
      - name: backbone.cls_token
        value: 0.0
      - name: head.weight
        scale: 0.1
    schedule_config:
      kind: noether.core.schedules.LinearWarmupCosineDecaySchedule
      warmup_percent: 0.05
      end_value: 1.0e-6
    weight_decay_schedule:
      kind: noether.core.schedules.LinearIncreasingSchedule
      start_value: 0.01

trainer:
  kind: my_project.trainers.SurfaceTrainer
  max_epochs: 100
  effective_batch_size: 32
  max_batch_size: 8
  precision: bf16
  log_every_n_epochs: 1
  track_every_n_updates: 50
  forward_properties: [surface_position, volume_position]
  target_properties: [surface_pressure]
  callbacks:
    - name: CheckpointCallback
      every_n_epochs: 10
      save_optim: true
      save_latest_optim: true
    - name: BestCheckpointCallback
      every_n_epochs: 1
      metric_key: loss/val/total
      tolerances: [5, 10, 20]
    - name: EmaCallback
      every_n_updates: 1000
      target_factors: [0.999, 0.9999]
      save_latest_weights: true
    - name: MetricEarlyStopper
      every_n_epochs: 1
      metric_key: loss/val/total
      tolerance: 10
    - name: OnlineLossCallback
      every_n_updates: 50
      verbose: false
    - name: OfflineLossCallback
      every_n_epochs: 1
      dataset_key: val
      batch_size: 16

slurm:
  job_name: bench
  partition: gpu
  nodes: 1
  ntasks_per_node: 4
  cpus_per_task: 8
  mem: 64G
  gpus_per_node: a100:4
  time: 1-12:00:00
  output: logs/%x-%j.out
  env_path: .venv/bin/activate
"""

# ------------------------------------------------------------------------------- the pydantic v2 mirror
# The same classes, fields, defaults and rules as noether.core.schemas, for the classes the config uses
# (plus the members of the unions they sit in where those are small). Scalars are strict like the cattrs
# converter (no "1" -> 1, no 2.0 -> 2, no true -> 1; an int is accepted for a float); containers the YAML
# writes as lists are lax at the container level only (a list becomes a tuple, items stay strict), as the
# converter turns every list into a tuple; unknown keys are errors; object-level rules are after-validators.

STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def Seq(item: Any) -> Any:  # noqa: N802 - reads like a type
    """``tuple[item, ...]`` that accepts a YAML list (items stay strict)."""
    return Annotated[tuple[item, ...], Strict(False)]


PosInt = Annotated[int, Gt(0)]
NonNegInt = Annotated[int, Ge(0)]
NonNegFloat = Annotated[float, Ge(0.0)]
Fraction = Annotated[float, Ge(0.0), Le(1.0)]
NonEmptyStr = Annotated[str, Field(pattern=r"^\s*\S")]
FloatOrFloats = Union[float, Seq(float)]


def run_object_checks(*checks: Callable[[], None]) -> None:
    """Run every object rule and raise all failures at once (like ``_checks.run_object_checks``)."""
    problems = []
    for check in checks:
        try:
            check()
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))


def exactly_one_set(obj: Any, names: tuple[str, ...]) -> None:
    chosen = [name for name in names if getattr(obj, name) is not None]
    if len(chosen) != 1:
        raise ValueError(f"exactly one of {', '.join(names)} must be set (got {', '.join(chosen) or 'none'})")


class Strict_(BaseModel):
    model_config = STRICT


# schedules ------------------------------------------------------------------------------------------
class ScheduleBaseP(Strict_):
    kind: Optional[str] = None
    overhang_percent: Optional[Annotated[float, Ge(0.0)]] = None
    overhang_steps: Optional[NonNegInt] = None
    start_value: NonNegFloat = 0.0
    end_value: NonNegFloat = 1e-6
    weight_decay: Optional[float] = 0.0
    start_percent: Optional[Fraction] = None
    end_percent: Optional[Fraction] = None
    start_step: Optional[NonNegInt] = None
    end_step: Optional[NonNegInt] = None
    interval: Literal["update", "epoch"] = "update"

    def _object_checks(self) -> tuple:
        return (self._overhang, self._steps, self._percents)

    @model_validator(mode="after")
    def _checks(self) -> ScheduleBaseP:
        run_object_checks(*self._object_checks())
        return self

    def _overhang(self) -> None:
        if self.overhang_percent is not None and self.overhang_steps is not None:
            raise ValueError("only one of overhang_percent and overhang_steps may be set")

    def _range(self, start: str, end: str, other: tuple[str, str] | None) -> None:
        low, high = getattr(self, start), getattr(self, end)
        if (low is None) != (high is None):
            raise ValueError(f"{start} and {end} must both be set or both be None")
        if low is None:
            return
        if other is not None and (getattr(self, other[0]) is not None or getattr(self, other[1]) is not None):
            raise ValueError(f"cannot set both {start}/{end} and {other[0]}/{other[1]}")
        if not low < high:
            raise ValueError(f"{start} must be less than {end}")

    def _steps(self) -> None:
        self._range("start_step", "end_step", ("start_percent", "end_percent"))

    def _percents(self) -> None:
        self._range("start_percent", "end_percent", None)


class ProgressScheduleP(ScheduleBaseP):
    kind: Literal["noether.core.schedules.ProgressSchedule"] = "noether.core.schedules.ProgressSchedule"
    exclude_first: bool = False
    exclude_last: bool = False


class IncreasingProgressScheduleP(ProgressScheduleP):
    kind: Literal["noether.core.schedules.IncreasingProgressSchedule"] = "noether.core.schedules.IncreasingProgressSchedule"
    start_value: float = 0.0
    max_value: Optional[float] = None

    def _object_checks(self) -> tuple:
        return (*super()._object_checks(), self._increasing)

    def _increasing(self) -> None:
        if self.max_value is not None and self.start_value > self.max_value:
            raise ValueError("start_value must be less than or equal to max_value")


class LinearIncreasingScheduleP(IncreasingProgressScheduleP):
    kind: Literal["noether.core.schedules.LinearIncreasingSchedule"] = "noether.core.schedules.LinearIncreasingSchedule"


class ConstantScheduleP(ScheduleBaseP):
    kind: Literal["noether.core.schedules.ConstantSchedule"] = "noether.core.schedules.ConstantSchedule"
    value: float


class LinearWarmupCosineDecayScheduleP(ScheduleBaseP):
    kind: Literal["noether.core.schedules.LinearWarmupCosineDecaySchedule"] = (
        "noether.core.schedules.LinearWarmupCosineDecaySchedule"
    )
    warmup_steps: Optional[NonNegInt] = None
    warmup_percent: Optional[Fraction] = None
    max_value: Optional[NonNegFloat] = None

    def _object_checks(self) -> tuple:
        return (*super()._object_checks(), self._warmup, self._decreasing)

    def _warmup(self) -> None:
        if (self.warmup_steps is None) == (self.warmup_percent is None):
            raise ValueError("define exactly one of warmup_steps or warmup_percent")

    def _decreasing(self) -> None:
        if self.max_value is not None and self.end_value > self.max_value:
            raise ValueError("end_value must be less than or equal to max_value")


ScheduleP = Annotated[
    Union[LinearWarmupCosineDecayScheduleP, LinearIncreasingScheduleP, ConstantScheduleP],
    Field(discriminator="kind"),
]


# optimizer ------------------------------------------------------------------------------------------
LR_SCALE = "noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier"
WEIGHT_DECAY = "noether.core.optimizer.param_group_modifiers.WeightDecayByNameModifier"


class ParamGroupModifierP(Strict_):
    kind: Optional[Literal[
        "noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier",
        "noether.core.optimizer.param_group_modifiers.WeightDecayByNameModifier",
    ]] = None
    scale: Optional[NonNegFloat] = None
    value: Optional[NonNegFloat] = None
    name: str

    @model_validator(mode="after")
    def _checks(self) -> ParamGroupModifierP:
        run_object_checks(self._exclusive)
        return self

    def _exclusive(self) -> None:
        if self.scale is not None and self.value is not None:
            raise ValueError("provide either scale or value, not both")
        if self.scale is None and self.value is None:
            raise ValueError("either scale or value must be provided")
        if self.kind == LR_SCALE and self.scale is None:
            raise ValueError("an LrScaleByNameModifier needs scale, not value")
        if self.kind == WEIGHT_DECAY and self.value is None:
            raise ValueError("a WeightDecayByNameModifier needs value, not scale")


def _frozen(value: Any) -> Any:
    return tuple(_frozen(item) for item in value) if isinstance(value, list) else value


class OptimizerP(Strict_):
    kind: Optional[str] = None
    lr: Optional[Annotated[float, Gt(0.0)]] = None
    weight_decay: Optional[NonNegFloat] = 0.0
    clip_grad_value: Optional[NonNegFloat] = None
    clip_grad_norm: Optional[NonNegFloat] = None
    param_group_modifiers_config: Optional[Seq(ParamGroupModifierP)] = None
    exclude_bias_from_weight_decay: bool = True
    exclude_normalization_params_from_weight_decay: bool = True
    weight_decay_schedule: Optional[ScheduleP] = None
    schedule_config: Optional[ScheduleP] = None
    optimizer_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _fold_optimizer_kwargs(cls, value: Any) -> Any:
        """Unknown keys are keyword arguments of the optimizer class (as in the cattrs converter)."""
        if not isinstance(value, dict):
            return value
        names = cls.model_fields
        extras = {key: value[key] for key in value if key not in names}
        if not extras:
            return value
        folded = {key: item for key, item in value.items() if key in names}
        folded["optimizer_kwargs"] = {**value.get("optimizer_kwargs", {}), **{k: _frozen(v) for k, v in extras.items()}}
        return folded


# initializers (unused by the data; mirrored so the model's field has its real type) ---------------------
class CheckpointInitializerP(Strict_):
    kind: Literal["noether.core.initializers.CheckpointInitializer"] = "noether.core.initializers.CheckpointInitializer"
    kwargs: Optional[dict[str, Any]] = None
    run_id: str
    stage_name: Optional[str] = None
    model_name: Optional[str] = None
    checkpoint_tag: Optional[Union[str, dict[str, int]]] = None
    model_info: Optional[str] = None
    load_optim: bool
    pop_ckpt_kwargs_keys: Optional[Seq(str)] = None


class PreviousRunInitializerP(CheckpointInitializerP):
    kind: Literal["noether.core.initializers.PreviousRunInitializer"] = "noether.core.initializers.PreviousRunInitializer"
    load_optim: bool = False
    keys_to_remove: Optional[Seq(str)] = None
    patterns_to_remove: Optional[Seq(str)] = None
    patterns_to_rename: Optional[Seq(dict[str, str])] = None
    patterns_to_instantiate: Optional[Seq(str)] = None


class ResumeInitializerP(CheckpointInitializerP):
    kind: Literal["noether.core.initializers.ResumeInitializer"] = "noether.core.initializers.ResumeInitializer"
    load_optim: bool = True
    model_name: str


InitializerP = Annotated[
    Union[CheckpointInitializerP, PreviousRunInitializerP, ResumeInitializerP], Field(discriminator="kind")
]


class ModelP(Strict_):
    kind: str
    name: str
    optimizer_config: Optional[OptimizerP] = None
    initializers: Optional[Seq(InitializerP)] = None
    is_frozen: Optional[bool] = False
    forward_properties: Optional[Seq(str)] = ()


# datasets -------------------------------------------------------------------------------------------
class MeanStdNormalizerP(Strict_):
    kind: Literal["noether.data.preprocessors.normalizers.MeanStdNormalization"] = (
        "noether.data.preprocessors.normalizers.MeanStdNormalization"
    )
    mean: FloatOrFloats
    std: FloatOrFloats
    logscale: bool = False

    @model_validator(mode="after")
    def _checks(self) -> MeanStdNormalizerP:
        run_object_checks(lambda: _same_shape(self.mean, self.std, "mean", "std"), lambda: _positive(self.std, "std"))
        return self


class PositionNormalizerP(Strict_):
    kind: Literal["noether.data.preprocessors.normalizers.PositionNormalizer"] = (
        "noether.data.preprocessors.normalizers.PositionNormalizer"
    )
    raw_pos_min: FloatOrFloats
    raw_pos_max: FloatOrFloats
    scale: Annotated[float, Gt(0.0)] = 1000.0
    zero_center: bool = False

    @model_validator(mode="after")
    def _checks(self) -> PositionNormalizerP:
        run_object_checks(
            lambda: _same_shape(self.raw_pos_min, self.raw_pos_max, "raw_pos_min", "raw_pos_max"), self._min_max
        )
        return self

    def _min_max(self) -> None:
        if any(b <= a for a, b in zip(_as_tuple(self.raw_pos_min), _as_tuple(self.raw_pos_max))):
            raise ValueError("raw_pos_max must be element-wise greater than raw_pos_min")


class ShiftAndScaleNormalizerP(Strict_):
    kind: Literal["noether.data.preprocessors.normalizers.ShiftAndScaleNormalizer"] = (
        "noether.data.preprocessors.normalizers.ShiftAndScaleNormalizer"
    )
    shift: FloatOrFloats
    scale: FloatOrFloats
    logscale: bool = False

    @model_validator(mode="after")
    def _checks(self) -> ShiftAndScaleNormalizerP:
        run_object_checks(lambda: _same_shape(self.shift, self.scale, "shift", "scale"), lambda: _positive(self.scale, "scale"))
        return self


def _as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _same_shape(a: Any, b: Any, first: str, second: str) -> None:
    if len(_as_tuple(a)) != len(_as_tuple(b)):
        raise ValueError(f"{first} and {second} must have the same length")


def _positive(values: Any, name: str) -> None:
    if any(value <= 0 for value in _as_tuple(values)):
        raise ValueError(f"{name} must be > 0")


NormalizerP = Annotated[
    Union[MeanStdNormalizerP, PositionNormalizerP, ShiftAndScaleNormalizerP], Field(discriminator="kind")
]


class RepeatWrapperP(Strict_):
    kind: Literal["noether.data.base.wrappers.RepeatWrapper"] = "noether.data.base.wrappers.RepeatWrapper"
    repetitions: Annotated[int, Ge(2)]


class ShuffleWrapperP(Strict_):
    kind: Literal["noether.data.base.wrappers.ShuffleWrapper"] = "noether.data.base.wrappers.ShuffleWrapper"
    seed: Optional[NonNegInt] = None


class SubsetWrapperP(Strict_):
    kind: Literal["noether.data.base.wrappers.SubsetWrapper"] = "noether.data.base.wrappers.SubsetWrapper"
    indices: Optional[Seq(int)] = None
    start_index: Optional[NonNegInt] = None
    end_index: Optional[NonNegInt] = None
    start_percent: Optional[Fraction] = None
    end_percent: Optional[Fraction] = None

    @model_validator(mode="after")
    def _checks(self) -> SubsetWrapperP:
        run_object_checks(self._one_selection)
        return self

    def _one_selection(self) -> None:
        ways = [
            self.indices is not None,
            self.start_index is not None or self.end_index is not None,
            self.start_percent is not None or self.end_percent is not None,
        ]
        if sum(ways) != 1:
            raise ValueError("use exactly one of indices, start_index/end_index, start_percent/end_percent")
        for start, end in (("start_index", "end_index"), ("start_percent", "end_percent")):
            low, high = getattr(self, start), getattr(self, end)
            if low is not None and high is not None and low >= high:
                raise ValueError(f"{start} must be less than {end}")


WrapperP = Annotated[Union[RepeatWrapperP, ShuffleWrapperP, SubsetWrapperP], Field(discriminator="kind")]


class DatasetP(Strict_):
    kind: str
    pipeline: Optional[Any] = None
    dataset_normalizers: Optional[dict[str, Union[Seq(NormalizerP), NormalizerP]]] = None
    dataset_wrappers: Optional[Seq(WrapperP)] = None
    included_properties: Optional[Annotated[frozenset[str], Strict(False)]] = None
    excluded_properties: Optional[Annotated[frozenset[str], Strict(False)]] = None


# callbacks ------------------------------------------------------------------------------------------
class CallbackBaseP(Strict_):
    kind: Optional[NonEmptyStr] = None
    id: Optional[str] = None
    every_n_epochs: Optional[PosInt] = None
    every_n_updates: Optional[PosInt] = None
    every_n_samples: Optional[PosInt] = None
    batch_size: Optional[PosInt] = None

    @model_validator(mode="after")
    def _checks(self) -> CallbackBaseP:
        run_object_checks(self._frequency)
        return self

    def _frequency(self) -> None:
        exactly_one_set(self, ("every_n_epochs", "every_n_updates", "every_n_samples"))
        if self.every_n_samples is not None and self.batch_size is None:
            raise ValueError("batch_size is required when every_n_samples is set")


class CheckpointCallbackP(CallbackBaseP):
    name: Literal["CheckpointCallback"] = "CheckpointCallback"
    save_weights: bool = True
    save_optim: bool = False
    save_latest_weights: bool = True
    save_latest_optim: bool = False
    model_names: Optional[Seq(str)] = None


class BestCheckpointCallbackP(CallbackBaseP):
    name: Literal["BestCheckpointCallback"] = "BestCheckpointCallback"
    metric_key: str
    save_frozen_weights: bool = True
    tolerances: Optional[Seq(int)] = None
    model_names: Optional[Seq(str)] = None


class EmaCallbackP(CallbackBaseP):
    name: Literal["EmaCallback"] = "EmaCallback"
    target_factors: Seq(float)
    model_paths: Optional[Seq(Optional[str])] = None
    save_weights: bool = True
    save_last_weights: bool = True
    save_latest_weights: bool = False


class MetricEarlyStopperP(CallbackBaseP):
    name: Literal["MetricEarlyStopper"] = "MetricEarlyStopper"
    metric_key: str
    tolerance: Annotated[int, Ge(1)]


class OnlineLossCallbackP(CallbackBaseP):
    name: Literal["OnlineLossCallback"] = "OnlineLossCallback"
    verbose: bool = True


class OfflineLossCallbackP(CallbackBaseP):
    name: Literal["OfflineLossCallback"] = "OfflineLossCallback"
    dataset_key: str
    output_patterns_to_log: Optional[Seq(str)] = None


CallbackP = Annotated[
    Union[
        CheckpointCallbackP,
        BestCheckpointCallbackP,
        EmaCallbackP,
        MetricEarlyStopperP,
        OnlineLossCallbackP,
        OfflineLossCallbackP,
    ],
    Field(discriminator="name"),
]


# trainer, tracker, slurm, root ------------------------------------------------------------------------
class TrainerP(Strict_):
    kind: str
    max_epochs: Optional[NonNegInt] = None
    max_updates: Optional[NonNegInt] = None
    max_samples: Optional[NonNegInt] = None
    start_at_epoch: Optional[NonNegInt] = None
    add_default_callbacks: Optional[bool] = True
    add_trainer_callbacks: Optional[bool] = True
    effective_batch_size: Annotated[int, Ge(1)]
    precision: Literal["float32", "fp32", "float16", "fp16", "bfloat16", "bf16"] = "float32"
    callbacks: Optional[Seq(CallbackP)] = None
    initializer: Optional[InitializerP] = None
    log_every_n_epochs: Optional[PosInt] = None
    log_every_n_updates: Optional[PosInt] = None
    log_every_n_samples: Optional[PosInt] = None
    track_every_n_epochs: Optional[PosInt] = None
    track_every_n_updates: Optional[PosInt] = None
    track_every_n_samples: Optional[PosInt] = None
    max_batch_size: Optional[PosInt] = None
    skip_nan_loss: bool = False
    skip_nan_loss_max_count: Annotated[int, Ge(1)] = 100
    disable_gradient_accumulation: bool = False
    save_on_sigint: bool = False
    use_torch_compile: bool = False
    find_unused_params: bool = False
    static_graph: bool = False
    forward_properties: Optional[Seq(str)] = ()
    target_properties: Optional[Seq(str)] = ()

    @model_validator(mode="after")
    def _checks(self) -> TrainerP:
        run_object_checks(self._end_of_training, self._frequency)
        return self

    def _end_of_training(self) -> None:
        exactly_one_set(self, ("max_epochs", "max_updates", "max_samples"))

    def _frequency(self) -> None:
        if not self.add_default_callbacks:
            return
        for prefix in ("log_every_n_", "track_every_n_"):
            chosen = [unit for unit in ("epochs", "updates", "samples") if getattr(self, prefix + unit) is not None]
            if len(chosen) > 1:
                raise ValueError(f"at most one of {prefix}* may be set")


class TensorboardTrackerP(Strict_):
    kind: Literal["noether.core.trackers.TensorboardTracker"] = "noether.core.trackers.TensorboardTracker"
    log_dir: str = "runs"
    flush_secs: Annotated[int, Gt(0)] = 60


class WandBTrackerP(Strict_):
    kind: Literal["noether.core.trackers.WandBTracker"] = "noether.core.trackers.WandBTracker"
    entity: Optional[str] = None
    project: Optional[str] = None
    mode: Optional[Literal["disabled", "online", "offline"]] = None


TrackerP = Annotated[Union[TensorboardTrackerP, WandBTrackerP], Field(discriminator="kind")]

SlurmTime = Annotated[str, Field(pattern=r"^(?:(?:\d+-)?(?:\d+:)?\d+(?::\d+)?|(?i:unlimited|infinite))$")]
SlurmMemory = Annotated[str, Field(pattern=r"^(?i:\d+(?:\.\d+)?[KMGT]?B?)$")]
SlurmArray = Annotated[str, Field(pattern=r"^[\d,\-:]+(?:%\d+)?$")]
SlurmGpus = Union[Annotated[int, Ge(0)], Annotated[str, Field(pattern=r"^(?:\w+:)?\d+$")]]
SlurmNodes = Union[Annotated[int, Ge(1)], Annotated[str, Field(pattern=r"^\d+(?:-\d+)?$")]]


class SlurmP(Strict_):
    job_name: Optional[str] = None
    partition: Optional[str] = None
    reservation: Optional[str] = None
    nodes: Optional[SlurmNodes] = None
    ntasks: Optional[Annotated[int, Ge(1)]] = None
    ntasks_per_node: Optional[Annotated[int, Ge(1)]] = None
    cpus_per_task: Optional[Annotated[int, Ge(1)]] = None
    mem: Optional[SlurmMemory] = None
    gpus: Optional[SlurmGpus] = None
    gpus_per_node: Optional[SlurmGpus] = None
    gres: Optional[str] = None
    time: Optional[SlurmTime] = None
    begin: Optional[str] = None
    output: Optional[str] = None
    error: Optional[str] = None
    array: Optional[SlurmArray] = None
    kill_on_invalid_dep: Optional[bool] = None
    nice: Optional[int] = None
    chdir: Optional[str] = None
    env_path: Optional[str] = None


class ConfigSchemaP(Strict_):
    name: Optional[str] = None
    accelerator: Optional[Literal["cpu", "gpu", "mps"]] = None
    stage_name: Optional[str] = None
    dataset_kind: Optional[str] = None
    dataset_root: Optional[str] = None
    resume_run_id: Optional[str] = None
    resume_stage_name: Optional[str] = None
    resume_checkpoint: Optional[str] = None
    seed: int = 0
    dataset_statistics: Optional[dict[str, Seq(float)]] = None
    dataset_normalizer: Optional[dict[str, Seq(NormalizerP)]] = None
    tracker: Optional[TrackerP] = Field(default_factory=TensorboardTrackerP)
    run_id: Optional[str] = None
    devices: Optional[str] = None
    num_workers: Optional[NonNegInt] = None
    cudnn_benchmark: bool = True
    cudnn_deterministic: bool = False
    datasets: dict[str, DatasetP]
    model: ModelP
    trainer: TrainerP
    debug: bool = False
    store_code_in_output: bool = True
    output_path: Annotated[pathlib.Path, Strict(False)]
    master_port: Optional[Annotated[int, Ge(1), Le(65535)]] = None
    slurm: Optional[SlurmP] = None

    @model_validator(mode="after")
    def _checks(self) -> ConfigSchemaP:
        run_object_checks(self._output_path, self._datasets)
        return self

    def _output_path(self) -> None:
        if str(self.output_path).strip() in ("", "."):
            raise ValueError("output_path must name an output directory")

    def _datasets(self) -> None:
        if not self.datasets:
            raise ValueError("datasets must contain at least one dataset")


# ----------------------------------------------------------------------------------------------- checks
def plain(value: Any) -> Any:
    """Field values of an attrs or pydantic config tree as plain data, to compare the two."""
    if attrs.has(type(value)):
        return {field.name: plain(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


WRONG_INPUTS: list[tuple[str, Callable[[dict], None]]] = [
    ("max_epochs: 2.0 (float for int)", lambda d: d["trainer"].__setitem__("max_epochs", 2.0)),
    ("max_epochs: '2' (str for int)", lambda d: d["trainer"].__setitem__("max_epochs", "2")),
    ("verbose: 'false' (str for bool)", lambda d: d["trainer"]["callbacks"][4].__setitem__("verbose", "false")),
    ("seed: true (bool for int)", lambda d: d.__setitem__("seed", True)),
    ("lr: nan (not finite)", lambda d: d["model"]["optimizer_config"].__setitem__("lr", float("nan"))),
    ("unknown key in a callback", lambda d: d["trainer"]["callbacks"][0].__setitem__("every_n_epoch", 1)),
    ("unknown schedule kind", lambda d: d["model"]["optimizer_config"]["schedule_config"].__setitem__("kind", "Foo")),
    ("unknown callback name", lambda d: d["trainer"]["callbacks"][1].__setitem__("name", "BestCheckpoint")),
    ("two every_n_* in a callback", lambda d: d["trainer"]["callbacks"][5].__setitem__("every_n_updates", 3)),
    ("warmup_steps and warmup_percent", lambda d: d["model"]["optimizer_config"]["schedule_config"].__setitem__("warmup_steps", 5)),
    ("repetitions: 1 (< 2)", lambda d: d["datasets"]["train"]["dataset_wrappers"][0].__setitem__("repetitions", 1)),
    ("std: -1 (not > 0)", lambda d: d["datasets"]["val"]["dataset_normalizers"]["surface_pressure"].__setitem__("std", -1)),
    ("slurm time: 'soon'", lambda d: d["slurm"].__setitem__("time", "soon")),
    ("tolerances: 'abc' (str for list)", lambda d: d["trainer"]["callbacks"][1].__setitem__("tolerances", "abc")),
]


def check_strictness(data: dict) -> list[str]:
    """Each wrong input must be rejected by both; returns the cases where they disagree."""
    disagreements = []
    for label, mutate in WRONG_INPUTS:
        wrong = copy.deepcopy(data)
        mutate(wrong)
        rejected = []
        for validate, errors in ((lambda d: structure(d, ConfigSchema), ConfigError),
                                 (ConfigSchemaP.model_validate, ValidationError)):
            try:
                validate(wrong)
            except errors:
                rejected.append(True)
            else:
                rejected.append(False)
        if rejected != [True, True]:
            disagreements.append(f"{label}: noether rejects={rejected[0]}, pydantic rejects={rejected[1]}")
    return disagreements


# ---------------------------------------------------------------------------------------------- timing
def calibrate(call: Callable[[Any], Any], make_args: Callable[[int], list], budget_s: float) -> int:
    """Warm up, then choose the number of calls per round so that a round takes about ``budget_s``."""
    for arg in make_args(20):  # warm-up: caches, generated code, lazily built hooks
        call(arg)
    args = make_args(5)
    start = time.perf_counter_ns()
    for arg in args:
        call(arg)
    once_s = (time.perf_counter_ns() - start) / 5 / 1e9
    return max(20, min(20000, int(budget_s / max(once_s, 1e-7))))


def measure_all(operations: dict[str, tuple[Callable, Callable]], *, rounds: int, budget_s: float) -> dict:
    """Median and minimum over ``rounds`` of the mean time per call (µs), for every operation.

    Rounds are interleaved (round 1 of every operation, then round 2, ...) so that a change of load on the
    machine affects all operations alike and the ratios stay meaningful. Arguments (fresh deep copies where
    the operation gets the parsed dict) are made before each timed loop, and the garbage collector is off
    while timing, as in ``timeit``.
    """
    numbers = {label: calibrate(call, make_args, budget_s) for label, (call, make_args) in operations.items()}
    per_call: dict[str, list[float]] = {label: [] for label in operations}
    for _ in range(rounds):
        for label, (call, make_args) in operations.items():
            args = make_args(numbers[label])
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter_ns()
                for arg in args:
                    call(arg)
                elapsed = time.perf_counter_ns() - start
            finally:
                gc.enable()
            per_call[label].append(elapsed / numbers[label] / 1000)
    return {
        label: {"median": statistics.median(times), "min": min(times), "number": numbers[label], "rounds": rounds}
        for label, times in per_call.items()
    }


def import_time_ms(statement: str, env: dict, repeats: int = 7) -> dict[str, float]:
    """Import cost of ``statement`` in fresh interpreters, two ways, each the median of ``repeats`` runs.

    ``wall``: wall time of ``python -c statement`` minus that of ``python -c pass`` (runs interleaved);
    ``importtime``: the cumulative time ``python -X importtime`` reports for the imported module.
    """

    def run(code: str, *flags: str) -> tuple[float, str]:
        start = time.perf_counter_ns()
        done = subprocess.run([sys.executable, *flags, "-c", code], env=env, check=True, capture_output=True, text=True)
        return (time.perf_counter_ns() - start) / 1e6, done.stderr

    module = statement.split()[-1]
    run("pass"), run(statement)  # warm the file cache
    bare, full, reported = [], [], []
    for _ in range(repeats):
        bare.append(run("pass")[0])
        full.append(run(statement)[0])
        stderr = run(statement, "-X", "importtime")[1]
        cumulative = [int(line.split("|")[1]) for line in stderr.splitlines()
                      if line.startswith("import time:") and line.split("|")[2].rstrip() == f" {module}"]
        reported.append(cumulative[-1] / 1000 if cumulative else math.nan)
    return {"wall": statistics.median(full) - statistics.median(bare), "process": statistics.median(full),
            "bare": statistics.median(bare), "importtime": statistics.median(reported)}


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _qualified_names(module: Any) -> dict[int, str]:
    """``first line -> outer.inner`` for every function of a loaded module (its nested hooks are all called
    ``structure``), from the code objects in memory, so that the names match what the profiler saw."""
    import types as _types

    names: dict[int, str] = {}

    def visit(code: _types.CodeType) -> None:
        if code.co_filename != module.__file__:
            return
        qualname = getattr(code, "co_qualname", code.co_name).replace(".<locals>", "")
        names.setdefault(code.co_firstlineno, qualname)
        for const in code.co_consts:
            if isinstance(const, _types.CodeType):
                visit(const)

    for value in vars(module).values():
        code = getattr(value, "__code__", None)
        if isinstance(code, _types.CodeType):
            visit(code)
    return names


def profile_structure(data: dict, calls: int = 2000) -> str:
    """cProfile of ``structure``: every function of converter.py by cumulative time, then the top by own time."""
    from noether.core.config import converter

    ours = (converter.__file__,)
    copies = [copy.deepcopy(data) for _ in range(calls)]
    profiler = cProfile.Profile()
    gc.collect()
    gc.disable()  # a collection would be charged to whichever function happened to allocate
    profiler.enable()
    for item in copies:
        structure(item, ConfigSchema)
    profiler.disable()
    gc.enable()
    stats = pstats.Stats(profiler)
    total_s = sum(tt for _, _, tt, _, _ in stats.stats.values())
    names = _qualified_names(converter)
    lines = [f"cProfile of {calls} x structure(data, ConfigSchema): {total_s / calls * 1e6:.0f} µs per call under the "
             "profiler (which inflates Python-call-heavy code); per structure() call:",
             "",
             "converter.py by cumulative time:",
             f"  {'calls':>6} {'own µs':>8} {'cum µs':>8}  function (line)"]
    rows = [(key, value) for key, value in stats.stats.items() if key[0] in ours]
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in sorted(rows, key=lambda r: -r[1][3]):
        where = names.get(line, func) if file == converter.__file__ else func
        lines.append(f"  {ncalls / calls:6.1f} {tottime / calls * 1e6:8.1f} {cumtime / calls * 1e6:8.1f}  "
                     f"{where} ({pathlib.Path(file).name if file in ours else 'exec'}:{line})")
    lines += ["", "all functions by own time (top 15):", f"  {'calls':>6} {'own µs':>8} {'cum µs':>8}  function"]
    top = sorted(stats.stats.items(), key=lambda r: -r[1][2])[:15]
    for (file, line, func), (_, ncalls, tottime, cumtime, _) in top:
        where = names.get(line, func) if file == converter.__file__ else func
        short = pathlib.Path(file).name if file != "~" else "builtin"
        lines.append(f"  {ncalls / calls:6.1f} {tottime / calls * 1e6:8.1f} {cumtime / calls * 1e6:8.1f}  {where} ({short}:{line})")
    return "\n".join(lines) + "\n"


def construction_plan(config: Any) -> list[tuple[type, dict]]:
    """Every attrs object of a structured config with its field values, children first."""
    plan: list[tuple[type, dict]] = []

    def visit(value: Any) -> None:
        if attrs.has(type(value)):
            fields = {field.name: getattr(value, field.name) for field in attrs.fields(type(value))}
            for item in fields.values():
                visit(item)
            plan.append((type(value), fields))
        elif isinstance(value, (tuple, list)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(config)
    return plan


# ------------------------------------------------------------------------------------------------ baseline
TIMING_SNIPPET = r"""
import copy, pathlib, statistics, sys, tempfile, time
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]  # an editable install of this tree
sys.path.insert(0, sys.argv[1])
from noether.core.config import compose, load_config, structure
from noether.core.schemas import ConfigSchema
assert pathlib.Path(sys.modules["noether"].__file__).is_relative_to(sys.argv[1]), "imported the wrong noether"
path = pathlib.Path(tempfile.mkdtemp()) / "bench.yaml"
path.write_text(sys.stdin.read(), encoding="utf-8")
data = compose(path)
def per_call(call, make, number):
    items = make(number)
    start = time.perf_counter()
    for item in items:
        call(item)
    return (time.perf_counter() - start) / number * 1e6
for _ in range(2):
    load_config(path), structure(copy.deepcopy(data), ConfigSchema)
a = statistics.median(per_call(lambda d: structure(d, ConfigSchema), lambda n: [copy.deepcopy(data) for _ in range(n)], 200) for _ in range(5))
b = statistics.median(per_call(lambda _: load_config(path), lambda n: [None] * n, 50) for _ in range(5))
print(a, b)
"""


def compare_with_revision(revision: str, repeats: int) -> None:
    """Time (a) and (b) for this tree and for ``noether/`` at a git revision, alternating fresh interpreters."""
    root = pathlib.Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", revision, "noether"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {f"{revision}": pathlib.Path(tmp), "this tree": root}
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for _ in range(repeats):
            for name, tree in trees.items():
                out = subprocess.run([sys.executable, "-c", TIMING_SNIPPET, str(tree)], input=CONFIG_YAML, text=True,
                                     capture_output=True, check=True).stdout
                a, b = map(float, out.split())
                times[name].append((a, b))
    (old_a, old_b), (new_a, new_b) = ([statistics.median(t[i] for t in times[name]) for i in (0, 1)] for name in trees)
    print(f"side by side with {revision} ({repeats} alternating interpreters each, medians):")
    print(f"  (a) structure:   {old_a:8.1f} µs -> {new_a:8.1f} µs ({new_a / old_a:.3f}x)")
    print(f"  (b) load_config: {old_b:8.1f} µs -> {new_b:8.1f} µs ({new_b / old_b:.3f}x; target <= 1.05x: "
          f"{'MET' if new_b <= 1.05 * old_b else 'NOT MET'})")
    print()


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    quick = "--quick" in sys.argv
    rounds, budget = (5, 0.05) if quick else (7, 0.25)
    print("# Config loading benchmark: noether (attrs + cattrs) vs pydantic v2")
    print(f"python {platform.python_version()} ({platform.python_implementation()}), "
          f"attrs {version('attrs')}, cattrs {version('cattrs')}, ruamel.yaml {version('ruamel.yaml')} "
          f"(clib {version('ruamel.yaml.clib')}), pydantic {version('pydantic')} (core {version('pydantic_core')})")
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs "
          f"({platform.processor() or 'unknown processor'})")
    print()
    if "--baseline" in sys.argv:
        compare_with_revision(sys.argv[sys.argv.index("--baseline") + 1], repeats=3 if quick else 7)

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bench.yaml"
        path.write_text(CONFIG_YAML, encoding="utf-8")
        loaded = load_config(path)
        callbacks = [type(cb).__name__ for cb in loaded.trainer.callbacks]
        print(f"config: {len(CONFIG_YAML.splitlines())} YAML lines; load_config -> {type(loaded).__name__} with "
              f"callbacks {', '.join(callbacks)}")

        safe = YAML(typ="safe", pure=False)
        parsed = safe.load(CONFIG_YAML)
        data = compose(path)
        assert data == parsed, "compose() of a file without defaults/interpolations must equal the parsed dict"
        from ruamel.yaml.cyaml import CParser  # noqa: F401 - fails when the C extension is missing
        assert safe.Parser is CParser, f"ruamel is not using its C parser ({safe.Parser})"

        # The two implementations must accept the same data and agree on every field value.
        ours = structure(copy.deepcopy(data), ConfigSchema)
        theirs = ConfigSchemaP.model_validate(copy.deepcopy(data))
        same_values = plain(ours) == plain(theirs)
        disagreements = check_strictness(data)
        unchanged = copy.deepcopy(data)
        structure(data, ConfigSchema), ConfigSchemaP.model_validate(data)
        assert data == unchanged, "validation must not mutate its input"
        print(f"pydantic mirror: accepts the dict, same field values as structure(): {'yes' if same_values else 'NO'}; "
              f"rejects the same {len(WRONG_INPUTS)} wrong inputs: "
              f"{'yes' if not disagreements else 'NO: ' + '; '.join(disagreements)}")
        print()

        copies = lambda n: [copy.deepcopy(data) for _ in range(n)]  # noqa: E731
        same = lambda n: [None] * n  # noqa: E731
        plan = construction_plan(ours)

        def construct(_: Any) -> None:
            for cls, fields in plan:
                cls(**fields)

        results = measure_all(
            {
                "(a) structure(data, ConfigSchema)": (lambda d: structure(d, ConfigSchema), copies),
                "(b) load_config(path), end to end": (lambda _: load_config(path), same),
                "(c) YAML parse alone (safe C loader)": (lambda _: safe.load(CONFIG_YAML), same),
                "(d) pydantic ConfigSchemaP.model_validate(data)": (ConfigSchemaP.model_validate, copies),
                f"(e) construct the {len(plan)} attrs objects, values given": (construct, same),
                "(f) unstructure(config)": (unstructure, lambda n: [ours] * n),
                "(g) pydantic model_dump()": (lambda m: m.model_dump(), lambda n: [theirs] * n),
            },
            rounds=rounds,
            budget_s=budget,
        )

    reference = results["(d) pydantic ConfigSchemaP.model_validate(data)"]["median"]
    label_width = max(len(label) for label in results)
    print(f"{'operation':<{label_width}} | {'median µs':>10} | {'min µs':>10} | {'ratio vs pydantic validate':>26} | calls")
    print(f"{'-' * label_width}-|-{'-' * 10}-|-{'-' * 10}-|-{'-' * 26}-|------")
    for label, result in results.items():
        ratio = result["median"] / reference
        print(f"{label:<{label_width}} | {result['median']:>10.1f} | {result['min']:>10.1f} | {ratio:>25.2f}x | "
              f"{result['rounds']}x{result['number']}")
    print("median and min over rounds (interleaved across operations) of the mean time per call; ratio = median / "
          "median of (d).\n(a), (d) get a fresh deep copy of the parsed dict per call, made before the timed loop. "
          "(e): attrs __init__,\nfield validators and object checks alone, the floor of (a). (f), (g): the way back, "
          "for context.")
    print()

    structuring = results["(a) structure(data, ConfigSchema)"]["median"]
    ratio = structuring / reference
    met = structuring <= reference
    print(f"target: structuring at most as slow as pydantic's validation -> {structuring:.1f} µs vs {reference:.1f} µs "
          f"({ratio:.2f}x): {'MET' if met else 'NOT MET'}")
    parse = results["(c) YAML parse alone (safe C loader)"]["median"]
    total = results["(b) load_config(path), end to end"]["median"]
    print(f"share of load_config: YAML parse {parse / total:.0%}, structure {structuring / total:.0%}, "
          f"the rest (reading, composing, interpolation, resolve) {(total - parse - structuring) / total:.0%}")
    print()

    env = dict(os.environ)
    root = str(pathlib.Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    repeats = 5 if quick else 7
    print(f"import time in a fresh interpreter, median of {repeats} runs each: `python -c <import>` minus "
          "`python -c pass` (wall), and the module's cumulative time as `python -X importtime` reports it (importtime):")
    for statement, target in (("import noether", 150.0), ("import noether.core.config", 150.0), ("import pydantic", None)):
        times = import_time_ms(statement, env, repeats)
        verdict = f"target < {target:.0f} ms: {'MET' if times['wall'] < target else 'NOT MET'}" if target else "(context)"
        print(f"  {statement:<28} wall {times['wall']:6.1f} ms, importtime {times['importtime']:6.1f} ms  "
              f"(process {times['process']:.1f} ms, bare interpreter {times['bare']:.1f} ms)  {verdict}")
    print()

    if "--profile" in sys.argv or not met:
        print(profile_structure(data, calls=300 if quick else 2000))
    else:
        print("(structuring meets the target; --profile prints a cProfile of it)\n")

    print("reproduce: cd <repo> && PYTHONPATH=. python benchmarks/bench_config.py   "
          "(--profile: cProfile of structure; --quick: fewer repetitions)")


if __name__ == "__main__":
    main()
