"""The one cattrs converter: untyped data (parsed YAML) becomes typed, validated config objects.

Rules: scalars are strict (no ``2.7 -> 2``, no ``"false" -> True``; an int is accepted where a float is
expected), lists become tuples, unknown keys are errors, and tagged unions dispatch on ``kind`` (callbacks
on ``name`` or ``kind``) through one hook that lists the allowed values. cattrs' detailed validation keeps
every error with its path; ``issues_from_exception`` turns that tree into ``Issue`` lines.
"""

from __future__ import annotations

import contextvars
import difflib
import pathlib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn

from noether.core.config.errors import ConfigError, Issue, PathKey, did_you_mean, format_path
from noether.core.schemas import _checks
from noether.core.schemas._checks import FieldProblem, InvalidFields, frozen_value
from noether.core.schemas.callbacks import (
    BUILTIN_CALLBACKS,
    CallBackBaseConfig,
    CALLBACK_KIND_PREFIXES,
    DEFAULT_CALLBACKS,
    CallbacksConfig,
    builtin_callback_for_kind,
)
from noether.core.schemas.dataset import DatasetBaseConfig, DatasetWrapperConfig
from noether.core.schemas.models import ModelBaseConfig
from noether.core.schemas.normalizers import NormalizerConfig
from noether.core.schemas.optimizers import OptimizerConfig
from noether.core.schemas.pipeline import PipelineConfig
from noether.core.schemas.trackers import AnyTracker
from noether.core.schemas.trainers import BaseTrainerConfig

ConfigClassFor = Callable[[str, type], "type | None"]
"""Hook ``(kind, base) -> config class``: the config class a user component declares for itself."""

_config_class_for: contextvars.ContextVar[ConfigClassFor | None] = contextvars.ContextVar(
    "config_class_for", default=None
)
_lenient_components: contextvars.ContextVar[bool] = contextvars.ContextVar("lenient_components", default=False)
"""Whether user component sections are checked only for the keys their base class knows (the user's schema
class, which may narrow them, was not imported)."""
_USER_COMPONENT_BASES = (ModelBaseConfig, BaseTrainerConfig, DatasetBaseConfig, CallBackBaseConfig, PipelineConfig,
                         NormalizerConfig, DatasetWrapperConfig)


# ---------------------------------------------------------------------------------------------- scalars
def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"{type(value).__name__} {value!r}"


# Each checks the exact type first: the common case costs one comparison.
def _structure_int(value: Any, _: type) -> int:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise FieldProblem(f"expected an integer (got {_describe(value)})")


def _structure_float(value: Any, _: type) -> float:
    if type(value) is float:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise FieldProblem(f"expected a number (got {_describe(value)})")


def _structure_bool(value: Any, _: type) -> bool:
    if value is True or value is False:
        return value
    raise FieldProblem(f"expected true or false (got {_describe(value)})")


def _structure_str(value: Any, _: type) -> str:
    if type(value) is str or isinstance(value, str):
        return value
    raise FieldProblem(f"expected a string (got {_describe(value)})")


def _structure_path(value: Any, _: type) -> pathlib.Path:
    if value == "":
        raise FieldProblem("must not be empty (got '')")
    if isinstance(value, (str, pathlib.PurePath)):
        return pathlib.Path(value)
    raise FieldProblem(f"expected a path (got {_describe(value)})")


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _literal_hook(tp: Any) -> Callable[[Any, type], Any]:
    allowed = typing.get_args(tp)
    allowed_types = {type(a) for a in allowed}

    def structure(value: Any, _: type) -> Any:
        if type(value) in allowed_types and value in allowed:
            return value
        listed = ", ".join(repr(a) for a in allowed)
        raise FieldProblem(f"must be one of {listed} (got {value!r}){did_you_mean(value, allowed)}")

    return structure


# ---------------------------------------------------------------------------------------- collections
def _is_homogeneous_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_fixed_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple and not _is_homogeneous_tuple(tp) and bool(typing.get_args(tp))


