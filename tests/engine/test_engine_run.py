"""``engine.run`` end to end on the token MLP: what a run returns and leaves behind, and a run with nothing to
train (``max_*: 0`` runs the callbacks once, DESIGN.md section 5)."""

from __future__ import annotations

import json

import attrs
import pytest
import torch

import engine
from engine_components import (
    RECORDINGS,
    TokenDataset,
    TokenMlp,
    max_difference,
    per_token_loss,
    recorder,
    token_config,
)
from noether.core.schemas import OfflineLossCallbackConfig

def with_validation(tmp_path, record_id: str, **trainer_fields):
    """A token-MLP config with a ``val`` split of 10 samples, its offline loss every update and a weight recorder."""
    config = token_config(tmp_path, callbacks=(
        OfflineLossCallbackConfig(dataset_key="val", every_n_updates=1, batch_size=4), recorder(record_id)),
        **trainer_fields)
    train = config.datasets["train"]
    return attrs.evolve(config, datasets={"train": train, "val": attrs.evolve(train, num_samples=10, data_seed=1)})


@pytest.mark.parametrize("end", ["max_updates", "max_epochs", "max_samples"])
def test_max_zero_runs_the_callbacks_once_and_trains_nothing(tmp_path, end):
    """``max_*: 0`` evaluates once (one ``loss/val/total`` line at update 0) and leaves the initial weights."""
    fields = {"max_updates": None, end: 0}
    result = engine.run(with_validation(tmp_path, f"zero-{end}", **fields))
    recording = RECORDINGS[f"zero-{end}"]
    assert str(result.iteration) == "E0_U0_S0"
    assert [label for label, _ in recording.after_interval] == ["E0_U0_S0"]
    assert max_difference(recording.initial, recording.final) == 0.0
    lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(line["update"], sorted(key for key in line if "/" in key)) for line in lines] == [(0, ["loss/val/total"])]
    assert result.metrics == {"loss/val/total": lines[0]["loss/val/total"]}


def test_the_offline_loss_is_the_per_sample_loss_of_the_whole_dataset(tmp_path):
    """``loss/val/total`` of a run with nothing to train is the initial model's mean loss over all 10 validation
    samples (batches of 4, 4, 2 weighted by size), in float64."""
    config = with_validation(tmp_path, "offline", max_updates=0)
    result = engine.run(config)
    model = TokenMlp(config.model)
    model.load_state_dict(RECORDINGS["offline"].initial)
    with torch.no_grad():
        val = TokenDataset(config.datasets["val"])
        expected = per_token_loss(model(val.x), val.y).mean().item()
    assert result.metrics["loss/val/total"] == pytest.approx(expected, rel=1e-12)


def test_run_result_and_run_directory(tmp_path):
    """A run returns its id, directory, end and last metrics, and leaves config, param groups, metrics and
    checkpoints under ``<output_path>/<run_id>``."""
    result = engine.run(token_config(tmp_path))
    assert result.run_id == "test-run"
    assert result.run_dir == tmp_path / "test-run"
    assert str(result.iteration) == "E2_U4_S48"
    assert {"loss/online/total/U1", "optim/lr/mlp/default", "optim/lr/mlp/weight_decay=0"} <= set(result.metrics)
    names = {path.name for path in result.run_dir.iterdir()}
    assert {"config.yaml", "param_groups.txt", "metrics.jsonl", "checkpoints"} <= names
    assert engine.load_config(result.run_dir / "config.yaml").run_id == "test-run"
    assert (result.run_dir / "param_groups.txt").read_text().startswith("# mlp\n")
