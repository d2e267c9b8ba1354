"""Trackers: TensorBoard by default, W&B with the optional extra, nothing when disabled; and the log writer
that collects one update's scalars, sends them to the tracker and appends them to ``metrics.jsonl``."""

from __future__ import annotations

import pathlib

from noether.core.schemas import TensorboardTrackerSchema, WandBTrackerSchema

from engine.trackers.base import NoopTracker, Tracker
from engine.trackers.log_writer import LogWriter


def make_tracker(config: object | None, run_dir: pathlib.Path, run_id: str) -> Tracker:
    """Build the tracker a config asks for; ``None`` (``tracker: disabled``) tracks nothing."""
    match config:
        case None:
            return NoopTracker()
        case TensorboardTrackerSchema():
            from engine.trackers.tensorboard import TensorboardTracker

            return TensorboardTracker(config, run_dir)
        case WandBTrackerSchema():
            from engine.trackers.wandb import WandBTracker

            return WandBTracker(config, run_dir, run_id)
    raise TypeError(f"unknown tracker config {type(config).__name__}")


__all__ = ["LogWriter", "NoopTracker", "Tracker", "make_tracker"]
