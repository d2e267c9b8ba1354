"""load_config end to end: structured results, exact error lines with locations, resolve, the CLI."""

from __future__ import annotations

import copy
import os
import pathlib
import subprocess
import sys
import textwrap

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from noether.core.config import ConfigError, load_config, resolve, structure, to_yaml, unstructure
from noether.core.config.cli import main as check_main
from noether.core.schemas import ConfigSchema, ModelBaseConfig, OptimizerConfig

REPO = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = REPO / "examples" / "poisson" / "train.yaml"

MINIMAL = """\
output_path: runs
datasets:
  train:
    kind: a.Dataset
model:
  kind: a.Model
  name: net
  optimizer_config:
    kind: torch.optim.AdamW
    lr: 1.0e-3
    schedule_config:
      kind: noether.core.schedules.LinearWarmupCosineDecaySchedule
      warmup_steps: 10
trainer:
  kind: a.Trainer
  max_epochs: 10
  effective_batch_size: 64
"""


def write(tmp_path: pathlib.Path, text: str, name: str = "train.yaml") -> pathlib.Path:
    """Write one YAML file and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_example_config_loads_and_round_trips(tmp_path):
    """The bundled example loads, and its resolved YAML loads back to an equal config."""
    config = load_config(EXAMPLE)
    assert type(config).__name__ == "PoissonConfigSchema"
    assert config.model.optimizer_config.schedule_config.max_value == 1.0e-3
    resolved = write(tmp_path, to_yaml(config), "resolved.yaml")
    assert load_config(resolved) == config
    assert structure(unstructure(config), type(config)) == config


def test_five_mistakes_are_listed_at_once_with_their_lines(tmp_path, capsys):
    """noether-check lists every mistake of a config in document order with file:line:col, and exits 2."""
    path = write(
        tmp_path,
        MINIMAL.replace("effective_batch_size: 64", 'effective_batch_size: "64"\n  precison: bf16\n  callbacks:\n'
                        "    - name: CheckpointCallback\n      every_n_epochs: 0\n    - name: EmaCallback\n"
                        "      every_n_updates: 10\n    - name: OnlineLosCallback\n      every_n_epochs: 1"),
    )
    assert check_main([str(path), "--no-import"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: 5 problems",
        f"trainer.effective_batch_size: expected an integer (got str '64')  [{path}:17:25]",
        f"trainer.precison: unknown key 'precison'; did you mean 'precision'?  [{path}:18:3]",
        f"trainer.callbacks[0].every_n_epochs: must be a positive integer (got 0)  [{path}:21:23]",
        f"trainer.callbacks[1].target_factors: missing required field  [{path}:22:7]",
        f"trainer.callbacks[2].name: unknown callback name 'OnlineLosCallback' (expected one of: CheckpointCallback, "
        "BestCheckpointCallback, EmaCallback, FixedEarlyStopper, MetricEarlyStopper, OnlineLossCallback, "
        "OfflineLossCallback, BestMetricCallback, TrackAdditionalOutputsCallback, or a kind naming a callback class); "
        f"did you mean 'OnlineLossCallback'?  [{path}:24:7]",
    ]


def test_a_kind_that_cannot_be_imported_keeps_the_other_problems(tmp_path, capsys):
    """Without ``--no-import`` the kinds are imported: one that cannot be is a problem at its line, and the
    problems of the keys its base class knows are still listed (its other keys may be fields of its own)."""
    path = write(tmp_path, MINIMAL.replace("effective_batch_size: 64", 'effective_batch_size: "64"\n  depth: 3'))
    assert check_main([str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 4 problems",
        f"datasets.train.kind: cannot import 'a.Dataset': No module named 'a'  [{path}:4:11]",
        f"model.kind: cannot import 'a.Model': No module named 'a'  [{path}:6:9]",
        f"trainer.kind: cannot import 'a.Trainer': No module named 'a'  [{path}:15:9]",
        f"trainer.effective_batch_size: expected an integer (got str '64')  [{path}:17:25]",
    ]


def test_check_prints_the_resolved_config(capsys):
    """noether-check prints the resolved config as YAML and exits 0."""
    assert check_main([str(EXAMPLE), "trainer.max_epochs=2", "optimizer=sgd"]) == 0
    data = YAML(typ="safe").load(capsys.readouterr().out)
    assert data["trainer"]["max_epochs"] == 2
    assert data["model"]["optimizer_config"]["kind"] == "torch.optim.SGD"
    assert data["model"]["optimizer_config"]["momentum"] == 0.9
    assert data["model"]["optimizer_config"]["schedule_config"]["max_value"] == 0.01


def test_errors_under_an_interpolated_group_point_to_where_they_were_written(tmp_path):
    """``optimizer_config: ${optimizer}``: a mistake in the group file is located in that file, and a bad override
    of ``optimizer.*`` at that override, not at the interpolation in the primary config."""
    (tmp_path / "optimizer").mkdir()
    write(tmp_path / "optimizer", "kind: torch.optim.AdamW\nlr: fast\nschedule_config:\n"
          "  kind: noether.core.schedules.LinearWarmupCosineDecaySchedule\n  warmup_percnt: 0.1\n", "broken.yaml")
    write(tmp_path / "optimizer", "kind: torch.optim.AdamW\nlr: 1.0e-3\n", "adamw.yaml")
    text = MINIMAL.replace("output_path: runs", "defaults:\n  - optimizer: adamw\n  - _self_\noutput_path: runs")
    start = text.index("  optimizer_config:")
    path = write(tmp_path, text[:start] + "  optimizer_config: ${optimizer}\n" + text[text.index("trainer:"):])
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["optimizer=broken"])
    assert str(caught.value).splitlines() == [
        f"model.optimizer_config.lr: expected a number (got str 'fast')  [{tmp_path}/optimizer/broken.yaml:2:5]",
        "model.optimizer_config.schedule_config.warmup_percnt: unknown key 'warmup_percnt'; did you mean "
        f"'warmup_percent'?  [{tmp_path}/optimizer/broken.yaml:5:3]",
    ]
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["optimizer.lr=1e-3x"])
    assert str(caught.value) == "model.optimizer_config.lr: expected a number (got str '1e-3x')  [override 1 'optimizer.lr=1e-3x']"


def test_fields_that_exclude_each_other_name_the_override_that_deletes_one(tmp_path):
    """Setting max_updates on the command line over a file's max_epochs names ``~trainer.max_epochs``, and
    following that advice loads."""
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["trainer.max_updates=100"])
    assert str(caught.value) == (
        "trainer: exactly one of max_epochs, max_updates, max_samples must be set (got max_epochs, max_updates); "
        f"delete the others, e.g. ~trainer.max_epochs on the command line  [{path}:15:3]")
    config = load_config(path, ["trainer.max_updates=100", "~trainer.max_epochs"])
    assert (config.trainer.max_epochs, config.trainer.max_updates) == (None, 100)


def test_errors_in_group_files_point_into_those_files(tmp_path):
    """A mistake in a group file is located in that file, not in the primary config."""
    (tmp_path / "trainer").mkdir()
    trainer = write(tmp_path / "trainer", "kind: a.Trainer\nmax_epochs: -1\neffective_batch_size: 64\n", "base.yaml")
    primary = write(tmp_path, MINIMAL.split("trainer:")[0] + "defaults:\n  - trainer: base\n  - _self_\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(primary)
    assert str(excinfo.value) == f"trainer.max_epochs: must be >= 0 (got -1)  [{trainer}:2:13]"


def test_learning_rate_schedule_contradicting_lr_names_both_paths(tmp_path):
    """A schedule max_value that differs from the optimizer lr is one error naming both paths."""
    path = write(tmp_path, MINIMAL.replace("warmup_steps: 10", "warmup_steps: 10\n      max_value: 0.01"))
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(excinfo.value) == (
        "model.optimizer_config.schedule_config.max_value: 0.01 contradicts model.optimizer_config.lr = 0.001; "
        f"set only one of them (max_value defaults to the optimizer's lr)  [{path}:14:7]"
    )


def test_weight_decay_schedule_takes_weight_decay_and_rejects_per_name_values():
    """A weight-decay schedule's max_value defaults to weight_decay; a non-zero per-name value conflicts with it."""
    optimizer = structure(
        {
            "kind": "torch.optim.AdamW",
            "lr": 0.1,
            "weight_decay": 0.05,
            "weight_decay_schedule": {"kind": "noether.core.schedules.LinearIncreasingSchedule"},
        },
        OptimizerConfig,
    )
    assert resolve(optimizer).weight_decay_schedule.max_value == 0.05
    conflicting = attrs.evolve(
        optimizer,
        param_group_modifiers_config=structure([{"name": "cls_token", "value": 0.1}], tuple[__import__("noether.core.schemas", fromlist=["x"]).ParamGroupModifierConfig, ...]),
    )
    with pytest.raises(ConfigError) as excinfo:
        resolve(conflicting)
    assert str(excinfo.value) == (
        "param_group_modifiers_config[0].value: a non-zero weight decay for 'cls_token' conflicts with "
        "weight_decay_schedule, which sets the weight decay of every group not excluded; use value: 0 to "
        "exclude the parameter, or remove the schedule"
    )


