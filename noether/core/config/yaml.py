"""Reading YAML configs: Hydra-style composition, command-line overrides, ``${...}`` interpolation, and the
source location of every value for error lines.

Files are parsed with ruamel.yaml's safe C loader. Where each value came from is recorded as an ``Origin``
(a file and the path inside it, or a command-line override); only when there is an error to report are
the files re-read with the slower round-trip loader, which knows lines and columns.
"""

from __future__ import annotations

import copy
import errno
import functools
import os
import pathlib
import re
import stat
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import ReaderError

from noether.core.config.errors import ConfigError, Issue, PathKey, did_you_mean, format_path

MISSING = "???"
"""Hydra's marker for a value (or a defaults-list group) that must be given."""

Path = tuple[PathKey, ...]


@attrs.frozen
class Origin:
    """Where a node of the composed config was written: a file and the node's path in it, or an override."""

    file: str | None
    """The YAML file, or ``None`` for a command-line override."""
    path: Path = ()
    """The node's path inside that file's document."""
    override: str | None = None
    """The override text (``trainer.max_epochs=5``) when the node was set on the command line."""
    index: int = 0
    """Position of that override among the overrides (0-based)."""


@attrs.define
class Composed:
    """A composed config: plain data plus where each node came from."""

    data: dict
    """The composed, interpolated mapping (what Hydra would produce for the same tree)."""
    origins: dict[Path, Origin]
    """Origin of every node, by its path in ``data``."""
    referenced_roots: set[str] = attrs.field(factory=set)
    """Root keys that an interpolation referenced (helper nodes a schema may not know)."""
    aliases: dict[Path, Path] = attrs.field(factory=dict)
    """Path of a ``${...}`` that stands for a whole mapping or list -> the path it refers to
    (``model.optimizer_config`` -> ``optimizer``): what is under it was written there."""

    def locate(self, path: Path, at_key: bool = True) -> str | None:
        """``file:line:col`` of the node at ``path`` (its key, or its value), or of its closest written ancestor;
        under an interpolated mapping, where the node was written in the mapping it refers to."""
        for length in range(len(path), 0, -1):
            source = self.aliases.get(tuple(path[:length]))
            if source is not None and length < len(path):
                return self.locate((*source, *path[length:]), at_key)
        for length in range(len(path), -1, -1):
            origin = self.origins.get(tuple(path[:length]))
            if origin is not None:
                exact = length == len(path)
                return _location(origin, at_key or not exact)
        return None


# ------------------------------------------------------------------------------------------- reading
MAX_DEPTH = 100
"""The deepest nesting of mappings and lists a config file, an override value or the composed config may have
(the root mapping is level 1). Deeper input is refused with the location of the first node beyond it."""

MAX_NODES = 100_000
"""The most nodes (mappings, lists and scalars) one file or override value may hold, an alias counted as often
as it is used, and the most nodes that interpolations of whole mappings or lists may copy. It bounds the work
and memory of everything after parsing, so an alias bomb (anchors of anchors of anchors) is refused in
milliseconds instead of being expanded."""

MAX_FILE_BYTES = 4 * 1024 * 1024
"""The largest config file read (4 MiB); larger files are refused before they are read."""

MAX_STRING_CHARS = 1_000_000
"""The longest string an interpolation such as ``${a}${a}`` may build."""

_C_STACK_SAFE_DEPTH = 2_000
"""How deep the C composer may nest safely: it recurses on the C stack, and a document nested 10,000 levels
deep crashes the interpreter in a thread with a 1 MiB stack. Texts that could be nested deeper than this are
checked with the (iterative) event parser before they are composed."""


@functools.cache
def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=False)


def file_problem(file: pathlib.Path) -> str | None:
    """Why ``file`` cannot be read as a config file, or ``None`` when it is a readable regular file.

    Missing files, directories, devices, FIFOs and sockets, over-long or invalid names, files larger than
    ``MAX_FILE_BYTES`` and unreadable files each get their own reason; none of them is opened (a FIFO would
    block the reader forever).

    >>> file_problem(pathlib.Path("/"))
    'is a directory, not a config file'
    >>> file_problem(pathlib.Path("/no/such/file.yaml"))
    'config file not found'
    """
    try:
        info = os.stat(file)
    except ValueError:
        return "invalid file name: it contains a NUL character"
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "config file not found"
        if exc.errno == errno.ENAMETOOLONG:
            longest = max(len(os.fsencode(part)) for part in pathlib.Path(file).parts)
            return f"file name too long ({longest} bytes; the file system allows {_name_max(file)} per name)"
        return f"cannot read config file: {(exc.strerror or str(exc)).lower()}"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a config file"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a device, FIFO or socket), not a config file"
    if info.st_size > MAX_FILE_BYTES:
        return f"is {info.st_size} bytes, larger than a config file may be ({MAX_FILE_BYTES} bytes)"
    if not os.access(file, os.R_OK):
        return "cannot read config file: permission denied"
    return None


