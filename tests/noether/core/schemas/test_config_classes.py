"""Tests for the config classes of ``noether.core.schemas`` as a whole: every exported attrs class is
structured from YAML, round-trips exactly, is frozen, keyword-only and documented; tagged unions dispatch
on their tag; scalars are strict; unknown keys are reported with a suggestion."""

from __future__ import annotations

import ast
import inspect
import io
import textwrap
import typing
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from ruamel.yaml import YAML

import noether.core.schemas as schemas
from noether.core.config import ConfigError, structure, to_yaml, unstructure
from noether.core.schemas import (
    AnyInitializer,
    AnyNormalizer,
    AnyScheduleConfig,
    AnyTracker,
    BaseTrainerConfig,
    CallBackBaseConfig,
    CallbacksConfig,
    ConfigSchema,
    ConstantScheduleConfig,
    DatasetBaseConfig,
    DatasetWrapperConfig,
    DatasetWrappers,
    NormalizerConfig,
    OptimizerConfig,
    PeriodicBoolScheduleConfig,
    SlurmConfig,
    TensorboardTrackerSchema,
)
from noether.core.schemas.callbacks import DEFAULT_CALLBACKS

CONFIG_CLASSES: tuple[type, ...] = tuple(
    obj for obj in (getattr(schemas, name) for name in schemas.__all__) if isinstance(obj, type) and attrs.has(obj)
)
"""Every attrs config class that ``noether.core.schemas`` exports, in ``__all__`` order."""

by_class = pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda cls: cls.__name__)

TAGGED_UNIONS = {
    "AnyScheduleConfig": AnyScheduleConfig,
    "AnyInitializer": AnyInitializer,
    "AnyTracker": AnyTracker,
    "AnyNormalizer": AnyNormalizer,
    "DatasetWrappers": DatasetWrappers,
}
"""The unions discriminated by ``kind``."""

OPEN_UNIONS = {"AnyNormalizer": (AnyNormalizer, NormalizerConfig, "normalizer"),
               "DatasetWrappers": (DatasetWrappers, DatasetWrapperConfig, "dataset wrapper")}
"""The unions whose member with a plain ``str`` kind takes any class path of the user's: union, member, what."""
OPEN_MEMBERS = {member for _, member, _ in OPEN_UNIONS.values()}

UNION_MEMBERS = [(name, member) for name, union in TAGGED_UNIONS.items() for member in typing.get_args(union)]

BUILTIN_CALLBACKS = [cls for cls in typing.get_args(CallbacksConfig) if cls is not CallBackBaseConfig]
"""The built-in callback config classes (selected by ``name`` or a Noether kind string)."""


# ------------------------------------------------------------------------------------------- helpers
def yaml_text(data: Any) -> str:
    """Write plain data as block-style YAML text."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def load_yaml(text: str) -> Any:
    """Read YAML text the way configs are read (the safe loader)."""
    return YAML(typ="safe").load(text)


def error_text(data: Any, cls: Any) -> str:
    """The rendered ``ConfigError`` of structuring ``data`` as ``cls``."""
    with pytest.raises(ConfigError) as info:
        structure(data, cls)
    return str(info.value)


def kind_of(cls: type) -> str:
    """The single ``kind`` literal of a tagged config class."""
    (kind,) = typing.get_args(attrs.fields_dict(attrs.resolve_types(cls))["kind"].type)
    return kind


def tagged(member: type, example: Callable[[type], dict]) -> dict:
    """A member's example with its ``kind`` literal (the example of an open member carries its own kind)."""
    return example(member) if member in OPEN_MEMBERS else {"kind": kind_of(member), **example(member)}


