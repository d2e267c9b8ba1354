"""``load_config``: from a YAML file and overrides to a validated, resolved config object."""

from __future__ import annotations

import importlib
import io
import pathlib
import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs
from ruamel.yaml import YAML

from noether.core.config.converter import DATASET_KEY_ALIASES, ConfigClassFor, Locate, structure, unstructure
from noether.core.config.errors import ConfigError, Issue, PathKey
from noether.core.config.resolve import resolve
from noether.core.config.yaml import Composed, compose_with_origins
from noether.core.schemas.optimizers import OptimizerConfig
from noether.core.schemas.schema import ConfigSchema

SCHEMA_KEY = "config_schema_kind"
"""Root YAML key naming the attrs subclass of ``ConfigSchema`` to structure with (Noether's convention)."""


def load_config(
    path: str | pathlib.Path,
    overrides: Sequence[str] = (),
    schema: type = ConfigSchema,
    *,
    config_class_for: ConfigClassFor | None = None,
    import_schema: bool = True,
) -> Any:
    """Load a YAML config: compose, override, interpolate, structure and resolve it.

    Args:
        path: The primary YAML file; ``defaults`` lists are resolved relative to its directory.
        overrides: ``trainer.max_epochs=5``, ``+new.key=1``, ``~key``, group choices ``optimizer=sgd``.
        schema: The root config class; a ``config_schema_kind`` root key in the YAML selects a subclass.
        config_class_for: Optional hook ``(kind, base) -> type | None``: the config class a user component
            declares for itself (``engine.load_config`` passes one that reads ``config_schema``).
        import_schema: Whether to import the class ``config_schema_kind`` names (``noether-check --no-import``
            passes ``False``). When it is not imported (or cannot be), ``schema`` is used instead and the sections a
            user schema narrows (model, trainer, datasets, callbacks, unknown root keys) are checked only for the keys
            the base classes know, so that every other problem is still reported.

    Returns:
        An instance of ``schema`` (or of the class named by ``config_schema_kind``).

    Raises:
        ConfigError: With every problem at once, each as ``path: message  [file:line:col]``.
    """
    composed, issues = compose_with_origins(
        path, overrides,
        is_field=lambda at, data: is_schema_field(_schema_for(data, schema) if import_schema else schema, at),
    )
    return structure_composed(composed, issues, schema, config_class_for=config_class_for, import_schema=import_schema)


def structure_composed(
    composed: Composed,
    issues: Sequence[Issue] = (),
    schema: type = ConfigSchema,
    *,
    config_class_for: ConfigClassFor | None = None,
    import_schema: bool = True,
) -> Any:
    """The last steps of ``load_config``: structure composed data (e.g. a run's config merged with an inference
    config) into ``schema`` (or the class its ``config_schema_kind`` names) and resolve it.

    Args:
        composed: The composed, interpolated data and where each node was written (its ``data`` is consumed).
        issues: Problems already found while composing, reported together with the rest.
        schema: As for ``load_config``.
        config_class_for: As for ``load_config``.
        import_schema: As for ``load_config``.

    Returns:
        An instance of ``schema`` (or of the class named by ``config_schema_kind``).

    Raises:
        ConfigError: With every problem at once, each located where ``composed`` says it was written.
    """
    issues = list(issues)
    data = composed.data
    locate = field_locator(composed)
    lenient = False
    if data.get(SCHEMA_KEY) is not None:
        if import_schema:
            try:
                schema = _schema_for(data, schema, locate=locate, strict=True)
            except ConfigError as exc:
                issues = [*issues, *exc.issues]
                lenient = True
        else:
            lenient = True
    data.pop(SCHEMA_KEY, None)
    field_names = {field.name for field in attrs.fields(schema)}
    for key in [key for key in data if key not in field_names and (lenient or key in composed.referenced_roots)]:
        del data[key]  # a helper node that only feeds interpolations (Noether configs keep those at the root)
    try:
        config = structure(data, schema, config_class_for=config_class_for, locate=locate,
                           lenient_components=lenient)
    except ConfigError as exc:
        raise ConfigError(in_document_order([*issues, *_not_under(exc.issues, issues)])) from None
    if issues:
        raise ConfigError(in_document_order(issues))
    return resolve(config, locate=locate)


_ALIAS_OF_FIELD = {name: alias for alias, name in DATASET_KEY_ALIASES.items()}


def field_locator(composed: Composed) -> Locate:
    """``composed.locate`` for config paths: a field written under Noether's other name for it (``normalizers:`` for
    ``dataset_normalizers``) is found where it was written."""

    def locate(path: tuple[PathKey, ...], at_key: bool = True) -> str | None:
        for index, step in enumerate(path):
            alias = _ALIAS_OF_FIELD.get(step) if isinstance(step, str) else None
            if alias is not None and tuple(path[: index + 1]) not in composed.origins:
                path = (*path[:index], alias, *path[index + 1:])
        return composed.locate(path, at_key)

    return locate


