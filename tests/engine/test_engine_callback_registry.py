"""Every built-in callback config of the schemas builds its engine callback, by name and by Noether's kind."""

from __future__ import annotations

import pytest

from engine.callbacks import BUILTIN, Callback, make_callbacks
from noether.core.config import ConfigError, structure
from noether.core.schemas import BaseTrainerConfig
from noether.core.schemas.callbacks import BUILTIN_CALLBACKS

MINIMAL_FIELDS = {
    "CheckpointCallback": {"every_n_epochs": 1},
    "BestCheckpointCallback": {"every_n_epochs": 1, "metric_key": "loss/val/total"},
    "EmaCallback": {"every_n_epochs": 1, "target_factors": [0.9]},
    "FixedEarlyStopper": {"stop_at_update": 3},
    "MetricEarlyStopper": {"every_n_epochs": 1, "metric_key": "loss/val/total", "tolerance": 2},
    "OnlineLossCallback": {"every_n_updates": 1},
    "OfflineLossCallback": {"every_n_epochs": 1, "dataset_key": "val"},
    "BestMetricCallback": {"every_n_epochs": 1, "source_metric_key": "loss/val/total", "target_metric_keys": ["x"]},
    "TrackAdditionalOutputsCallback": {"every_n_updates": 1, "keys": ["x"]},
}


def trainer_with(callback: dict) -> BaseTrainerConfig:
    """A trainer config whose only callback is ``callback``."""
    return structure({"kind": "t.T", "max_epochs": 1, "effective_batch_size": 1, "callbacks": [callback]}, BaseTrainerConfig)


def test_every_schema_callback_has_an_engine_class() -> None:
    """The engine implements exactly the built-in callbacks the schemas know."""
    assert sorted(BUILTIN) == sorted(BUILTIN_CALLBACKS) == sorted(MINIMAL_FIELDS)


@pytest.mark.parametrize("name", sorted(BUILTIN_CALLBACKS))
def test_built_in_by_name(name: str) -> None:
    """``name: X`` builds the engine's X with the structured config."""
    config = trainer_with({"name": name, **MINIMAL_FIELDS[name]}).callbacks[0]
    (callback,) = make_callbacks([config])
    assert type(callback) is BUILTIN[name] and callback.config is config and isinstance(callback, Callback)


@pytest.mark.parametrize("name", sorted(BUILTIN_CALLBACKS))
def test_built_in_by_noether_kind(name: str) -> None:
    """Noether's kind string (``noether.core.callbacks.X``) builds the same callback as the name."""
    config = trainer_with({"kind": f"noether.core.callbacks.{name}", **MINIMAL_FIELDS[name]}).callbacks[0]
    (callback,) = make_callbacks([config])
    assert type(callback) is BUILTIN[name]


def test_user_callback_that_is_not_a_callback() -> None:
    """A user kind that is not a Callback subclass is one error line at its path."""
    config = trainer_with({"kind": "collections.OrderedDict", "every_n_updates": 1}).callbacks[0]
    with pytest.raises(ConfigError) as raised:
        make_callbacks([config])
    assert str(raised.value) == (
        "trainer.callbacks[0].kind: 'collections.OrderedDict' is not a subclass of engine.callbacks.base.Callback"
    )


def test_the_default_callbacks_are_the_engines():
    """``noether.core.schemas.callbacks.DEFAULT_CALLBACKS`` (the kinds a config may not list) names exactly the
    callbacks the engine adds to every trainer."""
    import engine.callbacks.defaults as defaults
    from noether.core.schemas.callbacks import DEFAULT_CALLBACKS

    engine_defaults = {name for name, value in vars(defaults).items()
                       if isinstance(value, type) and value.__module__ == defaults.__name__ and name.endswith("Callback")}
    assert engine_defaults == set(DEFAULT_CALLBACKS)
