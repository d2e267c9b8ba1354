"""Composition matches Hydra 1.3: packages of defaults entries, override keys, experiments (results recorded
from hydra-core 1.3.2 once and written here; Hydra is not a dependency)."""

from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

from noether.core.config import ConfigError, compose

DATA = pathlib.Path(__file__).parent / "data"
TREE = DATA / "hydra_tree" / "train_shapenet.yaml"
RECORDED = json.loads((DATA / "hydra_tree_hydra_1.3.2.json").read_text(encoding="utf-8"))
"""``OmegaConf.to_container(hydra.compose("train_shapenet", overrides), resolve=True)`` per override line."""


def write(directory: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """Write a config tree and return the path of its first file."""
    for name, text in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return directory / next(iter(files))


@pytest.mark.parametrize("overrides", list(RECORDED))
def test_tutorial_like_tree_composes_as_hydra_does(overrides):
    """Experiments with `# @package _global_` and `override /...`, a `/optimizer@finetune_optimizer` alias, a
    relative nested group and interpolations through `${optimizer}` / `${callbacks}` give Hydra's dict, key order too."""
    composed = compose(TREE, overrides.split())
    assert composed == RECORDED[overrides]
    assert json.dumps(composed) == json.dumps(RECORDED[overrides])


def test_group_choice_changes_only_its_own_package():
    """`optimizer=sgd` changes the `optimizer` entry; `/optimizer@finetune_optimizer: sgd` keeps its own choice."""
    composed = compose(TREE, ["model=transformer", "optimizer=sgd"])
    assert composed["optimizer"] == {"kind": "torch.optim.SGD", "lr": 0.01, "momentum": 0.9}
    assert composed["model"]["optimizer_config"] == composed["optimizer"]
    assert composed["finetune_optimizer"] == {"kind": "torch.optim.SGD", "lr": 0.01, "momentum": 0.9}
    adamw = compose(TREE, ["model=transformer", "optimizer@finetune_optimizer=adamw"])
    assert adamw["optimizer"]["kind"] == "torch.optim.AdamW"
    assert adamw["finetune_optimizer"]["kind"] == "torch.optim.AdamW"
    assert adamw["finetune_optimizer"]["schedule_config"]["max_value"] == 5.0e-4


def test_package_rules_of_nested_entries(tmp_path):
    """An entry's `@package` is relative to its parent's package and beats the file's header; a header is absolute;
    the override key of a moved entry is `group@final.package`; `_self_` is implicitly last (Hydra 1.3 results)."""
    main = write(tmp_path, {
        "main.yaml": "defaults:\n  - g: a\n  - _self_\n",
        "g/a.yaml": "defaults:\n  - /h: b\n  - /h@hh: c\nhh:\n  v: 1\n",
        "h/b.yaml": "# @package foo\nv: 3\n",
        "h/c.yaml": "v: 5\nk: 1\n",
        "h/d.yaml": "d: 1\n",
        "h/e.yaml": "# @package _global_\ndefaults:\n  - override /h@g.hh: d\nz: 1\n",
    })
    assert compose(main) == {"foo": {"v": 3}, "g": {"hh": {"v": 1, "k": 1}}}
    assert compose(main, ["h@g.hh=b"]) == {"foo": {"v": 3}, "g": {"hh": {"v": 1}}}  # g/a's own hh.v merges last
    assert compose(main, ["+h=e"]) == {"foo": {"v": 3}, "g": {"hh": {"d": 1, "v": 1}}, "z": 1}
    assert compose(main, ["~h@g.hh"]) == {"foo": {"v": 3}, "g": {"hh": {"v": 1}}}
    with pytest.raises(ConfigError) as excinfo:  # Hydra: "Could not override 'h'. Did you mean ... h@g.h, h@g.hh?"
        compose(main, ["h=c"])
    assert str(excinfo.value).splitlines() == [
        "h: cannot override 'h': no entry with that group and package (the defaults list has 'h@g.h', 'h@g.hh'); "
        "to add an entry instead, use '+h=...'  [override 1 'h=c']"]


def test_appended_group_lands_after_self(tmp_path):
    """`+group@pkg=option` is appended after `_self_` (also an implicit one) and the entry's package beats the header
    (`+g=b` would be a second entry of `g`, an error)."""
    main = write(tmp_path, {"main.yaml": "defaults:\n  - g: a\nx: 1\n", "g/a.yaml": "# @package _global_\nx: 2\n",
                            "g/b.yaml": "# @package _global_\nx: 3\n"})
    assert compose(main, ["+g@foo=b"]) == {"x": 1, "foo": {"x": 3}}


def test_bad_packages_and_cycles_are_reported_all_at_once(tmp_path):
    """An override of a package that is not in the defaults list (in a file or on the command line), a package on a
    key that is no group, a deletion that matches nothing and an interpolation cycle: one ConfigError."""
    main = write(tmp_path, {
        "train.yaml": "defaults:\n  - optimizer: adamw\n  - /optimizer@finetune: adamw\n  - _self_\na: ${b}\nb: ${a}\n",
        "optimizer/adamw.yaml": "lr: 0.1\n",
        "optimizer/sgd.yaml": "lr: 0.2\n",
        "experiment/bad.yaml": "# @package _global_\ndefaults:\n  - override /optimizer@nope: sgd\n",
    })
    with pytest.raises(ConfigError) as excinfo:
        compose(main, ["+experiment=bad", "optimizer@model.optimizer_config=sgd", "trainer@x=a", "~optimizer@gone"])
    assert str(excinfo.value).splitlines() == [
        "optimizer@model.optimizer_config: cannot override 'optimizer@model.optimizer_config': no entry with that group "
        "and package (the defaults list has 'optimizer', 'optimizer@finetune'); to add an entry instead, use "
        "'+optimizer@model.optimizer_config=...'  [override 2 'optimizer@model.optimizer_config=sgd']",
        f"optimizer@nope: cannot override 'optimizer@nope': no entry with that group and package (the defaults list "
        f"has 'optimizer', 'optimizer@finetune'); to add an entry instead, write it without 'override'  "
        f"[{tmp_path}/experiment/bad.yaml:3:5]",
        "optimizer@gone: cannot delete 'optimizer@gone': no entry with that group and package (the defaults list has "
        "'optimizer', 'optimizer@finetune')  [override 4 '~optimizer@gone']",
        f"trainer@x: a package (@x) only goes with a config group, and there is no group directory 'trainer' in "
        f"{tmp_path}  [override 3 'trainer@x=a']",
        f"a: interpolation cycle: a -> b -> a  [{main}:5:4]",
    ]


def test_a_wrong_option_is_located_where_it_was_chosen(tmp_path):
    """An option that does not exist is reported at the `override` entry that chose it; a `???` at its entry."""
    main = write(tmp_path, {
        "train.yaml": "defaults:\n  - optimizer: adamw\n  - model: ???\n  - _self_\n",
        "optimizer/adamw.yaml": "lr: 0.1\n",
        "model/a.yaml": "x: 1\n",
        "experiment/bad.yaml": "# @package _global_\ndefaults:\n  - override /optimizer: adamx\n",
    })
    with pytest.raises(ConfigError) as excinfo:
        compose(main, ["+experiment=bad"])
    assert str(excinfo.value).splitlines() == [
        f"model: you must choose a model config: add model=<option> (available: a)  [{main}:3:5]",
        f"optimizer: no config 'adamx' in group 'optimizer' (available: adamw); did you mean 'adamw'?  "
        f"[{tmp_path}/experiment/bad.yaml:3:5]",
    ]


def test_two_entries_for_one_group_and_package_are_an_error(tmp_path):
    """As Hydra ("Multiple values for g"): a second entry of a group, in a file or appended with `+`, is an error
    saying how to change the option instead; `+g@other=b` is a new package and fine."""
    main = write(tmp_path, {"main.yaml": "defaults:\n  - g: a\n  - _self_\n", "two.yaml": "defaults:\n  - g: b\n  - g: a\n",
                            "g/a.yaml": "x: 2\n", "g/b.yaml": "x: 3\n"})
    with pytest.raises(ConfigError) as excinfo:
        compose(main, ["+g=b"])
    assert str(excinfo.value).splitlines() == [
        "g: a second entry for 'g' in the defaults list (Hydra allows one per group and package); choose the option "
        "with 'g=b' instead of '+'  [override 1 '+g=b']"]
    with pytest.raises(ConfigError) as excinfo:
        compose(tmp_path / "two.yaml")
    assert str(excinfo.value).splitlines() == [
        "g: a second entry for 'g' in the defaults list (Hydra allows one per group and package); to change the "
        f"option of the earlier one, write 'override g: a'  [{tmp_path}/two.yaml:3:5]"]
    assert compose(main, ["+g@other=b"]) == {"g": {"x": 2}, "other": {"x": 3}}
