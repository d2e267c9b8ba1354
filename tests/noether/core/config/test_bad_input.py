"""Bad input to the config loader: each case ends in one ``ConfigError`` line with its path and location."""

from __future__ import annotations

import os
import pathlib
import time

import pytest

from noether.core.config import ConfigError, compose, load_config
from noether.core.config import yaml as config_yaml
from noether.core.config.yaml import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_STRING_CHARS

BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))
"""The billion laughs: nine levels of ten aliases, 10^9 nodes once expanded."""


def lines_of(call) -> list[str]:
    """The rendered lines of the ``ConfigError`` that ``call()`` raises (any other exception fails the test)."""
    with pytest.raises(ConfigError) as excinfo:
        call()
    return str(excinfo.value).splitlines()


def write(tmp_path: pathlib.Path, content: str | bytes, name: str = "main.yaml") -> pathlib.Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# ------------------------------------------------------------------------------------------ the file itself
def test_non_utf8_bytes_are_located_at_the_byte(tmp_path):
    """A byte that is not UTF-8 is reported at its line and (character) column."""
    path = write(tmp_path, "a: 1\nname: caf\u00e9 \xff\n".encode("latin-1").replace(b"\xe9", "\u00e9".encode()))
    assert lines_of(lambda: compose(path)) == [
        f"<root>: not UTF-8 text: byte 0xff cannot be decoded (a binary file, or text in another encoding: save it "
        f"as UTF-8)  [{path}:2:12]"]


def test_binary_file(tmp_path):
    """A binary file (here the start of a PNG) is refused as not UTF-8, at its first bad byte."""
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n")
    assert lines_of(lambda: load_config(path)) == [
        f"<root>: not UTF-8 text: byte 0x89 cannot be decoded (a binary file, or text in another encoding: save it "
        f"as UTF-8)  [{path}:1:1]"]


def test_directory(tmp_path):
    """A directory given as the config is named as such."""
    assert lines_of(lambda: load_config(tmp_path)) == [f"<root>: is a directory, not a config file  [{tmp_path}]"]


def test_fifo_is_refused_without_opening_it(tmp_path):
    """A FIFO would block a reader forever: it is refused from its type, at once."""
    fifo = tmp_path / "train.yaml"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert lines_of(lambda: compose(fifo)) == [
        f"<root>: is not a regular file (a device, FIFO or socket), not a config file  [{fifo}]"]
    assert time.monotonic() - start < 1.0


def test_device():
    """A character device (``/dev/zero`` never ends) is refused from its type."""
    assert lines_of(lambda: compose("/dev/zero")) == [
        "<root>: is not a regular file (a device, FIFO or socket), not a config file  [/dev/zero]"]


def test_missing_file(tmp_path):
    """A missing file is reported with its path."""
    assert lines_of(lambda: compose(tmp_path / "nope.yaml")) == [f"<root>: config file not found  [{tmp_path / 'nope.yaml'}]"]


def test_over_long_name(tmp_path):
    """A name longer than the file system allows is reported as such (not as an OSError)."""
    path = tmp_path / ("x" * 300 + ".yaml")
    assert lines_of(lambda: compose(path)) == [
        f"<root>: file name too long (305 bytes; the file system allows 255 per name)  [{path}]"]


def test_name_with_nul(tmp_path):
    """A NUL character in the name is refused (``os.stat`` raises ValueError for it)."""
    path = pathlib.Path(f"{tmp_path}/a\0b.yaml")
    assert lines_of(lambda: compose(path)) == [f"<root>: invalid file name: it contains a NUL character  [{path}]"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path):
    """A file without read permission is reported as unreadable."""
    path = write(tmp_path, "a: 1\n")
    path.chmod(0)
    assert lines_of(lambda: compose(path)) == [f"<root>: cannot read config file: permission denied  [{path}]"]


