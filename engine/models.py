"""Models built from their configs: ``Model`` for one network, ``CompositeModel`` for named submodels."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from noether.core.schemas import ModelBaseConfig


class Model(torch.nn.Module):
    """Base of user models: an ``nn.Module`` built from its ``ModelBaseConfig``.

    Subclasses declare ``config_schema = MyModelConfig`` (an attrs subclass of ``ModelBaseConfig``) so that
    ``engine.load_config`` structures the YAML into it, build their layers in ``__init__`` and implement
    ``forward(**forward_properties)``.
    """

    config_schema: ClassVar[type] = ModelBaseConfig

    def __init__(self, config: ModelBaseConfig | None = None, *, model_config: ModelBaseConfig | None = None) -> None:
        if (config is None) == (model_config is None):
            raise TypeError("give the model's config once: positionally or as model_config= (Noether's keyword)")
        super().__init__()
        self.config = config if config is not None else model_config
        self.name = self.config.name

    @property
    def model_config(self) -> ModelBaseConfig:
        """The model's config under Noether's name (``self.model_config``), the same object as ``self.config``."""
        return self.config

    @property
    def is_frozen(self) -> bool:
        """True when the config says ``is_frozen``: no gradients, no optimizer, weights kept as loaded."""
        return bool(self.config.is_frozen)

    @property
    def optimizer_config(self) -> Any:
        """The model's ``OptimizerConfig`` (``None``: not trained by its own optimizer)."""
        return self.config.optimizer_config


class CompositeModel(Model):
    """A model made of named submodels (``Model`` attributes), each with its own optimizer, freezing and
    initializers; checkpoints name them ``<composite>.<attribute>``."""

    @property
    def submodels(self) -> dict[str, Model]:
        """Attribute name -> submodel, in registration order."""
        return {name: module for name, module in self.named_children() if isinstance(module, Model)}


def named_models(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """Checkpoint name -> leaf model: a ``Model`` maps to its ``name``; a ``CompositeModel``'s submodels to
    ``<composite name>.<attribute>`` (recursively); any other module to ``"model"``."""
    if isinstance(model, CompositeModel):
        found: dict[str, torch.nn.Module] = {}
        for attribute, submodel in model.submodels.items():
            for name, leaf in named_models(submodel).items():
                found[f"{model.name}.{name if isinstance(submodel, CompositeModel) else attribute}"] = leaf
        return found
    return {getattr(model, "name", None) or "model": model}


def trained_models(model: torch.nn.Module) -> dict[str, Model]:
    """Checkpoint name -> leaf model that has an optimizer config and is not frozen (the ones to optimise)."""
    return {
        name: leaf
        for name, leaf in named_models(model).items()
        if isinstance(leaf, Model) and leaf.optimizer_config is not None and not leaf.is_frozen
    }


def freeze(model: torch.nn.Module) -> None:
    """Stop gradients for every parameter of ``model``."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
