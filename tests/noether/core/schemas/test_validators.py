"""Tests for the validators of ``noether.core.schemas`` (the seeds' validator rules), each asserting the
exact lines of the ``ConfigError`` that ``structure`` raises, plus the seeds' helper methods
(``to_srun_args``, ``return_optim_wrapper_args``, ``config_kind``, ``config_schema_kind``)."""

from __future__ import annotations

import copy
import re
from typing import Any

import attrs
import pytest

from noether.core.config import ConfigError, structure, unstructure
from noether.core.schemas import (
    BaseTrainerConfig,
    CallBackBaseConfig,
    ConfigSchema,
    CosineDecreasingScheduleConfig,
    CosineIncreasingScheduleConfig,
    DecreasingProgressScheduleConfig,
    FixedEarlyStopperConfig,
    IncreasingProgressScheduleConfig,
    LinearDecreasingScheduleConfig,
    LinearIncreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    MetricEarlyStopperConfig,
    ModelBaseConfig,
    OptimizerConfig,
    ParamGroupModifierConfig,
    PolynomialDecreasingScheduleConfig,
    PolynomialIncreasingScheduleConfig,
    ProgressScheduleConfig,
    ScheduleBaseConfig,
    SchedulerConfig,
    SlurmConfig,
    StepDecreasingScheduleConfig,
    StepFixedScheduleConfig,
    StepIntervalScheduleConfig,
)

CALLBACK = {"kind": "my_project.callbacks.PlotCallback"}
TRAINER = {"kind": "my_project.trainers.Trainer", "max_epochs": 10, "effective_batch_size": 32}
MODIFIER = {"name": "backbone.cls_token"}
LR_SCALE = "noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier"
WEIGHT_DECAY = "noether.core.optimizer.param_group_modifiers.WeightDecayByNameModifier"
EXACTLY_ONE_INTERVAL = "<root>: exactly one of every_n_epochs, every_n_updates, every_n_samples must be set"
DELETE_EVERY_N_EPOCHS = "delete the others, e.g. ~every_n_epochs on the command line"
BOTH_STEPS = "<root>: start_step and end_step must both be set or both be None"
BOTH_PERCENTS = "<root>: start_percent and end_percent must both be set or both be None"


def error_lines(data: Any, cls: Any) -> list[str]:
    """The lines of the ``ConfigError`` raised by structuring ``data`` as ``cls``."""
    with pytest.raises(ConfigError) as info:
        structure(data, cls)
    assert str(info.value) == "\n".join(str(issue) for issue in info.value.issues)
    return str(info.value).splitlines()


def assert_rejected(data: dict, cls: type, *lines: str) -> None:
    """``structure`` reports exactly ``lines``, and building the object in Python raises ``ValueError``."""
    assert error_lines(data, cls) == list(lines)
    with pytest.raises(ValueError):
        cls(**data)


# ---------------------------------------------------------------------------------- optimizer
@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({**MODIFIER, "scale": 0.5, "value": 0.0}, "<root>: provide either scale or value, not both (got scale=0.5, value=0.0)"),
        (MODIFIER, "<root>: either scale or value must be provided (got neither)"),
        (
            {**MODIFIER, "kind": LR_SCALE, "value": 0.0},
            "value: an LrScaleByNameModifier needs scale, not value (got value=0.0)",
        ),
        (
            {**MODIFIER, "kind": WEIGHT_DECAY, "scale": 0.5},
            "scale: a WeightDecayByNameModifier needs value, not scale (got scale=0.5)",
        ),
    ],
    ids=["both", "neither", "lr-scale-with-value", "weight-decay-with-scale"],
)
def test_check_scale_or_value_exclusive(data, line):
    """A parameter group modifier sets exactly one of ``scale`` and ``value``, the one its kind uses."""
    assert_rejected(data, ParamGroupModifierConfig, line)