def field_docstrings(cls: type) -> dict[str, str]:
    """The attribute docstrings of the fields declared in ``cls``'s own body (``""`` when missing)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    (class_def,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    body = class_def.body
    docs = {}
    for statement, following in zip(body, [*body[1:], None]):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            is_doc = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            docs[statement.target.id] = following.value.value if is_doc else ""
    return docs


def child(obj: Any, key: Any) -> Any:
    """The part of a structured object that a key of its source mapping became."""
    if isinstance(obj, OptimizerConfig) and key not in attrs.fields_dict(OptimizerConfig):
        return obj.optimizer_kwargs[key]
    if attrs.has(type(obj)):
        return getattr(obj, key)
    return obj[key]


def assert_lists_became_tuples(data: Any, obj: Any, path: str = "") -> None:
    """Walk the source data beside the structured object: every list must have become a tuple."""
    if isinstance(data, dict):
        for key, item in data.items():
            assert_lists_became_tuples(item, child(obj, key), f"{path}.{key}")
    elif isinstance(data, list):
        assert type(obj) is tuple, f"{path} is {type(obj).__name__}, not tuple"
        for index, (item, part) in enumerate(zip(data, obj, strict=True)):
            assert_lists_became_tuples(item, part, f"{path}[{index}]")


def assert_no_lists(obj: Any, path: str = "") -> None:
    """No list is left anywhere inside a structured config object."""
    assert not isinstance(obj, list), f"{path} is a list"
    if attrs.has(type(obj)):
        for field in attrs.fields(type(obj)):
            assert_no_lists(getattr(obj, field.name), f"{path}.{field.name}")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            assert_no_lists(item, f"{path}.{key}")
    elif isinstance(obj, (tuple, frozenset)):
        for index, item in enumerate(obj):
            assert_no_lists(item, f"{path}[{index}]")


# ------------------------------------------------------------------------------------ the class list
def test_every_exported_class_is_collected():
    """The automatic class list holds the exported attrs classes and nothing else (aliases are skipped)."""
    assert ConfigSchema in CONFIG_CLASSES and OptimizerConfig in CONFIG_CLASSES
    assert AnyScheduleConfig not in CONFIG_CLASSES and CallbacksConfig not in CONFIG_CLASSES
    assert len(CONFIG_CLASSES) == len(set(CONFIG_CLASSES))


def test_every_exported_class_has_an_example(examples):
    """Each config class of ``__all__`` has a minimal example in conftest, and no example is stale."""
    missing = [cls.__name__ for cls in CONFIG_CLASSES if cls not in examples]
    stale = [cls.__name__ for cls in examples if cls not in CONFIG_CLASSES]
    assert (missing, stale) == ([], [])


# ------------------------------------------------------------------------------------ per class
@by_class
def test_builds_from_yaml_text(cls, example):
    """The example, written as YAML text and read back with the safe loader, structures into ``cls``."""
    text = yaml_text(example(cls))
    config = structure(load_yaml(text), cls)
    assert type(config) is cls
    assert config == structure(example(cls), cls)


@by_class
def test_unstructure_round_trip(cls, example):
    """``structure(unstructure(x), cls) == x`` for the example."""
    config = structure(example(cls), cls)
    assert structure(unstructure(config), cls) == config


@by_class
def test_to_yaml_round_trip(cls, example):
    """``to_yaml`` writes YAML that the safe loader and ``structure`` turn back into an equal object."""
    config = structure(example(cls), cls)
    assert structure(load_yaml(to_yaml(config)), cls) == config


@by_class
def test_is_frozen(cls, example):
    """Assigning any field of a config object raises ``FrozenInstanceError``."""
    config = structure(example(cls), cls)
    for field in attrs.fields(cls):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(config, field.name, getattr(config, field.name))


@by_class
def test_is_keyword_only(cls, example):
    """Every field is keyword-only, so positional construction raises ``TypeError``."""
    config = structure(example(cls), cls)
    assert [field.name for field in attrs.fields(cls) if not field.kw_only] == []
    with pytest.raises(TypeError):
        cls(*(getattr(config, field.name) for field in attrs.fields(cls)))


@by_class
def test_is_documented(cls):
    """The class has its own docstring and every field an attribute docstring where it is (re)declared."""
    assert (cls.__dict__.get("__doc__") or "").strip(), f"{cls.__name__} has no docstring"
    declared = [(klass, field_docstrings(klass)) for klass in cls.__mro__ if attrs.has(klass)]
    undocumented = []
    for field in attrs.fields(cls):
        owner, docs = next((klass, docs) for klass, docs in declared if field.name in docs)
        if not docs[field.name].strip():
            undocumented.append(f"{owner.__name__}.{field.name}")
    assert undocumented == []


@by_class
def test_lists_become_tuples(cls, example):
    """Every list of the example comes back as a tuple, and no list is left anywhere in the object."""
    data = example(cls)
    config = structure(data, cls)
    assert_lists_became_tuples(data, config)
    assert_no_lists(config)


# ------------------------------------------------------------------------------------ tagged unions
@pytest.mark.parametrize(("union", "member"), UNION_MEMBERS, ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_union_dispatches_on_kind(union, member, example):
    """A mapping with a member's ``kind`` literal structures, against its union, into that member."""
    config = structure(tagged(member, example), TAGGED_UNIONS[union])
    assert type(config) is member
    assert config == structure(example(member), member)


