"""Built-in callbacks inside real runs: the loop's calls match their hooks, and their settings are checked."""

from __future__ import annotations

import pytest
import torch

import engine
from engine.data import Dataset
from engine_components import token_config
from noether.core.config import ConfigError
from noether.core.schemas import (
    BestCheckpointCallbackConfig,
    CheckpointCallbackConfig,
    EmaCallbackConfig,
    OnlineLossCallbackConfig,
    TrackAdditionalOutputsCallbackConfig,
)


@pytest.mark.parametrize("config", [
    TrackAdditionalOutputsCallbackConfig(every_n_updates=2, patterns=("x",), log_output=False),
    EmaCallbackConfig(every_n_updates=2, target_factors=(0.9,)),
    CheckpointCallbackConfig(every_n_updates=2),
], ids=["track-outputs", "ema", "checkpoint"])
def test_built_in_callback_runs_through_the_engine(tmp_path, config):
    """The loop calls the callback's hooks with the signature it declares (a run of 4 updates finishes)."""
    result = engine.run(token_config(tmp_path, callbacks=(config,)))
    assert result.iteration.update == 4


def test_a_configured_online_loss_at_the_track_interval_replaces_the_default(tmp_path):
    """An OnlineLossCallback at the default track interval does not collide with the default one."""
    result = engine.run(token_config(tmp_path, callbacks=(OnlineLossCallbackConfig(every_n_updates=1),)))
    assert "loss/online/total/U1" in result.metrics


@pytest.mark.parametrize("config_class", [CheckpointCallbackConfig, BestCheckpointCallbackConfig])
def test_unknown_model_names_are_a_config_error(tmp_path, config_class):
    """``model_names`` that name no model of the run are one error line at the callback's path; nothing trains."""
    watched = config_class is BestCheckpointCallbackConfig  # watches the loss of an online loss before it
    fields = {"metric_key": "loss/online/total/U1"} if watched else {}
    before = (OnlineLossCallbackConfig(every_n_updates=1),) if watched else ()
    config = token_config(tmp_path, callbacks=(*before, config_class(every_n_updates=1, model_names=("mpl",), **fields)))
    with pytest.raises(ConfigError) as raised:
        engine.run(config)
    (issue,) = raised.value.issues
    assert issue.path == f"trainer.callbacks[{len(before)}]"
    assert issue.message.endswith("model_names ['mpl'] are not models of this run (models: ['mlp']); did you mean 'mlp'?")
    assert not (tmp_path / "test-run" / "checkpoints").exists()


class Doubled(Dataset):
    """A dataset whose own ``__getitem__`` changes what ``getitem_x`` returns."""

    def __len__(self) -> int:
        return 4

    def getitem_x(self, index: int) -> torch.Tensor:
        return torch.tensor(float(index))

    def __getitem__(self, index: int) -> dict:
        sample = super().__getitem__(index)
        sample["x"] = sample["x"] * 100
        return sample


def test_batched_fetch_uses_an_overridden_getitem():
    """The DataLoader's batched path (``__getitems__``) returns what ``__getitem__`` returns."""
    from noether.core.schemas import DatasetBaseConfig

    dataset = Doubled(DatasetBaseConfig(kind="x.Y"))
    assert [sample["x"].item() for sample in dataset.__getitems__([1, 3])] == [100.0, 300.0]