def test_modifier_with_a_wrong_kind_and_both_values_reports_both():
    """A misspelt modifier kind does not hide the scale/value problem: both lines come at once."""
    data = {**MODIFIER, "kind": "noether.core.optimizer.param_group_modifiers.LrScaleModifier", "scale": 0.5, "value": 0.1}
    with pytest.raises(ConfigError) as excinfo:
        structure(data, ParamGroupModifierConfig)
    assert str(excinfo.value).splitlines() == [
        "kind: must be one of 'noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier', "
        "'noether.core.optimizer.param_group_modifiers.WeightDecayByNameModifier', or the class path of a modifier of "
        "your own (got "
        "'noether.core.optimizer.param_group_modifiers.LrScaleModifier'); did you mean "
        "'noether.core.optimizer.param_group_modifiers.LrScaleByNameModifier'?",
        "<root>: provide either scale or value, not both (got scale=0.5, value=0.1)",
    ]


def test_return_optim_wrapper_args():
    """``return_optim_wrapper_args`` returns exactly the seven wrapper fields, by name."""
    modifier = ParamGroupModifierConfig(name="backbone.cls_token", value=0.0)
    schedule = LinearWarmupCosineDecayScheduleConfig(warmup_steps=10)
    config = OptimizerConfig(
        kind="torch.optim.AdamW",
        lr=0.001,
        weight_decay=0.05,
        clip_grad_value=1.0,
        clip_grad_norm=2.0,
        param_group_modifiers_config=(modifier,),
        exclude_bias_from_weight_decay=False,
        exclude_normalization_params_from_weight_decay=False,
        weight_decay_schedule=None,
        schedule_config=schedule,
        optimizer_kwargs={"betas": (0.9, 0.95)},
    )
    assert config.return_optim_wrapper_args() == {
        "clip_grad_value": 1.0,
        "clip_grad_norm": 2.0,
        "param_group_modifiers_config": (modifier,),
        "exclude_bias_from_weight_decay": False,
        "exclude_normalization_params_from_weight_decay": False,
        "weight_decay_schedule": None,
        "schedule_config": schedule,
    }


# ---------------------------------------------------------------------------------- callbacks
@pytest.mark.parametrize(
    ("data", "line"),
    [
        (CALLBACK, f"{EXACTLY_ONE_INTERVAL} (got none)"),
        ({**CALLBACK, "every_n_epochs": 1, "every_n_updates": 100}, f"{EXACTLY_ONE_INTERVAL} (got every_n_epochs, every_n_updates); {DELETE_EVERY_N_EPOCHS}"),
        ({**CALLBACK, "every_n_samples": 1000}, "batch_size: required when every_n_samples is set (got None)"),
    ],
    ids=["none", "two-intervals", "samples-without-batch-size"],
)
def test_callback_validate_callback_frequency(data, line):
    """A callback has exactly one ``every_n_*`` interval, and ``every_n_samples`` needs ``batch_size``."""
    assert_rejected(data, CallBackBaseConfig, line)
    assert structure({**CALLBACK, "every_n_samples": 1000, "batch_size": 8}, CallBackBaseConfig).batch_size == 8


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({**CALLBACK, "every_n_epochs": 0}, "every_n_epochs: must be a positive integer (got 0)"),
        ({**CALLBACK, "every_n_updates": -1}, "every_n_updates: must be a positive integer (got -1)"),
        ({**CALLBACK, "every_n_samples": 0, "batch_size": 8}, "every_n_samples: must be a positive integer (got 0)"),
        ({**CALLBACK, "every_n_epochs": 1, "batch_size": 0}, "batch_size: must be a positive integer (got 0)"),
    ],
    ids=["every_n_epochs", "every_n_updates", "every_n_samples", "batch_size"],
)
def test_check_positive_values(data, line):
    """Every interval and the batch size of a callback must be a positive integer."""
    assert_rejected(data, CallBackBaseConfig, line)
    assert CallBackBaseConfig.check_positive_values(3) == 3
    assert CallBackBaseConfig.check_positive_values(None) is None
    with pytest.raises(ValueError, match=re.escape("must be a positive integer (got 0)")):
        CallBackBaseConfig.check_positive_values(0)


