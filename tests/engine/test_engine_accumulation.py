"""Gradient accumulation through ``engine.run`` equals training on the full batch (DESIGN.md section 5), checked
in float64 against the engine without accumulation and against a hand-written torch loop."""

from __future__ import annotations

import json

import attrs
import pytest
import torch

import engine
from engine.data import epoch_order
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

LOSS_STYLES = ("mean", "tokens", "parts")
"""A scalar mean, an ``engine.LossOutput`` over a varying number of valid tokens, a dict of two means."""
TOLERANCE = 1e-12
"""float64 after 4 AdamW updates (DESIGN.md section 6 measured 1e-14 after 10)."""


def trained_weights(tmp_path, record_id: str, **trainer_fields) -> dict[str, torch.Tensor]:
    """The final weights of a run of the token MLP with the given trainer fields."""
    engine.run(token_config(tmp_path / record_id, callbacks=(recorder(record_id),), **trainer_fields))
    return RECORDINGS[record_id].final


@pytest.mark.parametrize("loss", LOSS_STYLES)
@pytest.mark.parametrize("max_batch_size", [4, 5], ids=["micro-batches 4,4,4", "micro-batches 5,5,2"])
def test_accumulated_updates_equal_full_batch_updates(tmp_path, loss, max_batch_size):
    """Micro-batches of an effective batch of 12 give the weights of the unsplit batch to 1e-12 in float64."""
    full = trained_weights(tmp_path, f"full-{loss}-{max_batch_size}", loss=loss, max_batch_size=max_batch_size,
                           disable_gradient_accumulation=True)
    accumulated = trained_weights(tmp_path, f"accumulated-{loss}-{max_batch_size}", loss=loss,
                                  max_batch_size=max_batch_size)
    assert max_difference(full, accumulated) < TOLERANCE
    assert max_difference(full, RECORDINGS[f"full-{loss}-{max_batch_size}"].initial) > 1e-3  # it did train


def test_micro_batch_sizes_are_reported(tmp_path, capsys):
    """A run announces the micro-batches of one update: 5, 5 and 2 for 12 samples with max_batch_size 5."""
    engine.run(token_config(tmp_path, max_batch_size=5))
    assert "4 updates of 12 samples (2 per epoch, micro-batches [5, 5, 2]) on cpu" in capsys.readouterr().out


def hand_written_loop(config, loss: str) -> dict[str, torch.Tensor]:
    """Train the token MLP as a plain torch loop on the engine's sample order: one full batch per update,
    AdamW with weight decay on the matrices only (the engine's default param groups)."""
    torch.manual_seed(config.seed)
    model = TokenMlp(config.model)
    dataset = TokenDataset(config.datasets["train"])
    optimizer_config = config.model.optimizer_config
    matrices = [p for p in model.parameters() if p.ndim > 1]
    vectors = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": optimizer_config.weight_decay},
                                   {"params": vectors, "weight_decay": 0.0}], lr=optimizer_config.lr)
    batch_size = config.trainer.effective_batch_size
    updates_per_epoch = len(dataset) // batch_size
    for update in range(config.trainer.max_updates):
        epoch, position = divmod(update, updates_per_epoch)
        indices = epoch_order(len(dataset), config.seed, epoch)[position * batch_size:(position + 1) * batch_size]
        x, y, mask = dataset.x[indices], dataset.y[indices], dataset.mask[indices]
        outputs = model(x)
        if loss == "mean":
            objective = per_token_loss(outputs, y).mean()
        elif loss == "tokens":
            objective = (per_token_loss(outputs, y) * mask).sum() / mask.sum()
        else:
            objective = ((outputs - y) ** 2)[..., 0].mean() + ((outputs - y) ** 2)[..., 1].mean()
        optimizer.zero_grad()
        objective.backward()
        optimizer.step()
    return {name: parameter.detach() for name, parameter in model.named_parameters()}


@pytest.mark.parametrize("loss", LOSS_STYLES)
def test_accumulated_updates_equal_a_hand_written_loop(tmp_path, loss):
    """The engine with micro-batches 5, 5, 2 gives the weights of a hand-written full-batch loop over the same
    samples (``engine.data.epoch_order``), starting from the same initial weights."""
    record_id = f"hand-{loss}"
    config = token_config(tmp_path, loss=loss, max_batch_size=5, callbacks=(recorder(record_id),))
    engine.run(config)
    torch.manual_seed(config.seed)
    assert max_difference(RECORDINGS[record_id].initial, dict(TokenMlp(config.model).named_parameters())) == 0.0
    assert max_difference(RECORDINGS[record_id].final, hand_written_loop(config, loss)) < TOLERANCE


@pytest.mark.parametrize("loss", ["mean", "tokens"])
def test_online_loss_does_not_depend_on_the_micro_batch_split(tmp_path, loss):
    """The logged training loss of an update is the full batch's loss (per sample, or per valid token for a
    ``LossOutput``), whatever ``max_batch_size`` is."""
    logged = {}
    for name, fields in {"full": {"disable_gradient_accumulation": True}, "split": {"max_batch_size": 5}}.items():
        result = engine.run(token_config(tmp_path / name, loss=loss, max_updates=1, **fields))
        lines = (result.run_dir / "metrics.jsonl").read_text().splitlines()
        logged[name] = json.loads(lines[0])["loss/online/total/U1"]
    assert logged["split"] == pytest.approx(logged["full"], rel=1e-6)




def all_padding_sometimes(config):
    """The config with one token per sample, about half of them padding: micro-batches of 2 are often empty."""
    train = attrs.evolve(config.datasets["train"], tokens=1, min_valid_tokens=0)
    return attrs.evolve(config, datasets={"train": train, "val": train})


def test_a_micro_batch_without_valid_tokens_trains_like_the_full_batch(tmp_path):
    """A ``LossOutput`` micro-batch with no valid token adds nothing: the weights and the logged loss equal the
    unsplit batch's."""
    results = {}
    for name, fields in {"full": {"disable_gradient_accumulation": True}, "split": {}}.items():
        config = token_config(tmp_path / name, loss="tokens", max_batch_size=2, callbacks=(recorder(f"empty-{name}"),),
                              **fields)
        results[name] = engine.run(all_padding_sometimes(config))
    assert max_difference(RECORDINGS["empty-full"].final, RECORDINGS["empty-split"].final) < TOLERANCE
    assert results["split"].metrics["loss/online/total/U1"] == pytest.approx(
        results["full"].metrics["loss/online/total/U1"], rel=1e-6)


def test_an_evaluation_batch_without_valid_tokens_adds_nothing(tmp_path):
    """The offline loss over a dataset with empty batches of 2 is the per-token loss of the valid tokens."""
    config = token_config(tmp_path, loss="tokens", max_updates=0, callbacks=(
        OfflineLossCallbackConfig(dataset_key="val", every_n_updates=1, batch_size=2), recorder("empty-eval")))
    config = all_padding_sometimes(config)
    result = engine.run(config)
    model = TokenMlp(config.model)
    model.load_state_dict(RECORDINGS["empty-eval"].initial)
    val = TokenDataset(config.datasets["val"])
    with torch.no_grad():
        expected = ((per_token_loss(model(val.x), val.y) * val.mask).sum() / val.mask.sum()).item()
    assert result.metrics["loss/val/total"] == pytest.approx(expected, rel=1e-12)