@pytest.mark.parametrize("union", [name for name in TAGGED_UNIONS if name not in OPEN_UNIONS])
def test_union_rejects_unknown_kind(union):
    """An unknown ``kind`` gives one issue at ``kind`` that lists every allowed kind."""
    kinds = ", ".join(kind_of(member) for member in typing.get_args(TAGGED_UNIONS[union]))
    with pytest.raises(ConfigError) as info:
        structure({"kind": "my_project.Unknown"}, TAGGED_UNIONS[union])
    (issue,) = info.value.issues
    assert issue.message.startswith("unknown kind")
    assert str(info.value) == f"kind: unknown kind 'my_project.Unknown' (expected one of: {kinds})"


@pytest.mark.parametrize("union", OPEN_UNIONS)
def test_open_union_takes_a_class_path_of_your_own(union):
    """Normalizers and wrappers accept any dotted class path outside Noether's module, as Noether does: the
    member with a plain ``str`` kind (the engine imports the class and checks its base)."""
    tp, member, _ = OPEN_UNIONS[union]
    config = structure({"kind": "my_project.data.Mine"}, tp)
    assert (type(config), config.kind) == (member, "my_project.data.Mine")


@pytest.mark.parametrize("union", OPEN_UNIONS)
@pytest.mark.parametrize("kind", ["Mine", "noether.data.Q", ""])
def test_open_union_rejects_kinds_that_are_no_class_path_of_your_own(union, kind):
    """A kind without a dot, or one in Noether's own modules that is no built-in kind, is one issue at ``kind``
    listing the built-in kinds; nothing else of the mapping is reported."""
    tp, _, what = OPEN_UNIONS[union]
    builtins = ", ".join(repr(kind_of(m)) for m in typing.get_args(tp) if m not in OPEN_MEMBERS)
    if kind == "noether.data.Q":
        kind = kind_of(typing.get_args(tp)[0]).rpartition(".")[0] + ".Q"  # in Noether's module of the built-ins
    assert error_text({"kind": kind, "unknown": 1}, tp) == (
        f"kind: must be one of {builtins}, or the class path of a {what} of your own (got {kind!r})")


@pytest.mark.parametrize("union", OPEN_UNIONS)
def test_open_union_suggests_the_builtin_kind(union):
    """A misspelt built-in kind, or a built-in class name alone, gets the full built-in kind suggested."""
    tp, _, _ = OPEN_UNIONS[union]
    first = kind_of(typing.get_args(tp)[0])
    for wrong in (first[:-1], first.rpartition(".")[2]):
        assert error_text({"kind": wrong}, tp).endswith(f"(got {wrong!r}); did you mean {first!r}?")


def test_union_suggests_close_kind():
    """A Noether module-qualified schedule kind is rejected with the accepted spelling suggested."""
    message = error_text({"kind": "noether.core.schedules.cosine.CosineDecreasingSchedule"}, AnyScheduleConfig)
    assert message.startswith("kind: unknown kind 'noether.core.schedules.cosine.CosineDecreasingSchedule'")
    assert message.endswith("; did you mean 'noether.core.schedules.CosineDecreasingSchedule'?")


@pytest.mark.parametrize("member", typing.get_args(AnyNormalizer), ids=lambda cls: cls.__name__)
def test_dataset_accepts_a_single_normalizer_of_every_kind(member, example):
    """A dataset's per-source normalizer may be one mapping instead of a list, of any normalizer kind."""
    normalizer = tagged(member, example)
    config = structure({"kind": "my_project.data.Dataset", "dataset_normalizers": {"x": normalizer}}, DatasetBaseConfig)
    assert config.dataset_normalizers == {"x": structure(example(member), member)}


def test_dataset_single_normalizer_with_unknown_kind_lists_the_kinds():
    """A single per-source normalizer with a wrong built-in ``kind`` gives one issue at its kind."""
    kinds = ", ".join(repr(kind_of(member)) for member in typing.get_args(AnyNormalizer) if member not in OPEN_MEMBERS)
    wrong = "noether.data.preprocessors.normalizers.MeanStdNormalisation"
    data = {"kind": "my_project.data.Dataset", "dataset_normalizers": {"x": {"kind": wrong, "mean": 0.0}}}
    assert error_text(data, DatasetBaseConfig) == (
        f"dataset_normalizers.x.kind: must be one of {kinds}, or the class path of a normalizer of your own (got {wrong!r}); "
        "did you mean 'noether.data.preprocessors.normalizers.MeanStdNormalization'?"
    )