def _name_max(file: pathlib.Path) -> int:
    for directory in (*file.parents, pathlib.Path(".")):
        try:
            return os.pathconf(directory, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255  # pragma: no cover - every POSIX system answers for "."


def _is_dir(path: pathlib.Path) -> bool:
    """``path.is_dir()`` that is ``False`` instead of raising for over-long or NUL-containing names."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_yaml(file: pathlib.Path) -> tuple[Any, list[Issue]]:
    """Parse one YAML file with the fast loader; every problem becomes an ``Issue`` located in the file.

    Refused, each with its reason and, where there is one, ``file:line:col``: what ``file_problem`` names,
    bytes that are not UTF-8, YAML syntax errors, duplicate keys, unknown tags (``!!python/object``), invalid
    values (``2020-02-30``), nesting beyond ``MAX_DEPTH``, more than ``MAX_NODES`` nodes with aliases
    expanded, and an alias inside its own anchor.
    """
    problem = file_problem(file)
    if problem is not None:
        return None, [Issue("<root>", problem, str(file))]
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Issue("<root>", f"cannot read config file: {(exc.strerror or str(exc)).lower()}", str(file))]
    if len(data) > MAX_FILE_BYTES:
        return None, [Issue("<root>", f"is larger than a config file may be ({MAX_FILE_BYTES} bytes)", str(file))]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        return None, [Issue("<root>", f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded (a binary "
                            "file, or text in another encoding: save it as UTF-8)", f"{file}:{line}:{column}")]
    return load_yaml_text(text, lambda mark: f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file))


def load_yaml_text(text: str, where: Callable[[Any], str]) -> tuple[Any, list[Issue]]:
    """Parse YAML text with the safe C loader, within ``MAX_DEPTH`` and ``MAX_NODES``.

    Args:
        text: The YAML document.
        where: Turns a ruamel mark (``line``, ``column``, 0-based; or ``None``) into an issue's location.

    Returns:
        The document (``None`` when there are issues) and the problems, at most one.

    >>> load_yaml_text("a: [1, 2]", str)
    ({'a': [1, 2]}, [])
    >>> load_yaml_text("a: 1\\na: 2", lambda mark: f"<text>:{mark.line + 1}:{mark.column + 1}")[1][0].message
    'invalid YAML: while constructing a mapping found duplicate key "a" with value "2" (original value: "1")'
    """
    if sum(map(text.count, "[{-:?")) >= _C_STACK_SAFE_DEPTH:
        # Only here could the text nest deep enough to overflow the C composer's stack: check first.
        problem = _limit_problem(text, where, stop_at_depth=True)
        if problem is not None:
            return None, [problem]
    try:
        value = _safe_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return None, [Issue("<root>", f"invalid YAML: {problem.splitlines()[0] if problem else exc}", where(mark))]
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        mark = types.SimpleNamespace(line=line - 1, column=column - 1)
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        return None, [Issue("<root>", f"invalid YAML: character {character!r} is not allowed (control "
                            "characters other than tab and newline are not)", where(mark))]
    except YAMLError as exc:
        return None, [Issue("<root>", f"invalid YAML: {str(exc).splitlines()[0]}", where(None))]
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # a constructor's own check
        return None, [Issue("<root>", f"invalid YAML value: {exc}", _failing_scalar(text, where, exc))]
    size, depth, cyclic = shape(value)
    if cyclic or depth > MAX_DEPTH or size > MAX_NODES:
        return None, [_limit_problem(text, where, stop_at_depth=False) or
                      Issue("<root>", _limit_message(cyclic, depth, size), where(None))]
    return value, []


def _limit_message(cyclic: bool, depth: int, size: int) -> str:
    if cyclic:
        return "an alias refers to a node that contains it (a recursive structure cannot be a config)"
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit, MAX_DEPTH)"
    return (f"more than {MAX_NODES} nodes with every alias expanded (the limit, MAX_NODES; aliases of aliases "
            "multiply)")


def _limit_problem(text: str, where: Callable[[Any], str], *, stop_at_depth: bool) -> Issue | None:
    """Walk the parser's events (no document is built) to the first node that is nested too deep, exceeds the
    node budget or is an alias inside its own anchor; the issue is located at that node."""
    open_anchors: list[tuple[str | None, int]] = []  # (anchor, node count when it started), outermost first
    sizes: dict[str, int] = {}
    count = 0
    try:
        for event in _safe_yaml().parse(text):
            name = type(event).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                count += 1
                open_anchors.append((event.anchor, count))
                if len(open_anchors) > MAX_DEPTH:
                    return Issue("<root>", _limit_message(False, len(open_anchors), count), where(event.start_mark))
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                anchor, started = open_anchors.pop()
                if anchor is not None:
                    sizes[anchor] = count - started + 1
            elif name == "ScalarEvent":
                count += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif name == "AliasEvent":
                if event.anchor not in sizes and any(anchor == event.anchor for anchor, _ in open_anchors):
                    return Issue("<root>", _limit_message(True, 0, 0), where(event.start_mark))
                count += sizes.get(event.anchor, 1)
            if count > MAX_NODES and not stop_at_depth:
                return Issue("<root>", _limit_message(False, 0, count), where(event.start_mark))
    except YAMLError:
        return None  # the loader reports the syntax error itself
    return None


def _failing_scalar(text: str, where: Callable[[Any], str], error: Exception) -> str:
    """The location of the first scalar the safe constructor refuses (e.g. the date ``2020-02-30``)."""
    constructor = _safe_yaml().constructor
    resolver = _safe_yaml().resolver
    try:
        for event in _safe_yaml().parse(text):
            if type(event).__name__ != "ScalarEvent":
                continue
            tag = event.tag or resolver.resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError):
                return where(event.start_mark)
            except YAMLError:
                continue
    except YAMLError:
        pass
    return where(None)


def shape(value: Any) -> tuple[int, int, bool]:
    """``(nodes, depth, cyclic)`` of plain data: nodes with every shared object counted as often as it is
    reached, the nesting depth of mappings and lists (a scalar is depth 0), and whether a container contains
    itself. Iterative and memoized by object, so an alias bomb costs time in its *distinct* nodes only.

    >>> shared = [1, 2, 3]
    >>> shape({"a": shared, "b": [shared, shared]})
    (14, 3, False)
    """
    if not isinstance(value, _CONTAINERS):
        return 1, 0, False
    sizes: dict[int, tuple[int, int]] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else list(node)
        if finished:
            size, depth = 1, 1
            for child in children:
                child_size, child_depth = sizes[id(child)] if isinstance(child, _CONTAINERS) else (1, 0)
                size, depth = size + child_size, max(depth, child_depth + 1)
            sizes[key] = (size, depth)
            active.discard(key)
        elif key in sizes:
            continue
        elif key in active:
            return 0, 0, True
        else:
            active.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if isinstance(child, _CONTAINERS))
    return (*sizes[id(value)], False)


_CONTAINERS = (dict, list, tuple, set)


def _package_header(file: pathlib.Path) -> str | None:
    """The ``# @package <name>`` header of a file, if any (Hydra reads it from the leading comments)."""
    try:
        with file.open(encoding="utf-8") as handle:
            for line in handle:
                stripped = line.strip()
                if not stripped:
                    continue
                if not stripped.startswith("#"):
                    return None
                match = re.match(r"#\s*@package\s+(\S+)", stripped)
                if match:
                    return match.group(1)
    except (OSError, ValueError):  # unreadable or not UTF-8: ``read_yaml`` reports it
        return None
    return None


@functools.lru_cache(maxsize=64)
def _round_trip(file: str, mtime: float) -> Any:
    """The document with line/column information (slow loader; only used to place errors)."""
    return YAML().load(pathlib.Path(file).read_text(encoding="utf-8"))


def _location(origin: Origin, at_key: bool) -> str | None:
    if origin.file is None:
        return f"override {origin.index + 1} '{origin.override}'"
    try:
        document = _round_trip(origin.file, pathlib.Path(origin.file).stat().st_mtime)
    except (OSError, ValueError, YAMLError, RecursionError):
        return origin.file
    node, line, col = document, 0, 0
    for key in origin.path:
        try:
            if isinstance(key, int):
                line, col = node.lc.item(key)
            else:
                line, col = node.lc.key(key) if at_key or key != origin.path[-1] else node.lc.value(key)
            node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return f"{origin.file}:{line + 1}:{col + 1}"


# --------------------------------------------------------------------------------------- composition
@attrs.frozen
class _Default:
    """One entry of a defaults list."""

    group: str | None  # None for _self_ or a plain config name
    option: Any
    package: str | None = None
    is_override: bool = False
    is_self: bool = False
    name: str | None = None  # a plain config (``- base``) in the same directory
    optional: bool = False
    origin: Origin | None = None  # where the entry is written (``defaults[i]`` of its file)


def _parse_defaults(raw: Any, file: pathlib.Path, issues: list[Issue]) -> list[_Default]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        issues.append(Issue("defaults", f"must be a list (got {type(raw).__name__})", str(file)))
        return []
    entries = []
    for index, item in enumerate(raw):
        origin = Origin(str(file), ("defaults", index))
        if item == "_self_":
            entries.append(_Default(None, None, is_self=True, origin=origin))
        elif isinstance(item, str):
            entries.append(_Default(None, None, name=item, origin=origin))
        elif isinstance(item, Mapping) and len(item) == 1:
            (key, option), = item.items()
            words = str(key).split()
            flags, key = set(words[:-1]), words[-1] if words else ""
            group, _, package = key.partition("@")
            entries.append(_Default(group, option, package or None, "override" in flags, optional="optional" in flags, origin=origin))
        else:
            issues.append(Issue("defaults", f"each entry must be '_self_', a name or 'group: option' (got {item!r})", str(file)))
    return entries


def _join_package(parent: str, package: str) -> str:
    """Hydra's rule: a package is relative to its parent's; ``_global_`` anywhere restarts at the root."""
    joined = ".".join(part for part in (parent, package) if part)
    at = joined.rfind("_global_")
    return joined if at == -1 else joined[at + len("_global_") + 1:]


@attrs.frozen
class _Placed:
    """Where a group entry of a defaults list lands: its group, its package and the key that overrides it."""

    group: str
    """The group's directory relative to the config root (``model``, ``experiment/shapenet``)."""
    package: str | None
    """The package given in the entry (``@package``), absolute; ``None``: the file's header or the default."""
    default_package: str
    """Where the group's content goes without a package (parent package + group)."""
    key: str
    """The override key (Hydra's): ``group`` when the content lands at the group's own path (or at the root),
    else ``group@final.package`` (``/h: b`` in ``g/a.yaml`` is ``h@g.h``)."""


def _place(entry: _Default, base_dir: str, parent_package: str) -> _Placed:
    group_text = entry.group or ""
    relative = group_text.lstrip("/")
    group = relative if group_text.startswith("/") or not base_dir else f"{base_dir}/{relative}"
    default_package = _join_package(parent_package, relative.replace("/", "."))
    package = _join_package(parent_package, entry.package) if entry.package else None
    final = default_package if package is None else package
    # Hydra compares with the group path itself, not with the default package under the parent's package.
    key = group if final in (group.replace("/", "."), "") else f"{group}@{final}"
    return _Placed(group, package, default_package, key)


@attrs.define
class _Choice:
    """A group option chosen from outside the defaults entry: the command line or an ``override`` entry."""

    option: Any
    where: str | None
    """``file:line:col`` of the ``override`` entry, or the command-line override."""
    used: bool = False


@attrs.define
class _Composer:
    root_dir: pathlib.Path
    external: dict[str, _Choice]  # override key -> choice from the command line (highest priority)
    added_groups: list[_Default]  # +group[@package]=option from the command line
    deleted: dict[str, _Choice] = attrs.field(factory=dict)  # ~group[@package] from the command line
    issues: list[Issue] = attrs.field(factory=list)
    data: dict = attrs.field(factory=dict)
    origins: dict[Path, Origin] = attrs.field(factory=dict)
    file_overrides: dict[str, _Choice] = attrs.field(factory=dict)  # from ``override /group: option`` entries
    keys: dict[str, list[str]] = attrs.field(factory=dict)  # group -> override keys of its entries, in order
    unmatched: list[Issue] = attrs.field(factory=list)  # overrides that match no entry (reported with the rest)
    added_where: dict[int, str] = attrs.field(factory=dict)  # id of a +group entry -> its command-line override
    key_where: dict[str, tuple[str, bool, Any]] = attrs.field(factory=dict)  # key -> (where, from the command line, option)

    def compose(self, primary: pathlib.Path) -> None:
        steps = self._expand(primary, "", "", is_primary=True)
        for choices, how in ((self.external, "override"), (self.file_overrides, "override"), (self.deleted, "delete")):
            for key, choice in choices.items():
                if not choice.used:
                    self.unmatched.append(Issue(key, self._unmatched(key, how, choices is self.file_overrides), choice.where))
        if self.issues:
            return
        for file, content, package in steps:
            if isinstance(content, list):
                # A group file may hold a list (e.g. a set of callbacks); it becomes the value at its package.
                self._merge({package[-1]: content}, package[:-1], Origin(file, ()), strip=True)
            else:
                self._merge(content, package, Origin(file))

    def _unmatched(self, key: str, how: str, from_file: bool) -> str:
        group = key.partition("@")[0]
        known = sorted(set(self.keys.get(group, [])))
        listed = f"the defaults list has {', '.join(repr(k) for k in known)}" if known else f"no entry of group {group!r} is in the defaults list"
        if how == "delete":
            remedy = ""
        elif from_file:
            remedy = "; to add an entry instead, write it without 'override'"
        else:
            remedy = f"; to add an entry instead, use '+{key}=...'"
        return f"cannot {how} {key!r}: no entry with that group and package ({listed}){remedy}"

    def _choice(self, placed: _Placed, option: Any, where: str | None) -> tuple[Any, str | None]:
        """The option an entry gets and where it was chosen (command line, an ``override`` entry, the entry)."""
        for choices in (self.external, self.file_overrides):
            choice = choices.get(placed.key)
            if choice is not None:
                choice.used = True
                return choice.option, choice.where
        return option, where

    def _expand(self, file: pathlib.Path, base_dir: str, package: str, is_primary: bool = False) -> list:
        """The merge steps of one config and its defaults, in order: ``(file, content, package path)``.

        Entries are expanded last to first, as Hydra does, so that an ``override`` in a later entry (an
        experiment) is known before an earlier entry of that group is read.
        """
        raw, problems = read_yaml(file)
        if problems:
            self.issues.extend(problems)
            return []
        if raw is None:
            raw = {}
        target = tuple(package.split(".")) if package else ()
        if isinstance(raw, list):
            if not target:
                self.issues.append(Issue("<root>", f"a config file must hold a mapping (got {type(raw).__name__})", str(file)))
                return []
            return [(str(file), raw, target)]
        if not isinstance(raw, dict):
            self.issues.append(Issue("<root>", f"a config file must hold a mapping (got {type(raw).__name__})", str(file)))
            return []
        content = dict(raw)
        defaults = _parse_defaults(content.pop("defaults", None), file, self.issues)
        if not any(entry.is_self for entry in defaults):
            defaults.append(_Default(None, None, is_self=True))
        if is_primary:
            defaults += self.added_groups  # after ``_self_``, as Hydra appends them
        for entry in defaults:
            if entry.is_override and entry.group is not None:
                placed = _place(entry, base_dir, package)
                if placed.key not in self.file_overrides:
                    where = _location(entry.origin, at_key=True) if entry.origin else None
                    self.file_overrides[placed.key] = _Choice(entry.option, where)
        expanded: list[list] = []
        for entry in reversed(defaults):
            if entry.is_self:
                expanded.append([(str(file), content, target)])
            elif entry.name is not None:
                expanded.append(self._expand(self._file(file.parent, entry.name), base_dir, package))
            elif not entry.is_override:
                expanded.append(self._expand_group(entry, base_dir, package, file))
        return [step for steps in reversed(expanded) for step in steps]

    def _expand_group(self, entry: _Default, base_dir: str, parent_package: str, parent: pathlib.Path) -> list:
        placed = _place(entry, base_dir, parent_package)
        written = (_location(entry.origin, at_key=True) if entry.origin else None) or self.added_where.get(id(entry)) or str(parent)
        if placed.key in self.keys.get(placed.group, []):
            # Entries are expanded last to first: the one seen first is the later one (or the command line's '+').
            later, from_command_line, option_text = self.key_where[placed.key]
            how = (f"choose the option with '{placed.key}={option_text}' instead of '+'" if from_command_line
                   else f"to change the option of the earlier one, write 'override {placed.key}: {option_text}'")
            self.issues.append(Issue(placed.key.replace("/", "."), f"a second entry for {placed.key!r} in the defaults "
                                     f"list (Hydra allows one per group and package); {how}", later))
            return []
        self.key_where[placed.key] = (written, entry.origin is None, entry.option)
        self.keys.setdefault(placed.group, []).append(placed.key)
        if placed.key in self.deleted:
            self.deleted[placed.key].used = True
            return []
        option, where = self._choice(placed, entry.option, written)
        if option is None:
            return []
        options = _options(self.root_dir / placed.group)
        path = placed.key.replace("/", ".")
        if option == MISSING:
            self.issues.append(Issue(path, f"you must choose a {placed.group} config: add {placed.key}=<option> "
                                           f"(available: {', '.join(options) or 'none'})", where))
            return []
        steps = []
        for one in option if isinstance(option, list) else [option]:
            file = self._file(self.root_dir / placed.group, str(one))
            problem = file_problem(file)
            if problem is not None and problem != "config file not found":
                self.issues.append(Issue(path, f"config {one!r} of group {placed.group!r}: {file} {problem}", where))
                continue
            if problem is not None:
                if entry.optional:
                    continue
                available = ", ".join(options) or f"none: no {placed.group}/*.yaml next to the config, in {self.root_dir / placed.group}"
                self.issues.append(Issue(path, f"no config {one!r} in group {placed.group!r} (available: {available}){did_you_mean(one, options)}", where))
                continue
            package = placed.package
            if package is None:
                header = _package_header(file)
                package = placed.default_package if header is None else _join_package("", header)
            steps += self._expand(file, placed.group, package)
        return steps

    @staticmethod
    def _file(directory: pathlib.Path, name: str) -> pathlib.Path:
        return directory / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")

    def _merge(self, content: dict, package: Path, origin: Origin, strip: bool = False) -> None:
        node = self.data
        for key in package:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        _merge_into(node, content, package, origin, self.origins, strip)


def _options(directory: pathlib.Path) -> list[str]:
    """The config names of a group directory (none when it is missing or its name is not a valid path)."""
    try:
        return sorted(p.stem for p in directory.glob("*.yaml"))
    except (OSError, ValueError):
        return []


def _merge_into(
    target: dict, source: Mapping, at: Path, origin: Origin, origins: dict[Path, Origin], strip: bool = False
) -> None:
    """Merge ``source`` into ``target`` as OmegaConf does: mappings recursively, everything else replaced.

    ``strip``: the top-level keys of ``source`` are not in the file (a list file wrapped in its package key).
    """
    for key, value in source.items():
        path = (*at, key)
        inner = origin if strip else attrs.evolve(origin, path=(*origin.path, key))
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            origins[path] = inner
            _merge_into(target[key], value, path, inner, origins)
        else:
            _forget(origins, path)
            target[key] = copy.deepcopy(value)
            _record(value, path, inner, origins)


def _record(value: Any, path: Path, origin: Origin, origins: dict[Path, Origin]) -> None:
    origins[path] = origin
    if isinstance(value, Mapping):
        for key, item in value.items():
            _record(item, (*path, key), attrs.evolve(origin, path=(*origin.path, key)), origins)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _record(item, (*path, index), attrs.evolve(origin, path=(*origin.path, index)), origins)


def _forget(origins: dict[Path, Origin], path: Path) -> None:
    for known in [p for p in origins if p[: len(path)] == path]:
        del origins[known]


# ----------------------------------------------------------------------------------------- overrides
_OVERRIDE = re.compile(r"^(?P<prefix>\+\+|\+|~)?(?P<key>[A-Za-z_][\w\-]*(?:[./][A-Za-z_0-9][\w\-]*|\[[0-9]+\])*)(?:@(?P<package>[\w.]+))?(?:=(?P<value>.*))?$", re.S)


@attrs.frozen
class Override:
    """One parsed command-line override."""

    text: str
    """The override as written."""
    index: int
    """Its position among the overrides."""
    prefix: str
    """``""`` (set), ``+`` (add), ``++`` (add or set) or ``~`` (delete)."""
    key: str
    """The dotted key, or a group path such as ``experiment/toy``."""
    value: Any
    """The value parsed as YAML (``None`` for a deletion without value)."""
    has_value: bool
    """Whether ``=value`` was given."""
    package: str | None = None
    """The package of a group choice (``optimizer@model.optimizer_config=sgd``), or ``None``."""


def parse_overrides(overrides: Sequence[str]) -> tuple[list[Override], list[Issue]]:
    """Parse ``key=value``, ``+key=value``, ``++key=value``, ``~key`` and group choices like ``optimizer=sgd``."""
    parsed, issues = [], []
    for index, text in enumerate(overrides):
        match = _OVERRIDE.match(text.strip())
        where = f"override {index + 1} '{text}'"
        if not match or (match.group("prefix") != "~" and match.group("value") is None):
            issues.append(Issue(text.split("=", 1)[0] or "<override>", "invalid override: expected key=value, +key=value, ++key=value or ~key", where))
            continue
        raw = match.group("value")
        value, problems = load_yaml_text(raw, lambda mark: where) if raw else ("" if raw == "" else None, [])
        if problems:
            message = problems[0].message  # a syntax error needs no more words than the value itself
            reason = "" if message.startswith("invalid YAML:") else f": {message.removeprefix('invalid YAML value: ')}"
            issues.append(Issue(match.group("key"), f"invalid override value {raw!r}{reason}", where))
            continue
        parsed.append(Override(text, index, match.group("prefix") or "", match.group("key"), value, raw is not None,
                               match.group("package")))
    return parsed, issues


def _is_index(text: str) -> bool:
    """Whether ``text`` is a list index: ASCII digits only (``"²".isdigit()`` is true, but ``int("²")`` fails).

    >>> _is_index("12"), _is_index("²"), _is_index("-1")
    (True, False, False)
    """
    return text.isascii() and text.isdigit()


def _split_key(key: str) -> Path:
    parts: list[PathKey] = []
    for token in re.findall(r"[^.\[\]]+|\[[0-9]+\]", key):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


def apply_override(composed: Composed, override: Override, is_field: Any) -> Issue | None:
    """Apply one dotted override to the composed data; return an ``Issue`` when it cannot be applied."""
    path = _split_key(override.key)
    where = f"override {override.index + 1} '{override.text}'"
    parent: Any = composed.data
    for depth, key in enumerate(path[:-1]):
        if isinstance(parent, dict) and key not in parent and override.prefix in ("+", "++"):
            parent[key] = {}
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return Issue(format_path(path[: depth + 1]), f"cannot override: {format_path(path[: depth + 1])!s} is not in the config", where)
        if isinstance(parent, str) and _INTERPOLATION.fullmatch(parent.strip()):
            source = _INTERPOLATION.fullmatch(parent.strip()).group(1)
            rest = override.key.split(".", depth + 1)[-1] if "." in override.key else ""
            return Issue(format_path(path[: depth + 1]), f"cannot override inside {format_path(path[: depth + 1])}: it is the "
                         f"interpolation {parent.strip()!r}; override '{source}.{rest}' instead", where)
    last = path[-1]
    if isinstance(parent, list):
        if isinstance(last, str) and _is_index(last):  # trainer.callbacks.3 means trainer.callbacks[3]
            last = int(last)
            path = (*path[:-1], last)
        if not isinstance(last, int):
            return Issue(format_path(path), f"cannot override: {format_path(path[:-1])} is a list; use an index like [0]", where)
        if last > len(parent) or (last == len(parent) and override.prefix not in ("+", "++")):
            return Issue(format_path(path), f"cannot override: the list has {len(parent)} items"
                         + (f"; append with '+{override.key}=...'" if last == len(parent) else ""), where)
        if last == len(parent):
            parent.append(None)
            exists = False
        else:
            exists = True
    else:
        exists = isinstance(parent, dict) and last in parent
    if override.prefix == "~":
        if not exists:
            return Issue(format_path(path), "cannot delete: the key is not in the config", where)
        del parent[last]
        _forget(composed.origins, path)
        return None
    if override.prefix == "+" and exists:
        return Issue(format_path(path), "cannot add: the key is already in the config; override it without '+' (or use '++')", where)
    if override.prefix == "" and not exists and not is_field(path):
        siblings = list(parent) if isinstance(parent, dict) else []
        return Issue(
            format_path(path),
            f"cannot override: the key is not in the config; add it with '+{override.key}=...'{did_you_mean(last, siblings)}",
            where,
        )
    if not isinstance(parent, (dict, list)):
        return Issue(format_path(path), "cannot override: the parent is not a mapping", where)
    _forget(composed.origins, path)
    parent[last] = override.value
    _record(override.value, path, Origin(None, (), override.text, override.index), composed.origins)
    return None


# ------------------------------------------------------------------------------------- interpolation
_INTERPOLATION = re.compile(r"(?<!\\)\$\{([^${}]+)\}")
_FAILED = object()


def interpolate(composed: Composed) -> list[Issue]:
    """Resolve every ``${dotted.path}`` in place and report ``???`` values; returns the problems found.

    As in OmegaConf, a reference is resolved where it is used, whatever the order of the document: a path may
    run through another interpolated node (``${model.optimizer_config.lr}`` where ``model.optimizer_config``
    is ``${optimizer}``). A chain of references that comes back to itself is one ``interpolation cycle`` issue
    naming the chain.
    """
    issues: list[Issue] = []
    stack: list[Path] = []  # string nodes being resolved, outermost first
    deep: list[Path] = []  # containers being resolved as a whole (for a ``${mapping}``)

    def set_at(path: Path, value: Any) -> None:
        node: Any = composed.data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    def step(node: Any, key: PathKey) -> tuple[bool, Any, PathKey]:
        if isinstance(node, dict) and key in node:
            return True, node[key], key
        if isinstance(node, list):
            index = int(key) if isinstance(key, str) and _is_index(key) else key
            if isinstance(index, int) and 0 <= index < len(node):
                return True, node[index], index
        return False, None, key

    def lookup(reference: str, at: Path) -> tuple[Any, Path]:
        """The value a reference names and the path it really lives at, following interpolations on the way."""
        text = reference.strip()
        if text.startswith("."):
            issues.append(Issue(format_path(at), f"relative interpolation ${{{reference}}} is not supported; use the full path", composed.locate(at, False)))
            return _FAILED, ()
        target = _split_key(text)
        if target and isinstance(target[0], str):
            composed.referenced_roots.add(target[0])
        node: Any = composed.data
        real: Path = ()
        for depth, key in enumerate(target):
            node, real = follow(node, real)
            if node is _FAILED:
                return _FAILED, ()
            found, node, key = step(node, key)
            if not found:
                parent, _ = follow(_get(composed.data, real), real)
                choices = list(parent) if isinstance(parent, dict) else []
                issues.append(Issue(format_path(at), f"interpolation ${{{reference}}} refers to a missing key {format_path(target[: depth + 1])!r}{did_you_mean(key, choices)}", composed.locate(at, False)))
                return _FAILED, ()
            real = (*real, key)
        return follow(node, real)

    def follow(node: Any, at: Path) -> tuple[Any, Path]:
        """``node`` (at ``at``) with its interpolation resolved; a whole ``${x}`` continues at ``x``'s path."""
        if not (isinstance(node, str) and "${" in node) or at in done:
            return node, at
        if at in stack:
            chain = [*stack[stack.index(at):], at]
            issues.append(Issue(format_path(chain[0]), "interpolation cycle: " + " -> ".join(format_path(p) for p in chain),
                                composed.locate(chain[0], False)))
            for path in chain:
                failed.add(path)
            return _FAILED, at
        if at in failed:
            return _FAILED, at
        stack.append(at)
        try:
            whole = _INTERPOLATION.fullmatch(node)
            if whole:
                value, real = lookup(whole.group(1), at)
                if value is _FAILED:
                    failed.add(at)
                elif not isinstance(value, (dict, list)):
                    set_at(at, value)  # a scalar: resolved once, here
                    done.add(at)
                return value, real
            pieces = []
            for match in _INTERPOLATION.finditer(node):
                value, _ = lookup(match.group(1), at)
                pieces.append(value)
            if any(value is _FAILED for value in pieces):
                failed.add(at)
                return _FAILED, at
            length = len(node) + sum(len(str(value)) for value in pieces)
            if length > MAX_STRING_CHARS:
                issues.append(Issue(format_path(at), f"interpolation builds a string of {length} characters, more than "
                                    f"{MAX_STRING_CHARS} (the limit, MAX_STRING_CHARS)", composed.locate(at, False)))
                failed.add(at)
                return _FAILED, at
            values = iter(pieces)
            text = _INTERPOLATION.sub(lambda _: "" if (v := next(values)) is None else str(v), node).replace("\\${", "${")
            set_at(at, text)
            done.add(at)
            return text, at
        finally:
            stack.pop()

    failed: set[Path] = set()
    copied = [0]  # nodes copied by interpolations of whole mappings and lists (bounded by MAX_NODES)
    done: set[Path] = set()  # string nodes already replaced by their value (which may contain an escaped ``${``)

    def resolve_all(node: Any, at: Path) -> Any:
        """Resolve every interpolation under ``node`` (at ``at``) in place; return the node's final value."""
        if isinstance(node, str) and "${" in node and at not in done:
            value, real = follow(node, at)
            if value is _FAILED:
                set_at(at, None) if at else None
                return None
            if isinstance(value, (dict, list)):
                if real in deep:
                    chain = [*deep[deep.index(real):], at]
                    issues.append(Issue(format_path(at), "interpolation cycle: " + " -> ".join(format_path(p) for p in chain) + " (a mapping that contains a reference to itself)",
                                        composed.locate(at, False)))
                    set_at(at, None)
                    return None
                if copied[0] > MAX_NODES:  # the budget ran out (and was reported) at an earlier copy
                    set_at(at, None)
                    return None
                value = resolve_all(value, real)
                copied[0] += shape(value)[0]
                if copied[0] > MAX_NODES:  # reported once, where the budget runs out
                    issues.append(Issue(format_path(at), f"interpolations of whole mappings and lists copy more than "
                                        f"{MAX_NODES} nodes (the limit, MAX_NODES)", composed.locate(at, False)))
                    set_at(at, None)
                    return None
                value = copy.deepcopy(value)
                composed.aliases[at] = real
                set_at(at, value)
            return value
        if isinstance(node, (dict, list)):
            deep.append(at)
            try:
                for key in list(node) if isinstance(node, dict) else range(len(node)):
                    resolve_all(node[key], (*at, key))
            finally:
                deep.pop()
        return _get(composed.data, at) if at else node

    resolve_all(composed.data, ())
    for path, value in _walk(composed.data, ()):
        if value == MISSING:
            issues.append(Issue(format_path(path), "mandatory value missing (???): set it in the config or with an override", composed.locate(path, False)))
    return issues


def _first_path_deeper_than(data: Any, limit: int) -> Path | None:
    """The path of the first container nested at level ``limit + 1`` (the root is level 1), or ``None``."""
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        node, at = stack.pop()
        if isinstance(node, (dict, list)):
            if len(at) >= limit:
                return at
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, (*at, key)) for key, value in reversed(list(items)))
    return None


