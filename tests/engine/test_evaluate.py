"""``engine.load_model``: a trained model in one call, from the run's resolved config and a verified checkpoint."""

from __future__ import annotations

import pathlib

import pytest
import torch

import engine
from engine.checkpoint import CheckpointWriter, load_part
from engine_components import MODULE, TokenMlpConfig
from evaluate_components import Pair, PairConfig, trained_run
from noether.core import config as core_config
from noether.core.training import TrainingIteration


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> engine.RunResult:
    """One trained run shared by the tests of this module (they only read it)."""
    return trained_run(tmp_path_factory.mktemp("outputs"))


def stored_weights(run: engine.RunResult, file: str) -> dict[str, torch.Tensor]:
    """The state dict of one checkpoint file of the run."""
    return load_part(run.run_dir / "checkpoints" / file)["state_dict"]


def same(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> bool:
    """Whether the model's state equals ``state`` exactly."""
    own = model.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[key], state[key]) for key in own)


@pytest.mark.parametrize(("checkpoint", "file"), [
    ("best_model.loss/val/total", "mlp_cp=best_model.loss.val.total_model.th"),
    ("best_model.loss.val.total", "mlp_cp=best_model.loss.val.total_model.th"),
    ("latest", "mlp_cp=latest_model.th"),
    ("E1", "mlp_cp=E1_U2_S24_model.th"),
    ("U4", "mlp_cp=E2_U4_S48_model.th"),
    ("E2_U4_S48", "mlp_cp=E2_U4_S48_model.th"),
])
def test_load_model_loads_the_named_checkpoint(run, checkpoint, file):
    """Every tag form gives the model of the run's config with that checkpoint's weights, in eval mode."""
    model = engine.load_model(run.run_dir, checkpoint)
    assert type(model).__name__ == "TokenMlp" and not model.training
    assert model.config.hidden == 8 and model.name == "mlp"
    assert same(model, stored_weights(run, file))


def test_load_model_by_run_id_and_ema(run):
    """A run id under ``output_path`` finds the run; ``model_info='ema=0.9'`` loads the EMA weights, which
    differ from the trained ones."""
    output_path = run.run_dir.parent
    model = engine.load_model(run.run_id, "last", model_info="ema=0.9", output_path=output_path)
    assert same(model, stored_weights(run, "mlp_ema=0.9_cp=last_model.th"))
    assert not same(model, stored_weights(run, "mlp_cp=last_model.th"))


def test_a_missing_tag_lists_the_tags_that_exist(run):
    """An unknown tag names the model, the directory and every stored tag, and the EMA checkpoints."""
    directory = run.run_dir / "checkpoints"
    with pytest.raises(FileNotFoundError) as caught:
        engine.load_model(run.run_dir, "best_model.loss/test/total")
    assert str(caught.value) == (
        f"no verified checkpoint 'best_model.loss.test.total' of model 'mlp' in {directory}; available: "
        "E1_U2_S24, E2_U4_S48, best_model.loss.val.total, last, latest; checkpoints with model_info: ema=0.9")
    with pytest.raises(FileNotFoundError) as caught:
        engine.load_model(run.run_dir, "latest", model_info="ema=0.5")
    assert str(caught.value) == (
        f"no verified checkpoint 'latest' of model 'mlp' with model_info 'ema=0.5' in {directory}; there are no "
        "checkpoints with model_info 'ema=0.5'; checkpoints with model_info: ema=0.9; without model_info: the trained weights")


def test_a_missing_run_lists_the_runs(run, tmp_path):
    """A run id that does not exist lists the runs under ``output_path``; a path that is no run says so."""
    with pytest.raises(FileNotFoundError) as caught:
        engine.load_model("no-such-run", output_path=run.run_dir.parent)
    assert str(caught.value) == f"no run 'no-such-run' in {run.run_dir.parent} (runs there: test-run)"
    with pytest.raises(FileNotFoundError) as caught:
        engine.load_model(tmp_path)
    assert str(caught.value) == f"{tmp_path} holds no config.yaml of a run"


def test_load_model_of_a_composite_model(tmp_path):
    """Every submodel of a composite gets its own weights (``pair.first``, ``pair.second``)."""
    sub = {"kind": f"{MODULE}.TokenMlp"}
    torch.manual_seed(3)
    pair = Pair(PairConfig(kind="evaluate_components.Pair", name="pair", first=TokenMlpConfig(**sub, name="first"),
                           second=TokenMlpConfig(**sub, name="second", hidden=4)))
    config = trained_config(tmp_path, pair.config)
    run_dir = tmp_path / "pair-run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(core_config.to_yaml(config), encoding="utf-8")
    CheckpointWriter(run_dir / "checkpoints", run_id="pair-run", model=pair, optimizers={},
                     trainer_state=dict).save("last", TrainingIteration(1, 2, 24))
    model = engine.load_model(run_dir, "last")
    assert same(model.first, pair.first.state_dict()) and same(model.second, pair.second.state_dict())
    assert model.second.config.hidden == 4


def trained_config(output_path: pathlib.Path, model_config):
    """A token run's config with another model."""
    import attrs

    from engine_components import token_config

    return attrs.evolve(token_config(output_path), model=model_config)


def test_weights_that_do_not_fit_are_one_error(run, tmp_path):
    """A run whose config was edited to another shape: one error naming the checkpoint and the mismatch."""
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(run.run_dir, copy)
    text = (copy / "config.yaml").read_text(encoding="utf-8")
    (copy / "config.yaml").write_text(text.replace("hidden: 8", "hidden: 5"), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        engine.load_model(copy, "last")
    assert str(caught.value).startswith(
        "checkpoint 'last' of model 'mlp' does not fit the model built from the config: size mismatch for "
        "net.0.weight: copying a param with shape torch.Size([8, 3]) from checkpoint, the shape in current model "
        "is torch.Size([5, 3]).")