def test_unreadable_file_as_any_user(tmp_path, monkeypatch):
    """The permission check, also where the tests run as root: an ``open`` refused with EACCES is reported."""
    path = write(tmp_path, "a: 1\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(config_yaml, "open", refuse, raising=False)
    assert lines_of(lambda: compose(path)) == [f"<root>: cannot read config file: permission denied  [{path}]"]


def test_file_too_large(tmp_path):
    """A file over MAX_FILE_BYTES is refused before it is read."""
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    assert lines_of(lambda: compose(path)) == [
        f"<root>: is {MAX_FILE_BYTES + 1} bytes, larger than a config file may be ({MAX_FILE_BYTES} bytes)  [{path}]"]


# --------------------------------------------------------------------------------------------- the document
def test_nesting_beyond_max_depth_in_flow_style(tmp_path):
    """A flow list nested past MAX_DEPTH is located at the first level beyond it."""
    path = write(tmp_path, "a: " + "[" * 200 + "]" * 200 + "\n")
    assert lines_of(lambda: compose(path)) == [
        f"<root>: nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit, MAX_DEPTH)  [{path}:1:103]"]


def test_nesting_beyond_max_depth_in_block_style(tmp_path):
    """Block mappings nested past MAX_DEPTH are located at the first key beyond it."""
    path = write(tmp_path, "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1\n")
    assert lines_of(lambda: compose(path)) == [
        f"<root>: nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit, MAX_DEPTH)  [{path}:101:201]"]


def test_nesting_that_would_crash_the_c_parser_is_refused_first(tmp_path):
    """200,000 levels (which overflow the C composer's stack) are refused by the event pre-check, quickly."""
    path = write(tmp_path, "- " * 200_000 + "x\n")
    start = time.process_time()
    assert lines_of(lambda: compose(path)) == [
        f"<root>: nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit, MAX_DEPTH)  [{path}:1:201]"]
    assert time.process_time() - start < 1.0


def test_alias_bomb_is_refused_fast(tmp_path):
    """The billion laughs is refused in well under a second, at the alias that crosses MAX_NODES."""
    path = write(tmp_path, BOMB)
    start = time.process_time()
    assert lines_of(lambda: load_config(path)) == [
        f"<root>: more than {MAX_NODES} nodes with every alias expanded (the limit, MAX_NODES; aliases of aliases "
        f"multiply)  [{path}:5:36]"]
    assert time.process_time() - start < 0.5


def test_recursive_alias(tmp_path):
    """An alias inside its own anchor would make an endless structure."""
    path = write(tmp_path, "a: &loop\n  b: *loop\n")
    assert lines_of(lambda: compose(path)) == [
        f"<root>: an alias refers to a node that contains it (a recursive structure cannot be a config)  [{path}:2:6]"]


def test_duplicate_keys(tmp_path):
    """A key written twice in one mapping is an error at the second one."""
    path = write(tmp_path, "trainer:\n  max_epochs: 1\n  max_epochs: 2\n")
    assert lines_of(lambda: compose(path)) == [
        f'<root>: invalid YAML: while constructing a mapping found duplicate key "max_epochs" with value "2" '
        f'(original value: "1")  [{path}:3:3]']


@pytest.mark.parametrize(("text", "message", "at"), [
    ("a: !!python/object/apply:os.system [touch /tmp/x]\n",
     "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'", "1:4"),
    ("a: !custom 1\n", "invalid YAML: could not determine a constructor for the tag '!custom'", "1:4"),
    ("x: 1\nday: 2020-02-30\n", "invalid YAML value: day is out of range for month", "2:6"),
    ("a: b\x01\n", "invalid YAML: character '\\x01' is not allowed (control characters other than tab and newline are "
     "not)", "1:5"),
    ("a: [1, 2\n", "invalid YAML: while parsing a flow sequence did not find expected ',' or ']'", "2:1"),
])
def test_bad_tags_values_and_characters(tmp_path, text, message, at):
    """Tags that would construct objects, unknown tags, impossible dates, control characters, syntax errors."""
    path = write(tmp_path, text)
    assert lines_of(lambda: compose(path)) == [f"<root>: {message}  [{path}:{at}]"]


def test_integer_longer_than_python_converts(tmp_path):
    """An integer of 5000 digits is refused at its position (Python's int-from-string limit)."""
    path = write(tmp_path, "a: 1\nb: " + "9" * 5000 + "\n")
    assert lines_of(lambda: compose(path)) == [
        "<root>: invalid YAML value: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 "
        f"digits; use sys.set_int_max_str_digits() to increase the limit  [{path}:2:4]"]


# ------------------------------------------------------------------------------------------ interpolations
def test_interpolated_mappings_deeper_than_max_depth(tmp_path):
    """Two lists of 60 levels each, one interpolated into the other, nest past MAX_DEPTH once composed; the node is
    located where it was written (inside ``a``)."""
    deep = "[" * 60 + "1" + "]" * 60
    path = write(tmp_path, f"a: {deep}\nb: {'[' * 60}'${{a}}'{']' * 60}\n")
    assert lines_of(lambda: compose(path)) == [
        f"b{'[0]' * 99}: the composed config is nested deeper than {MAX_DEPTH} levels of mappings and lists (the "
        f"limit, MAX_DEPTH)  [{path}:1:43]"]


def test_interpolation_copy_bomb(tmp_path):
    """Lists of interpolated lists multiply like an alias bomb: refused once MAX_NODES nodes were copied."""
    text = "a: [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: [{', '.join([repr('${' + chr(97 + i) + '}')] * 10)}]\n" for i in range(8))
    path = write(tmp_path, text)
    start = time.process_time()
    assert lines_of(lambda: compose(path)) == [
        f"e[7]: interpolations of whole mappings and lists copy more than {MAX_NODES} nodes (the limit, MAX_NODES)  "
        f"[{path}:5:61]"]
    assert time.process_time() - start < 1.0


def test_interpolation_string_bomb(tmp_path):
    """Strings of repeated interpolations grow tenfold per level: refused past MAX_STRING_CHARS."""
    text = "a: " + "x" * 37 + "\n" + "".join(f"{chr(98 + i)}: '{('${' + chr(97 + i) + '}') * 10}'\n" for i in range(8))
    path = write(tmp_path, text)
    assert lines_of(lambda: compose(path)) == [
        f"f: interpolation builds a string of 3700040 characters, more than {MAX_STRING_CHARS} (the limit, "
        f"MAX_STRING_CHARS)  [{path}:6:4]"]