def _get(data: Any, path: Path) -> Any:
    node = data
    for key in path:
        node = node[key]
    return node


def _walk(node: Any, at: Path) -> Iterable[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*at, index))
    else:
        yield at, node


# -------------------------------------------------------------------------------------------- public
def compose_with_origins(
    path: str | pathlib.Path, overrides: Sequence[str] = (), is_field: Any = None
) -> tuple[Composed, list[Issue]]:
    """Steps 1-3 of loading: read, compose the defaults tree, apply overrides, interpolate.

    Args:
        path: The primary YAML file.
        overrides: Command-line overrides (dotted keys and group choices).
        is_field: ``(path, data) -> bool``: whether a path not in the YAML is still a schema field (so
            ``key=value`` may set it without ``+``). ``None``: only keys already in the YAML can be set so.

    Returns:
        The composed config and the problems of overrides and interpolations (the config is still usable,
        so that structuring can report the remaining problems in the same pass).

    Raises:
        ConfigError: When the files themselves cannot be composed (missing file, invalid YAML, bad defaults).
    """
    file = pathlib.Path(path)
    problem = file_problem(file)
    if problem is not None:
        raise ConfigError([Issue("<root>", problem, str(file))])
    parsed, issues = parse_overrides(overrides)
    root_dir = file.parent
    external, added, deleted, dotted, added_where = {}, [], {}, [], {}
    for override in parsed:
        where = f"override {override.index + 1} '{override.text}'"
        key = override.key if override.package is None else f"{override.key}@{override.package}"
        is_group = _is_dir(root_dir / override.key) and (override.value is None or isinstance(override.value, (str, list)))
        if not is_group:
            if override.package is not None:
                issues.append(Issue(key, f"a package (@{override.package}) only goes with a config group, and there is "
                                         f"no group directory {override.key!r} in {root_dir}", where))
            else:
                dotted.append(override)
        elif override.prefix == "~":
            deleted[key] = _Choice(None, where)
        elif override.prefix in ("+", "++"):
            added.append(_Default(override.key, override.value, override.package))
            added_where[id(added[-1])] = where
        else:
            external[key] = _Choice(override.value, where)
    composer = _Composer(root_dir, external, added, deleted, added_where=added_where)
    composer.compose(file)
    if composer.issues:
        raise ConfigError(composer.issues + composer.unmatched + issues)
    issues = composer.unmatched + issues
    composed = Composed(composer.data, composer.origins)
    for override in dotted:
        problem = apply_override(composed, override, lambda at: bool(is_field and is_field(at, composed.data)))
        if problem:
            issues.append(problem)
    issues.extend(interpolate(composed))
    too_deep = _first_path_deeper_than(composed.data, MAX_DEPTH)
    if too_deep is not None:
        issues.append(Issue(format_path(too_deep), f"the composed config is nested deeper than {MAX_DEPTH} levels of "
                            "mappings and lists (the limit, MAX_DEPTH)", composed.locate(too_deep, True)))
        _get(composed.data, too_deep[:-1])[too_deep[-1]] = None  # so that nothing after this recurses into it
    return composed, issues


def compose(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> dict:
    """Read, compose, override and interpolate a config: the plain dict Hydra would produce for the same tree.

    Args:
        path: The primary YAML file.
        overrides: Dotted overrides (``trainer.max_epochs=5``, ``+new.key=1``, ``~key``) and group choices
            (``optimizer=sgd``, ``+experiment/toy=upt``).

    Returns:
        The composed mapping (``defaults`` lists removed, interpolations resolved).

    Raises:
        ConfigError: With every problem, each with its file:line:col or override.
    """
    composed, issues = compose_with_origins(path, overrides)
    if issues:
        raise ConfigError(issues)
    return composed.data
