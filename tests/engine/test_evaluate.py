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


# ------------------------------------------------------------------------------------------------ evaluate
from engine.cli import eval_main  # noqa: E402
from engine_components import TokenDataset, per_token_loss  # noqa: E402
from evaluate_components import datasets  # noqa: E402
from noether.core.config import ConfigError  # noqa: E402


def files_of(directory: pathlib.Path) -> dict[str, bytes]:
    """Every file under ``directory`` (relative path -> content)."""
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.fixture()
def fresh_run(tmp_path) -> engine.RunResult:
    """A trained run of this test alone (evaluations add stage directories to it)."""
    return trained_run(tmp_path / "outputs")


def validation_set() -> TokenDataset:
    """The run's validation dataset, built by hand."""
    return TokenDataset(datasets()["val"])


def hand_loss(model: torch.nn.Module) -> float:
    """The validation loss of ``model`` computed by hand: the per-token squared error's mean over all samples."""
    val = validation_set()
    with torch.no_grad():
        return per_token_loss(model(val.x), val.y).mean().item()


def write(path: pathlib.Path, text: str) -> pathlib.Path:
    """Write ``text`` to ``path`` and return it."""
    path.write_text(text, encoding="utf-8")
    return path


def test_evaluate_the_best_checkpoint_and_predict(fresh_run, tmp_path):
    """The best checkpoint's validation loss equals a hand evaluation of it, the predictions equal a hand
    forward pass with the sample indices, results are in ``<run>/eval``, and no file of the run changed."""
    run_dir = fresh_run.run_dir
    before = files_of(run_dir)
    inference = write(tmp_path / "inference.yaml", "evaluation:\n  checkpoint: best_model.loss/val/total\n"
                      "  predict: [val]\n")
    result = engine.evaluate(run_dir, inference)
    assert result.run_dir == run_dir / "eval" and result.run_id == "test-run"
    best = engine.load_model(run_dir, "best_model.loss.val.total")
    assert result.metrics == {"loss/val/total": pytest.approx(hand_loss(best), rel=1e-12)}
    predictions = torch.load(result.run_dir / "predictions" / "val.th", weights_only=True)
    val = validation_set()
    assert torch.equal(predictions["index"], torch.arange(10))
    with torch.no_grad():
        assert torch.allclose(predictions["outputs"], best(val.x), rtol=0, atol=1e-15)
    assert predictions["dataset_key"] == "val" and predictions["checkpoint"] == "best_model.loss.val.total"
    after = files_of(run_dir)
    assert {name: content for name, content in after.items() if not name.startswith("eval/")} == before
    assert sorted(name for name in after if name.startswith("eval/")) == [
        "eval/.lock", "eval/config.yaml", "eval/metrics.jsonl", "eval/predictions/val.th", "eval/summary.json"]  # the stage is locked as a run is
    import json

    summary = json.loads((result.run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["checkpoint"] == "best_model.loss.val.total" and summary["evaluated"] == "run test-run"
    assert engine.evaluate(run_dir).run_dir == run_dir / "eval_2"  # a second evaluation: a new stage


def test_evaluate_ema_weights_equals_a_hand_evaluation(fresh_run):
    """``evaluation.model_info=ema=0.9`` evaluates the EMA weights: the loss of the loaded EMA model by hand."""
    result = engine.evaluate(fresh_run.run_dir, overrides=["evaluation.model_info=ema=0.9",
                                                           "evaluation.checkpoint=last"])
    ema = engine.load_model(fresh_run.run_dir, "last", model_info="ema=0.9")
    assert result.metrics["loss/val/total"] == pytest.approx(hand_loss(ema), rel=1e-12)
    assert result.metrics["loss/val/total"] != pytest.approx(fresh_run.metrics["loss/val/total"], rel=1e-6)


def test_bad_evaluations_are_one_error_each_and_write_nothing(fresh_run, tmp_path):
    """A checkpoint that does not exist, a dataset key the run lacks, a changed model: one clear error each,
    and the run directory is exactly as before."""
    run_dir = fresh_run.run_dir
    before = files_of(run_dir)
    with pytest.raises(FileNotFoundError) as caught:
        engine.evaluate(run_dir, overrides=["evaluation.checkpoint=E9"])
    assert str(caught.value).startswith("no verified checkpoint 'E9' of model 'mlp' in ")
    inference = write(tmp_path / "bad.yaml", "evaluation:\n  predict: [test]\nmodel:\n  hidden: 16\n"
                      "trainer:\n  callbacks:\n  - name: OfflineLossCallback\n    dataset_key: tset\n"
                      "    every_n_epochs: 1\n")
    with pytest.raises(ConfigError) as caught:
        engine.evaluate(run_dir, inference)
    assert str(caught.value).splitlines() == [
        f"evaluation.predict[0]: no dataset 'test' in the run (datasets: train, val)  [{inference}:2:13]",
        "model.hidden: an evaluation cannot change the trained model (the run has 8, got 16); its checkpoints fit "
        f"the run's model only  [{inference}:4:3]",
    ]
    with pytest.raises(ConfigError) as caught:
        engine.evaluate(run_dir, inference, ["evaluation.predict=[val]", "model.hidden=8"])
    assert str(caught.value).splitlines() == [
        f"trainer.callbacks[0].dataset_key: no dataset 'tset' (datasets: train, val)  [{inference}:8:5]",
    ]
    assert files_of(run_dir) == before


def test_noether_eval_command(fresh_run, tmp_path, capsys):
    """``noether-eval RUN_ID --output-path DIR [overrides]`` prints the metrics and the stage directory; a bad
    override is one line with status 2."""
    output_path = fresh_run.run_dir.parent
    assert eval_main([fresh_run.run_id, "--output-path", str(output_path), "evaluation.checkpoint=E1"]) == 0
    out = capsys.readouterr().out
    e1 = engine.load_model(fresh_run.run_dir, "E1")
    assert out.endswith(f"loss/val/total: {hand_loss(e1):.6g}\nresults: {fresh_run.run_dir / 'eval'}\n")
    assert eval_main([str(fresh_run.run_dir), "evaluation.chekpoint=E1"]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [
        "evaluation.chekpoint: cannot override: the key is not in the config; add it with '+evaluation.chekpoint=...'"
        "; did you mean 'checkpoint'?  [override 1 'evaluation.chekpoint=E1']"]
    assert eval_main(["nope", "--output-path", str(output_path)]) == 2
    assert capsys.readouterr().err == f"noether-eval: no run 'nope' in {output_path} (runs there: test-run)\n"


# ------------------------------------------------------------------------------------ EMA evaluated in training
import json  # noqa: E402

from engine_components import token_config  # noqa: E402
from noether.core.schemas.callbacks import (  # noqa: E402
    BestCheckpointCallbackConfig,
    CheckpointCallbackConfig,
    EmaCallbackConfig,
    OfflineLossCallbackConfig,
)


def ema_run_config(output_path: pathlib.Path, ema_factors=(0.9,), model_info="ema=0.9"):
    """The validation loss of the trained and of the EMA weights every 2 updates, the best EMA checkpoint by the
    EMA loss, and periodic checkpoints of both."""
    import attrs

    callbacks = (OfflineLossCallbackConfig(dataset_key="val", every_n_updates=2),
                 OfflineLossCallbackConfig(dataset_key="val", every_n_updates=2, model_info=model_info),
                 BestCheckpointCallbackConfig(metric_key=f"{model_info}/loss/val/total", every_n_updates=2),
                 EmaCallbackConfig(target_factors=ema_factors, every_n_updates=2),
                 CheckpointCallbackConfig(every_n_updates=2))
    config = token_config(output_path, datasets=datasets(), callbacks=callbacks)
    return attrs.evolve(config, store_code_in_output=False)


def logged(run_dir: pathlib.Path) -> dict[int, dict[str, float]]:
    """``metrics.jsonl`` by update."""
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return {record["update"]: record for record in map(json.loads, lines)}


def test_ema_metrics_equal_a_hand_evaluation_of_the_shadow(tmp_path):
    """``model_info: ema=0.9`` logs ``ema=0.9/loss/val/total``: at every interval the loss of the EMA weights
    saved at that update, by hand; the trained weights' loss is unchanged by the swap; the best checkpoint by the
    EMA metric holds the EMA weights of the best update."""
    result = engine.run(ema_run_config(tmp_path))
    records = logged(result.run_dir)
    for update, tag in ((2, "E1_U2_S24"), (4, "E2_U4_S48")):
        ema = engine.load_model(result.run_dir, tag, model_info="ema=0.9")
        trained = engine.load_model(result.run_dir, tag)
        assert records[update]["ema=0.9/loss/val/total"] == pytest.approx(hand_loss(ema), rel=1e-12)
        assert records[update]["loss/val/total"] == pytest.approx(hand_loss(trained), rel=1e-12)
        assert hand_loss(ema) != pytest.approx(hand_loss(trained), rel=1e-6)
    best_update = min((2, 4), key=lambda update: records[update]["ema=0.9/loss/val/total"])
    best = engine.load_model(result.run_dir, "best_model.ema=0.9/loss/val/total", model_info="ema=0.9")
    at_best = engine.load_model(result.run_dir, {2: "E1_U2_S24", 4: "E2_U4_S48"}[best_update], model_info="ema=0.9")
    assert same(best, at_best.state_dict())
    assert not (result.run_dir / "checkpoints" / "mlp_cp=best_model.ema=0.9.loss.val.total_model.th").exists()


def test_an_ema_factor_that_no_callback_keeps_is_a_config_error(tmp_path):
    """``model_info: ema=0.5`` with only EMA 0.9: one line per callback that needs it, before training."""
    with pytest.raises(ConfigError) as caught:
        engine.run(ema_run_config(tmp_path, model_info="ema=0.5"))
    assert str(caught.value).splitlines() == [
        "trainer.callbacks[1].model_info: no EmaCallback keeps the factor 0.5 (EMA factors: 0.9) (got 'ema=0.5')",
        "trainer.callbacks[2].metric_key: no EmaCallback keeps the factor 0.5 (EMA factors: 0.9) "
        "(got 'ema=0.5/loss/val/total')",
    ]
    assert not (tmp_path / "test-run" / "checkpoints").exists()


def test_an_evaluation_of_a_tracked_run_has_its_own_tensorboard_events(tmp_path):
    """A run tracked with TensorBoard: its evaluation writes events (the evaluated loss at update 0) into the
    evaluation's stage directory, not into the run's."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from noether.core.schemas import TensorboardTrackerSchema

    run = trained_run(tmp_path / "outputs", tracker=TensorboardTrackerSchema())
    before = files_of(run.run_dir / "runs")
    result = engine.evaluate(run.run_dir, overrides=["evaluation.checkpoint=last"])
    assert result.tensorboard_dir == run.run_dir / "eval" / "runs"
    accumulator = EventAccumulator(str(result.tensorboard_dir))
    accumulator.Reload()
    [event] = accumulator.Scalars("loss/val/total")
    assert event.step == 0 and event.value == pytest.approx(result.metrics["loss/val/total"], rel=1e-6)
    assert files_of(run.run_dir / "runs") == before
