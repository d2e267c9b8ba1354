"""Host-to-device overlap: copy the next micro-batch while the current one computes.

The training loader pins its batches' memory on CUDA runs (``engine.data.make_train_loader(pin_memory=True)``);
``prefetch_to_device`` issues the next batch's ``non_blocking`` copies on a side stream as soon as the current
batch is handed out, so the copy runs under the current micro-batch's kernels instead of before them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """Move every tensor of ``batch`` to ``device`` (no copy when it is already there; asynchronous from pinned
    memory)."""
    return {key: value.to(device, non_blocking=True) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()}


def prefetch_to_device(batches: Iterator[Mapping[str, Any]], device: torch.device) -> Iterator[dict[str, Any]]:
    """Yield ``batches`` with every tensor on ``device``, the next one's copy already issued (one batch ahead).

    On CUDA the copies run on a dedicated stream; the consumer's stream waits for that stream before it gets a
    batch, and each tensor is marked as used on the consumer's stream (``record_stream``) so the caching
    allocator does not hand its memory out while kernels still read it. Copies from pinned memory do not block
    the host. On other devices each batch is copied when it is requested (``non_blocking`` where supported).
    One batch is fetched from ``batches`` ahead of the one handed out; the loop's resume position comes from
    its counters, not from the loader, so that extra batch is never lost.

    Args:
        batches: Micro-batches with tensors in host memory (pinned for overlap).
        device: Where the model runs.

    Yields:
        The same batches with tensors on ``device``.

    Example:
        >>> batches = prefetch_to_device(iter([{"x": torch.ones(2)}]), torch.device("cpu"))
        >>> next(batches)["x"].device
        device(type='cpu')
    """
    if device.type != "cuda":
        for batch in batches:
            yield to_device(batch, device)
        return
    copy_stream = torch.cuda.Stream(device)
    upcoming = _issue(batches, device, copy_stream)
    while upcoming is not None:
        consumer = torch.cuda.current_stream(device)
        consumer.wait_stream(copy_stream)
        for value in upcoming.values():
            if isinstance(value, torch.Tensor) and value.device.type == "cuda":
                value.record_stream(consumer)
        current, upcoming = upcoming, _issue(batches, device, copy_stream)
        yield current


def _issue(batches: Iterator[Mapping[str, Any]], device: torch.device,
           stream: torch.cuda.Stream) -> dict[str, Any] | None:
    """Start the copies of the next batch on ``stream``; ``None`` when ``batches`` is exhausted."""
    try:
        batch = next(batches)
    except StopIteration:
        return None
    with torch.cuda.stream(stream):
        return to_device(batch, device)
