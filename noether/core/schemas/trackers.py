"""Experiment tracker configs. TensorBoard is the default; ``tracker: disabled`` turns tracking off."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import greater_than


@attrs.frozen(kw_only=True)
class TensorboardTrackerSchema:
    """Log scalars to TensorBoard event files under the run directory (x-axis: optimizer updates)."""

    kind: Literal["noether.core.trackers.TensorboardTracker"] = "noether.core.trackers.TensorboardTracker"
    """The tracker class path."""
    log_dir: str = "runs"
    """Directory of the event files, relative to the run directory."""
    flush_secs: int = attrs.field(default=60, validator=greater_than(0))
    """Flush pending events to disk at least this often, in seconds."""


@attrs.frozen(kw_only=True)
class WandBTrackerSchema:
    """Log to Weights & Biases (needs the optional ``wandb`` package)."""

    kind: Literal["noether.core.trackers.WandBTracker"] = "noether.core.trackers.WandBTracker"
    """The tracker class path."""
    entity: str | None = None
    """The W&B entity (user or team). ``None``: the W&B default."""
    project: str | None = None
    """The W&B project. ``None``: the W&B default."""
    mode: Literal["disabled", "online", "offline"] | None = None
    """The W&B mode. ``None``: the W&B default (online)."""


AnyTracker = TensorboardTrackerSchema | WandBTrackerSchema
"""Any tracker config, selected by its ``kind``."""
