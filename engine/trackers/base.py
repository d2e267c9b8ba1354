"""What every tracker does: receive the scalars of one update, the run's config, and flush at the end."""

from __future__ import annotations

from collections.abc import Mapping


class Tracker:
    """A destination for metrics. The base class tracks nothing (``tracker: disabled``)."""

    def log(self, update: int, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` (already Python floats) at x = ``update``."""

    def log_config(self, config_yaml: str, hyperparameters: Mapping[str, float | int | str | bool]) -> None:
        """Record the resolved config (as YAML text) and the flat hyper-parameters of the run."""

    def flush(self) -> None:
        """Make everything logged so far visible to readers."""

    def close(self) -> None:
        """Flush and release files or connections; the tracker is not used afterwards."""


class NoopTracker(Tracker):
    """Tracks nothing; used when the config says ``tracker: disabled`` (or ``null``)."""
