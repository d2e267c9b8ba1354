"""Inputs for fuzzing the config loader, and the check every one of them must pass.

Shared by ``test_fuzz.py`` (a few hundred inputs per family, in the test suite) and
``benchmarks/fuzz_config.py`` (10^4 inputs with a summary line). An input is a small tree of files (written into
a fresh directory) plus command-line overrides; the families are generated YAML documents, YAML-like text,
random bytes, overrides against the Poisson example, and mutations of the bundled example configs (of their
text, and of their composed data).

The check: ``load_config`` (as ``noether-train`` calls it: with the config classes the components declare),
``compose`` and ``noether-check --no-import`` end in a config or a ``ConfigError`` (anything
else is an *escape*), each within ``CPU_SECONDS`` of CPU time (else a *hang*) and ``PEAK_BYTES`` of traced
Python memory (else a *blow-up*).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import pathlib
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator

import attrs
from hypothesis import strategies as st
from ruamel.yaml import YAML

from noether.core.config import ConfigError, compose, load_config
from noether.core.config import cli
from noether.core.config.kinds import declared_config_class
from noether.core.schemas import ConfigSchema

REPO = pathlib.Path(__file__).resolve().parents[4]
if str(REPO) not in sys.path:  # the examples' ``config_schema_kind`` and component kinds name modules under it
    sys.path.insert(0, str(REPO))
CPU_SECONDS = 2.0
"""The CPU time one input may take through all three entry points (a parse of a full config takes ~5 ms)."""
WALL_SECONDS = 20.0
"""Wall-clock limit after which an input counts as a hang even if it is not using the CPU (e.g. blocked)."""
PEAK_BYTES = 64 * 1024 * 1024
"""The most Python memory (``tracemalloc`` peak) one input may allocate."""


@attrs.frozen
class FuzzInput:
    """Files to write (relative path -> bytes), the primary config among them, and the overrides."""

    files: dict[str, bytes]
    primary: str = "main.yaml"
    overrides: tuple[str, ...] = ()
    family: str = ""


@attrs.frozen
class Outcome:
    """What one input did: ``config`` / ``error`` (both fine), ``escape``, ``hang`` or ``blowup``."""

    kind: str
    detail: str = ""
    cpu_seconds: float = 0.0
    peak_bytes: int = 0


class _Hang(BaseException):
    """Raised by the wall-clock alarm."""


def _example_files(example: str) -> dict[str, bytes]:
    root = REPO / "examples" / example
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.yaml"))}


EXAMPLES = {name: _example_files(name) for name in ("poisson", "pointcloud")}
"""The bundled example configs: example -> relative path -> bytes."""


def _entry_points(path: pathlib.Path, overrides: tuple[str, ...]) -> str:
    outcome = "config"
    for call in (lambda: load_config(path, overrides, config_class_for=declared_config_class),
                 lambda: compose(path, overrides)):
        try:
            call()
        except ConfigError as exc:
            assert exc.issues and all(str(issue) for issue in exc.issues), "a ConfigError without issues"
            outcome = "error"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            status = cli.main([str(path), "--no-import", *overrides])
        except SystemExit as exc:  # argparse refusing its command line (an override that looks like an option)
            status = exc.code
    assert status in (0, 2), f"noether-check exited with {status}"
    return outcome


def run_input(item: FuzzInput, *, trace_memory: bool = True) -> Outcome:
    """Write ``item`` into a fresh directory and run it through every entry point, within the bounds.

    ``trace_memory=False`` skips ``tracemalloc`` (which makes allocation-heavy code ~3x slower); the caller then
    bounds memory itself (``benchmarks/fuzz_config.py`` sets an address-space limit and reads the peak RSS).
    """
    with tempfile.TemporaryDirectory() as directory:
        root = pathlib.Path(directory)
        for name, content in item.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
        previous = signal.signal(signal.SIGALRM, _raise_hang)
        signal.setitimer(signal.ITIMER_REAL, WALL_SECONDS)
        if trace_memory:
            tracemalloc.start()
        start = time.process_time()
        try:
            kind, detail = _entry_points(root / item.primary, item.overrides), ""
        except _Hang:
            kind, detail = "hang", f"still running after {WALL_SECONDS} s"
        except MemoryError as exc:
            kind, detail = "blowup", f"MemoryError: {exc}"
        except Exception as exc:  # noqa: BLE001 - this is what the fuzzing looks for
            kind, detail = "escape", f"{type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            cpu = time.process_time() - start
            peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
            if trace_memory:
                tracemalloc.stop()
    if kind in ("config", "error") and cpu > CPU_SECONDS:
        kind, detail = "hang", f"{cpu:.2f} s of CPU (the bound is {CPU_SECONDS} s)"
    if kind in ("config", "error") and peak > PEAK_BYTES:
        kind, detail = "blowup", f"{peak} bytes traced (the bound is {PEAK_BYTES})"
    return Outcome(kind, detail, cpu, peak)


def _raise_hang(*_: object) -> None:
    raise _Hang


# ---------------------------------------------------------------------------------------------- strategies
_KEYS = st.one_of(
    st.sampled_from(["trainer", "model", "datasets", "train", "kind", "max_epochs", "callbacks", "defaults",
                     "optimizer_config", "lr", "output_path", "config_schema_kind", "_self_", "name", "optimizer",
                     "tracker", "seed", "every_n_epochs", "schedule_config", "# @package _global_", "override /optimizer"]),
    st.text(max_size=8),
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.text(max_size=16),
    st.sampled_from(["${trainer}", "${a.b}", "${model.optimizer_config.lr}", "???", "${", "${.x}", "$${x}",
                     "${datasets.train}", "noether.core.schedules.LinearWarmupCosineDecaySchedule", "adamw", "sgd",
                     "examples.poisson.schemas.PoissonConfigSchema", "1e-3", "2020-02-30", "x" * 300]),
)
plain_data = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_KEYS, children, max_size=5),
    max_leaves=25,
)
"""Mappings, lists and scalars, with the key names and interpolations configs use."""


def _dump(data: object) -> bytes:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    return stream.getvalue().encode("utf-8")


yaml_documents = plain_data.map(lambda data: FuzzInput({"main.yaml": _dump(data)}, family="yaml document"))
"""A generated document written as valid YAML (which the loader must still refuse, or accept, cleanly)."""

_YAML_CHARACTERS = "abkx019 \n\t-:?,[]{}&*!|>'\"#%@`$.~=+_/\\\r\x00\x7f\u00e9\u2028\ufeff"
yaml_like_text = st.text(alphabet=_YAML_CHARACTERS, max_size=120).map(
    lambda text: FuzzInput({"main.yaml": text.encode("utf-8", "surrogatepass")}, family="yaml-like text"))
"""Text from YAML's indicator characters (anchors, tags, flow and block syntax, control characters)."""

