"""Bad input stops a run before its first update with one clear line per problem, each naming the config path
(STYLE.md "Errors name the path"); ``noether-train`` prints them and exits with status 2."""

from __future__ import annotations

import json

import sys

import attrs
import pytest
import torch

import engine
from engine.cli import tensorboard_command, train_main
from engine_components import MODULE, token_config
from noether.core.config import ConfigError, to_yaml
from noether.core.config.cli import main as check_main
from noether.core.training import check_plan


def config_error(config) -> str:
    """The rendered ``ConfigError`` that ``engine.run(config)`` raises."""
    with pytest.raises(ConfigError) as caught:
        engine.run(config)
    return str(caught.value)


def test_a_kind_that_cannot_be_imported(tmp_path):
    """A model kind naming a missing class, and one naming a missing module, are reported with their paths."""
    config = token_config(tmp_path)
    missing_class = attrs.evolve(config, model=attrs.evolve(config.model, kind=f"{MODULE}.NoSuchModel"))
    assert config_error(missing_class) == (
        f"model.kind: cannot import '{MODULE}.NoSuchModel': module '{MODULE}' has no attribute 'NoSuchModel'")
    missing_module = attrs.evolve(config, model=attrs.evolve(config.model, kind="no_such_package.models.Net"))
    assert config_error(missing_module) == (
        "model.kind: cannot import 'no_such_package.models.Net': No module named 'no_such_package'")
    assert not (tmp_path / "test-run").exists()