# ----------------------------------------------------------------------------------------- callbacks
@pytest.mark.parametrize("cls", BUILTIN_CALLBACKS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("tag", ["name", "noether.core.callbacks", "noether.training.callbacks"])
def test_builtin_callback_dispatch(cls, tag, example):
    """A built-in callback is chosen by its ``name`` or by Noether's kind string in either module."""
    name = attrs.fields_dict(cls)["name"].default
    data = {"name": name} if tag == "name" else {"kind": f"{tag}.{name}"}
    config = structure({**data, **example(cls)}, CallbacksConfig)
    assert type(config) is cls
    assert config.name == name


def test_user_callback_is_the_base_config():
    """A callback named only by a user ``kind`` structures into a plain ``CallBackBaseConfig``."""
    config = structure({"kind": "my.Callback", "every_n_epochs": 1}, CallbacksConfig)
    assert type(config) is CallBackBaseConfig
    assert config == CallBackBaseConfig(kind="my.Callback", every_n_epochs=1)


def test_trainer_callbacks_dispatch_in_a_list(example):
    """The trainer's callback list dispatches each entry on its own and keeps the order."""
    callbacks = [
        {"name": "CheckpointCallback", "every_n_epochs": 1},
        {"kind": "noether.training.callbacks.OfflineLossCallback", "every_n_epochs": 1, "dataset_key": "val"},
        {"kind": "my.Callback", "every_n_updates": 10},
    ]
    trainer = structure({**example(BaseTrainerConfig), "callbacks": callbacks}, BaseTrainerConfig)
    assert [type(cb).__name__ for cb in trainer.callbacks] == [
        "CheckpointCallbackConfig",
        "OfflineLossCallbackConfig",
        "CallBackBaseConfig",
    ]


def test_unknown_callback_name_lists_the_names():
    """An unknown callback ``name`` without a ``kind`` is one issue naming the built-in callbacks."""
    assert error_text({"name": "Checkpoint", "every_n_epochs": 1}, CallbacksConfig) == (
        "name: unknown callback name 'Checkpoint' (expected one of: CheckpointCallback, BestCheckpointCallback, "
        "EmaCallback, FixedEarlyStopper, MetricEarlyStopper, OnlineLossCallback, OfflineLossCallback, "
        "BestMetricCallback, TrackAdditionalOutputsCallback, or a kind naming a callback class); "
        "did you mean 'CheckpointCallback'?"
    )


BUILT_IN = ("CheckpointCallback, BestCheckpointCallback, EmaCallback, FixedEarlyStopper, MetricEarlyStopper, "
            "OnlineLossCallback, OfflineLossCallback, BestMetricCallback, TrackAdditionalOutputsCallback")


@pytest.mark.parametrize(("kind", "expected"), [
    ("noether.core.callbacks.CheckpointCallbak",
     f"kind: unknown built-in callback kind 'noether.core.callbacks.CheckpointCallbak' (built-in: {BUILT_IN}; a "
     "callback of your own has its own class path as kind); did you mean 'noether.core.callbacks.CheckpointCallback'?"),
    ("noether.training.callbacks.Plotter",
     f"kind: unknown built-in callback kind 'noether.training.callbacks.Plotter' (built-in: {BUILT_IN}; a callback "
     "of your own has its own class path as kind)"),
    *[(f"noether.core.callbacks.{name}",
       f"kind: 'noether.core.callbacks.{name}' is one of the default callbacks that every trainer adds itself (with "
       "the log and track intervals): remove it from the list") for name in DEFAULT_CALLBACKS],
])
def test_a_kind_under_noethers_callback_modules_must_be_built_in(kind, expected):
    """Under ``noether.core.callbacks.`` / ``noether.training.callbacks.`` a kind is a built-in callback: a
    misspelling is a config error with a suggestion, not a user callback the engine later fails to import, and
    Noether's default callbacks are not listed."""
    assert error_text({"kind": kind, "every_n_epochs": 1}, CallbacksConfig) == expected


# ----------------------------------------------------------------------------------- strict scalars
TRAINER = {"kind": "my_project.trainers.Trainer", "effective_batch_size": 32}


@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (BaseTrainerConfig, {**TRAINER, "max_epochs": "3"}, "max_epochs: expected an integer (got str '3')"),
        (BaseTrainerConfig, {**TRAINER, "max_epochs": 2.5}, "max_epochs: expected an integer (got float 2.5)"),
        (BaseTrainerConfig, {**TRAINER, "max_epochs": 2.0}, "max_epochs: expected an integer (got float 2.0)"),
        (BaseTrainerConfig, {**TRAINER, "max_epochs": True}, "max_epochs: expected an integer (got bool True)"),
        (PeriodicBoolScheduleConfig, {"initial_state": "false"}, "initial_state: expected true or false (got str 'false')"),
        (PeriodicBoolScheduleConfig, {"initial_state": 1}, "initial_state: expected true or false (got int 1)"),
        (ConstantScheduleConfig, {"value": "0.5"}, "value: expected a number (got str '0.5')"),
        (ConstantScheduleConfig, {"value": True}, "value: expected a number (got bool True)"),
        (BaseTrainerConfig, {**TRAINER, "max_epochs": 1, "kind": 3}, "kind: expected a string (got int 3)"),
        (SlurmConfig, {"time": 30}, "time: expected a string (got int 30)"),
    ],
    ids=["str-for-int", "float-for-int", "integral-float-for-int", "bool-for-int", "str-for-bool",
         "int-for-bool", "str-for-float", "bool-for-float", "int-for-str", "yaml-int-for-str"],
)
def test_scalars_are_strict(cls, data, expected):
    """No scalar is coerced: a wrong scalar type is one issue naming the expected type and the value."""
    assert error_text(data, cls) == expected