def _structure_items(tp: Any, items: Iterable[tuple[Any, Any, Callable[[Any, Any], Any]]]) -> list[Any]:
    """Structure ``(item, item type, hook)`` in order; every failing item is reported, with its index."""
    structured, errors = [], []
    for index, (item, item_type, hook) in enumerate(items):
        try:
            structured.append(hook(item, item_type))
        except Exception as exc:  # noqa: BLE001 - every error is collected with its index
            exc.__notes__ = [*getattr(exc, "__notes__", []), _Step(index)]
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return structured


def _fixed_tuple_hook(converter: cattrs.Converter) -> Callable[[Any], Callable]:
    """``tuple[int, int]`` (a range such as ``master_port: [low, high]``): a list of exactly that many items."""

    def factory(tp: Any) -> Callable[[Any, type], Any]:
        item_types = typing.get_args(tp)
        item_hooks = [converter.get_structure_hook(item_type) for item_type in item_types]
        names = [_type_name(t) for t in item_types]
        each = f"each {names[0]}" if len(set(names)) == 1 else ", ".join(names)
        expected = f"a list of {len(item_types)} items, {each}"

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, (list, tuple)):
                raise FieldProblem(f"expected {expected} (got {_describe(value)})")
            if len(value) != len(item_types):
                raise FieldProblem(f"expected {expected} (got a list of {len(value)})")
            return tuple(_structure_items(tp, zip(value, item_types, item_hooks)))

        return structure

    return factory


def _is_frozenset(tp: Any) -> bool:
    return typing.get_origin(tp) is frozenset


def _is_dict(tp: Any) -> bool:
    return typing.get_origin(tp) is dict


def _make_sequence_hook(converter: cattrs.Converter, make: type) -> Callable[[Any], Callable]:
    def factory(tp: Any) -> Callable[[Any, type], Any]:
        item_type = typing.get_args(tp)[0]
        item_hook = converter.get_structure_hook(item_type)

        def structure(value: Any, _: type) -> Any:
            if type(value) is not list and not isinstance(value, (list, tuple, set, frozenset)):
                raise FieldProblem(f"expected a list (got {_describe(value)})")
            try:  # fast path; on any error, redo item by item to collect every error with its index
                return make([item_hook(item, item_type) for item in value])
            except Exception:  # noqa: BLE001
                pass
            return make(_structure_items(tp, ((item, item_type, item_hook) for item in value)))

        return structure

    return factory


def _make_dict_hook(converter: cattrs.Converter) -> Callable[[Any], Callable]:
    def factory(tp: Any) -> Callable[[Any, type], Any]:
        key_type, value_type = typing.get_args(tp) or (Any, Any)
        value_hook = converter.get_structure_hook(value_type)

        def structure(value: Any, _: type) -> Any:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise FieldProblem(f"expected a mapping (got {_describe(value)})")
            if key_type is not str or all(type(key) is str for key in value):
                try:  # fast path; on any error, redo key by key to collect every error with its key
                    return {key: value_hook(item, value_type) for key, item in value.items()}
                except Exception:  # noqa: BLE001
                    pass
            result, errors = {}, []
            for key, item in value.items():
                try:
                    if key_type is str and not isinstance(key, str):
                        raise FieldProblem(f"keys must be strings (got {_describe(key)})")
                    result[key] = value_hook(item, value_type)
                except Exception as exc:  # noqa: BLE001 - every error is collected with its key
                    exc.__notes__ = [*getattr(exc, "__notes__", []), _Step(key)]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return result

        return structure

    return factory


class _Step(str):
    """A path step attached to an exception as a note (cattrs' own notes carry their steps too)."""

    def __new__(cls, key: PathKey) -> _Step:
        note = super().__new__(cls, f"at {key!r}")
        note.key = key
        return note


# --------------------------------------------------------------------------------------------- unions
def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _kind_literal(cls: type, tag: str = "kind") -> tuple[str, ...]:
    """The ``kind`` (or other ``tag``) values a tagged config class accepts (its ``Literal`` annotation)."""
    if not attrs.has(cls):
        return ()
    field = attrs.fields_dict(attrs.resolve_types(cls)).get(tag)
    if field is None or not _is_literal(field.type):
        return ()
    return tuple(v for v in typing.get_args(field.type) if v is not None)


