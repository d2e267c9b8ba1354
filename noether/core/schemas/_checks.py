"""Validation building blocks shared by every config class.

Field rules are attrs validators (``(instance, attribute, value)``) that raise ``ValueError`` with a message
of the house form ``<constraint> (got <value>)``. Rules that span several fields of one object are methods
named after Noether's validators; ``run_object_checks`` runs all of them and reports every failure at once
as one ``InvalidFields`` error, so a user sees all problems of an object in a single pass.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs


class FieldProblem(ValueError):
    """One broken rule of one config object.

    Args:
        message: What is wrong, in the house form ``<constraint> (got <value>)``.
        field: The field the rule is about, or ``None`` when it concerns the object as a whole.
        deletable: A field whose deletion fixes the problem (one of several that exclude each other). A config
            error then names the override that deletes it, ``~trainer.max_epochs``: a file sets one field and the
            command line another, and an override can only delete the file's.
    """

    def __init__(self, message: str, field: str | None = None, *, deletable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.deletable = deletable


class InvalidFields(ValueError):
    """Every broken rule found on one config object, raised once."""

    def __init__(self, cls: type, problems: Iterable[FieldProblem]) -> None:
        self.cls = cls
        self.problems = tuple(problems)
        lines = [f"{p.field}: {p.message}" if p.field else p.message for p in self.problems]
        super().__init__(f"invalid {cls.__name__}: " + "; ".join(lines))


def show(value: Any) -> str:
    """Render a value the way error messages quote it (``'abc'``, ``0.5``, ``None``)."""
    return repr(value)


def as_problems(exc: Exception) -> list[FieldProblem]:
    """The broken rules an exception from a check or a constructor stands for."""
    if isinstance(exc, InvalidFields):
        return list(exc.problems)
    if isinstance(exc, FieldProblem):
        return [exc]
    return [FieldProblem(str(exc))]


def run_object_checks(instance: Any, *checks: Callable[[], Any]) -> None:
    """Run every object-level check and raise all failures together.

    Each check is a bound method that raises ``FieldProblem`` (or a plain ``ValueError``) when its rule is
    broken. Field validators have already run when ``__attrs_post_init__`` calls this.
    """
    problems: list[FieldProblem] = []
    for check in checks:
        try:
            check()
        except ValueError as exc:
            problems.extend(as_problems(exc))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InvalidFields(type(instance), problems)


def collect_field_problems(cls: type, values: dict[str, Any]) -> list[FieldProblem]:
    """Run each field validator of ``cls`` on ``values`` separately and return every failure.

    Construction stops at the first failing validator; this is how the converter still reports all of
    them. ``values`` maps field names to already structured values (missing names use the defaults).
    """
    problems: list[FieldProblem] = []
    for field in attrs.fields(cls):
        if field.validator is None or field.name not in values:
            continue
        try:
            field.validator(None, field, values[field.name])
        except FieldProblem as exc:
            problems.append(FieldProblem(exc.message, exc.field or field.name))
        except (ValueError, TypeError) as exc:
            problems.append(FieldProblem(str(exc), field.name))
    return problems


def _validator(predicate: Callable[[Any], bool], constraint: str) -> Callable[[Any, Any, Any], None]:
    """Build an attrs validator that skips ``None`` and reports ``<constraint> (got <value>)``."""

    def validate(_instance: Any, attribute: Any, value: Any) -> None:
        if value is not None and not predicate(value):
            raise FieldProblem(f"{constraint} (got {show(value)})", attribute.name)

    validate.__name__ = constraint.replace(" ", "_")
    validate.__doc__ = f"Field rule: {constraint}."
    return validate


def at_least(bound: float) -> Callable[[Any, Any, Any], None]:
    """Field rule ``value >= bound`` (``None`` passes)."""
    return _validator(lambda v: v >= bound, f"must be >= {bound}")


def greater_than(bound: float) -> Callable[[Any, Any, Any], None]:
    """Field rule ``value > bound`` (``None`` passes)."""
    return _validator(lambda v: v > bound, f"must be > {bound}")


def in_closed_interval(low: float, high: float) -> Callable[[Any, Any, Any], None]:
    """Field rule ``low <= value <= high`` (``None`` passes)."""
    return _validator(lambda v: low <= v <= high, f"must be in [{low}, {high}]")


def finite(_instance: Any, attribute: Any, value: Any) -> None:
    """Field rule: a float must not be NaN or infinite (``None`` passes)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldProblem(f"must be a finite number (got {show(value)})", attribute.name)


def non_empty(_instance: Any, attribute: Any, value: Any) -> None:
    """Field rule: a string or sequence must not be empty (``None`` passes)."""
    if value is not None and len(value) == 0:
        raise FieldProblem(f"must not be empty (got {show(value)})", attribute.name)