byte_strings = st.one_of(
    st.binary(max_size=200),
    st.tuples(st.sampled_from([b"", b"a: 1\n", b"trainer:\n  max_epochs: "]), st.binary(max_size=40)).map(b"".join),
).map(lambda data: FuzzInput({"main.yaml": data}, family="bytes"))
"""Random bytes, alone or after valid YAML (non-UTF-8 files, binary files)."""

_SEGMENTS = st.sampled_from(["trainer", "max_epochs", "callbacks", "[0]", "[99]", "0", "\u00b2", "[\u00b2]", "model",
                             "optimizer_config", "lr", "datasets", "train", "kind", "x", "x" * 300, "", "-", "a b"])
_KEY_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=4).map(
    lambda parts: "".join(part if part.startswith("[") or index == 0 else "." + part for index, part in enumerate(parts)))
_OVERRIDE_VALUES = st.one_of(
    st.sampled_from(["", "1", "-1", "1e-3", "[1, 2", "{a: 1}", "sgd", "adamw", "???", "${trainer}", "&a [*a]",
                     "[" * 150 + "]" * 150, "2020-02-30", "!!python/name:os.system", "null", "\u00e9", "x" * 300]),
    st.text(max_size=12),
)
override_texts = st.one_of(
    st.tuples(st.sampled_from(["", "+", "++", "~"]), _KEY_PATHS, st.sampled_from(["=", "", "@model", "@", "=="]),
              _OVERRIDE_VALUES).map("".join),
    st.sampled_from(["optimizer=sgd", "optimizer=nope", "+optimizer=sgd", "~optimizer", "optimizer@model.x=sgd",
                     "optimizer=[sgd, adamw]", "trainer.max_epochs=5"]),
    st.text(alphabet="abx01.[]=+~@/${}\u00b2 ", max_size=20),
)
overrides = st.lists(override_texts, min_size=1, max_size=3).map(
    lambda items: FuzzInput(EXAMPLES["poisson"], "train.yaml", tuple(items), family="overrides"))