def _takes_any_kind(cls: Any) -> bool:
    """Whether a tagged union's member is the one for every other kind: its ``kind`` is a plain ``str`` (a user's
    own normalizer or wrapper class, e.g.), not a ``Literal``."""
    if not (isinstance(cls, type) and attrs.has(cls)):
        return False
    field = attrs.fields_dict(attrs.resolve_types(cls)).get("kind")
    return field is not None and field.type is str


def _union_hook(converter: cattrs.Converter) -> Callable[[Any], Callable]:
    def factory(tp: Any) -> Callable[[Any, type], Any]:
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        optional = len(members) < len(typing.get_args(tp))
        tagged = [m for m in members if _kind_literal(m)]
        kinded = tagged + [m for m in members if _takes_any_kind(m)] if tagged else []
        if kinded and len(kinded) == len(members):
            inner = _tagged_union(members)
        elif len(members) > 1 and all(_kind_literal(m, "name") for m in members):
            inner = _tagged_union(members, "name")  # e.g. a user's union of callback configs
        elif len(tagged) > 1:
            # e.g. ``tuple[AnyNormalizer, ...] | AnyNormalizer``: a mapping is one of the classes with a kind.
            inner = _mapping_or_other(_tagged_union(kinded), _by_runtime_type(converter, [m for m in members if m not in kinded]))
        else:
            inner = _by_runtime_type(converter, members)
        if optional and len(members) == 1:
            # ``X | None``, by far the most common union: no dispatch on the data needed.
            member = members[0]
            member_hook = converter.get_structure_hook(member)
            return lambda value, _: None if value is None else member_hook(value, member)
        return _nullable(inner, optional)

    return factory


def _nullable(inner: Callable[[Any], Any], optional: bool) -> Callable[[Any, type], Any]:
    """A union's hook: ``None`` for an optional union (an error otherwise), anything else through ``inner``."""

    def structure(value: Any, _: type) -> Any:
        if value is None:
            if optional:
                return None
            raise FieldProblem("must not be null")
        return inner(value)

    return structure


def _is_union_of(union: Any) -> Callable[[Any], bool]:
    """A predicate for ``union`` and its optional form (``CallbacksConfig | None``), for a hook of its own."""
    members = set(typing.get_args(union))
    return lambda tp: _is_union(tp) and set(typing.get_args(tp)) - {type(None)} == members


def _callbacks_hook(tp: Any) -> Callable[[Any, type], Any]:
    """The built-in callback union: a built-in by ``name`` or Noether's kind string, else a user callback."""
    return _nullable(_structure_callback, type(None) in typing.get_args(tp))


def _tracker_hook(converter: cattrs.Converter) -> Callable[[Any], Callable]:
    def factory(tp: Any) -> Callable[[Any, type], Any]:
        """The tracker union, plus ``disabled`` / ``{}`` for no tracking."""
        tagged = _tagged_union([m for m in typing.get_args(tp) if m is not type(None)])
        return _nullable(lambda value: None if _is_disabled(value) else tagged(value), type(None) in typing.get_args(tp))

    return factory


def _is_disabled(value: Any) -> bool:
    """``tracker: disabled`` (any case) and ``tracker: {}`` mean no tracking."""
    return (isinstance(value, str) and value.lower() == "disabled") or (isinstance(value, Mapping) and not value)


