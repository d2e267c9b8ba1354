"""The default tracker: TensorBoard event files under ``<run_dir>/<log_dir>``, x-axis = optimizer update.

The events are written by this process, synchronously, into one event file kept open: one event per logged
update holding all its scalars. ``SummaryWriter`` instead hands every event to a writer thread that reopens the
file for each record and computes a pure-Python CRC while holding the interpreter lock; on a small model that
thread cost more than the training update it logged (``benchmarks/bench_engine_overhead.py``). The file format
is TensorBoard's own (``RecordWriter`` framing, ``Event`` protos), so ``tensorboard --logdir`` and its event
readers see the same thing.

A resumed run continues the TensorBoard run of the first run it descends from: its events go into that run's log
directory, after a ``SessionLog.START`` event at the first update it trains, so that TensorBoard drops what the
ancestor logged after the checkpoint it resumes from (its readers purge those steps) and shows one curve. The
hyper-parameters go to the HParams tab (``log_config``).
"""

from __future__ import annotations

import os
import pathlib
import socket
import time
from collections.abc import Mapping

from noether.core.schemas import TensorboardTrackerSchema

from engine.trackers.base import Tracker


class TensorboardTracker(Tracker):
    """Write scalars and the resolved config as TensorBoard events; flush every ``flush_secs`` and at the end."""

    def __init__(self, config: TensorboardTrackerSchema, run_dir: pathlib.Path, *,
                 continue_in: pathlib.Path | None = None, resumed_at: int | None = None) -> None:
        """Open a new event file in ``<run_dir>/<log_dir>``, or in ``continue_in`` (the log directory of the run a
        resumed run continues); ``resumed_at``: the first update this run trains after resuming (the ancestor's
        events from that step on are superseded)."""
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.record_writer import RecordWriter

        self.log_dir = pathlib.Path(continue_in) if continue_in is not None else pathlib.Path(run_dir) / config.log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        # TensorBoard reads a directory's event files in name order: a continuing run's file must sort last
        stamps = [int(path.name.split(".")[3]) for path in self.log_dir.glob("events.out.tfevents.*")
                  if path.name.split(".")[3:4] and path.name.split(".")[3].isdigit()]
        stamp = max([int(now), *(stamp + 1 for stamp in stamps)])
        self.path = self.log_dir / f"events.out.tfevents.{stamp}.{socket.gethostname()}.{os.getpid()}.0"
        self._file = open(self.path, "ab")
        self._records = RecordWriter(self._file)
        self._event, self._summary, self._value = Event, Summary, Summary.Value
        self._flush_secs = config.flush_secs
        self._last_flush = time.monotonic()
        self._write(Event(wall_time=now, file_version="brain.Event:2"))
        if resumed_at is not None:
            self._write(Event(wall_time=now, step=resumed_at, session_log=SessionLog(status=SessionLog.START)))

    def _write(self, event: object) -> None:
        self._records.write(event.SerializeToString())
        if time.monotonic() - self._last_flush >= self._flush_secs:
            self.flush()

    def log(self, update: int, scalars: Mapping[str, float]) -> None:
        """One event at step ``update`` holding every scalar."""
        values = [self._value(tag=key, simple_value=value) for key, value in scalars.items()]
        self._write(self._event(wall_time=time.time(), step=update, summary=self._summary(value=values)))

    def log_config(self, config_yaml: str, hyperparameters: Mapping[str, float | int | str | bool]) -> None:
        """Store the config as text (TensorBoard's TEXT tab; indented so Markdown keeps it verbatim) and the
        hyper-parameters (the config's scalar leaves) for the HParams tab."""
        from torch.utils.tensorboard.summary import hparams, text

        summary = text("config", "\n".join("    " + line for line in config_yaml.splitlines()))
        self._write(self._event(wall_time=time.time(), step=0, summary=summary))
        for part in hparams(dict(hyperparameters), {}):
            self._write(self._event(wall_time=time.time(), step=0, summary=part))

    def flush(self) -> None:
        """Write buffered events to the file."""
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close the event file."""
        if not self._file.closed:
            self.flush()
            self._file.close()
