"""The default tracker: TensorBoard event files under ``<run_dir>/<log_dir>``, x-axis = optimizer update."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from noether.core.schemas import TensorboardTrackerSchema

from engine.trackers.base import Tracker

MAX_QUEUE = 10_000
"""Events buffered before the writer thread must catch up. The default (10) makes ``add_scalar`` block every
ten events and cost ~50 µs instead of ~5 µs (DESIGN.md section 6); we flush explicitly at the end instead."""


class TensorboardTracker(Tracker):
    """Write scalars, the resolved config and the hyper-parameters as TensorBoard events."""

    def __init__(self, config: TensorboardTrackerSchema, run_dir: pathlib.Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # tensorboard is a dependency; imported when used

        self.log_dir = pathlib.Path(run_dir) / config.log_dir
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=config.flush_secs, max_queue=MAX_QUEUE)

    def log(self, update: int, scalars: Mapping[str, float]) -> None:
        """Add every scalar at global step ``update``."""
        add_scalar = self.writer.add_scalar
        for key, value in scalars.items():
            add_scalar(key, value, global_step=update)

    def log_config(self, config_yaml: str, hyperparameters: Mapping[str, float | int | str | bool]) -> None:
        """Store the config as text (shown in TensorBoard's TEXT tab, indented so Markdown keeps it verbatim)."""
        self.writer.add_text("config", "\n".join("    " + line for line in config_yaml.splitlines()), global_step=0)

    def flush(self) -> None:
        """Write buffered events to disk."""
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