def _tagged_union(members: list[type], tag: str = "kind") -> Callable[[Any], Any]:
    by_tag = {value: cls for cls in members for value in _kind_literal(cls, tag)}
    any_kind = next((cls for cls in members if tag == "kind" and _takes_any_kind(cls)), None)
    kind_rule = attrs.fields_dict(any_kind)["kind"] if any_kind is not None else None
    hooks: dict[type, Callable] = {}

    def structure(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise FieldProblem(f"expected a mapping with a {tag} (got {_describe(value)})")
        found = value.get(tag)
        cls = by_tag.get(found) if isinstance(found, str) else None
        if found is None and tag == "name" and isinstance(value.get("kind"), str):
            # a built-in callback may be named by Noether's kind string alone
            builtin = builtin_callback_for_kind(value["kind"])
            cls = builtin if builtin in members else None
        if cls is None and found is None:
            raise FieldProblem(f"missing {tag}; expected one of: {', '.join(by_tag)}")
        if cls is None and kind_rule is not None:
            try:  # a user's class path; a kind under Noether's module is only its kind problem, not its keys'
                kind_rule.validator(None, kind_rule, found)
            except FieldProblem as exc:
                raise _KindProblem(exc.message, tag) from None
            cls = any_kind
        if cls is None:
            raise _KindProblem(f"unknown {tag} {found!r} (expected one of: {', '.join(by_tag)}){did_you_mean(found, by_tag)}", tag)
        hook = hooks.get(cls) or hooks.setdefault(cls, CONVERTER.get_structure_hook(cls))
        return hook(value, cls)

    return structure


def _is_discriminated(tp: Any) -> bool:
    """``Annotated[A | B, Discriminator("name")]`` (or other metadata with a ``discriminator`` attribute, such as
    pydantic's ``Field(discriminator="name")``)."""
    return typing.get_origin(tp) is typing.Annotated and _discriminator(tp) is not None


def _discriminator(tp: Any) -> str | None:
    for meta in tp.__metadata__:
        tag = getattr(meta, "discriminator", None)
        if isinstance(tag, str):
            return tag
    return None


def _discriminated_hook(tp: Any) -> Callable[[Any, type], Any]:
    union = typing.get_args(tp)[0]
    members = [m for m in typing.get_args(union) if m is not type(None)] or [union]
    optional = type(None) in typing.get_args(union)
    inner = _tagged_union(members, _discriminator(tp))

    def structure(value: Any, _: type) -> Any:
        if value is None and optional:
            return None
        return inner(value)

    return structure


class _KindProblem(FieldProblem):
    """A wrong ``kind`` / ``name`` tag; reported at the tag's key."""

    def __init__(self, message: str, field: str = "kind") -> None:
        super().__init__(message, field)


def _structure_callback(value: Any) -> Any:
    """Structure a callback with the config class ``_callback_class`` picks."""
    return CONVERTER.structure(value, _callback_class(value))


def _unknown_builtin_kind(kind: str) -> str:
    """Why a kind under Noether's callback modules that names no built-in callback is rejected."""
    module, _, class_name = kind.rpartition(".")
    if class_name in DEFAULT_CALLBACKS:
        return (f"{kind!r} is one of the default callbacks that every trainer adds itself "
                "(with the log and track intervals): remove it from the list")
    close = difflib.get_close_matches(class_name, BUILTIN_CALLBACKS, n=1, cutoff=0.6)  # the class names alone
    return (f"unknown built-in callback kind {kind!r} (built-in: {', '.join(BUILTIN_CALLBACKS)}; a callback of "
            "your own has its own class path as kind)" + (f"; did you mean '{module}.{close[0]}'?" if close else ""))


def _callback_class(value: Any) -> type:
    """Pick a callback's config class: built-in by ``name`` or Noether kind string, else a user callback."""
    if not isinstance(value, Mapping):
        raise FieldProblem(f"expected a mapping with a name or kind (got {_describe(value)})")
    name, kind = value.get("name"), value.get("kind")
    by_name = BUILTIN_CALLBACKS.get(name) if isinstance(name, str) else None
    by_kind = builtin_callback_for_kind(kind) if isinstance(kind, str) else None
    if name is not None and by_name is None and kind is None:
        raise _KindProblem(
            f"unknown callback name {name!r} (expected one of: {', '.join(BUILTIN_CALLBACKS)}, "
            f"or a kind naming a callback class){did_you_mean(name, BUILTIN_CALLBACKS)}",
            "name",
        )
    if by_kind is None and isinstance(kind, str) and kind.startswith(CALLBACK_KIND_PREFIXES):
        raise _KindProblem(_unknown_builtin_kind(kind))
    if by_name is not None and by_kind is not None and by_name is not by_kind:
        raise _KindProblem(f"name {name!r} and kind {kind!r} name different callbacks", "name")
    cls = by_name or by_kind
    if cls is None:
        if kind is None:
            raise FieldProblem(f"a callback needs a name ({', '.join(BUILTIN_CALLBACKS)}) or a kind (a class path)")
        cls = CallBackBaseConfig
    return cls


def _mapping_or_other(for_mappings: Callable[[Any], Any], for_others: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: for_mappings(value) if isinstance(value, Mapping) else for_others(value)


def _by_runtime_type(converter: cattrs.Converter, members: list[type]) -> Callable[[Any], Any]:
    """Untagged unions of scalars and containers (``int | str``, ``float | tuple[float, ...]``): pick by the data."""
    expected = " or ".join(_type_name(m) for m in members)
    chosen: dict[type, tuple[Any, Callable[[Any, Any], Any] | None]] = {}  # per Python type of the value

    def structure(value: Any) -> Any:
        choice = chosen.get(type(value))
        if choice is None:
            member = _runtime_member(members, value)
            choice = chosen[type(value)] = (member, None if member is None else converter.get_structure_hook(member))
        member, hook = choice
        if hook is None:
            if Any in members:  # free-form values (e.g. a dataset's pipeline) pass through as written
                return value
            raise FieldProblem(f"expected {expected} (got {_describe(value)})")
        return hook(value, member)

    return structure


def _runtime_member(members: list[Any], value: Any) -> Any:
    """The member of an untagged union that ``value`` is structured as, or ``None`` when none accepts it.

    The choice depends on the kind of ``value`` only (never on its content), so unions cache it per Python type.
    """

    def accepts(member: Any) -> bool:
        origin = typing.get_origin(member) or member
        if isinstance(value, bool):
            return origin is bool
        if isinstance(value, int):
            return origin in (int, float)
        if isinstance(value, float):
            return origin is float
        if isinstance(value, str):
            return origin in (str, pathlib.Path) or _is_literal(member)
        if isinstance(value, Mapping):
            return origin is dict or attrs.has(origin)
        if isinstance(value, (list, tuple)):
            return origin in (tuple, list, frozenset)
        return False

    candidates = [m for m in members if accepts(m)]
    if isinstance(value, int) and not isinstance(value, bool):
        # Prefer an exact int member for ints, so ``int | float`` keeps integers.
        candidates.sort(key=lambda m: (typing.get_origin(m) or m) is not int)
    return candidates[0] if candidates else None


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
             tuple: "a list", frozenset: "a list", pathlib.Path: "a path"}
    return names.get(origin, getattr(origin, "__name__", str(tp)))


# -------------------------------------------------------------------------------------- attrs classes
def _attrs_hook(converter: cattrs.Converter) -> Callable[[type], Callable]:
    def factory(cls: type) -> Callable[[Any, type], Any]:
        attrs.resolve_types(cls)
        # The plain generated function builds valid data; when it fails, the detailed one (slower, it collects
        # every problem) runs on the same data to say what is wrong, so errors are exactly the detailed ones.
        plain = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=False)
        generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True)
        fields = attrs.fields(cls)
        names = {field.name for field in fields}
        takes_extras = issubclass(cls, OptimizerConfig)
        user_component = issubclass(cls, _USER_COMPONENT_BASES)
        aliases = DATASET_KEY_ALIASES if issubclass(cls, DatasetBaseConfig) else {}
        known_keys = {field.alias or field.name for field in fields}
        if "__attrs_attrs__" not in cls.__dict__:
            return _undecorated_subclass(cls)

        def structure(value: Any, _: type) -> Any:
            if type(value) is not dict and not isinstance(value, Mapping):
                raise FieldProblem(f"expected a mapping (got {_describe(value)})")
            if aliases and any(alias in value for alias in aliases):
                value = _rename_aliases(value, aliases)
            if user_component and _lenient_components.get():
                value = {key: item for key, item in value.items() if key in known_keys}
            if user_component:
                try:
                    narrowed = _declared_config_class(value, cls)
                except FieldProblem as kind_problem:
                    raise _kind_and_base_problems(kind_problem, value, cls, lambda data: generated(data, cls)) from None
                if narrowed is not cls:
                    return converter.structure(value, narrowed)
            if takes_extras:
                value = _fold_optimizer_kwargs(value, names)
            try:
                return plain(value, cls)
            except Exception:  # noqa: BLE001, S110 - the detailed function below reports it
                pass
            try:
                return generated(value, cls)
            except Exception as exc:  # noqa: BLE001 - re-raised with every problem of this object
                raise _object_errors(converter, cls, value, exc) from None

        return structure

    return factory