@pytest.mark.parametrize("kind", ["", "   "], ids=["empty", "blank"])
def test_check_kind_is_not_empty(kind):
    """A callback ``kind``, when given, must not be empty or blank."""
    assert_rejected({"kind": kind, "every_n_epochs": 1}, CallBackBaseConfig, f"kind: must not be an empty string (got {kind!r})")
    assert CallBackBaseConfig.check_kind_is_not_empty("my.Callback") == "my.Callback"


@pytest.mark.parametrize("tolerance", [0, -1])
def test_check_tolerance_positive(tolerance):
    """An early stopper's ``tolerance`` is at least 1."""
    data = {"every_n_epochs": 1, "metric_key": "loss/val/total", "tolerance": tolerance}
    assert_rejected(data, MetricEarlyStopperConfig, f"tolerance: must be >= 1 (got {tolerance})")
    assert MetricEarlyStopperConfig.check_tolerance_positive(1) == 1


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({}, "<root>: exactly one of stop_at_sample, stop_at_update, stop_at_epoch must be set (got none)"),
        (
            {"stop_at_epoch": 5, "stop_at_update": 100},
            "<root>: exactly one of stop_at_sample, stop_at_update, stop_at_epoch must be set (got stop_at_update, stop_at_epoch); "
            "delete the others, e.g. ~stop_at_update on the command line",
        ),
        ({"stop_at_epoch": 0}, "stop_at_epoch: must be a positive integer (got 0)"),
    ],
    ids=["none", "two", "zero"],
)
def test_fixed_early_stopper_validate_callback_frequency(data, line):
    """A fixed early stopper names exactly one positive ``stop_at_*``."""
    assert_rejected(data, FixedEarlyStopperConfig, line)


# ------------------------------------------------------------------------------------ trainer
@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            {**TRAINER, "log_every_n_epochs": 1, "log_every_n_updates": 100},
            "<root>: at most one of log_every_n_epochs, log_every_n_updates, log_every_n_samples may be set "
            "(got log_every_n_epochs, log_every_n_updates); delete the others, e.g. ~log_every_n_epochs on the command line",
        ),
        (
            {**TRAINER, "track_every_n_updates": 10, "track_every_n_samples": 640},
            "<root>: at most one of track_every_n_epochs, track_every_n_updates, track_every_n_samples may be set "
            "(got track_every_n_updates, track_every_n_samples); delete the others, e.g. ~track_every_n_updates on the "
            "command line",
        ),
    ],
    ids=["log", "track"],
)
def test_trainer_validate_callback_frequency(data, line):
    """With default callbacks, at most one ``log_every_n_*`` and one ``track_every_n_*``; without, no rule."""
    assert_rejected(data, BaseTrainerConfig, line)
    assert structure({**data, "add_default_callbacks": False}, BaseTrainerConfig).add_default_callbacks is False


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({**TRAINER, "max_epochs": None}, "<root>: exactly one of max_epochs, max_updates, max_samples must be set (got none)"),
        (
            {**TRAINER, "max_updates": 100},
            "<root>: exactly one of max_epochs, max_updates, max_samples must be set (got max_epochs, max_updates); "
            "delete the others, e.g. ~max_epochs on the command line",
        ),
    ],
    ids=["none", "two"],
)
def test_trainer_exactly_one_end_of_training(data, line):
    """A trainer sets exactly one of ``max_epochs``, ``max_updates`` and ``max_samples`` (Noether 2026.4)."""
    assert_rejected(data, BaseTrainerConfig, line)


# ---------------------------------------------------------------------------------- schedules
@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({}, "<root>: define exactly one of warmup_steps or warmup_percent (got warmup_steps=None, warmup_percent=None)"),
        (
            {"warmup_steps": 5, "warmup_percent": 0.1},
            "<root>: define exactly one of warmup_steps or warmup_percent (got warmup_steps=5, warmup_percent=0.1); "
            "delete the others, e.g. ~warmup_steps on the command line",
        ),
    ],
    ids=["neither", "both"],
)
def test_validate_warmup(data, line):
    """A warmup-cosine schedule defines exactly one of ``warmup_steps`` and ``warmup_percent``."""
    assert_rejected(data, LinearWarmupCosineDecayScheduleConfig, line)


