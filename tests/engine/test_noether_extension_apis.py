"""Noether's extension APIs in the engine, on a project written for Noether (``tests/engine/data/noether_project``):
migrated by ``noether-migrate``, trained by ``noether-train`` on its unchanged YAML; ``train_step(batch, model)``
returning a ``TrainerResult``, ``PeriodicDataIteratorCallback``, ``writer.add_scalar(..., logger, format_str)``,
Noether's hook signatures and constructor keywords."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import attrs
import pytest
import torch

import engine
import noether_api_components
from engine.cli import train_main
from engine.migrate import main as migrate_main
from noether.core.config import ConfigError

PROJECT = pathlib.Path(__file__).parent / "data" / "noether_project"
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, monkeypatch, capsys):
    """The Noether project copied to a fresh directory, migrated with `noether-migrate --write`, which is the
    working directory and on ``sys.path``."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    assert migrate_main([str(root), "--write"]) == 0
    assert capsys.readouterr().err == "noether-migrate: 6 files converted\n"
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    for name in [name for name in sys.modules if name == "nproj" or name.startswith("nproj.")]:
        monkeypatch.delitem(sys.modules, name)
    noether_api_components.RESULTS.clear()
    return root


def metrics(run_dir: pathlib.Path) -> list[dict]:
    """The lines of a run's metrics.jsonl."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def with_callbacks(config, *kinds: str):
    """``config`` with one callback per kind, each an AccuracyCallbackConfig (the project's union member)
    evaluating ``val`` every epoch."""
    template = config.trainer.callbacks[0]
    return attrs.evolve(config, trainer=attrs.evolve(
        config.trainer, callbacks=[attrs.evolve(template, kind=kind) for kind in kinds]))


def test_a_noether_project_migrates_and_trains_on_its_unchanged_yaml(project, capsys):
    """The accuracy of the data-iterator callback is logged every epoch, printed with its format, and equals the
    accuracy of the final weights on the validation set; the YAML was not touched."""
    assert (project / "configs" / "train.yaml").read_bytes() == (PROJECT / "configs" / "train.yaml").read_bytes()
    assert train_main(["configs/train.yaml"]) == 0
    out = capsys.readouterr().out
    run_dir, = (project / "outputs").iterdir()
    lines = metrics(run_dir)
    accuracies = [(line["update"], line["metrics/val/accuracy"]) for line in lines if "metrics/val/accuracy" in line]
    assert [update for update, _ in accuracies] == [4, 8, 12]
    printed = [line for line in out.splitlines() if line.startswith("metrics/val/accuracy: ")]
    assert printed == [f"metrics/val/accuracy: {value:.6f}" for _, value in accuracies]

    from nproj.dataset import Blobs
    from nproj.model import Classifier
    from nproj.schemas import BlobsConfig, ClassifierConfig

    model = Classifier(ClassifierConfig(kind="nproj.model.Classifier", name="classifier", hidden=16))
    state = torch.load(run_dir / "checkpoints" / "classifier_cp=latest_model.th", weights_only=True)["state_dict"]
    model.load_state_dict(state)
    val = Blobs(BlobsConfig(kind="nproj.dataset.Blobs", num_samples=40, seed=1))
    with torch.no_grad():
        expected = (model(val.x).argmax(dim=1) == val.y).float().mean().item()
    assert accuracies[-1][1] == expected
    last = lines[-1]
    assert last["loss/online/ce/U12"] == last["loss/online/total/U12"]  # losses_to_log is logged by name


@pytest.mark.parametrize("kind", ["noether_api_components.StaticTrainer", "noether_api_components.BareTensorTrainer",
                                  "noether_api_components.LossComputeTrainer"])
def test_every_train_step_shape_trains_the_same(project, kind):
    """Noether's train_step(batch, model) with a TrainerResult (as a method or a staticmethod), with a bare tensor,
    and the engine's loss_compute give the same run to the last bit."""
    reference = engine.run("configs/train.yaml")
    other = engine.run("configs/train.yaml", [f"trainer.kind={kind}", "trainer.forward_properties=[x]",
                                              "trainer.target_properties=[y]"])
    assert other.metrics["loss/online/total/U12"] == reference.metrics["loss/online/total/U12"]
    assert other.metrics["metrics/val/accuracy"] == reference.metrics["metrics/val/accuracy"]


def test_a_train_step_whose_batch_parameter_is_unclear_is_one_config_error(project):
    """The signature is read once, at setup: parameter names that say nothing are an error before training."""
    with pytest.raises(ConfigError) as caught:
        engine.run("configs/train.yaml", ["trainer.kind=noether_api_components.UnclearTrainer"])
    assert str(caught.value).splitlines() == [
        "trainer.kind: UnclearTrainer.train_step(inputs, net): cannot tell which parameter is the batch; name them "
        "(batch, model) as in Noether or (model, batch) as in the engine  "
        "[override 1 'trainer.kind=noether_api_components.UnclearTrainer']",
    ]


def test_process_results_gets_the_whole_dataset_in_order(project):
    """Batches of 7 over 40 samples: tensors concatenated, numbers one per batch, tuples per position."""
    config = with_callbacks(engine.load_config("configs/train.yaml"), "noether_api_components.OrderCallback")
    engine.run(config)
    from nproj.dataset import Blobs
    from nproj.schemas import BlobsConfig

    val = Blobs(BlobsConfig(kind="nproj.dataset.Blobs", num_samples=40, seed=1))
    assert [(interval, iteration) for interval, iteration, _ in noether_api_components.RESULTS] == [
        ("epoch", "E1_U4_S64"), ("epoch", "E2_U8_S128"), ("epoch", "E3_U12_S192")]
    results = noether_api_components.RESULTS[-1][2]
    assert torch.equal(results["x"], val.x)
    assert results["count"].tolist() == [7, 7, 7, 7, 7, 5]
    labels, nothing = results["pair"]
    assert torch.equal(labels, val.y) and nothing is None


def test_hooks_with_noethers_keyword_signatures_are_called_that_way(project, capsys):
    """before_training(*, update_counter) and periodic_callback(*, interval_type, update_counter, **kwargs)."""
    config = with_callbacks(engine.load_config("configs/train.yaml"), "noether_api_components.KeywordHookCallback")
    engine.run(config)
    out = [line for line in capsys.readouterr().out.splitlines() if "_callback " in line or "before_" in line]
    assert out == ["before_training at E0_U0_S0",
                   "periodic_callback epoch at E1_U4_S64 of E3_U12_S192",
                   "periodic_callback epoch at E2_U8_S128 of E3_U12_S192",
                   "periodic_callback epoch at E3_U12_S192 of E3_U12_S192"]


def test_noethers_accumulation_hook_gets_the_micro_batch_index(project):
    """track_after_accumulation_step(*, update_counter, batch, losses, update_outputs, accumulation_steps,
    accumulation_step): with max_batch_size 8 each update of 16 samples is 2 micro-batches."""
    config = with_callbacks(engine.load_config("configs/train.yaml", ["trainer.max_batch_size=8"]),
                            "noether_api_components.AccumulationHookCallback")
    engine.run(config)
    assert noether_api_components.RESULTS[:4] == [
        ("E0_U0_S0", 8, ["ce", "total"], 2, 0), ("E0_U0_S0", 8, ["ce", "total"], 2, 1),
        ("E0_U1_S16", 8, ["ce", "total"], 2, 0), ("E0_U1_S16", 8, ["ce", "total"], 2, 1)]
    assert len(noether_api_components.RESULTS) == 24


@pytest.mark.parametrize("kind, message", [
    ("ResumingCallback", "ResumingCallback defines Noether's hook resume_from_checkpoint(), which the engine never "
                         "calls; a resume restores callback state through state_dict() / load_state_dict(state)"),
    ("TooManyArgumentsCallback",
     "TooManyArgumentsCallback.periodic_callback(iteration, interval_type, extra) cannot be called the way the "
     "engine calls it: periodic_callback(iteration, interval_type)"),
])
def test_a_hook_the_engine_would_not_call_is_an_error_at_setup(project, kind, message):
    """Never silence: a Noether hook the engine does not call, or a signature it cannot call, fails before training."""
    config = with_callbacks(engine.load_config("configs/train.yaml"), "nproj.callbacks.AccuracyCallback",
                            f"noether_api_components.{kind}")
    with pytest.raises(ConfigError) as caught:
        engine.run(config)
    assert str(caught.value).splitlines() == [f"trainer.callbacks[1]: {message}"]
    assert not any("metrics/val/accuracy" in path.read_text() for path in project.glob("outputs/*/metrics.jsonl"))


def test_constructors_take_noethers_keywords_once():
    """model_config= / dataset_config= / callback_config= work; giving a config twice or not at all is an error."""
    from noether.core.schemas import CallBackBaseConfig, DatasetBaseConfig, ModelBaseConfig

    model_config = ModelBaseConfig(kind="engine.Model", name="m")
    assert engine.Model(model_config=model_config).model_config is model_config
    dataset = engine.Dataset(dataset_config=DatasetBaseConfig(kind="engine.Dataset"))
    assert dataset.config.kind == "engine.Dataset"
    callback = engine.PeriodicCallback(callback_config=CallBackBaseConfig(kind="x.Y", every_n_updates=2))
    assert callback.interval_string == "U2"
    with pytest.raises(TypeError, match=r"^give the model's config once: positionally or as model_config= "
                                        r"\(Noether's keyword\)$"):
        engine.Model(model_config, model_config=model_config)
    with pytest.raises(TypeError, match=r"^give the dataset's config once"):
        engine.Dataset()
    with pytest.raises(TypeError, match=r"^give the config once: positionally or as callback_config=, not both$"):
        engine.PeriodicCallback(callback.config, callback_config=callback.config)


def test_callback_attributes_before_the_run_starts_are_a_clear_error():
    """self.model / self.trainer / self.writer exist once the run has set the callback up."""
    from noether.core.schemas import CallBackBaseConfig

    callback = engine.PeriodicCallback(CallBackBaseConfig(kind="x.Y", every_n_updates=1))
    with pytest.raises(RuntimeError, match=r"^PeriodicCallback: the run's model, trainer and writer exist once "
                                           r"training starts \(after setup\), not in __init__$"):
        _ = callback.model


def test_two_processes_gather_the_results_in_dataset_order(project):
    """Under torchrun with 2 gloo processes, each evaluates every second sample; process_results sees all 40 in
    dataset order."""
    overrides = ["trainer.max_epochs=1", "run_id=ddp"]
    config = project / "configs" / "order.yaml"
    text = (project / "configs" / "train.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("nproj.callbacks.AccuracyCallback", "noether_api_components.OrderCallback"),
                      encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(project), str(pathlib.Path(__file__).parent), str(REPO)])}
    result = subprocess.run([sys.executable, "-m", "engine.cli", "--nproc-per-node", "2", str(config), *overrides],
                            cwd=project, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    from nproj.dataset import Blobs
    from nproj.schemas import BlobsConfig

    val = Blobs(BlobsConfig(kind="nproj.dataset.Blobs", num_samples=40, seed=1))
    assert torch.equal(torch.load(project / "outputs" / "ddp" / "order.th", weights_only=True), val.x)


def test_a_data_iterator_callback_without_process_data_is_an_error_at_setup(project):
    """The base class itself, or a subclass that forgot process_data, fails before training."""
    config = with_callbacks(engine.load_config("configs/train.yaml"), "engine.callbacks.PeriodicDataIteratorCallback")
    with pytest.raises(ConfigError) as caught:
        engine.run(config)
    assert str(caught.value).splitlines() == [
        "trainer.callbacks[0]: PeriodicDataIteratorCallback must implement process_data(batch, *, trainer_model)"]


def test_collate_results_concatenates_by_type_and_names_what_it_cannot():
    """Dicts per key, tuples per position, 0-d tensors and numbers one per batch, None stays None."""
    from engine.callbacks import collate_results

    collated = collate_results([({"a": torch.tensor([1.0, 2.0])}, torch.tensor(0.5), None, 3),
                                ({"a": torch.tensor([3.0])}, torch.tensor(1.5), None, 1)])
    assert collated[0]["a"].tolist() == [1.0, 2.0, 3.0]
    assert (collated[1].tolist(), collated[2], collated[3].tolist()) == ([0.5, 1.5], None, [3, 1])
    with pytest.raises(TypeError, match=r"^process_data returned a str, which cannot be concatenated; return "
                                        r"tensors, numbers, or dicts / tuples of them$"):
        collate_results(["a", "b"])


def test_a_callback_may_assign_the_noether_attributes_itself():
    """self.model / self.writer read the run, but a callback that sets its own keeps it."""
    from noether.core.schemas import CallBackBaseConfig

    callback = engine.PeriodicCallback(CallBackBaseConfig(kind="x.Y", every_n_updates=1))
    callback.model = "mine"
    assert callback.model == "mine"