DATASET_KEY_ALIASES = {"normalizers": "dataset_normalizers", "wrappers": "dataset_wrappers"}
"""Noether's alternative keys of dataset config fields (pydantic aliases there): alias -> field name."""


def _rename_aliases(value: Mapping, aliases: Mapping[str, str]) -> dict:
    """The mapping with each alias key renamed to its field; giving both spellings is a problem at the alias."""
    renamed = dict(value)
    for alias, name in aliases.items():
        if alias in renamed:
            if name in renamed:
                raise InvalidFields(DatasetBaseConfig, [FieldProblem(
                    f"is Noether's other name for {name}, which is also given; keep one of the two", alias)])
            renamed[name] = renamed.pop(alias)
    return renamed


def _undecorated_subclass(cls: type) -> Callable[[Any, type], Any]:
    """A subclass of a config class without its own ``@attrs.frozen``: its fields would be ignored, so it is an
    error wherever it is used, saying how to declare it."""
    base = next(b for b in cls.__mro__[1:] if "__attrs_attrs__" in b.__dict__)

    def structure(value: Any, _: type) -> Any:
        raise FieldProblem(f"{cls.__module__}.{cls.__qualname__} subclasses {base.__name__} but is not an attrs class "
                           "itself, so its fields would be ignored: decorate it with @attrs.frozen(kw_only=True)")

    return structure


