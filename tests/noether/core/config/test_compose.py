"""Composition (defaults lists, groups, packages), overrides and interpolation of YAML configs."""

from __future__ import annotations

import pathlib
import textwrap

import pytest

from noether.core.config import ConfigError, compose, load_config

TUTORIAL = pathlib.Path(__file__).parent / "data" / "tutorial" / "train.yaml"


def write(directory: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """Write a config tree and return the path of its first file."""
    for name, text in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return directory / next(iter(files))


def error_lines(excinfo: pytest.ExceptionInfo) -> list[str]:
    """The rendered lines of a ConfigError, with the test's temporary directory removed."""
    return str(excinfo.value).splitlines()


# ------------------------------------------------------------------------------------- tutorial tree
def test_tutorial_tree_requires_the_mandatory_model_group():
    """A `???` group in the defaults list must be chosen, and the error lists the options."""
    with pytest.raises(ConfigError) as excinfo:
        load_config(TUTORIAL)
    assert error_lines(excinfo) == [
        f"model: you must choose a model config: add model=<option> (available: transformer, upt)  [{TUTORIAL}:9:5]"
    ]


def test_tutorial_experiment_overrides_groups_and_values():
    """`+experiment/shapenet=upt` (package _global_) overrides the model and optimizer groups and a trainer value."""
    config = load_config(TUTORIAL, ["+experiment/shapenet=upt"])
    assert config.name == "shapenet-car-upt"
    assert config.model.name == "upt"
    assert config.model.optimizer_config.kind == "torch.optim.SGD"
    assert config.model.optimizer_config.optimizer_kwargs == {"momentum": 0.9}
    assert config.trainer.precision == "float16"
    assert config.trainer.forward_properties == ("surface_position", "volume_position")
    assert [type(c).__name__ for c in config.trainer.callbacks] == [
        "CheckpointCallbackConfig",
        "OfflineLossCallbackConfig",
        "BestCheckpointCallbackConfig",
        "EmaCallbackConfig",
    ]
    assert config.trainer.callbacks[2].every_n_epochs == 10
    assert config.datasets["test"].excluded_properties == frozenset({"surface_friction"})
    assert config.slurm.to_srun_args() == "--job-name=shapenet --partition=gpu --nodes=1 --mem=64G --gpus-per-node=a100:4 --time=12:00:00"


def test_tutorial_group_choice_and_value_override_on_the_command_line():
    """A group chosen on the command line and a dotted override both apply, and interpolations see the new value."""
    config = load_config(TUTORIAL, ["model=transformer", "trainer.max_epochs=3"])
    assert config.model.name == "transformer"
    assert config.trainer.callbacks[2].every_n_epochs == 3
    assert config.model.optimizer_config.schedule_config.max_value == 5.0e-4


def test_compose_gives_the_plain_hydra_dict():
    """`compose` keeps helper root keys, resolves interpolations and drops the defaults lists."""
    data = compose(TUTORIAL, ["model=upt"])
    assert "defaults" not in data
    assert data["dataset_root"] == "/data/shapenet"
    assert data["model"]["optimizer_config"] == data["optimizer"]
    assert data["trainer"]["callbacks"] == data["callbacks"]
    assert data["datasets"]["train"] == {"kind": "tutorial.datasets.ShapeNetCarDataset", "excluded_properties": ["surface_friction"]}


def test_unknown_group_option_lists_the_available_ones(tmp_path):
    """Choosing an option that does not exist names the group and the options, with a suggestion."""
    with pytest.raises(ConfigError) as excinfo:
        load_config(TUTORIAL, ["model=upt", "optimizer=adam"])
    assert error_lines(excinfo) == [
        "optimizer: no config 'adam' in group 'optimizer' (available: adamw, sgd); did you mean 'adamw'?  "
        "[override 2 'optimizer=adam']"
    ]


def test_a_group_without_files_says_where_it_looked(tmp_path):
    """A config copied away from its group files: the error names the directory the group's files belong in."""
    path = tmp_path / "train.yaml"
    path.write_text("defaults:\n  - optimizer: adamw\n  - _self_\nvalue: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert error_lines(excinfo) == [
        f"optimizer: no config 'adamw' in group 'optimizer' (available: none: no optimizer/*.yaml next to the "
        f"config, in {tmp_path}/optimizer)  [{path}:2:5]"
    ]


# ---------------------------------------------------------------------------------------- _self_
@pytest.mark.parametrize(("self_first", "expected"), [(True, 5), (False, 1)])
def test_self_position_decides_who_wins(tmp_path, self_first, expected):
    """With `_self_` first the group's value wins; without it (implicitly last) the primary's value wins."""
    defaults = "  - _self_\n  - part: a\n" if self_first else "  - part: a\n"
    main = write(tmp_path, {"main.yaml": f"defaults:\n{defaults}part:\n  x: 1\n", "part/a.yaml": "x: 5\ny: 2\n"})
    assert compose(main) == {"part": {"x": expected, "y": 2}}


def test_package_header_and_entry_package(tmp_path):
    """`# @package` headers and `group@package` entries place a group's content."""
    main = write(
        tmp_path,
        {
            "main.yaml": "defaults:\n  - a: one\n  - b@target.here: two\n",
            "a/one.yaml": "# @package _global_\ntop: 1\n",
            "b/two.yaml": "inner: 2\n",
        },
    )
    assert compose(main) == {"top": 1, "target": {"here": {"inner": 2}}}


def test_plain_config_name_in_defaults_merges_at_the_root(tmp_path):
    """A bare name in the defaults list merges that file of the same directory at the root."""
    main = write(tmp_path, {"main.yaml": "defaults:\n  - base\n  - _self_\nx: 2\n", "base.yaml": "x: 1\ny: 1\n"})
    assert compose(main) == {"x": 2, "y": 1}


def test_mappings_merge_and_lists_are_replaced(tmp_path):
    """Merging follows OmegaConf: mappings recursively, lists and scalars replaced."""
    main = write(
        tmp_path,
        {"main.yaml": "defaults:\n  - base\n  - _self_\nm:\n  b: 3\nl: [9]\n", "base.yaml": "m:\n  a: 1\n  b: 2\nl: [1, 2]\n"},
    )
    assert compose(main) == {"m": {"a": 1, "b": 3}, "l": [9]}


# -------------------------------------------------------------------------------------- overrides
@pytest.fixture
def simple(tmp_path) -> pathlib.Path:
    """A small config tree: a primary file with nested values and a list."""
    return write(tmp_path, {"main.yaml": "a:\n  b: 1\n  c: [1, 2, 3]\nname: x\n"})


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("a.b=2", {"a": {"b": 2, "c": [1, 2, 3]}, "name": "x"}),
        ("a.c[1]=7", {"a": {"b": 1, "c": [1, 7, 3]}, "name": "x"}),
        ("a.c=[4, 5]", {"a": {"b": 1, "c": [4, 5]}, "name": "x"}),
        ("+a.d.e=1e-3", {"a": {"b": 1, "c": [1, 2, 3], "d": {"e": 0.001}}, "name": "x"}),
        ("++a.b=null", {"a": {"b": None, "c": [1, 2, 3]}, "name": "x"}),
        ("~a.c", {"a": {"b": 1}, "name": "x"}),
        ("name=some text", {"a": {"b": 1, "c": [1, 2, 3]}, "name": "some text"}),
        ("name='007'", {"a": {"b": 1, "c": [1, 2, 3]}, "name": "007"}),
    ],
)
def test_dotted_overrides(simple, override, expected):
    """Set, index, replace a list, add with `+`, force with `++` and delete with `~`."""
    assert compose(simple, [override]) == expected


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("a.x=1", "a.x: cannot override: the key is not in the config; add it with '+a.x=...'  [override 1 'a.x=1']"),
        ("a.bb=1", "a.bb: cannot override: the key is not in the config; add it with '+a.bb=...'; did you mean 'b'?  [override 1 'a.bb=1']"),
        ("+a.b=1", "a.b: cannot add: the key is already in the config; override it without '+' (or use '++')  [override 1 '+a.b=1']"),
        ("~a.z", "a.z: cannot delete: the key is not in the config  [override 1 '~a.z']"),
        ("a.b", "a.b: invalid override: expected key=value, +key=value, ++key=value or ~key  [override 1 'a.b']"),
        ("=3", "<override>: invalid override: expected key=value, +key=value, ++key=value or ~key  [override 1 '=3']"),
        ("a.b=[1, 2", "a.b: invalid override value '[1, 2'  [override 1 'a.b=[1, 2']"),
        ("q.r=1", "q: cannot override: q is not in the config  [override 1 'q.r=1']"),
    ],
)
def test_bad_overrides_are_reported_with_the_override(simple, override, line):
    """Each bad override gives one error line naming the override."""
    with pytest.raises(ConfigError) as excinfo:
        compose(simple, [override])
    assert error_lines(excinfo) == [line]