@pytest.mark.parametrize(
    ("steps", "line"),
    [
        (None, "steps: expected a list (got NoneType None)"),
        ([], "steps: must not be empty (got ())"),
        ([5], "steps[0]: must be in (0, 1) (got 5.0)"),
        ([-1], "steps[0]: must be in (0, 1) (got -1.0)"),
        ([0.5, 1.0], "steps[1]: must be in (0, 1) (got 1.0)"),
    ],
    ids=["none", "empty", "five", "minus-one", "one"],
)
def test_validate_steps(steps, line):
    """``steps`` is a non-empty list of fractions strictly inside (0, 1); the bad entry is named by index."""
    assert_rejected({"factor": 0.1, "steps": steps}, StepFixedScheduleConfig, line)


@pytest.mark.parametrize("interval", [0.0, 1.0])
def test_check_update_interval(interval):
    """``update_interval`` lies strictly inside (0, 1)."""
    data = {"factor": 0.5, "update_interval": interval}
    assert_rejected(data, StepIntervalScheduleConfig, f"update_interval: must be in (0, 1) (got {interval})")
    assert StepIntervalScheduleConfig.check_update_interval(0.25) == 0.25


@pytest.mark.parametrize("interval", [0.0, 1.0])
def test_check_interval(interval):
    """``decreases_interval`` lies strictly inside (0, 1)."""
    data = {"factor": 0.5, "decreases_interval": interval}
    assert_rejected(data, StepDecreasingScheduleConfig, f"decreases_interval: must be in (0, 1) (got {interval})")
    assert StepDecreasingScheduleConfig.check_interval(0.25) == 0.25


def test_check_mutual_exclusion():
    """``overhang_percent`` and ``overhang_steps`` are not both set."""
    assert_rejected(
        {"overhang_percent": 0.1, "overhang_steps": 3},
        ScheduleBaseConfig,
        "<root>: only one of overhang_percent and overhang_steps may be set (got overhang_percent=0.1, overhang_steps=3); "
        "delete the others, e.g. ~overhang_percent on the command line",
    )


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"start_step": 3}, f"{BOTH_STEPS} (got start_step=3, end_step=None)"),
        ({"end_step": 3}, f"{BOTH_STEPS} (got start_step=None, end_step=3)"),
        ({"start_step": 5, "end_step": 3}, "<root>: start_step must be less than end_step (got 5 >= 3)"),
        ({"start_step": 0, "end_step": 0}, "<root>: start_step must be less than end_step (got 0 >= 0)"),
        (
            {"start_step": 1, "end_step": 3, "start_percent": 0.1, "end_percent": 0.5},
            "<root>: cannot set both start_step/end_step and start_percent/end_percent",
        ),
    ],
    ids=["only-start", "only-end", "reversed", "zero-is-checked", "with-percents"],
)
def test_validate_start_end_steps(data, line):
    """Start and end steps come together, in order (0 included, unlike Noether), and not with percents."""
    assert_rejected(data, ProgressScheduleConfig, line)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"start_percent": 0.1}, f"{BOTH_PERCENTS} (got start_percent=0.1, end_percent=None)"),
        ({"end_percent": 0.5}, f"{BOTH_PERCENTS} (got start_percent=None, end_percent=0.5)"),
        ({"start_percent": 0.5, "end_percent": 0.5}, "<root>: start_percent must be less than end_percent (got 0.5 >= 0.5)"),
        ({"start_percent": 0.0, "end_percent": 0.0}, "<root>: start_percent must be less than end_percent (got 0.0 >= 0.0)"),
    ],
    ids=["only-start", "only-end", "equal", "zero-is-checked"],
)
def test_validate_start_end_percents(data, line):
    """Start and end percents come together and in order."""
    assert_rejected(data, ProgressScheduleConfig, line)


DECREASING = [
    DecreasingProgressScheduleConfig,
    LinearDecreasingScheduleConfig,
    CosineDecreasingScheduleConfig,
    PolynomialDecreasingScheduleConfig,
    StepDecreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    SchedulerConfig,
]
INCREASING = [
    IncreasingProgressScheduleConfig,
    LinearIncreasingScheduleConfig,
    CosineIncreasingScheduleConfig,
    PolynomialIncreasingScheduleConfig,
]