def _declared_config_class(value: Mapping, cls: type) -> type:
    """The subclass of ``cls`` that the component named by ``kind`` declares, via the load hook."""
    hook = _config_class_for.get()
    kind = value.get("kind")
    if hook is None or not isinstance(kind, str):
        return cls
    declared = hook(kind, cls)
    if declared is None or declared is cls or (isinstance(declared, type) and issubclass(cls, declared)):
        return cls  # the section is already narrowed as far (e.g. by config_schema_kind): an inherited base is no veto
    if not (isinstance(declared, type) and attrs.has(declared) and issubclass(declared, cls)):
        raise FieldProblem(f"{kind} declares config_schema {declared!r}, which is not an attrs subclass of {cls.__name__}", "kind")
    return declared


def _kind_and_base_problems(kind_problem: FieldProblem, value: Mapping, cls: type,
                            generated: Callable[[Mapping], Any]) -> Exception:
    """A component whose kind cannot be imported: its kind problem, and every problem of the keys the base class
    knows. The other keys may be fields of the component's own config class, so they are not reported."""
    known = {field.alias or field.name for field in attrs.fields(cls)}
    base_value = {key: item for key, item in value.items() if key in known}
    try:
        generated(base_value)
    except Exception as exc:  # noqa: BLE001 - its problems join the kind problem
        found = _object_errors(CONVERTER, cls, base_value, exc)
        if isinstance(found, InvalidFields):
            return InvalidFields(cls, [kind_problem, *found.problems])
        return ClassValidationError(found.message, [InvalidFields(cls, [kind_problem]), *found.exceptions], cls)
    return InvalidFields(cls, [kind_problem])


def _fold_optimizer_kwargs(value: Mapping, names: set[str]) -> dict:
    """Unknown keys of an optimizer config are keyword arguments of the optimizer class."""
    extras = {key: value[key] for key in value if key not in names}
    if not extras:
        return dict(value)
    folded = {key: item for key, item in value.items() if key in names}
    folded["optimizer_kwargs"] = {**value.get("optimizer_kwargs", {}), **{k: frozen_value(v) for k, v in extras.items()}}
    return folded