def test_schedule_without_max_value_and_without_lr_is_an_error():
    """With neither a schedule max_value nor an optimizer lr there is nothing to take the peak from."""
    optimizer = structure(
        {"kind": "torch.optim.SGD", "schedule_config": {"kind": "noether.core.schedules.CosineDecreasingSchedule"}},
        OptimizerConfig,
    )
    with pytest.raises(ConfigError) as excinfo:
        resolve(optimizer)
    assert str(excinfo.value) == "schedule_config.max_value: not set, and lr is not set either; set one of them"


def test_filled_max_value_below_end_value_is_reported():
    """An end_value above the lr taken as max_value breaks the decreasing rule, with the source named."""
    optimizer = structure(
        {"lr": 1e-4, "schedule_config": {"kind": "noether.core.schedules.CosineDecreasingSchedule", "end_value": 1e-3}},
        OptimizerConfig,
    )
    with pytest.raises(ConfigError) as excinfo:
        resolve(optimizer)
    assert str(excinfo.value) == (
        "schedule_config.end_value: end_value must be less than or equal to max_value (got end_value=0.001 > "
        "max_value=0.0001) (max_value taken from lr = 0.0001)"
    )


def test_unreferenced_helper_root_key_is_an_error_and_referenced_one_is_dropped(tmp_path):
    """A root key the schema does not know is dropped when an interpolation used it, an error otherwise."""
    used = write(tmp_path, "batch: 64\n" + MINIMAL.replace("effective_batch_size: 64", "effective_batch_size: ${batch}"), "used.yaml")
    assert load_config(used).trainer.effective_batch_size == 64
    unused = write(tmp_path, "seeed: 1\n" + MINIMAL, "unused.yaml")
    with pytest.raises(ConfigError) as excinfo:
        load_config(unused)
    assert str(excinfo.value) == f"seeed: unknown key 'seeed'; did you mean 'seed'?  [{unused}:1:1]"


