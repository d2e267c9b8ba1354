"""Trackers: TensorBoard by default, W&B with the optional extra, nothing when disabled; and the log writer
that collects one update's scalars, sends them to the tracker and appends them to ``metrics.jsonl``."""

from __future__ import annotations

import pathlib

from noether.core.schemas import TensorboardTrackerSchema, WandBTrackerSchema

from engine.trackers.base import NoopTracker, Tracker
from engine.trackers.log_writer import LogWriter


def make_tracker(config: object | None, run_dir: pathlib.Path, run_id: str, *,
                 continue_in: pathlib.Path | None = None, resumed_at: int | None = None) -> Tracker:
    """Build the tracker a config asks for; ``None`` (``tracker: disabled``) tracks nothing. ``continue_in`` and
    ``resumed_at``: a resumed run's TensorBoard events continue the first run's log directory from that update."""
    match config:
        case None:
            return NoopTracker()
        case TensorboardTrackerSchema():
            from engine.trackers.tensorboard import TensorboardTracker

            return TensorboardTracker(config, run_dir, continue_in=continue_in, resumed_at=resumed_at)
        case WandBTrackerSchema():
            from engine.trackers.wandb import WandBTracker

            return WandBTracker(config, run_dir, run_id)
    raise TypeError(f"unknown tracker config {type(config).__name__}")


__all__ = ["LogWriter", "NoopTracker", "Tracker", "make_tracker"]
