"""Initializer configs: load weights (and optionally optimizer state) from an earlier run's checkpoint."""

from __future__ import annotations

from typing import Any, Literal

import attrs

_PREFIX = "noether.core.initializers."


@attrs.frozen(kw_only=True)
class InitializerConfig:
    """Where to find a checkpoint: run, stage, model name, tag and model info."""

    kind: str = _PREFIX + "PreviousRunInitializer"
    """The initializer class path."""
    kwargs: dict[str, Any] | None = None
    """Additional keyword arguments for the initializer."""
    run_id: str
    """The run whose checkpoint is loaded."""
    stage_name: str | None = None
    """The stage of that run (e.g. ``train``). ``None``: the run directory itself."""
    model_name: str | None = None
    """The model name in the checkpoint file names (as saved by the CheckpointCallback)."""
    checkpoint_tag: str | dict[str, int] | None = None
    """Which checkpoint: ``latest``, ``last``, ``best_model.<metric>``, ``E3_U120_S3840`` or ``{epoch: 3}``."""
    model_info: str | None = None
    """Extra info in the checkpoint file name, e.g. ``ema=0.9999`` for EMA weights."""


@attrs.frozen(kw_only=True)
class CheckpointInitializerConfig(InitializerConfig):
    """Load a checkpoint's weights and, when ``load_optim``, its optimizer state."""

    kind: Literal["noether.core.initializers.CheckpointInitializer"] = _PREFIX + "CheckpointInitializer"
    """The initializer class path."""
    load_optim: bool
    """Also load the optimizer state."""
    pop_ckpt_kwargs_keys: tuple[str, ...] | None = None
    """Keys removed from the checkpoint's stored constructor kwargs (kept for Noether compatibility)."""


@attrs.frozen(kw_only=True)
class PreviousRunInitializerConfig(CheckpointInitializerConfig):
    """Initialize a model from another run's weights, with keys removed, renamed or freshly initialized."""

    kind: Literal["noether.core.initializers.PreviousRunInitializer"] = _PREFIX + "PreviousRunInitializer"
    """The initializer class path."""
    load_optim: bool = False
    """Also load the optimizer state (normally not, when starting a new training from old weights)."""
    keys_to_remove: tuple[str, ...] | None = None
    """Exact state-dict keys removed from the checkpoint before loading."""
    patterns_to_remove: tuple[str, ...] | None = None
    """State-dict keys containing one of these patterns are removed before loading."""
    patterns_to_rename: tuple[dict[str, str], ...] | None = None
    """Renames applied to state-dict keys, each ``{src: old, dst: new}``."""
    patterns_to_instantiate: tuple[str, ...] | None = None
    """Keys containing one of these patterns keep the model's fresh initialization."""


@attrs.frozen(kw_only=True)
class ResumeInitializerConfig(CheckpointInitializerConfig):
    """Continue an interrupted run: weights, optimizer and trainer state."""

    kind: Literal["noether.core.initializers.ResumeInitializer"] = _PREFIX + "ResumeInitializer"
    """The initializer class path."""
    load_optim: bool = True
    """Also load the optimizer state (true for a resume)."""
    model_name: str
    """The model name in the checkpoint file names."""


AnyInitializer = CheckpointInitializerConfig | PreviousRunInitializerConfig | ResumeInitializerConfig
"""Any initializer config, selected by its ``kind``."""
