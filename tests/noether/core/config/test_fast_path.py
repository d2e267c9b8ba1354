"""The converter's generated fast path gives exactly what the slow path (the specification) gives."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from noether.core.config import ConfigError, compose, load_config, structure
from noether.core.config import _fast
from noether.core.schemas import ConfigSchema, ModelBaseConfig, OptimizerConfig, SlurmConfig
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


def slow(data: Any, cls: type, **options: Any) -> Any:
    """Structure with the converter's hooks alone."""
    with _fast.slow_path_only():
        return structure(copy.deepcopy(data), cls, **options)


def outcome(call: Callable[[], Any]) -> Any:
    """The structured value's typed form, or the rendered error and its issues."""
    try:
        return typed(call())
    except ConfigError as exc:
        return ("error", str(exc), exc.issues)


def tutorial_data(overrides: list[str]) -> dict:
    """The composed tutorial config as ``load_config`` structures it (helper root keys dropped)."""
    data = compose(TUTORIAL, overrides)
    fields = {field.name for field in attrs.fields(ConfigSchema)}
    return {key: value for key, value in data.items() if key in fields}


# ------------------------------------------------------------------------------------------ valid data
@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_fast_path_accepts_every_example_and_agrees(cls):
    """Every example config is structured by the generated function alone, to the slow path's exact value."""
    fast = _fast.structure_fn(cls)
    assert fast is not None
    data = copy.deepcopy(EXAMPLES[cls])
    assert typed(fast(data)) == typed(slow(data, cls))
    assert data == EXAMPLES[cls]  # the input is left as it was


@pytest.mark.parametrize("overrides", TUTORIAL_CHOICES, ids=" ".join)
def test_fast_path_accepts_the_tutorial_configs_and_agrees(overrides):
    """The composed tutorial configs structure on the fast path to the slow path's value, and load the same."""
    data = tutorial_data(overrides)
    assert typed(_fast.structure_fn(ConfigSchema)(copy.deepcopy(data))) == typed(slow(data, ConfigSchema))
    with _fast.slow_path_only():
        expected = load_config(TUTORIAL, overrides)
    assert typed(load_config(TUTORIAL, overrides)) == typed(expected)


def test_fast_path_accepts_a_config_with_every_kind_of_field():
    """Unions of each sort, ints where floats go, tuples as input, callbacks by name, kind and user kind."""
    value = _fast.structure_fn(ConfigSchema)(copy.deepcopy(FULL))
    assert typed(value) == typed(slow(FULL, ConfigSchema))
    assert value.model.optimizer_config.lr == 1.0 and type(value.model.optimizer_config.lr) is float
    assert value.model.optimizer_config.optimizer_kwargs == {"betas": (0.9, 0.99)}
    assert value.slurm.nodes == 2 and value.slurm.gpus == "a100:4"


def test_fast_path_agrees_on_a_port_range():
    """``master_port: [low, high]`` (a fixed-length tuple in a union with int) comes out the same either way."""
    data = {**FULL, "master_port": [29500, 29600]}
    assert typed(structure(copy.deepcopy(data), ConfigSchema)) == typed(slow(data, ConfigSchema))
    assert structure(copy.deepcopy(data), ConfigSchema).master_port == (29500, 29600)


@pytest.mark.parametrize("tracker", [None, "disabled", "Disabled", {}])
def test_disabled_trackers_agree(tracker):
    """``tracker: disabled`` / ``{}`` / ``null`` become ``None`` on both paths."""
    data = {**EXAMPLES[ConfigSchema], "tracker": tracker}
    assert _fast.structure_fn(ConfigSchema)(copy.deepcopy(data)).tracker is None
    assert slow(data, ConfigSchema).tracker is None