def test_noether_check_reads_a_config_as_noether_train_does(tmp_path, capsys):
    """``noether-check`` imports the kinds: the fields a component's ``config_schema`` declares are accepted, a
    kind that cannot be imported is reported with its line; ``--no-import`` checks against the schemas alone."""
    path = tmp_path / "train.yaml"
    path.write_text(to_yaml(token_config(tmp_path)), encoding="utf-8")
    assert check_main([str(path)]) == 0
    assert f"kind: {MODULE}.TokenMlp" in capsys.readouterr().out
    assert check_main([str(path), f"model.kind={MODULE}.NoSuchModel", "trainer.max_updates=-1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 2 problems",
        f"model.kind: cannot import '{MODULE}.NoSuchModel': module '{MODULE}' has no attribute 'NoSuchModel'  "
        f"[override 1 'model.kind={MODULE}.NoSuchModel']",
        "trainer.max_updates: must be >= 0 (got -1)  [override 2 'trainer.max_updates=-1']",
    ]
    assert check_main(["--no-import", str(path)]) == 2
    assert "model.dtype: unknown key 'dtype'" in capsys.readouterr().err


def test_kinds_that_are_not_the_expected_base_class(tmp_path):
    """A dataset and a trainer kind naming other classes are both reported, at once."""
    config = token_config(tmp_path)
    train = attrs.evolve(config.datasets["train"], kind=f"{MODULE}.TokenMlp")
    trainer = attrs.evolve(config.trainer, kind="collections.OrderedDict")
    wrong = attrs.evolve(config, datasets={"train": train}, trainer=trainer)
    assert config_error(wrong).splitlines() == [
        f"datasets.train.kind: '{MODULE}.TokenMlp' is not a subclass of engine.data.dataset.Dataset",
        "trainer.kind: 'collections.OrderedDict' is not a subclass of engine.trainer.BaseTrainer",
    ]
    assert not (tmp_path / "test-run").exists()


@pytest.mark.parametrize(("forward_properties", "expected"), [
    ((), "it needs x (got [])"),
    (("x", "mask"), "it does not take mask (got ['x', 'mask'])"),
    (("mask",), "it needs x; it does not take mask (got ['mask'])"),
])
def test_forward_properties_that_do_not_fit_the_models_forward(tmp_path, forward_properties, expected):
    """The default ``train_step`` calls ``model(**{name: batch[name]})``: properties that miss a required
    parameter of ``forward``, or name one it does not take, are a config error before the first update (not a
    ``TypeError`` from inside the model mid-run)."""
    config = token_config(tmp_path, forward_properties=forward_properties)
    assert config_error(config) == ("trainer.forward_properties: train_step calls TokenMlp.forward(x) with these "
                                    f"batch items by name, but {expected}")
    assert not (tmp_path / "test-run").exists()


def test_resuming_a_run_that_does_not_exist(tmp_path):
    """``resume_run_id`` naming no run directory: the error says so and lists the runs that exist."""
    (tmp_path / "2026-01-01_00-00-00_beef").mkdir()
    config = attrs.evolve(token_config(tmp_path), run_id=None, resume_run_id="2026-01-01_00-00-00_dead")
    assert config_error(config) == (f"resume_run_id: no run '2026-01-01_00-00-00_dead' in {tmp_path} (runs there: "
                                    "2026-01-01_00-00-00_beef)")


def test_a_dataset_smaller_than_one_update(tmp_path):
    """A train dataset of 8 samples cannot fill an effective batch of 12."""
    assert config_error(token_config(tmp_path, num_samples=8)) == (
        "trainer.effective_batch_size: must not exceed the length of the train dataset, 8 samples (got 12)")
    assert not (tmp_path / "test-run").exists()


def test_batch_sizes_that_do_not_divide_by_the_world_size(tmp_path):
    """With 2 processes, an effective batch of 13 and a micro-batch cap of 5 are both reported by the plan check
    the engine runs before training."""
    config = token_config(tmp_path, effective_batch_size=13, max_batch_size=5)
    with pytest.raises(ConfigError) as caught:
        check_plan(config, dataset_length=24, world_size=2)
    assert str(caught.value).splitlines() == [
        "trainer.effective_batch_size: must be a multiple of the world size 2 (got 13)",
        "trainer.max_batch_size: must be a multiple of the world size 2, as it caps the micro-batch over all devices "
        "(got 5)",
    ]


def test_a_loss_that_is_not_a_scalar(tmp_path):
    """A trainer returning one loss per sample fails at the first micro-batch with the shape and a remedy."""
    with pytest.raises(ValueError) as caught:
        engine.run(token_config(tmp_path, loss="vector"))
    assert str(caught.value) == "the loss must be a scalar tensor (got (12,)); reduce it, e.g. with .mean()"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_gpu_accelerator_without_cuda(tmp_path):
    """``accelerator: gpu`` on a machine without CUDA is a config error with a remedy."""
    assert config_error(attrs.evolve(token_config(tmp_path), accelerator="gpu")) == (
        "accelerator: no CUDA device is available (got 'gpu'); use 'cpu' or leave it unset")


YAML = """\
output_path: {output_path}
run_id: cli-run
tracker: disabled
datasets:
  train:
    kind: {module}.TokenDataset
    num_samples: 24
model:
  kind: {module}.{model}
  name: mlp
  optimizer_config:
    kind: torch.optim.SGD
    lr: 0.1
trainer:
  kind: {module}.TokenTrainer
  max_updates: 2
  effective_batch_size: {effective_batch_size}
  forward_properties: [x]
  target_properties: [y, mask]
"""


def write_config(tmp_path, *, model: str = "TokenMlp", effective_batch_size: int = 12):
    """A YAML config of the token MLP in ``tmp_path``."""
    path = tmp_path / "train.yaml"
    path.write_text(YAML.format(output_path=tmp_path / "outputs", module=MODULE, model=model,
                                effective_batch_size=effective_batch_size))
    return path


@pytest.fixture
def keep_sys_path(monkeypatch):
    """``train_main`` puts the working directory on ``sys.path``; undo it after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_cli_prints_every_problem_and_exits_with_2(tmp_path, capsys, keep_sys_path):
    """``noether-train`` on a config with two problems prints ``<file>: 2 problems`` and one line each with its
    source location."""
    path = write_config(tmp_path, model="NoSuchModel", effective_batch_size=0)
    assert train_main([str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 2 problems",
        f"model.kind: cannot import '{MODULE}.NoSuchModel': module '{MODULE}' has no attribute 'NoSuchModel'  "
        f"[{path}:9:9]",
        f"trainer.effective_batch_size: must be >= 1 (got 0)  [{path}:17:25]",
    ]
    assert not (tmp_path / "outputs").exists()


def test_cli_reports_a_problem_found_after_loading(tmp_path, capsys, keep_sys_path):
    """A problem that needs the dataset (too few samples for one update) is printed the same way: one problem."""
    path = write_config(tmp_path, effective_batch_size=30)
    assert train_main([str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 1 problem",
        f"trainer.effective_batch_size: must not exceed the length of the train dataset, 24 samples (got 30)  "
        f"[{path}:17:3]",
    ]


def test_the_tensorboard_hint_works_without_an_activated_environment(monkeypatch, tmp_path):
    """The hint names the ``tensorboard`` beside this Python (``.venv/bin/tensorboard``) unless that one is what
    ``tensorboard`` on ``PATH`` already starts."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "tensorboard").write_text("#!/bin/sh\n")
    (bin_dir / "tensorboard").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert tensorboard_command() == "venv/bin/tensorboard"
    monkeypatch.setenv("PATH", str(bin_dir))
    assert tensorboard_command() == "tensorboard"


def test_cli_trains_a_valid_config(tmp_path, capsys, keep_sys_path):
    """``noether-train`` on a valid config (with an override) trains, exits with 0 and names the run directory."""
    path = write_config(tmp_path)
    assert train_main([str(path), "trainer.max_updates=3"]) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "outputs" / "cli-run"
    assert f"run_id: cli-run\nrun_dir: {run_dir}\n{tensorboard_command()} --logdir {run_dir}\n" in out
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["update"] for line in lines] == [1, 3]  # the first update's lr, then the default interval (3)