@pytest.mark.parametrize("cls", DECREASING, ids=lambda cls: cls.__name__)
def test_decreasing_end_value_above_max_value(cls, example):
    """A schedule that decreases to ``end_value`` rejects an ``end_value`` above its ``max_value``."""
    assert_rejected(
        {**example(cls), "max_value": 0.1, "end_value": 0.5},
        cls,
        "end_value: end_value must be less than or equal to max_value (got end_value=0.5 > max_value=0.1)",
    )


@pytest.mark.parametrize("cls", INCREASING, ids=lambda cls: cls.__name__)
def test_increasing_start_value_above_max_value(cls, example):
    """A schedule that increases to ``max_value`` rejects a ``start_value`` above it."""
    assert_rejected(
        {**example(cls), "max_value": 0.1, "start_value": 0.5},
        cls,
        "start_value: start_value must be less than or equal to max_value (got start_value=0.5 > max_value=0.1)",
    )


# --------------------------------------------------------------------------------------- slurm
def check_slurm_field(field: str, method: str, value: Any, line: str | None) -> None:
    """Accept (``line is None``) or reject ``value`` for a SLURM field, via ``structure`` and the seed method."""
    validate = getattr(SlurmConfig, method)
    if line is None:
        assert getattr(structure({field: value}, SlurmConfig), field) == value
        assert validate(value) == value
    else:
        assert_rejected({field: value}, SlurmConfig, line)
        with pytest.raises(ValueError):
            validate(value)


def accept_reject(accept: list, reject: list, message: str) -> list:
    """Parameters ``(value, expected line or None)`` for an accept list and a reject list."""
    return [(value, None) for value in accept] + [(value, message.format(value=value)) for value in reject]


@pytest.mark.parametrize(
    ("value", "line"),
    accept_reject(
        ["30", "30:00", "12:00:00", "1-12", "1-12:30", "1-12:30:15", "01-00:00:00", "UNLIMITED", "infinite"],
        ["1:2:3:4", "1-", "abc", "1h", "-1"],
        "time: must be a SLURM time such as 30, 30:00, 12:00:00, 1-12, 1-12:30 or 1-12:30:15 (got {value!r})",
    ),
)
def test_validate_time_format(value, line):
    """``time`` accepts SLURM's minute, clock, day-hour and unlimited forms and nothing else."""
    check_slurm_field("time", "validate_time_format", value, line)


@pytest.mark.parametrize(
    ("value", "line"),
    accept_reject(
        ["4G", "512M", "0", "1.5G", "4GB", "4gb", "4T"],
        ["4 G", "4P", "G", "1.G"],
        "mem: must be a memory size such as 4G, 512M, 1.5G or 0 (got {value!r})",
    ),
)
def test_validate_memory_format(value, line):
    """``mem`` accepts a number with an optional K/M/G/T(B) suffix, in any case."""
    check_slurm_field("mem", "validate_memory_format", value, line)


@pytest.mark.parametrize(
    ("value", "line"),
    accept_reject(
        ["0-15", "1,3,5,7", "1-7%2", "1-7:2%4"],
        ["%2", "a-b", "1-7%", "0-15%2%3"],
        "array: must be a job array such as 0-15, 1,3,5,7 or 1-7%2 (got {value!r})",
    ),
)
def test_validate_array_format(value, line):
    """``array`` accepts index lists and ranges with an optional step and ``%`` limit."""
    check_slurm_field("array", "validate_array_format", value, line)


@pytest.mark.parametrize("field", ["gpus", "gpus_per_node"])
@pytest.mark.parametrize(
    ("value", "line"),
    [
        *accept_reject(
            [4, 0, "4", "a100:4"],
            ["a100:", "gpu:a100:4", "v100-32g:2"],
            "{{field}}: must be a GPU count or type:count such as 4 or a100:4 (got {value!r})",
        ),
        (-1, "{field}: must be >= 0 (got -1)"),
    ],
)
def test_validate_gpu_spec(field, value, line):
    """``gpus`` and ``gpus_per_node`` accept a count >= 0 or ``type:count``."""
    check_slurm_field(field, "validate_gpu_spec", value, None if line is None else line.format(field=field))