def each(rule: Callable[[Any, Any, Any], None]) -> Callable[[Any, Any, Any], None]:
    """Apply a field rule to every element of a sequence (``None`` passes); reports the first bad index."""

    def validate(instance: Any, attribute: Any, values: Any) -> None:
        if values is None:
            return
        for index, value in enumerate(values):
            try:
                rule(instance, attribute, value)
            except FieldProblem as exc:
                raise FieldProblem(exc.message, f"{attribute.name}[{index}]") from None

    validate.__doc__ = f"Field rule applied to every element: {rule.__doc__}"
    return validate


def value_rule(check: Callable[[Any], Any]) -> Callable[[Any, Any, Any], None]:
    """Adapt a seed-style field check ``check(value) -> value`` (raising ``ValueError``) to attrs."""

    def validate(_instance: Any, attribute: Any, value: Any) -> None:
        try:
            check(value)
        except FieldProblem as exc:
            raise FieldProblem(exc.message, exc.field or attribute.name) from None
        except ValueError as exc:
            raise FieldProblem(str(exc), attribute.name) from None

    validate.__doc__ = check.__doc__
    return validate


def own_class_kind(builtin_kinds: tuple[str, ...], reserved_prefix: str, what: str) -> Callable[[Any, Any, Any], None]:
    """A ``kind`` rule: one of ``builtin_kinds``, or the dotted class path of a ``what`` of the user's own (outside
    Noether's ``reserved_prefix``, where only the built-in kinds exist); the engine imports that class and checks
    its base. ``None`` passes (a field that infers its kind).

    >>> @attrs.frozen
    ... class Widget:
    ...     kind: str = attrs.field(validator=own_class_kind(("noether.a.Builtin",), "noether.a.", "widget"))
    >>> Widget("my_project.MyWidget").kind
    'my_project.MyWidget'
    >>> Widget("noether.a.Bultin")
    Traceback (most recent call last):
    ...
    noether.core.schemas._checks.FieldProblem: must be one of 'noether.a.Builtin', or the class path of a widget of your own (got 'noether.a.Bultin'); did you mean 'noether.a.Builtin'?
    """

    def validate(_instance: Any, attribute: Any, value: Any) -> None:
        if value is None or value in builtin_kinds:
            return
        if isinstance(value, str) and "." in value.strip(".") and not value.startswith(reserved_prefix):
            return
        listed = ", ".join(repr(kind) for kind in builtin_kinds)
        by_name = {kind.rpartition(".")[2]: kind for kind in builtin_kinds}  # compared by class name alone
        close = [by_name[name] for name in difflib.get_close_matches(str(value).rpartition(".")[2], by_name, n=1, cutoff=0.6)]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise FieldProblem(f"must be one of {listed}, or the class path of a {what} of your own (got {value!r}){hint}",
                           attribute.name)

    return validate


def frozen_value(value: Any) -> Any:
    """A free-form value (``Any`` in a schema) made immutable like the rest of a config: every list, at any depth
    and inside mappings too, becomes a tuple.

    >>> frozen_value({"betas": [0.9, [1, 2]], "name": "x"})
    {'betas': (0.9, (1, 2)), 'name': 'x'}
    """
    if isinstance(value, list | tuple):
        return tuple(frozen_value(item) for item in value)
    if isinstance(value, Mapping):
        return {key: frozen_value(item) for key, item in value.items()}
    return value


def exactly_one_set(instance: Any, names: tuple[str, ...]) -> FieldProblem | None:
    """The problem with ``instance`` unless exactly one of ``names`` is set (not ``None``); when several are,
    deleting the first of them is the suggested fix."""
    chosen = [name for name in names if getattr(instance, name) is not None]
    if len(chosen) == 1:
        return None
    listed = ", ".join(names)
    got = "none" if not chosen else ", ".join(chosen)
    return FieldProblem(f"exactly one of {listed} must be set (got {got})", deletable=chosen[0] if chosen else None)


class Discriminator:
    """Marks a union of config classes as dispatched by one tag field: ``Annotated[A | B, Discriminator("name")]``
    (pydantic's ``Field(discriminator="name")``; any hashable metadata with a ``discriminator`` attribute works).

    >>> Discriminator("name") == Discriminator("name"), Discriminator("name").discriminator
    (True, 'name')
    """

    __slots__ = ("discriminator",)

    def __init__(self, discriminator: str) -> None:
        self.discriminator = discriminator
        """The field whose ``Literal`` value picks the union member (``name`` or ``kind``)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Discriminator) and other.discriminator == self.discriminator

    def __hash__(self) -> int:
        return hash((Discriminator, self.discriminator))

    def __repr__(self) -> str:
        return f"Discriminator({self.discriminator!r})"