"""Overrides of every syntax (and none) against the Poisson example and its ``optimizer`` group."""


@st.composite
def text_mutations(draw: Callable) -> FuzzInput:
    """A bundled example with one of its files cut, spliced, line-swapped, duplicated or truncated."""
    example = draw(st.sampled_from(sorted(EXAMPLES)))
    files = dict(EXAMPLES[example])
    name = draw(st.sampled_from(sorted(files)))
    lines = files[name].decode("utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        operation = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "truncate", "replace", "indent"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = [draw(st.text(alphabet=_YAML_CHARACTERS, max_size=20))]
        elif operation == "delete":
            del lines[at]
        elif operation == "insert":
            lines.insert(at, draw(st.text(alphabet=_YAML_CHARACTERS, max_size=30)) + "\n")
        elif operation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif operation == "duplicate":
            lines.insert(at, lines[at])
        elif operation == "truncate":
            lines = lines[:at]
        elif operation == "replace":
            line = lines[at]
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(st.text(alphabet=_YAML_CHARACTERS, max_size=6)) + line[cut + 1:]
        else:
            lines[at] = "  " + lines[at]
    files[name] = "".join(lines).encode("utf-8", "surrogatepass")
    return FuzzInput(files, "train.yaml", family="text mutation")


@st.composite
def data_mutations(draw: Callable) -> FuzzInput:
    """A bundled example's composed config with one node replaced by generated data (or deleted)."""
    example = draw(st.sampled_from(sorted(EXAMPLES)))
    data = copy.deepcopy(_composed(example))
    paths = list(_paths(data, ()))
    path = draw(st.sampled_from(paths))
    node = data
    for key in path[:-1]:
        node = node[key]
    if draw(st.booleans()) and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = draw(plain_data)
    return FuzzInput({"main.yaml": _dump(data)}, family="data mutation")


@functools.cache
def _composed(example: str) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        root = pathlib.Path(directory)
        for name, content in EXAMPLES[example].items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
        data = compose(root / "train.yaml")
    known = {field.name for field in attrs.fields(ConfigSchema)} | {"config_schema_kind"}
    return {key: value for key, value in data.items() if key in known}  # helper nodes were interpolated away


def warm_up() -> None:
    """Load every example once, so that the first input's bounds do not include importing its modules (torch)."""
    for example in EXAMPLES:
        run_input(FuzzInput(EXAMPLES[example], "train.yaml"), trace_memory=False)


def _paths(node: object, at: tuple) -> Iterator[tuple]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*at, key)
        yield from _paths(value, (*at, key))


FAMILIES = {
    "yaml document": yaml_documents,
    "yaml-like text": yaml_like_text,
    "bytes": byte_strings,
    "overrides": overrides,
    "text mutation": text_mutations(),
    "data mutation": data_mutations(),
}
"""Every family of inputs, by name."""