def test_schema_field_can_be_overridden_without_plus():
    """A schema field absent from the YAML (`resume_run_id`) is set without `+` by load_config."""
    config = load_config(TUTORIAL, ["model=upt", "resume_run_id=2026-01-01_abcde", "trainer.max_batch_size=1"])
    assert config.resume_run_id == "2026-01-01_abcde"
    assert config.trainer.max_batch_size == 1


# ---------------------------------------------------------------------------------- interpolation
def test_interpolation_keeps_types_and_formats_strings(tmp_path):
    """A whole-string reference keeps the value's type; an embedded one is formatted into the string."""
    main = write(tmp_path, {"main.yaml": "n: 3\nm: {k: [1, 2]}\na: ${n}\nb: run_${n}_${m.k[1]}\nc: ${m}\nd: ${a}\ne: \\${n}\n"})
    assert compose(main) == {"n": 3, "m": {"k": [1, 2]}, "a": 3, "b": "run_3_2", "c": {"k": [1, 2]}, "d": 3, "e": "${n}"}


def test_missing_interpolation_target_is_reported_with_its_line(tmp_path):
    """An interpolation to a missing key names the reference, the missing key and a suggestion."""
    main = write(tmp_path, {"main.yaml": "trainer:\n  max_epochs: 3\nx: ${trainer.max_epoch}\n"})
    with pytest.raises(ConfigError) as excinfo:
        compose(main)
    assert error_lines(excinfo) == [
        f"x: interpolation ${{trainer.max_epoch}} refers to a missing key 'trainer.max_epoch'; did you mean 'max_epochs'?  [{main}:3:4]"
    ]