def test_user_component_hook_agrees():
    """A component's declared config class is used on both paths (the fast path asks the same hook)."""

    @attrs.frozen(kw_only=True)
    class WideModelConfig(ModelBaseConfig):
        """A user model config with one extra field."""

        width: int = 8
        """Hidden width."""

    data = {**EXAMPLES[ConfigSchema], "model": {"kind": "a.Model", "name": "net", "width": 32}}
    hook = lambda kind, base: WideModelConfig if kind == "a.Model" else None  # noqa: E731
    fast = structure(copy.deepcopy(data), ConfigSchema, config_class_for=hook)
    assert typed(fast) == typed(slow(data, ConfigSchema, config_class_for=hook))
    assert type(fast.model) is WideModelConfig and fast.model.width == 32


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
BAD = {
    "float for int": set_at(("seed",), 2.0),
    "bool for int": set_at(("seed",), True),
    "str for bool": set_at(("trainer", "callbacks", 0, "save_optim"), "false"),
    "int for bool": set_at(("debug",), 1),
    "bool for float": set_at((*OPT, "lr"), True),
    "nan": set_at((*OPT, "lr"), float("nan")),
    "negative lr": set_at((*OPT, "lr"), -1),
    "empty path": set_at(("output_path",), ""),
    "path is a number": set_at(("output_path",), 3),
    "unknown key": set_at(("trainer", "max_epoch"), 3),
    "unknown root key": set_at(("nmae",), "x"),
    "missing required": delete_at(("trainer", "effective_batch_size")),
    "missing model": delete_at(("model",)),
    "unknown kind": set_at((*OPT, "schedule_config", "kind"), "Foo"),
    "kind not a string": set_at((*OPT, "schedule_config", "kind"), 3),
    "missing kind": delete_at(("datasets", "train", "dataset_wrappers", 0, "kind")),
    "unknown callback name": set_at((*CB, 0, "name"), "Checkpoint"),
    "callback name and kind differ": set_at((*CB, 0, "kind"), "noether.core.callbacks.EmaCallback"),
    "callback is null": set_at((*CB, 1), None),
    "callback is a string": set_at((*CB, 1), "CheckpointCallback"),
    "two intervals": set_at((*CB, 0, "every_n_updates"), 3),
    "object rule": set_at((*OPT, "schedule_config", "warmup_percent"), 0.1),
    "bad literal": set_at(("accelerator",), "tpu"),
    "list item wrong": set_at(("datasets", "train", "included_properties"), ["x", 1]),
    "list is a string": set_at(("model", "forward_properties"), "x"),
    "dict key not a string": set_at(("dataset_statistics",), {1: [0.0]}),
    "untagged union wrong": set_at(("slurm", "nodes"), 1.5),
    "tracker word": set_at(("tracker",), "tensorboard"),
    "mapping is a list": set_at(("slurm",), []),
    "two problems": lambda d: (set_at(("seed",), "1")(d), set_at((*CB, 2, "stop_at_epoch"), 0)(d)),
    "optimizer extra key and bad field": set_at((*OPT, "weight_decay"), "high"),
    "port range reversed": set_at(("master_port",), [29600, 29500]),
    "port range of three": set_at(("master_port",), [1, 2, 3]),
    "port range item wrong": set_at(("master_port",), [1, "2"]),
}


@pytest.mark.parametrize("change", list(BAD.values()), ids=list(BAD))
def test_bad_inputs_give_identical_errors(change):
    """A wrong input is rejected with exactly the slow path's error lines and issues."""
    data = copy.deepcopy(FULL)
    change(data)
    expected = outcome(lambda: slow(data, ConfigSchema))
    assert expected[0] == "error"
    assert outcome(lambda: structure(copy.deepcopy(data), ConfigSchema)) == expected
    with pytest.raises(Exception):  # noqa: B017, PT011 - the generated function declines; its error is never shown
        _fast.structure_fn(ConfigSchema)(copy.deepcopy(data))


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_unknown_key_in_every_example_gives_identical_errors(cls):
    """An unknown key is reported the same way on both paths, for every config class."""
    data = {**EXAMPLES[cls], "unknown_key": 1}
    assert outcome(lambda: structure(copy.deepcopy(data), cls)) == outcome(lambda: slow(data, cls))


@pytest.mark.parametrize("cls", [OptimizerConfig, SlurmConfig, ConfigSchema], ids=lambda cls: cls.__name__)
def test_non_mapping_gives_identical_errors(cls):
    """A list where an object goes is reported the same way on both paths."""
    assert outcome(lambda: structure([1], cls)) == outcome(lambda: slow([1], cls))