def in_document_order(issues: Sequence[Issue]) -> list[Issue]:
    """Sort issues by file, line and column; issues from overrides or without a line keep their order after."""

    def key(issue: Issue) -> tuple:
        parts = (issue.location or "").rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return (0, parts[0], int(parts[1]), int(parts[2]))
        return (1, "", 0, 0)

    return sorted(issues, key=key)


def _not_under(found: Sequence[Issue], reported: Sequence[Issue]) -> list[Issue]:
    """Drop structuring issues at or below a path already reported (e.g. a failed interpolation's node)."""
    prefixes = [issue.path for issue in reported]
    return [
        issue for issue in found
        if not any(issue.path == p or issue.path.startswith((p + ".", p + "[")) for p in prefixes)
    ]


def _schema_for(data: dict, default: type, *, locate: Any = None, strict: bool = False) -> type:
    kind = data.get(SCHEMA_KEY)
    if kind is None:
        return default
    problem = None
    if not isinstance(kind, str) or "." not in kind:
        problem = f"must be a dotted class path (got {kind!r})"
    else:
        module_name, _, class_name = kind.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            problem = f"cannot import module {module_name!r}: {exc}"
        except AttributeError:
            problem = f"module {module_name!r} has no class {class_name!r}"
        except Exception as exc:  # noqa: BLE001 - an empty or relative name, or a module that fails while importing
            problem = f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        else:
            problem = not_an_attrs_subclass(found, default, kind)
            if problem is None:
                return found
    if strict:
        raise ConfigError([Issue(SCHEMA_KEY, problem, locate((SCHEMA_KEY,), False) if locate else None)])
    return default


def not_an_attrs_subclass(found: Any, base: type, kind: str) -> str | None:
    """Why ``found`` cannot be the config class ``kind`` names, a subclass of ``base``; ``None`` when it can.

    A subclass of an attrs class that is not decorated itself would silently ignore the fields it declares, so it
    is rejected with how to declare it.

    >>> class Narrowed(ConfigSchema):
    ...     extra: int = 1
    >>> print(not_an_attrs_subclass(Narrowed, ConfigSchema, "my.Narrowed"))
    my.Narrowed subclasses ConfigSchema but is not an attrs class itself, so its fields would be ignored: decorate it with @attrs.frozen(kw_only=True)
    """
    if not (isinstance(found, type) and issubclass(found, base)):
        return f"{kind} is not an attrs subclass of {base.__name__}"
    if not attrs.has(found) or "__attrs_attrs__" not in found.__dict__:
        return (f"{kind} subclasses {base.__name__} but is not an attrs class itself, so its fields would be ignored: "
                "decorate it with @attrs.frozen(kw_only=True)")
    return None


def is_schema_field(schema: type, path: Sequence[PathKey]) -> bool:
    """Whether ``path`` names a field of ``schema`` (so an override may set it without ``+``).

    >>> is_schema_field(ConfigSchema, ("resume_run_id",)), is_schema_field(ConfigSchema, ("trainer", "max_epochs"))
    (True, True)
    >>> is_schema_field(ConfigSchema, ("trainer", "max_epoch"))
    False
    """
    current: Any = schema
    for key in path:
        candidates = _members(current)
        nxt = None
        for member in candidates:
            origin = typing.get_origin(member) or member
            if attrs.has(origin) and isinstance(key, str):
                if issubclass(origin, OptimizerConfig) and key not in attrs.fields_dict(attrs.resolve_types(origin)):
                    return True  # optimizer keyword arguments
                field = attrs.fields_dict(attrs.resolve_types(origin)).get(key)
                if field is not None:
                    nxt = field.type
            elif origin is dict:
                nxt = typing.get_args(member)[1] if typing.get_args(member) else typing.Any
            elif origin is tuple and isinstance(key, int):
                nxt = typing.get_args(member)[0]
            if nxt is not None:
                break
        if nxt is None:
            return False
        current = nxt
    return True


def _members(tp: Any) -> tuple:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(m for m in typing.get_args(tp) if m is not type(None))
    return (tp,)


def to_yaml(config: Any) -> str:
    """Render a config object as YAML that ``load_config`` / ``structure`` turn back into an equal object.

    >>> from noether.core.schemas import ConstantScheduleConfig
    >>> print(to_yaml(ConstantScheduleConfig(value=0.5)).splitlines()[0])
    kind: noether.core.schedules.ConstantSchedule
    """
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    data = unstructure(config)
    if isinstance(config, ConfigSchema) and type(config) is not ConfigSchema:
        data = {SCHEMA_KEY: config.config_schema_kind, **data}
    yaml.dump(data, stream)
    return stream.getvalue()


__all__ = ["in_document_order", "is_schema_field", "load_config", "not_an_attrs_subclass", "to_yaml"]
