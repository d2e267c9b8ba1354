"""The converter's fast path: one generated structuring function per attrs config class.

Why it exists: the converter's hooks (``converter.py``) are small closures, one Python call per field, per
union and per list item, plus cattrs' detailed-validation bookkeeping; structuring a full config cost about
2.4x pydantic's validation of the same data. A generated function per class does the same work with the
checks written inline (``type(v) is int``, ``v in allowed``, a loop per list) and calls the classes it
contains directly.

How it stays equivalent: the slow path is the specification. A generated function only *accepts*: it
returns a value only when every check of the slow path would pass and its conversion is the same one
(``int -> float`` for floats, lists -> tuples, defaults for absent keys, the same constructor with the same
validators and object checks). Anything else -- a wrong type, a subclass of a builtin, a missing required key,
an unknown key, a failing validator, a type it does not know -- raises, and the converter's hook then runs
the slow path on the same input, which produces the structured value or the exact error report. Decisions
that are not simple type checks (which callback class a mapping names, which member of an untagged union a
value goes to, a user component's declared config class, the optimizer's extra keys) reuse the slow path's
own helpers, and types the generator does not know are structured by the converter's own hook.
``tests/noether/core/config/test_fast_path.py`` checks that both paths agree on every example config.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import pathlib
import typing
from collections.abc import Callable, Iterator
from typing import Any

import attrs

_use_fast_path: contextvars.ContextVar[bool] = contextvars.ContextVar("use_fast_path", default=True)

_NOT_COMPILED = object()
_compiled: dict[type, Callable[[Any], Any] | None] = {}
_compiling: set[type] = set()


class _Bail(Exception):
    """The fast path does not accept this input; the slow path decides."""


def enabled() -> bool:
    """Whether the converter tries the fast path first (off inside ``slow_path_only``)."""
    return _use_fast_path.get()


@contextlib.contextmanager
def slow_path_only() -> Iterator[None]:
    """Structure with the converter's hooks alone (the specification), e.g. to compare the two paths."""
    token = _use_fast_path.set(False)
    try:
        yield
    finally:
        _use_fast_path.reset(token)


def structure_fn(cls: type) -> Callable[[Any], Any] | None:
    """The generated structuring function of an attrs class (cached), or ``None`` where there is none.

    The function takes the plain data of one object and returns the object, or raises any exception where
    the slow path must decide.
    """
    fn = _compiled.get(cls, _NOT_COMPILED)
    if fn is _NOT_COMPILED:
        _compiling.add(cls)
        try:
            fn = _compiled[cls] = _Generator(cls).function()
        finally:
            _compiling.discard(cls)
    return fn  # type: ignore[return-value]


def _reference(cls: type) -> Callable[[Any], Any]:
    """The function that structures ``cls`` from generated code: its own fast function, else its hook."""
    if cls in _compiling:  # a class that contains itself: look the function up when called
        return lambda value: (_compiled.get(cls) or _hook(cls))(value)
    return structure_fn(cls) or _hook(cls)


def _hook(tp: Any) -> Callable[[Any], Any]:
    from noether.core.config.converter import CONVERTER

    hook = CONVERTER.get_structure_hook(tp)
    return lambda value: hook(value, tp)


# Python types of parsed YAML values, for tabulating the choice of an untagged union by the value's type.
_SAMPLES = {bool: True, int: 1, float: 1.0, str: "x", dict: {}, list: [], tuple: ()}


