"""The one error type of the config layer: every problem of a config, each with its path and source location."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import attrs

PathKey = str | int
"""One step of a config path: a mapping key or a list index."""


def format_path(path: Sequence[PathKey]) -> str:
    """Render a path as users write it: ``trainer.callbacks[2].every_n_epochs``.

    >>> format_path(("trainer", "callbacks", 2, "every_n_epochs"))
    'trainer.callbacks[2].every_n_epochs'
    >>> format_path(())
    '<root>'
    """
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "<root>"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string when none is close.

    >>> did_you_mean("evry_n_epochs", ["every_n_epochs", "batch_size"])
    "; did you mean 'every_n_epochs'?"
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@attrs.frozen
class Issue:
    """One problem of a config: where it is (path and source location) and what is wrong."""

    path: str
    """Dotted config path, e.g. ``trainer.callbacks[2].every_n_epochs`` (``<root>`` for the whole config)."""
    message: str
    """What is wrong, e.g. ``must be >= 1 (got 0)``."""
    location: str | None = None
    """``file:line:col`` (1-based) of the offending key or value, or the override that set it; ``None`` if unknown."""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f"  [{self.location}]" if self.location else "")


class ConfigError(ValueError):
    """Every problem found in a config, raised once; ``str()`` shows one line per issue."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    def __reduce__(self):  # keeps the issues when pickled (e.g. across processes)
        return (type(self), (self.issues,))