def test_to_srun_args_reference_example():
    """``to_srun_args`` renders the reference example: declaration order, bare true flags, no ``env_path``."""
    config = structure(
        {
            "job_name": "exp",
            "partition": "gpu",
            "nodes": 2,
            "ntasks_per_node": 4,
            "cpus_per_task": 8,
            "mem": "64G",
            "gpus_per_node": "a100:4",
            "time": "12:00:00",
            "env_path": "/opt/venv/bin/activate",
            "kill_on_invalid_dep": True,
            "chdir": "/scratch/exp",
        },
        SlurmConfig,
    )
    assert config.to_srun_args() == (
        "--job-name=exp --partition=gpu --nodes=2 --ntasks-per-node=4 --cpus-per-task=8 --mem=64G "
        "--gpus-per-node=a100:4 --time=12:00:00 --kill-on-invalid-dep --chdir=/scratch/exp"
    )


def test_to_srun_args_every_field():
    """With every field set, every directive but ``env_path`` appears once, in declaration order."""
    config = SlurmConfig(
        job_name="exp",
        partition="gpu,cpu",
        reservation="res",
        nodes="2-4",
        ntasks=8,
        ntasks_per_node=4,
        cpus_per_task=8,
        mem="64G",
        gpus="a100:8",
        gpus_per_node=4,
        gres="gpu:2,shard:1",
        time="1-12:00:00",
        begin="now+1hour",
        output="logs/%x-%j.out",
        error="logs/%x-%j.err",
        array="0-15%4",
        kill_on_invalid_dep=True,
        nice=10,
        chdir="/scratch/exp",
        env_path="/opt/venv/bin/activate",
    )
    assert [field.name for field in attrs.fields(SlurmConfig) if getattr(config, field.name) is None] == []
    assert config.to_srun_args() == (
        "--job-name=exp --partition=gpu,cpu --reservation=res --nodes=2-4 --ntasks=8 --ntasks-per-node=4 "
        "--cpus-per-task=8 --mem=64G --gpus=a100:8 --gpus-per-node=4 --gres=gpu:2,shard:1 --time=1-12:00:00 "
        "--begin=now+1hour --output=logs/%x-%j.out --error=logs/%x-%j.err --array=0-15%4 --kill-on-invalid-dep "
        "--nice=10 --chdir=/scratch/exp"
    )


@pytest.mark.parametrize(
    ("config", "args"),
    [
        (SlurmConfig(), ""),
        (SlurmConfig(kill_on_invalid_dep=False, job_name="exp"), "--job-name=exp"),
        (SlurmConfig(nice=0), "--nice=0"),
        (SlurmConfig(env_path="env.sh"), ""),
    ],
    ids=["empty", "false-flag-omitted", "zero-kept", "env-path-skipped"],
)
def test_to_srun_args_edge_cases(config, args):
    """Unset fields and false flags are omitted, a zero value is kept, ``env_path`` is never a directive."""
    assert config.to_srun_args() == args


# ------------------------------------------------------------------------------- root and model
class MyModelConfig(ModelBaseConfig):
    """A user's model config (not an attrs class of its own: only its import path matters here)."""


def test_config_kind():
    """``ModelBaseConfig.config_kind`` is the import path of the config's own class."""
    assert ModelBaseConfig(kind="my_project.models.Net", name="net").config_kind == "noether.core.schemas.models.ModelBaseConfig"
    assert MyModelConfig(kind="my_project.models.Net", name="net").config_kind == f"{__name__}.MyModelConfig"


def test_config_schema_kind(example):
    """``ConfigSchema.config_schema_kind`` is the import path of the root config class."""
    config = structure(example(ConfigSchema), ConfigSchema)
    assert config.config_schema_kind == "noether.core.schemas.schema.ConfigSchema"


