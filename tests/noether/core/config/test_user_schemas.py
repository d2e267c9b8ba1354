"""User schema routes of Noether projects: unions of callback configs by ``name``, undecorated subclasses, the
``config_schema`` hook next to ``config_schema_kind``, Noether's dataset key aliases."""

from __future__ import annotations

from typing import Annotated, Literal

import attrs
import pytest

from noether.core.config import ConfigError, structure
from noether.core.schemas import (
    CallBackBaseConfig,
    CheckpointCallbackConfig,
    DatasetBaseConfig,
    Discriminator,
    ModelBaseConfig,
)


@attrs.frozen(kw_only=True)
class PlotConfig(CallBackBaseConfig):
    """A user callback config tagged by name."""

    name: Literal["PlotCallback"] = "PlotCallback"
    """Tag."""
    dpi: int = 100
    """Resolution."""


@attrs.frozen(kw_only=True)
class DumpConfig(CallBackBaseConfig):
    """Another user callback config tagged by name."""

    name: Literal["DumpCallback"] = "DumpCallback"
    """Tag."""
    every: int = 1
    """How often."""


class UndecoratedModelConfig(ModelBaseConfig):
    """A model config whose author forgot ``@attrs.frozen``."""

    depth: int = 2


@attrs.frozen(kw_only=True)
class Holder:
    """A user section with such a field."""

    model: UndecoratedModelConfig
    """The model."""


PLAIN = tuple[PlotConfig | DumpConfig | CheckpointCallbackConfig, ...]
ANNOTATED = tuple[Annotated[PlotConfig | DumpConfig | CheckpointCallbackConfig, Discriminator("name")], ...]
CALLBACKS = [
    {"name": "PlotCallback", "kind": "proj.PlotCallback", "every_n_epochs": 1, "dpi": 50},
    {"name": "DumpCallback", "kind": "proj.DumpCallback", "every_n_updates": 2, "every": 3},
    {"kind": "noether.core.callbacks.CheckpointCallback", "every_n_epochs": 1},
]


@pytest.mark.parametrize("union", [PLAIN, ANNOTATED], ids=["plain-union", "annotated-discriminator"])
def test_a_user_union_of_callback_configs_dispatches_by_name(union):
    """Each item becomes the member its `name` picks; a built-in named only by Noether's kind string is found too."""
    built = structure(CALLBACKS, union)
    assert [type(c).__name__ for c in built] == ["PlotConfig", "DumpConfig", "CheckpointCallbackConfig"]
    assert (built[0].dpi, built[1].every) == (50, 3)


@pytest.mark.parametrize("union", [PLAIN, ANNOTATED], ids=["plain-union", "annotated-discriminator"])
def test_a_user_union_reports_a_wrong_name_and_the_other_problems(union):
    """A wrong name lists the union's names; a field problem of another item is reported in the same error."""
    with pytest.raises(ConfigError) as excinfo:
        structure([{**CALLBACKS[0], "name": "PlotCalback"}, {**CALLBACKS[1], "every": "often"}], union)
    assert str(excinfo.value).splitlines() == [
        "[0].name: unknown name 'PlotCalback' (expected one of: PlotCallback, DumpCallback, CheckpointCallback); "
        "did you mean 'PlotCallback'?",
        "[1].every: expected an integer (got str 'often')",
    ]


def test_an_undecorated_subclass_is_one_clear_error():
    """A subclass of a config class without its own `@attrs.frozen` would drop its fields: one line saying what to do."""
    with pytest.raises(ConfigError) as excinfo:
        structure({"model": {"kind": "a.B", "name": "m", "depth": 3}}, Holder)
    assert str(excinfo.value).splitlines() == [
        f"model: {__name__}.UndecoratedModelConfig subclasses ModelBaseConfig but is not an attrs class itself, so "
        "its fields would be ignored: decorate it with @attrs.frozen(kw_only=True)",
    ]


def test_an_inherited_config_schema_does_not_veto_a_narrower_section():
    """The hook answering the base class (a component's inherited `config_schema`) keeps the narrower class."""

    @attrs.frozen(kw_only=True)
    class Narrow(ModelBaseConfig):
        """Narrowed by the user's schema."""

        width: int = 1
        """Width."""

    config = structure({"kind": "a.B", "name": "m", "width": 3}, Narrow, config_class_for=lambda kind, base: ModelBaseConfig)
    assert (type(config), config.width) == (Narrow, 3)


def test_noethers_dataset_key_aliases():
    """`normalizers` / `wrappers` (Noether's pydantic aliases) fill `dataset_normalizers` / `dataset_wrappers`."""
    config = structure({"kind": "a.B", "normalizers": {"x": {"kind": "noether.data.preprocessors.normalizers.MeanStdNormalization",
                                                             "mean": [0.0], "std": [1.0]}},
                        "wrappers": [{"kind": "noether.data.base.wrappers.RepeatWrapper", "repetitions": 2}]},
                       DatasetBaseConfig)
    assert config.dataset_normalizers["x"].std == (1.0,)
    assert config.dataset_wrappers[0].repetitions == 2
    with pytest.raises(ConfigError) as excinfo:
        structure({"kind": "a.B", "wrappers": [], "dataset_wrappers": []}, DatasetBaseConfig)
    assert str(excinfo.value) == "wrappers: is Noether's other name for dataset_wrappers, which is also given; keep one of the two"