# --------------------------------------------------------------------------------------------- overrides
@pytest.fixture
def simple(tmp_path):
    return write(tmp_path, "a:\n  items: [1, 2]\n  b: 1\n")


@pytest.mark.parametrize(("override", "line"), [
    ("a.items.\u00b2=3", "a.items.\u00b2: invalid override: expected key=value, +key=value, ++key=value or ~key"),
    ("a.items[\u00b2]=3", "a.items[\u00b2]: invalid override: expected key=value, +key=value, ++key=value or ~key"),
    ("a.items.x=3", "a.items.x: cannot override: a.items is a list; use an index like [0]"),
    ("a.items[7]=3", "a.items[7]: cannot override: the list has 2 items"),
    ("a.items.99999999999999999999=3", "a.items[99999999999999999999]: cannot override: the list has 2 items"),
    ("=3", "<override>: invalid override: expected key=value, +key=value, ++key=value or ~key"),
    ("a.b=[1, 2", "a.b: invalid override value '[1, 2'"),
    ("a.b=&x [*x]", "a.b: invalid override value '&x [*x]': an alias refers to a node that contains it (a recursive "
     "structure cannot be a config)"),
    ("a.b=" + "[" * 101 + "]" * 101, f"a.b: invalid override value '{'[' * 101 + ']' * 101}': nested deeper than "
     f"{MAX_DEPTH} levels of mappings and lists (the limit, MAX_DEPTH)"),
    ("a.b=2020-02-30", "a.b: invalid override value '2020-02-30': day is out of range for month"),
    ("a.b=!!python/name:os.system", "a.b: invalid override value '!!python/name:os.system'"),
    ("x" * 300 + "=1", "x" * 300 + ": cannot override: the key is not in the config; add it with '+" + "x" * 300
     + "=...'"),
])
def test_bad_overrides(simple, override, line):
    """Each bad override is one line naming the override; list indices are ASCII digits only."""
    assert lines_of(lambda: compose(simple, [override])) == [f"{line}  [override 1 '{override}']"]


def test_alias_bomb_in_an_override_value(simple):
    """An alias bomb on the command line is refused like one in a file."""
    value = BOMB.replace("\n", ", ").rstrip(", ")
    override = "+c={" + value + "}"
    assert lines_of(lambda: compose(simple, [override])) == [
        f"c: invalid override value '{{{value}}}': more than {MAX_NODES} nodes with every alias expanded (the limit, "
        f"MAX_NODES; aliases of aliases multiply)  [override 1 '{override}']"]


# ------------------------------------------------------------------------------------ defaults and kinds
def test_group_option_with_nul(tmp_path):
    """A group option whose name cannot be a file name is refused at its defaults entry."""
    (tmp_path / "g").mkdir()
    path = write(tmp_path, 'defaults:\n  - g: "a\\0b"\n')
    assert lines_of(lambda: compose(path)) == [
        f"g: config 'a\\x00b' of group 'g': {tmp_path}/g/a\x00b.yaml invalid file name: it contains a NUL character  "
        f"[{path}:2:5]"]


def test_group_option_that_is_a_directory(tmp_path):
    """A group option naming a directory (``g/opt.yaml/``) is refused as such, not read."""
    (tmp_path / "g" / "opt.yaml").mkdir(parents=True)
    path = write(tmp_path, "defaults:\n  - g: opt\n")
    assert lines_of(lambda: compose(path)) == [
        f"g: config 'opt' of group 'g': {tmp_path}/g/opt.yaml is a directory, not a config file  [{path}:2:5]"]


def test_over_long_group_option_on_the_command_line(tmp_path):
    """An over-long group option on the command line is refused for its name, not as an OSError."""
    (tmp_path / "g").mkdir()
    path = write(tmp_path, "defaults:\n  - g: a\n")
    write(tmp_path, "x: 1\n", "g/a.yaml")
    key = "y" * 300
    assert lines_of(lambda: compose(path, [f"g={key}"])) == [
        f"g: config '{key}' of group 'g': {tmp_path}/g/{key}.yaml file name too long (305 bytes; the file system "
        f"allows 255 per name)  [override 1 'g={key}']"]


@pytest.mark.parametrize(("kind", "message"), [
    (".x", "cannot import module '': ValueError: Empty module name"),
    ("..rel.Schema", "cannot import module '..rel': TypeError: the 'package' argument is required to perform a "
     "relative import for '..rel'"),
])
def test_config_schema_kind_that_cannot_be_imported(tmp_path, kind, message):
    """An empty or relative module name in ``config_schema_kind`` is a located config error."""
    path = write(tmp_path, f"config_schema_kind: {kind}\n")
    assert lines_of(lambda: load_config(path))[0] == f"config_schema_kind: {message}  [{path}:1:21]"
