"""Collect the scalars of one update, then hand them to the tracker and to ``<run_dir>/metrics.jsonl`` at once."""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
from typing import Any

from noether.core.training import TrainingIteration

from engine.trackers.base import Tracker

class MetricsWriteError(OSError):
    """``metrics.jsonl`` could not be appended to (disk full, ...); the lines written before are intact."""


METRICS_BATCH = 50
"""Updates whose ``metrics.jsonl`` lines are written together (serialising every update costs ~25 µs)."""


class LogWriter:
    """The one place callbacks log to.

    Scalars logged while handling an update are cached and written together by ``flush`` (one tracker call
    and one JSON line per update), so a callback can read what an earlier callback logged for the same
    update (``current``), e.g. the best-checkpoint callback reading the validation loss.
    """

    def __init__(self, tracker: Tracker, metrics_path: pathlib.Path | None) -> None:
        self.tracker = tracker
        self.current: dict[str, float] = {}
        """Scalars logged for the update being handled (cleared by ``flush``)."""
        self.latest: dict[str, float] = {}
        """The last value of every scalar logged in this run."""
        self.summary: dict[str, Any] = {}
        """One-off facts of the run (parameter counts, dataset sizes, total train time)."""
        self._metrics = open(metrics_path, "ab", buffering=0) if metrics_path is not None else None
        self._pending: list[tuple[TrainingIteration, dict[str, float]]] = []

    def add_scalar(self, key: str, value: Any, iteration: TrainingIteration | None = None) -> None:
        """Cache ``value`` (a number, a NumPy scalar or a 0-d tensor) under ``key`` for the update being handled.

        Args:
            key: The log key (a trailing ``/`` is dropped).
            value: The value.
            iteration: The update being handled, named in the error below (optional).

        Raises:
            KeyError: ``key`` was already logged for this update (two callbacks writing the same key).
        """
        key = key.rstrip("/")
        if key in self.current:
            update = f"update {iteration.update}" if iteration is not None else "this update"
            raise KeyError(f"key {key!r} was already logged for {update}")
        self.current[key] = float(value.item() if hasattr(value, "item") else value)

    def add_summary(self, key: str, value: Any) -> None:
        """Record a one-off fact of the run (shown in the run's ``summary.json``)."""
        self.summary[key] = value

    def flush(self, iteration: TrainingIteration) -> None:
        """Send the cached scalars to the tracker and ``metrics.jsonl`` at x = ``iteration.update``."""
        if not self.current:
            return
        self.tracker.log(iteration.update, self.current)
        if self._metrics is not None:
            self._pending.append((iteration, self.current))
            if len(self._pending) >= METRICS_BATCH:
                self._write_metrics()
        self.latest.update(self.current)
        self.current = {}

    def _write_metrics(self) -> None:
        lines = []
        for iteration, scalars in self._pending:
            record = {"epoch": iteration.epoch, "update": iteration.update, "sample": iteration.sample}
            record.update((key, value if math.isfinite(value) else str(value)) for key, value in scalars.items())
            lines.append(json.dumps(record) + "\n")
        self._pending = []
        size = os.fstat(self._metrics.fileno()).st_size
        try:
            data = "".join(lines).encode()
            while data:  # an unbuffered write may write part of the data
                data = data[self._metrics.write(data):]
        except OSError as exc:
            metrics, self._metrics = self._metrics, None
            with contextlib.suppress(OSError):
                os.ftruncate(metrics.fileno(), size)  # no torn last line: the earlier lines stay as they were
            metrics.close()
            raise MetricsWriteError(exc.errno or 0, f"cannot append to {metrics.name}: {exc.strerror or exc}; the "
                                    f"lines written before are intact ({size} bytes)") from exc

    def close(self, summary_path: pathlib.Path | None = None) -> None:
        """Flush the tracker, write ``summary.json`` and close the files."""
        self.tracker.flush()
        self.tracker.close()
        if self._metrics is not None:
            self._write_metrics()
            self._metrics.close()
            self._metrics = None
        if summary_path is not None and self.summary:
            summary_path.write_text(json.dumps(self.summary, indent=2, default=str) + "\n", encoding="utf-8")


class NoetherLogWriter:
    """Noether's ``writer`` for callbacks (``self.writer``): ``add_scalar(key, value, logger=None, format_str=None)``
    over the run's ``LogWriter``; with a ``logger`` the value is also printed as ``key: value`` (formatted with
    ``format_str``, e.g. ``".6f"``) on the main process.

    >>> from engine.trackers.base import Tracker
    >>> writer = LogWriter(Tracker(), None)
    >>> NoetherLogWriter(writer).add_scalar(key="metrics/val/accuracy", value=0.75, logger=True, format_str=".4f")
    metrics/val/accuracy: 0.7500
    >>> writer.current
    {'metrics/val/accuracy': 0.75}
    """

    def __init__(self, writer: LogWriter, *, is_main_process: bool = True) -> None:
        self.log_writer = writer
        """The run's writer the scalars go to."""
        self.is_main_process = is_main_process
        """Only the main process prints."""

    def add_scalar(self, key: str, value: Any, logger: Any = None, format_str: str | None = None) -> None:
        """Log ``value`` under ``key`` for the update being handled (Noether's signature).

        Raises:
            KeyError: ``key`` was already logged for this update.
        """
        self.log_writer.add_scalar(key, value)
        if logger is not None and self.is_main_process:
            key = key.rstrip("/")
            number = self.log_writer.current[key]
            print(f"{key}: {format(number, format_str) if format_str else number}", flush=True)