@pytest.mark.parametrize(
    ("output_path", "line"),
    [
        ("", "output_path: must not be empty (got '')"),
        (".", "output_path: must name an output directory (got '.')"),
        ("   ", "output_path: must name an output directory (got '   ')"),
        (None, "output_path: expected a path (got NoneType None)"),
    ],
    ids=["empty", "dot", "blank", "null"],
)
def test_validate_output_path(output_path, line, example):
    """``output_path`` must name a directory; the message quotes the value as written."""
    assert error_lines({**example(ConfigSchema), "output_path": output_path}, ConfigSchema) == [line]


def test_output_path_is_serialized_as_string(example):
    """``output_path`` unstructures to the plain string it was given (Noether's ``serialize_output_path``)."""
    config = structure({**example(ConfigSchema), "output_path": "outputs/poisson"}, ConfigSchema)
    assert unstructure(config)["output_path"] == "outputs/poisson"


def test_master_port_is_not_read_from_the_environment(monkeypatch, example):
    """Parsing leaves ``master_port`` unset even when ``MASTER_PORT`` is set; only a written port is kept."""
    monkeypatch.setenv("MASTER_PORT", "12345")
    assert structure(example(ConfigSchema), ConfigSchema).master_port is None
    assert structure({**example(ConfigSchema), "master_port": 29500}, ConfigSchema).master_port == 29500


PORT_RULE = "master_port: must be a port in [1, 65535] or a range [low, high] of them with low <= high"


@pytest.mark.parametrize(("value", "expected"), [
    (29500, 29500),
    ([29500, 29600], (29500, 29600)),
    ([29500, 29500], (29500, 29500)),
    (0, f"{PORT_RULE} (got 0)"),
    (65536, f"{PORT_RULE} (got 65536)"),
    ([29600, 29500], f"{PORT_RULE} (got [29600, 29500])"),
    ([0, 10], f"{PORT_RULE} (got [0, 10])"),
    ([1, 2, 3], "master_port: expected a list of 2 items, each an integer (got a list of 3)"),
    ([29500, "x"], "master_port[1]: expected an integer (got str 'x')"),
    ("29500", "master_port: expected an integer or a list (got str '29500')"),
])
def test_master_port_is_a_port_or_a_range(example, value, expected):
    """A port, or Noether's ``[low, high]`` range (a free port of it is chosen when the job starts)."""
    data = {**example(ConfigSchema), "master_port": value}
    if isinstance(expected, str):
        assert error_lines(data, ConfigSchema) == [expected]
    else:
        assert structure(data, ConfigSchema).master_port == expected
        assert unstructure(structure(data, ConfigSchema))["master_port"] == value


# ------------------------------------------------------------------------------------ all at once
@pytest.mark.parametrize(
    ("cls", "data", "lines"),
    [
        (
            CallBackBaseConfig,
            {**CALLBACK, "every_n_epochs": 0, "every_n_updates": 100},
            [
                "every_n_epochs: must be a positive integer (got 0)",
                f"{EXACTLY_ONE_INTERVAL} (got every_n_epochs, every_n_updates); {DELETE_EVERY_N_EPOCHS}",
            ],
        ),
        (
            BaseTrainerConfig,
            {
                **TRAINER,
                "log_every_n_epochs": 1,
                "log_every_n_updates": 100,
                "track_every_n_epochs": 1,
                "track_every_n_samples": 640,
            },
            [
                "<root>: at most one of log_every_n_epochs, log_every_n_updates, log_every_n_samples may be set "
                "(got log_every_n_epochs, log_every_n_updates); delete the others, e.g. ~log_every_n_epochs on the command line",
                "<root>: at most one of track_every_n_epochs, track_every_n_updates, track_every_n_samples may be set "
                "(got track_every_n_epochs, track_every_n_samples); delete the others, e.g. ~track_every_n_epochs on the "
                "command line",
            ],
        ),
        (
            ProgressScheduleConfig,
            {"overhang_percent": 0.1, "overhang_steps": 3, "start_step": 3, "end_percent": 0.5},
            [
                "<root>: only one of overhang_percent and overhang_steps may be set "
                "(got overhang_percent=0.1, overhang_steps=3); delete the others, e.g. ~overhang_percent on the command line",
                f"{BOTH_STEPS} (got start_step=3, end_step=None)",
                f"{BOTH_PERCENTS} (got start_percent=None, end_percent=0.5)",
            ],
        ),
    ],
    ids=["callback", "trainer-log-and-track", "schedule"],
)
def test_every_problem_of_one_object_is_reported(cls, data, lines):
    """Several broken rules of one object are all reported in one ``ConfigError``, one line each."""
    assert error_lines(data, cls) == lines