def test_config_schema_kind_that_cannot_be_imported(tmp_path):
    """A config_schema_kind naming a missing module is one error at that key."""
    path = write(tmp_path, "config_schema_kind: nowhere.Schema\n" + MINIMAL)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(excinfo.value) == (
        f"config_schema_kind: cannot import module 'nowhere': No module named 'nowhere'  [{path}:1:21]"
    )


@attrs.frozen(kw_only=True)
class WideModelConfig(ModelBaseConfig):
    """A user model config with one extra field."""

    width: int = 8
    """Hidden width."""


def test_config_class_for_hook_narrows_user_components(tmp_path):
    """A component that declares its own config class gets its fields structured by that class."""
    path = write(tmp_path, MINIMAL.replace("  name: net\n", "  name: net\n  width: 32\n"))

    def config_class_for(kind: str, base: type) -> type | None:
        return WideModelConfig if kind == "a.Model" else None

    config = load_config(path, config_class_for=config_class_for)
    assert config.model == WideModelConfig(kind="a.Model", name="net", width=32, optimizer_config=config.model.optimizer_config)
    with pytest.raises(ConfigError, match=r"model.width: unknown key 'width'"):
        load_config(path)


def test_loading_writes_nothing(tmp_path):
    """Loading and checking a config creates no directory and no file, not even the output path."""
    path = write(tmp_path, MINIMAL.replace("output_path: runs", f"output_path: {tmp_path / 'out'}"))
    before = sorted(tmp_path.rglob("*"))
    load_config(path)
    check_main([str(path)])
    assert sorted(tmp_path.rglob("*")) == before


def test_bad_input_is_not_changed_by_structure():
    """Structuring bad data reports it without modifying the caller's data."""
    data = YAML(typ="safe").load(MINIMAL)
    data["trainer"]["max_epochs"] = "ten"
    snapshot = copy.deepcopy(data)
    with pytest.raises(ConfigError):
        structure(data, ConfigSchema)
    assert data == snapshot


def test_import_works_without_torch():
    """`import noether` and loading a config work in a Python where torch cannot be imported."""
    code = textwrap.dedent(
        f"""
        import sys, pkgutil, importlib
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        import noether
        for module in pkgutil.walk_packages(noether.__path__, "noether."):
            importlib.import_module(module.name)
        from noether.core.config import load_config
        sys.path.insert(0, {str(REPO)!r})
        print(type(load_config({str(EXAMPLE)!r})).__name__)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "PoissonConfigSchema"
    assert "torch" not in result.stderr


# ------------------------------------------------------------------------------------ Hypothesis
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=8))
keys = st.sampled_from(["trainer", "model", "datasets", "kind", "name", "lr", "max_epochs", "callbacks", "x", "???"])
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_any_yaml_document_gives_a_config_or_a_config_error(tmp_path, document):
    """Whatever YAML document is loaded, the result is a config or a ConfigError, never another exception."""
    path = tmp_path / "doc.yaml"
    with path.open("w") as handle:
        YAML(typ="safe", pure=True).dump(document, handle)
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.issues


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab: -[]{}\n\"'$?{}0.,&*!|>#")), max_size=60))
def test_any_text_gives_a_config_or_a_config_error(tmp_path, text):
    """Arbitrary text (broken YAML included) ends in a ConfigError, never another exception."""
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.issues


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.sampled_from(["trainer", "model", "optimizer_config", "callbacks", "0", "lr", "kind"]), min_size=1, max_size=4),
       value=scalars)
def test_any_mutation_of_a_valid_config_gives_a_config_or_a_config_error(path, value):
    """Replacing any node of a valid config by any scalar ends in a config or a ConfigError."""
    data = YAML(typ="safe").load(MINIMAL)
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    try:
        structure(data, ConfigSchema)
    except ConfigError as exc:
        assert exc.issues
