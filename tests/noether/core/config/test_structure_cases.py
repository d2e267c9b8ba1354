"""One converter, exact results: a config reaching every kind of field structures to exact values, and each
wrong input gives exactly one located line per problem. (These cases were first written to hold a generated fast
path to the converter's hooks; their expected lines are what the hooks gave then, so the fast path's removal
changed no result.)"""

from __future__ import annotations

import copy
import pathlib
import typing
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from noether.core.config import ConfigError, compose, load_config, structure
from noether.core.config.resolve import resolve
from noether.core.schemas.schedules import AnyScheduleConfig
from noether.core.schemas import ConfigSchema, ModelBaseConfig, MultiStagePipelineConfig, OptimizerConfig, SlurmConfig
from tests.noether.core.schemas.conftest import EXAMPLES

TUTORIAL = pathlib.Path(__file__).parent / "data" / "tutorial" / "train.yaml"
TUTORIAL_CHOICES = [["+experiment/shapenet=upt"], ["model=transformer"], ["model=upt", "optimizer=sgd"], ["model=upt", "trainer.max_epochs=3"]]

FULL = {
    "name": "full",
    "accelerator": "gpu",
    "seed": 3,
    "output_path": "/tmp/out",
    "num_workers": 4,
    "master_port": 29500,
    "tracker": {"kind": "noether.core.trackers.WandBTracker", "project": "p", "mode": "offline"},
    "dataset_statistics": {"mean": [0, 1.5]},
    "dataset_normalizer": {"x": [{"kind": "noether.data.preprocessors.normalizers.ShiftAndScaleNormalizer", "shift": 1, "scale": 2.0}]},
    "datasets": {
        "train": {
            "kind": "a.Dataset",
            "pipeline": {"kind": "a.Pipeline"},
            "included_properties": ["x", "y"],
            "dataset_wrappers": [
                {"kind": "noether.data.base.wrappers.RepeatWrapper", "repetitions": 2},
                {"kind": "noether.data.base.wrappers.SubsetWrapper", "indices": [0, 1]},
            ],
            "dataset_normalizers": {
                "x": {"kind": "noether.data.preprocessors.normalizers.MeanStdNormalization", "mean": [0, 1], "std": [1, 2.0]},
                "y": [{"kind": "noether.data.preprocessors.normalizers.PositionNormalizer", "raw_pos_min": 0, "raw_pos_max": 1}],
            },
        }
    },
    "model": {
        "kind": "a.Model",
        "name": "net",
        "forward_properties": ("x",),
        "initializers": [{"kind": "noether.core.initializers.PreviousRunInitializer", "run_id": "r", "checkpoint_tag": {"epoch": 3}}],
        "optimizer_config": {
            "kind": "torch.optim.AdamW",
            "lr": 1,
            "betas": [0.9, 0.99],
            "param_group_modifiers_config": [{"name": "a.bias", "scale": 0}],
            "schedule_config": {"kind": "noether.core.schedules.LinearWarmupCosineDecaySchedule", "warmup_steps": 5},
        },
    },
    "trainer": {
        "kind": "a.Trainer",
        "max_updates": 10,
        "effective_batch_size": 8,
        "precision": "bf16",
        "callbacks": [
            {"name": "CheckpointCallback", "every_n_epochs": 1},
            {"kind": "noether.core.callbacks.EmaCallback", "every_n_updates": 5, "target_factors": [1]},
            {"name": "FixedEarlyStopper", "stop_at_epoch": 3},
            {"kind": "my.Callback", "every_n_samples": 64, "batch_size": 8},
        ],
    },
    "slurm": {"nodes": 2, "gpus": "a100:4", "gpus_per_node": 4, "time": "1:00:00"},
}
"""A valid config that reaches every kind of field: unions of each sort, ints for floats, tuples, user callbacks."""