def _structured_fields(converter: cattrs.Converter, cls: type, value: Mapping) -> dict[str, Any]:
    """The fields of ``value`` that structure on their own, by field name."""
    values = {}
    for field in attrs.fields(cls):
        key = field.alias or field.name
        if key in value:
            try:
                values[field.name] = converter.structure(value[key], field.type)
            except Exception:  # noqa: BLE001 - such fields are already reported
                continue
    return values


def _object_errors(converter: cattrs.Converter, cls: type, value: Mapping, exc: Exception) -> Exception:
    """Every problem of one object: fields that did not structure, then every broken field rule and,
    when all fields structured, every object check.

    The constructor stops at its first failing validator, so the rules are re-run one by one here; this
    only happens on the error path.
    """
    group = exc.exceptions if isinstance(exc, ClassValidationError) else [exc]
    structuring = [e for e in group if _step_of(e) is not None or isinstance(e, ForbiddenExtraKeysError)]
    values = _structured_fields(converter, cls, value)
    problems = _checks.collect_field_problems(cls, values)
    if not structuring:
        with attrs.validators.disabled():
            try:
                cls(**values)
            except (ValueError, TypeError) as failed:
                problems.extend(_checks.as_problems(failed))
    unique = list({(p.field, p.message): p for p in problems}.values())
    if not structuring:
        return InvalidFields(cls, unique or [FieldProblem(str(exc))])
    if unique:
        structuring.append(InvalidFields(cls, unique))
    return ClassValidationError(f"While structuring {cls.__name__}", structuring, cls)


# ----------------------------------------------------------------------------------------- unstructure
def _unstructure_attrs(converter: cattrs.Converter) -> Callable[[type], Callable]:
    def factory(cls: type) -> Callable[[Any], dict]:
        # Tags first, then fields where a base class first declared them (a subclass that narrows a
        # field should not move it to the end of the YAML).
        first_seen = {}
        for base in reversed(cls.__mro__):
            if attrs.has(base):
                for field in attrs.fields(base):
                    first_seen.setdefault(field.name, len(first_seen))
        ordered = sorted(attrs.fields(cls), key=lambda f: (f.name not in ("kind", "name"), first_seen[f.name]))
        folds = issubclass(cls, OptimizerConfig)

        def unstructure(obj: Any) -> dict:
            data = {f.name: converter.unstructure(getattr(obj, f.name)) for f in ordered}
            if folds:
                data.update(data.pop("optimizer_kwargs"))
            return data

        return unstructure

    return factory


def make_converter() -> cattrs.Converter:
    """Build the converter with every hook of the config layer registered (done once, at import)."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(pathlib.Path, _structure_path)
    converter.register_structure_hook(Any, lambda value, _: value)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _make_sequence_hook(converter, tuple))
    converter.register_structure_hook_factory(_is_fixed_tuple, _fixed_tuple_hook(converter))
    converter.register_structure_hook_factory(_is_frozenset, _make_sequence_hook(converter, frozenset))
    converter.register_structure_hook_factory(_is_dict, _make_dict_hook(converter))
    converter.register_structure_hook_factory(_is_union, _union_hook(converter))
    # Unions with a rule of their own, registered by type (later registrations take precedence).
    converter.register_structure_hook_factory(_is_union_of(CallbacksConfig), _callbacks_hook)
    converter.register_structure_hook_factory(_is_union_of(AnyTracker), _tracker_hook(converter))
    converter.register_structure_hook_factory(_is_discriminated, _discriminated_hook)
    converter.register_structure_hook_factory(attrs.has, _attrs_hook(converter))
    converter.register_unstructure_hook_factory(attrs.has, _unstructure_attrs(converter))
    converter.register_unstructure_hook(tuple, lambda t: [converter.unstructure(x) for x in t])
    converter.register_unstructure_hook(frozenset, lambda s: sorted(converter.unstructure(x) for x in s))
    converter.register_unstructure_hook(pathlib.PurePath, str)
    return converter


CONVERTER = make_converter()
"""The one converter of the project."""


# -------------------------------------------------------------------------------------- public helpers
Locate = Callable[[tuple[PathKey, ...], bool], "str | None"]
"""``(path, at_key) -> "file:line:col"``: where a path's key (or value) was written, for error lines."""