def test_every_problem_in_the_tree_is_reported(example):
    """Problems in different objects of one config are all reported, each under its full path."""
    data = example(ConfigSchema)
    data["trainer"]["callbacks"] = [
        {"name": "CheckpointCallback", "every_n_epochs": 0},
        {"name": "MetricEarlyStopper", "every_n_epochs": 1, "metric_key": "loss/val/total", "tolerance": 0},
    ]
    warmup_cosine = {"kind": "noether.core.schedules.LinearWarmupCosineDecaySchedule"}
    data["model"]["optimizer_config"] = {"kind": "torch.optim.AdamW", "lr": 0.001, "schedule_config": warmup_cosine}
    data["slurm"] = {"mem": "4P", "time": "1h"}
    assert error_lines(data, ConfigSchema) == [
        "model.optimizer_config.schedule_config: define exactly one of warmup_steps or warmup_percent "
        "(got warmup_steps=None, warmup_percent=None)",
        "trainer.callbacks[0].every_n_epochs: must be a positive integer (got 0)",
        "trainer.callbacks[1].tolerance: must be >= 1 (got 0)",
        "slurm.mem: must be a memory size such as 4G, 512M, 1.5G or 0 (got '4P')",
        "slurm.time: must be a SLURM time such as 30, 30:00, 12:00:00, 1-12, 1-12:30 or 1-12:30:15 (got '1h')",
    ]


def test_bad_input_is_not_modified(example):
    """Structuring never changes its input, whether it fails or succeeds."""
    bad = example(ConfigSchema)
    bad["tracker"] = "disabled"
    bad["model"]["optimizer_config"] = {"kind": "torch.optim.AdamW", "lr": -1.0, "betas": [0.9, 0.95]}
    bad["trainer"]["callbacks"] = [{"name": "CheckpointCallback", "every_n_epochs": 0, "model_names": ["encoder"]}]
    before = copy.deepcopy(bad)
    with pytest.raises(ConfigError):
        structure(bad, ConfigSchema)
    assert bad == before
    good = copy.deepcopy(before)
    good["model"]["optimizer_config"]["lr"] = 0.001
    good["trainer"]["callbacks"][0]["every_n_epochs"] = 1
    expected = copy.deepcopy(good)
    structure(good, ConfigSchema)
    assert good == expected


# ------------------------------------------------------------------------------ seed method names
@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (ParamGroupModifierConfig, "check_scale_or_value_exclusive"),
        (OptimizerConfig, "return_optim_wrapper_args"),
        (CallBackBaseConfig, "validate_callback_frequency"),
        (CallBackBaseConfig, "check_positive_values"),
        (CallBackBaseConfig, "check_kind_is_not_empty"),
        (FixedEarlyStopperConfig, "validate_callback_frequency"),
        (MetricEarlyStopperConfig, "check_tolerance_positive"),
        (ScheduleBaseConfig, "check_mutual_exclusion"),
        (ScheduleBaseConfig, "validate_start_end_steps"),
        (ScheduleBaseConfig, "validate_start_end_percents"),
        (LinearWarmupCosineDecayScheduleConfig, "validate_warmup"),
        (StepDecreasingScheduleConfig, "check_interval"),
        (StepFixedScheduleConfig, "validate_steps"),
        (StepIntervalScheduleConfig, "check_update_interval"),
        (BaseTrainerConfig, "validate_callback_frequency"),
        (ConfigSchema, "validate_output_path"),
        (SlurmConfig, "validate_time_format"),
        (SlurmConfig, "validate_memory_format"),
        (SlurmConfig, "validate_array_format"),
        (SlurmConfig, "validate_gpu_spec"),
        (SlurmConfig, "to_srun_args"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_seed_method_names_exist(cls, name):
    """Every validator and helper the seed pages name is a callable of the same class under the same name."""
    assert callable(getattr(cls, name))