def typed(value: Any) -> Any:
    """``value`` as plain data that also records every type, so ``1`` and ``1.0`` (or a list and a tuple) differ."""
    if attrs.has(type(value)):
        return (type(value), {f.name: typed(getattr(value, f.name)) for f in attrs.fields(type(value))})
    if isinstance(value, dict):
        return (dict, [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, (frozenset, set)):
        return (type(value), sorted((typed(item) for item in value), key=repr))
    if isinstance(value, (list, tuple)):
        return (type(value), [typed(item) for item in value])
    return (type(value), value)


def tutorial_data(overrides: list[str]) -> dict:
    """The composed tutorial config as ``load_config`` structures it (helper root keys dropped)."""
    data = compose(TUTORIAL, overrides)
    fields = {field.name for field in attrs.fields(ConfigSchema)}
    return {key: value for key, value in data.items() if key in fields}


# ------------------------------------------------------------------------------------------ valid data
def has_field_converters(cls: type) -> bool:
    """Whether an attrs field of ``cls`` converts its value."""
    return any(field.converter is not None for field in attrs.fields(cls))


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_every_example_structures_alike_twice_and_leaves_its_input(cls):
    """Structuring is a pure function of the data: the same value twice, the input left as it was."""
    data = copy.deepcopy(EXAMPLES[cls])
    first = structure(data, cls)
    assert data == EXAMPLES[cls]
    assert typed(structure(copy.deepcopy(data), cls)) == typed(first)


def test_classes_with_field_converters_get_the_converted_value():
    """A class whose fields convert (the pipeline stages, frozen deeply) gives the converted value."""
    assert [cls for cls in EXAMPLES if has_field_converters(cls)] == [MultiStagePipelineConfig]
    config = structure(copy.deepcopy(EXAMPLES[MultiStagePipelineConfig]), MultiStagePipelineConfig)
    assert config.collators[0]["items"] == ("points",)


@pytest.mark.parametrize("overrides", TUTORIAL_CHOICES, ids=" ".join)
def test_the_tutorial_configs_load_as_they_structure(overrides):
    """``load_config`` of the tutorial gives the structured, resolved composition of the same choices."""
    data = tutorial_data(overrides)
    assert typed(load_config(TUTORIAL, overrides)) == typed(resolve(structure(copy.deepcopy(data), ConfigSchema)))


def test_a_config_with_every_kind_of_field():
    """Unions of each sort, ints where floats go, tuples as input, callbacks by name, kind and user kind."""
    value = structure(copy.deepcopy(FULL), ConfigSchema)
    optimizer = value.model.optimizer_config
    assert optimizer.lr == 1.0 and type(optimizer.lr) is float
    assert optimizer.optimizer_kwargs == {"betas": (0.9, 0.99)}
    assert (type(optimizer.schedule_config).__name__, optimizer.schedule_config.warmup_steps) == (
        "LinearWarmupCosineDecayScheduleConfig", 5)
    assert [type(cb).__name__ for cb in value.trainer.callbacks] == [
        "CheckpointCallbackConfig", "EmaCallbackConfig", "FixedEarlyStopperConfig", "CallBackBaseConfig"]
    assert value.trainer.callbacks[1].target_factors == (1.0,) and value.trainer.callbacks[3].kind == "my.Callback"
    assert type(value.tracker).__name__ == "WandBTrackerSchema" and value.tracker.mode == "offline"
    train = value.datasets["train"]
    assert [type(w).__name__ for w in train.dataset_wrappers] == ["RepeatWrapperConfig", "SubsetWrapperConfig"]
    assert type(train.dataset_normalizers["x"]).__name__ == "MeanStdNormalizerConfig"
    assert train.dataset_normalizers["x"].std == (1.0, 2.0)
    assert [type(n).__name__ for n in train.dataset_normalizers["y"]] == ["PositionNormalizerConfig"]
    assert train.included_properties == frozenset({"x", "y"})
    assert value.model.initializers[0].checkpoint_tag == {"epoch": 3}
    assert value.dataset_statistics == {"mean": (0, 1.5)}
    assert value.slurm.nodes == 2 and value.slurm.gpus == "a100:4"


def test_a_port_range():
    """``master_port: [low, high]`` (a fixed-length tuple in a union with int) becomes a tuple of two ints."""
    assert structure({**copy.deepcopy(FULL), "master_port": [29500, 29600]}, ConfigSchema).master_port == (29500, 29600)


@pytest.mark.parametrize("tracker", [None, "disabled", "Disabled", {}])
def test_disabled_trackers(tracker):
    """``tracker: disabled`` / ``{}`` / ``null`` become ``None``."""
    assert structure({**copy.deepcopy(EXAMPLES[ConfigSchema]), "tracker": tracker}, ConfigSchema).tracker is None


def test_user_component_hook():
    """A component's declared config class is used for its section."""

    @attrs.frozen(kw_only=True)
    class WideModelConfig(ModelBaseConfig):
        """A user model config with one extra field."""

        width: int = 8
        """Hidden width."""

    data = {**EXAMPLES[ConfigSchema], "model": {"kind": "a.Model", "name": "net", "width": 32}}
    hook = lambda kind, base: WideModelConfig if kind == "a.Model" else None  # noqa: E731
    value = structure(copy.deepcopy(data), ConfigSchema, config_class_for=hook)
    assert type(value.model) is WideModelConfig and value.model.width == 32


# -------------------------------------------------------------------------------------------- bad data
def set_at(path: tuple, value: Any) -> Callable[[dict], None]:
    """A change of ``FULL`` that sets the value at ``path``."""

    def change(data: dict) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


def delete_at(path: tuple) -> Callable[[dict], None]:
    """A change of ``FULL`` that removes the key at ``path``."""

    def change(data: dict) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return change


CB = ("trainer", "callbacks")
OPT = ("model", "optimizer_config")
SCHEDULE_KINDS = ", ".join(kind for member in typing.get_args(AnyScheduleConfig)
                           for kind in typing.get_args(attrs.fields_dict(attrs.resolve_types(member))["kind"].type))
"""Every schedule kind, as an unknown kind lists them."""

BAD = {
    "float for int": (set_at(("seed",), 2.0),
        'seed: expected an integer (got float 2.0)'),
    "bool for int": (set_at(("seed",), True),
        'seed: expected an integer (got bool True)'),
    "str for bool": (set_at(("trainer", "callbacks", 0, "save_optim"), "false"),
        "trainer.callbacks[0].save_optim: expected true or false (got str 'false')"),
    "int for bool": (set_at(("debug",), 1),
        'debug: expected true or false (got int 1)'),
    "bool for float": (set_at((*OPT, "lr"), True),
        'model.optimizer_config.lr: expected a number (got bool True)'),
    "nan": (set_at((*OPT, "lr"), float("nan")),
        'model.optimizer_config.lr: must be > 0.0 (got nan)'),
    "negative lr": (set_at((*OPT, "lr"), -1),
        'model.optimizer_config.lr: must be > 0.0 (got -1.0)'),
    "empty path": (set_at(("output_path",), ""),
        "output_path: must not be empty (got '')"),
    "path is a number": (set_at(("output_path",), 3),
        'output_path: expected a path (got int 3)'),
    "unknown key": (set_at(("trainer", "max_epoch"), 3),
        "trainer.max_epoch: unknown key 'max_epoch'; did you mean 'max_epochs'?"),
    "unknown root key": (set_at(("nmae",), "x"),
        "nmae: unknown key 'nmae'; did you mean 'name'?"),
    "missing required": (delete_at(("trainer", "effective_batch_size")),
        'trainer.effective_batch_size: missing required field'),
    "missing model": (delete_at(("model",)),
        'model: missing required field'),
    "unknown kind": (set_at((*OPT, "schedule_config", "kind"), "Foo"),
        ("model.optimizer_config.schedule_config.kind: unknown kind 'Foo' (expected one of: " + SCHEDULE_KINDS + ")")),
    "kind not a string": (set_at((*OPT, "schedule_config", "kind"), 3),
        ('model.optimizer_config.schedule_config.kind: unknown kind 3 (expected one of: ' + SCHEDULE_KINDS + ")")),
    "missing kind": (delete_at(("datasets", "train", "dataset_wrappers", 0, "kind")),
        'datasets.train.dataset_wrappers[0]: missing kind; expected one of: noether.data.base.wrappers.RepeatWrapper, noether.data.base.wrappers.ShuffleWrapper, noether.data.base.wrappers.SubsetWrapper'),
    "unknown callback name": (set_at((*CB, 0, "name"), "Checkpoint"),
        "trainer.callbacks[0].name: unknown callback name 'Checkpoint' (expected one of: CheckpointCallback, BestCheckpointCallback, EmaCallback, FixedEarlyStopper, MetricEarlyStopper, OnlineLossCallback, OfflineLossCallback, BestMetricCallback, TrackAdditionalOutputsCallback, or a kind naming a callback class); did you mean 'CheckpointCallback'?"),
    "callback name and kind differ": (set_at((*CB, 0, "kind"), "noether.core.callbacks.EmaCallback"),
        "trainer.callbacks[0].name: name 'CheckpointCallback' and kind 'noether.core.callbacks.EmaCallback' name different callbacks"),
    "callback is null": (set_at((*CB, 1), None),
        'trainer.callbacks[1]: must not be null'),
    "callback is a string": (set_at((*CB, 1), "CheckpointCallback"),
        "trainer.callbacks[1]: expected a mapping with a name or kind (got str 'CheckpointCallback')"),
    "two intervals": (set_at((*CB, 0, "every_n_updates"), 3),
        'trainer.callbacks[0]: exactly one of every_n_epochs, every_n_updates, every_n_samples must be set (got every_n_epochs, every_n_updates); delete the others, e.g. ~trainer.callbacks[0].every_n_epochs on the command line'),
    "object rule": (set_at((*OPT, "schedule_config", "warmup_percent"), 0.1),
        'model.optimizer_config.schedule_config: define exactly one of warmup_steps or warmup_percent (got warmup_steps=5, warmup_percent=0.1); delete the others, e.g. ~model.optimizer_config.schedule_config.warmup_steps on the command line'),
    "bad literal": (set_at(("accelerator",), "tpu"),
        "accelerator: must be one of 'cpu', 'gpu', 'mps' (got 'tpu'); did you mean 'gpu'?"),
    "list item wrong": (set_at(("datasets", "train", "included_properties"), ["x", 1]),
        'datasets.train.included_properties[1]: expected a string (got int 1)'),
    "list is a string": (set_at(("model", "forward_properties"), "x"),
        "model.forward_properties: expected a list (got str 'x')"),
    "dict key not a string": (set_at(("dataset_statistics",), {1: [0.0]}),
        'dataset_statistics[1]: keys must be strings (got int 1)'),
    "untagged union wrong": (set_at(("slurm", "nodes"), 1.5),
        'slurm.nodes: expected an integer or a string (got float 1.5)'),
    "tracker word": (set_at(("tracker",), "tensorboard"),
        "tracker: expected a mapping with a kind (got str 'tensorboard')"),
    "mapping is a list": (set_at(("slurm",), []),
        'slurm: expected a mapping (got a list)'),
    "two problems": (lambda d: (set_at(("seed",), "1")(d), set_at((*CB, 2, "stop_at_epoch"), 0)(d)),
        "seed: expected an integer (got str '1')\ntrainer.callbacks[2].stop_at_epoch: must be a positive integer (got 0)"),
    "optimizer extra key and bad field": (set_at((*OPT, "weight_decay"), "high"),
        "model.optimizer_config.weight_decay: expected a number (got str 'high')"),
    "port range reversed": (set_at(("master_port",), [29600, 29500]),
        'master_port: must be a port in [1, 65535] or a range [low, high] of them with low <= high (got [29600, 29500])'),
    "port range of three": (set_at(("master_port",), [1, 2, 3]),
        'master_port: expected a list of 2 items, each an integer (got a list of 3)'),
    "port range item wrong": (set_at(("master_port",), [1, "2"]),
        "master_port[1]: expected an integer (got str '2')"),
}


@pytest.mark.parametrize(("change", "expected"), list(BAD.values()), ids=list(BAD))
def test_bad_inputs_give_exact_errors(change, expected):
    """A wrong input is rejected with exactly these lines, one per problem, and the input is left as it was."""
    data = copy.deepcopy(FULL)
    change(data)
    before = copy.deepcopy(data)
    with pytest.raises(ConfigError) as info:
        structure(data, ConfigSchema)
    assert str(info.value) == expected
    assert data == before


@pytest.mark.parametrize("cls", [cls for cls in EXAMPLES if cls is not OptimizerConfig], ids=lambda cls: cls.__name__)
def test_unknown_key_in_every_example(cls):
    """An unknown key is one line at the key, for every config class (an optimizer takes it as an argument)."""
    with pytest.raises(ConfigError) as info:
        structure({**EXAMPLES[cls], "unknown_key": 1}, cls)
    assert str(info.value) == "unknown_key: unknown key 'unknown_key'"


def test_unknown_key_of_an_optimizer_is_an_argument():
    """An optimizer config folds unknown keys into ``optimizer_kwargs`` (checked against the class later)."""
    assert structure({**EXAMPLES[OptimizerConfig], "unknown_key": [1]}, OptimizerConfig).optimizer_kwargs == {"unknown_key": (1,)}


@pytest.mark.parametrize("cls", [OptimizerConfig, SlurmConfig, ConfigSchema], ids=lambda cls: cls.__name__)
def test_non_mapping(cls):
    """A list where an object goes is one line at the root."""
    with pytest.raises(ConfigError) as info:
        structure([1], cls)
    assert str(info.value) == "<root>: expected a mapping (got a list)"