def structure(data: Any, cls: type, *, config_class_for: ConfigClassFor | None = None, locate: Locate | None = None,
              lenient_components: bool = False) -> Any:
    """Turn plain data (as parsed from YAML) into a validated config object.

    Args:
        data: Mappings, lists and scalars.
        cls: The config class (or union) to build.
        config_class_for: Optional hook ``(kind, base) -> type`` returning the config class a user component
            declares for itself (a subclass of ``base``), or ``None``.
        locate: Optional function giving the source location of a path, used in error lines.
        lenient_components: Check model, trainer, dataset and callback configs only for the keys their base
            classes know (other keys may be fields of a user schema that was not imported); they are dropped.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: With one ``Issue`` per problem, all of them.

    >>> from noether.core.schemas import ConstantScheduleConfig
    >>> structure({"value": 0.5}, ConstantScheduleConfig).value
    0.5
    >>> structure({"value": "high"}, ConstantScheduleConfig)
    Traceback (most recent call last):
    ...
    noether.core.config.errors.ConfigError: value: expected a number (got str 'high')
    """
    token = _config_class_for.set(config_class_for)
    lenient_token = _lenient_components.set(lenient_components)
    try:
        return CONVERTER.structure(data, cls)
    except Exception as exc:  # noqa: BLE001 - every failure becomes ConfigError issues
        raise ConfigError(issues_from_exception(exc, locate=locate)) from None
    finally:
        _lenient_components.reset(lenient_token)
        _config_class_for.reset(token)


def unstructure(config: Any) -> Any:
    """Turn a config object into plain data (dicts, lists, scalars) that ``structure`` turns back into it.

    >>> from noether.core.schemas import ConstantScheduleConfig
    >>> unstructure(ConstantScheduleConfig(value=0.5))["value"]
    0.5
    """
    return CONVERTER.unstructure(config)


def issues_from_exception(exc: BaseException, path: tuple[PathKey, ...] = (), *, locate: Locate | None = None) -> list[Issue]:
    """Flatten a structuring error tree into ``Issue`` lines, one per leaf problem, in document order."""
    found: list[tuple[tuple[PathKey, ...], str, bool]] = []
    _walk(exc, path, found)
    issues = []
    for issue_path, message, at_key in found:
        location = locate(issue_path, at_key) if locate else None
        issues.append(Issue(format_path(issue_path), message, location))
    return issues


def _step_of(exc: BaseException) -> PathKey | None:
    for note in reversed(getattr(exc, "__notes__", [])):
        if isinstance(note, _Step):
            return note.key
        name = getattr(note, "name", None)
        if name is not None:
            return name
        index = getattr(note, "index", None)
        if index is not None:
            return index
    return None


def _walk(exc: BaseException, path: tuple[PathKey, ...], found: list) -> None:
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        for sub in exc.exceptions:
            step = _step_of(sub)
            _walk(sub, path if step is None else (*path, step), found)
    elif isinstance(exc, ForbiddenExtraKeysError):
        allowed = [f.name for f in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields, key=str):
            found.append(((*path, key), f"unknown key {key!r}{did_you_mean(key, allowed)}", True))
    elif isinstance(exc, InvalidFields):
        for problem in exc.problems:
            _walk(problem, path, found)
    elif isinstance(exc, FieldProblem):
        at = path if exc.field is None else (*path, *_split_field(exc.field))
        message = exc.message
        if exc.deletable:
            message += f"; delete the others, e.g. ~{format_path((*at, exc.deletable))} on the command line"
        found.append((at, message, isinstance(exc, _KindProblem)))
    elif isinstance(exc, KeyError):
        found.append((path, "missing required field", True))
    else:
        found.append((path, f"{exc}".strip() or type(exc).__name__, False))


def _split_field(field: str) -> tuple[PathKey, ...]:
    """``steps[2]`` -> ``("steps", 2)``."""
    if "[" not in field:
        return (field,)
    name, _, rest = field.partition("[")
    return (name, int(rest.rstrip("]")))