def test_interpolation_cycle_is_reported(tmp_path):
    """Values that refer to each other are one error naming the chain, not a hang."""
    main = write(tmp_path, {"main.yaml": "a: ${b}\nb: ${c.x}\nc:\n  x: run_${a}\nd: ${a}\n"})
    with pytest.raises(ConfigError) as excinfo:
        compose(main)
    assert error_lines(excinfo) == [f"a: interpolation cycle: a -> b -> c.x -> a  [{main}:1:4]"]


def test_a_mapping_that_refers_to_itself_is_a_cycle(tmp_path):
    """A mapping holding a reference to itself cannot be copied out: one cycle error at the reference."""
    main = write(tmp_path, {"main.yaml": "a:\n  b: ${a}\n"})
    with pytest.raises(ConfigError) as excinfo:
        compose(main)
    assert error_lines(excinfo) == [
        f"a.b: interpolation cycle: a -> a.b (a mapping that contains a reference to itself)  [{main}:2:6]"
    ]


THROUGH = {
    "model": "model:\n  optimizer_config: ${optimizer}\n  schedule:\n    max_value: ${model.optimizer_config.lr}\n",
    "optimizer": "optimizer:\n  lr: 0.1\n  name: lr_${model.schedule.max_value}\n",
    "escaped": "escaped: \\${optimizer.lr}\ncopy: ${escaped}\n",
}


@pytest.mark.parametrize("order", [("model", "optimizer", "escaped"), ("optimizer", "escaped", "model"), ("escaped", "model", "optimizer")])
def test_interpolation_through_an_interpolated_node_in_any_key_order(tmp_path, order):
    """`${model.optimizer_config.lr}` runs through `model.optimizer_config: ${optimizer}` whatever the key order,
    as in OmegaConf (dict recorded from `OmegaConf.to_container(OmegaConf.load(...), resolve=True)`)."""
    main = write(tmp_path, {"main.yaml": "".join(THROUGH[part] for part in order)})
    assert compose(main) == {
        "model": {"optimizer_config": {"lr": 0.1, "name": "lr_0.1"}, "schedule": {"max_value": 0.1}},
        "optimizer": {"lr": 0.1, "name": "lr_0.1"},
        "escaped": "${optimizer.lr}",
        "copy": "${optimizer.lr}",
    }


def test_mandatory_value_must_be_given(tmp_path):
    """A `???` value is reported until an override sets it."""
    main = write(tmp_path, {"main.yaml": "run:\n  id: ???\n"})
    with pytest.raises(ConfigError) as excinfo:
        compose(main)
    assert error_lines(excinfo) == [
        f"run.id: mandatory value missing (???): set it in the config or with an override  [{main}:2:7]"
    ]
    assert compose(main, ["run.id=abc"]) == {"run": {"id": "abc"}}


# ---------------------------------------------------------------------------------- file problems
def test_missing_file():
    """A config path that does not exist is one clear error."""
    with pytest.raises(ConfigError) as excinfo:
        compose("does/not/exist.yaml")
    assert error_lines(excinfo) == ["<root>: config file not found  [does/not/exist.yaml]"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: [1, 2\nb: 3\n", "<root>: invalid YAML: while parsing a flow sequence did not find expected ',' or ']'  [{file}:2:2]"),
        ("a: 1\na: 2\n", '<root>: invalid YAML: while constructing a mapping found duplicate key "a" with value "2" (original value: "1")  [{file}:2:1]'),
        ("- 1\n- 2\n", "<root>: a config file must hold a mapping (got list)  [{file}]"),
    ],
)
def test_invalid_yaml_is_located(tmp_path, text, line):
    """Syntax errors, duplicate keys and non-mapping documents name the file and position."""
    main = write(tmp_path, {"main.yaml": text})
    with pytest.raises(ConfigError) as excinfo:
        compose(main)
    assert error_lines(excinfo) == [line.format(file=main)]
