"""Mixed precision: the autocast context and gradient scaler a config's ``precision`` asks for on a device."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import ContextManager

import torch

from noether.core.config import ConfigError, Issue

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}
"""Every spelling of ``trainer.precision`` and the dtype it means."""


def autocast_and_scaler(
    precision: str, device: torch.device, *, path: str = "trainer.precision"
) -> tuple[Callable[[], ContextManager], torch.amp.GradScaler | None]:
    """Return a factory of the forward pass's autocast context and the gradient scaler (``None``: not needed).

    float32 runs without autocast; bfloat16 autocasts without a scaler; float16 autocasts and, on CUDA, scales
    the loss with a ``GradScaler`` (on other devices float16 has no inf/NaN-skipping scaler in torch, so it
    runs unscaled like bfloat16).

    Raises:
        ConfigError: the device cannot autocast to this dtype (no silent fallback to float32).
    """
    dtype = DTYPES[precision]
    if dtype is torch.float32:
        return contextlib.nullcontext, None
    with warnings.catch_warnings(record=True) as caught:  # torch warns (and disables autocast) instead of raising
        warnings.simplefilter("always")
        try:
            torch.autocast(device_type=device.type, dtype=dtype)
            problem = str(caught[0].message) if caught else None
        except (RuntimeError, ValueError) as exc:
            problem = str(exc)
    if problem is not None:
        raise ConfigError([Issue(path, f"the {device.type} device cannot run {precision} (got {precision!r}): {problem}")])
    scaler = torch.amp.GradScaler(device.type) if dtype is torch.float16 and device.type == "cuda" else None
    return (lambda: torch.autocast(device_type=device.type, dtype=dtype)), scaler