class _Generator:
    """Writes the source of one class's structuring function; ``emit`` mirrors the converter's hooks."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.names: dict[str, Any] = {"_Bail": _Bail, "_Path": pathlib.Path}
        self.counter = itertools.count()

    def constant(self, value: Any, prefix: str = "_c") -> str:
        name = f"{prefix}{next(self.counter)}"
        self.names[name] = value
        return name

    def variable(self) -> str:
        return f"_v{next(self.counter)}"

    def function(self) -> Callable[[Any], Any] | None:
        from noether.core.config import converter as slow

        cls = attrs.resolve_types(self.cls)
        fields = attrs.fields(cls)
        if (
            type(cls) is not type
            or cls.__new__ is not object.__new__
            or any(not f.init or f.alias != f.name or f.converter is not None for f in fields)
            or any(isinstance(f.default, attrs.Factory) and f.default.takes_self for f in fields)  # type: ignore[arg-type]
        ):
            return None  # not worth special-casing: such a class always takes the slow path
        lines = ["def structure(value):", "    if type(value) is not dict: raise _Bail"]
        if issubclass(cls, slow._USER_COMPONENT_BASES):
            self.names.update(_get_hook=slow._config_class_for.get, _declared=slow._declared_config_class)
            self.names.update(_structure_fn=structure_fn, _cls=cls)
            lines += [
                "    if _get_hook() is not None:",
                "        narrowed = _declared(value, _cls)",
                "        if narrowed is not _cls: return (_structure_fn(narrowed) or _bail)(value)",
            ]
            self.names["_bail"] = _bail
        if issubclass(cls, slow.OptimizerConfig):
            self.names.update(_fold=slow._fold_optimizer_kwargs, _field_names={f.name for f in fields})
            lines.append("    value = _fold(value, _field_names)")
        lines.append("    found = 0")
        arguments = []
        for field in fields:
            local = f"f_{field.name}"
            lines.append(f"    if {field.name!r} in value:")
            lines.append("        found += 1")
            lines += self.emit(field.type, f"value[{field.name!r}]", local, "        ")
            lines.append("    else:")
            if field.default is attrs.NOTHING:
                lines.append("        raise _Bail")  # a missing required field
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                lines.append(f"        {local} = {self.constant(field.default.factory)}()")
            else:
                lines.append(f"        {local} = {self.constant(field.default)}")
            arguments.append(f"{field.name}={local}")
        # An unknown key is the one kind of problem left: every key found was counted.
        lines.append("    if found != len(value): raise _Bail")
        # What ``cls(...)`` does for a class with object's __new__ and type as metaclass, minus the detour.
        self.names.update(_new=object.__new__, _init=cls.__init__, _cls=cls)
        lines += ["    obj = _new(_cls)", f"    _init(obj, {', '.join(arguments)})", "    return obj"]
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<fast structure {cls.__module__}.{cls.__qualname__}>", "exec"), self.names)  # noqa: S102
        function = self.names["structure"]
        function.__qualname__ = f"fast_structure[{cls.__qualname__}]"
        function.source = source
        return function

    # ------------------------------------------------------------------------------------------ types
    @staticmethod
    def load(source: str, target: str, indent: str) -> list[str]:
        return [] if source == target else [f"{indent}{target} = {source}"]

    def emit(self, tp: Any, source: str, target: str, indent: str) -> list[str]:
        """Lines that set ``target`` to ``source`` structured as ``tp`` (or raise), as the hook for ``tp`` would."""
        from noether.core.config import converter as slow

        if tp is int or tp is bool or tp is str:
            return [*self.load(source, target, indent), f"{indent}if type({target}) is not {tp.__name__}: raise _Bail"]
        if tp is float:
            return [
                *self.load(source, target, indent),
                f"{indent}if type({target}) is not float:",
                f"{indent}    if type({target}) is not int: raise _Bail",
                f"{indent}    {target} = float({target})",
            ]
        if tp is pathlib.Path:
            return [
                *self.load(source, target, indent),
                f"{indent}if type({target}) is not str or not {target}: raise _Bail",
                f"{indent}{target} = _Path({target})",
            ]
        if tp is Any:
            return self.load(source, target, indent)
        if slow._is_literal(tp):
            allowed = typing.get_args(tp)
            types, values = self.constant({type(a) for a in allowed}), self.constant(allowed)
            return [
                *self.load(source, target, indent),
                f"{indent}if type({target}) not in {types} or {target} not in {values}: raise _Bail",
            ]
        if slow._is_homogeneous_tuple(tp) or slow._is_frozenset(tp):
            return self.emit_sequence(tp, source, target, indent)
        if slow._is_dict(tp):
            return self.emit_dict(tp, source, target, indent)
        if slow._is_union(tp):
            return self.emit_union(tp, source, target, indent)
        if attrs.has(tp):
            return [f"{indent}{target} = {self.constant(_reference(tp), '_structure')}({source})"]
        # Any other type: the converter's own hook (its errors make the whole fast attempt bail).
        return [f"{indent}{target} = {self.constant(_hook(tp), '_hook')}({source})"]

    def emit_sequence(self, tp: Any, source: str, target: str, indent: str) -> list[str]:
        # The slow hook also takes sets; those (never written by YAML) go the slow way.
        items, item, converted = self.variable(), self.variable(), self.variable()
        make = "tuple" if typing.get_origin(tp) is tuple else "frozenset"
        item_type = typing.get_args(tp)[0]
        if item_type in (int, bool, str):  # items stay as they are: check them, no list to build
            return [
                *self.load(source, target, indent),
                f"{indent}if type({target}) is not list and type({target}) is not tuple: raise _Bail",
                f"{indent}for {item} in {target}:",
                f"{indent}    if type({item}) is not {item_type.__name__}: raise _Bail",
                f"{indent}{target} = {make}({target})",
            ]
        return [
            *self.load(source, target, indent),
            f"{indent}if type({target}) is not list and type({target}) is not tuple: raise _Bail",
            f"{indent}{items} = []",
            f"{indent}for {item} in {target}:",
            *self.emit(item_type, item, converted, indent + "    "),
            f"{indent}    {items}.append({converted})",
            f"{indent}{target} = {make}({items})",
        ]

    def emit_dict(self, tp: Any, source: str, target: str, indent: str) -> list[str]:
        key_type, value_type = typing.get_args(tp) or (Any, Any)
        mapping, key, item, converted = self.variable(), self.variable(), self.variable(), self.variable()
        lines = [
            f"{indent}{mapping} = {source}",
            f"{indent}if type({mapping}) is not dict: raise _Bail",
            f"{indent}{target} = {{}}",
            f"{indent}for {key}, {item} in {mapping}.items():",
        ]
        if key_type is str:
            lines.append(f"{indent}    if type({key}) is not str: raise _Bail")
        return [
            *lines,
            *self.emit(value_type, item, converted, indent + "    "),
            f"{indent}    {target}[{key}] = {converted}",
        ]

    def emit_union(self, tp: Any, source: str, target: str, indent: str) -> list[str]:
        """The converter's ``_union_hook``, case by case in the same order."""
        from noether.core.config import converter as slow

        arguments = typing.get_args(tp)
        members = [m for m in arguments if m is not type(None)]
        optional = len(members) < len(arguments)
        lines = self.load(source, target, indent)
        if optional and len(members) == 1 and members[0] in (int, bool, str):
            return [*lines, f"{indent}if type({target}) is not {members[0].__name__} and {target} is not None: raise _Bail"]
        if optional and len(members) == 1:
            body = self.emit(members[0], target, target, indent + "    ")
            return [*lines, f"{indent}if {target} is not None:", *body] if body else lines
        # ``None``: allowed for optional unions, an error (so: the slow path) otherwise.
        lines.append(f"{indent}if {target} is None:" + ("" if optional else " raise _Bail"))
        if optional:
            lines.append(f"{indent}    pass")
        if set(members) == set(typing.get_args(slow.AnyTracker)):
            lines += [
                f"{indent}elif type({target}) is str and {target}.lower() == 'disabled': {target} = None",
                f"{indent}elif type({target}) is dict and not {target}: {target} = None",
            ]
        lines.append(f"{indent}else:")
        inner = indent + "    "
        tagged = [m for m in members if slow._kind_literal(m)]
        if tp == slow.CallbacksConfig or set(members) == set(typing.get_args(slow.CallbacksConfig)):
            functions = {cls: _reference(cls) for cls in {*slow.BUILTIN_CALLBACKS.values(), slow.CallBackBaseConfig}}
            table, pick = self.constant(functions), self.constant(slow._callback_class)
            by_name = self.constant({name: functions[cls] for name, cls in slow.BUILTIN_CALLBACKS.items()})
            name, function = self.variable(), self.variable()
            return [
                *lines,
                # The common case of ``_callback_class``: a built-in ``name`` and no ``kind``.
                f"{inner}if type({target}) is not dict: raise _Bail",
                f"{inner}{name} = {target}.get('name')",
                f"{inner}{function} = {by_name}.get({name}) if type({name}) is str and {target}.get('kind') is None else None",
                f"{inner}if {function} is None: {function} = {table}[{pick}({target})]",
                f"{inner}{target} = {function}({target})",
            ]
        if tagged and len(tagged) == len(members):
            return [*lines, *self.emit_tagged(tagged, target, inner)]
        if len(tagged) > 1:
            others = [m for m in members if m not in tagged]
            return [
                *lines,
                f"{inner}if type({target}) is dict:",
                *self.emit_tagged(tagged, target, inner + "    "),
                f"{inner}else:",
                *self.emit_by_type(others, target, inner + "    "),
            ]
        return [*lines, *self.emit_by_type(members, target, inner)]

    def emit_tagged(self, members: list[type], target: str, indent: str) -> list[str]:
        from noether.core.config import converter as slow

        by_kind = {kind: _reference(cls) for cls in members for kind in slow._kind_literal(cls)}
        kind, table = self.variable(), self.constant(by_kind)
        return [
            f"{indent}if type({target}) is not dict: raise _Bail",
            f"{indent}{kind} = {target}.get('kind')",
            f"{indent}if type({kind}) is not str: raise _Bail",
            f"{indent}{target} = {table}[{kind}]({target})",  # an unknown kind: KeyError, the slow path
        ]

    def emit_by_type(self, members: list[Any], target: str, indent: str) -> list[str]:
        """An untagged union: the member ``_runtime_member`` picks for each type of value, tabulated."""
        from noether.core.config import converter as slow

        lines, keyword = [], "if"
        for python_type, sample in _SAMPLES.items():
            member = slow._runtime_member(members, sample)
            if member is None:
                continue  # no member takes it (or ``Any`` passes it through): the slow path decides
            lines.append(f"{indent}{keyword} type({target}) is {python_type.__name__}:")
            lines += self.emit(member, target, target, indent + "    ")
            keyword = "elif"
        if not lines:
            return [f"{indent}raise _Bail"]
        return [*lines, f"{indent}else: raise _Bail"]


def _bail(value: Any) -> Any:
    raise _Bail
