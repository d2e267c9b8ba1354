"""Turn a config's ``kind`` (a dotted import path) into a class, with errors that name the config path.

Importing is plain ``importlib``: this module imports no torch, though the module a kind names may.
"""

from __future__ import annotations

import importlib

from noether.core.config.errors import ConfigError, Issue
from noether.core.schemas._checks import FieldProblem
from noether.core.schemas.callbacks import builtin_callback_for_kind
from noether.core.schemas.pipeline import NOETHER_PIPELINE_KINDS

KIND_ALIASES: dict[str, str] = {
    "noether.core.optimizer.Lion": "engine.lion.Lion",
    **NOETHER_PIPELINE_KINDS,
}
"""Noether kind strings whose implementation lives in the engine (the core imports no torch)."""


def import_kind(kind: str, *, path: str) -> type:
    """Import the object named by ``kind`` (``package.module.Name``); a ``ConfigError`` at ``path`` otherwise.

    >>> import_kind("collections.OrderedDict", path="model.kind").__name__
    'OrderedDict'
    >>> import_kind("collections.NoSuchThing", path="model.kind")
    Traceback (most recent call last):
    ...
    noether.core.config.errors.ConfigError: model.kind: cannot import 'collections.NoSuchThing': module 'collections' has no attribute 'NoSuchThing'
    """
    target = KIND_ALIASES.get(kind, kind)
    module_name, _, attribute = target.rpartition(".")
    if not module_name:
        raise ConfigError([Issue(path, f"expected a dotted import path like 'package.module.Class' (got {kind!r})")])
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError([Issue(path, f"cannot import {kind!r}: {exc}")]) from None
    except Exception as exc:  # noqa: BLE001 - a relative name (TypeError) or a module that fails while importing
        raise ConfigError([Issue(path, f"cannot import {kind!r}: {type(exc).__name__}: {exc}")]) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(
            [Issue(path, f"cannot import {kind!r}: module {module_name!r} has no attribute {attribute!r}")]
        ) from None


def resolve_kind(kind: str, base: type, *, path: str) -> type:
    """Import ``kind`` and check that it is a subclass of ``base``; a ``ConfigError`` at ``path`` otherwise.

    >>> resolve_kind("collections.OrderedDict", dict, path="model.kind").__name__
    'OrderedDict'
    >>> resolve_kind("collections.OrderedDict", list, path="model.kind")
    Traceback (most recent call last):
    ...
    noether.core.config.errors.ConfigError: model.kind: 'collections.OrderedDict' is not a subclass of list
    """
    found = import_kind(kind, path=path)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigError([Issue(path, f"{kind!r} is not a subclass of {base.__module__}.{base.__qualname__}"
                                 if base.__module__ != "builtins" else f"{kind!r} is not a subclass of {base.__qualname__}")])
    return found


def declared_config_class(kind: str, base: type) -> type | None:
    """The config class the component named by ``kind`` declares (its ``config_schema``), or ``None``: the hook
    ``load_config(..., config_class_for=declared_config_class)`` that ``noether-train`` and ``noether-check`` use.

    Built-in callbacks named by Noether's kind strings (``noether.core.callbacks.CheckpointCallback``) have their
    own configs and are not imported. A kind that cannot be imported is a problem at its ``kind`` key.
    """
    if builtin_callback_for_kind(kind) is not None:
        return None
    try:
        component = import_kind(kind, path="kind")
    except ConfigError as exc:
        raise FieldProblem(exc.issues[0].message, "kind") from None
    return getattr(component, "config_schema", None)