def test_int_is_accepted_for_float():
    """An integer where a float is expected is accepted and stored as a float."""
    config = structure({"value": 1}, ConstantScheduleConfig)
    assert config.value == 1.0 and type(config.value) is float
    assert type(structure({"kind": "torch.optim.SGD", "lr": 1}, OptimizerConfig).lr) is float


# ------------------------------------------------------------------------------------- unknown keys
@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (CallBackBaseConfig, {"kind": "my.Callback", "every_n_epochs": 1, "evry_n_epochs": 2},
         "evry_n_epochs: unknown key 'evry_n_epochs'; did you mean 'every_n_epochs'?"),
        (BaseTrainerConfig, {**TRAINER, "max_epochs": 1, "precison": "fp16"},
         "precison: unknown key 'precison'; did you mean 'precision'?"),
        (SlurmConfig, {"xyz": 1}, "xyz: unknown key 'xyz'"),
    ],
    ids=["callback", "trainer", "no-close-match"],
)
def test_unknown_key_suggests_the_field(cls, data, expected):
    """An unknown key is an issue at that key, with the closest field suggested when there is one."""
    assert error_text(data, cls) == expected


def test_unknown_key_path_is_nested(example):
    """An unknown key deep in the tree is reported with its full path."""
    data = example(ConfigSchema)
    data["trainer"]["callbacks"] = [{"name": "CheckpointCallback", "every_n_epochs": 1, "save_weigths": False}]
    assert error_text(data, ConfigSchema) == (
        "trainer.callbacks[0].save_weigths: unknown key 'save_weigths'; did you mean 'save_weights'?"
    )


# ----------------------------------------------------------------------------------------- tracker
@pytest.mark.parametrize("tracker", ["disabled", "DISABLED", "Disabled", {}, None], ids=repr)
def test_disabled_tracker_is_none(tracker, example):
    """``tracker: disabled`` (any case), ``{}`` and ``null`` turn tracking off: the field is ``None``."""
    assert structure({**example(ConfigSchema), "tracker": tracker}, ConfigSchema).tracker is None


def test_absent_tracker_is_tensorboard(example):
    """Without a ``tracker`` key the run tracks to TensorBoard with its defaults."""
    assert structure(example(ConfigSchema), ConfigSchema).tracker == TensorboardTrackerSchema()


def test_disabled_tracker_round_trips(example):
    """A disabled tracker stays disabled through ``to_yaml`` and back."""
    config = structure({**example(ConfigSchema), "tracker": "disabled"}, ConfigSchema)
    assert structure(load_yaml(to_yaml(config)), ConfigSchema).tracker is None


# --------------------------------------------------------------------------------------- optimizer
def test_unknown_optimizer_keys_become_optimizer_kwargs():
    """Keys an optimizer config does not declare are the optimizer's own keyword arguments, lists as tuples."""
    data = {"kind": "torch.optim.AdamW", "lr": 0.001, "betas": [0.9, 0.95], "eps": 1e-8}
    config = structure(data, OptimizerConfig)
    assert config.optimizer_kwargs == {"betas": (0.9, 0.95), "eps": 1e-8}
    assert config.torch_optimizer_kwargs() == {"lr": 0.001, "weight_decay": 0.0, "betas": (0.9, 0.95), "eps": 1e-8}


def test_optimizer_kwargs_unstructure_to_top_level_keys():
    """``unstructure`` writes the optimizer kwargs back as top-level keys, with no ``optimizer_kwargs`` key."""
    config = structure({"kind": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9, "nesterov": True}, OptimizerConfig)
    data = unstructure(config)
    assert "optimizer_kwargs" not in data
    assert (data["momentum"], data["nesterov"]) == (0.9, True)
    assert structure(load_yaml(to_yaml(config)), OptimizerConfig) == config
