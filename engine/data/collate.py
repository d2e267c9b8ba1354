"""Collate a list of sample dicts into one batch dict, without copying samples more than once."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import default_collate, get_worker_info

__all__ = ["collate"]


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of samples into a batch: ``{property: batched values}``.

    Tensors of equal shape are stacked along a new first dimension with ``torch.stack`` (in the main process)
    or ``default_collate`` (in a DataLoader worker, which stacks straight into shared memory so that the batch
    is not copied again on its way to the main process). Everything else (numbers, strings, nested dicts,
    numpy arrays) goes through ``torch.utils.data.default_collate``. Samples are read, never copied or modified.

    Args:
        samples: Sample dicts with the same keys (the first sample's keys define the batch's keys).

    Returns:
        One dict with a batched value per key.

    Raises:
        ValueError: ``samples`` is empty, a sample lacks a key of the first sample, or the values of a key cannot
            be batched (e.g. tensors of different shapes); the message names the key.

    >>> batch = collate([{"x": torch.zeros(2), "label": 1}, {"x": torch.ones(2), "label": 0}])
    >>> batch["x"]
    tensor([[0., 0.],
            [1., 1.]])
    >>> batch["label"]
    tensor([1, 0])
    """
    if not samples:
        raise ValueError("collate needs at least one sample (got an empty list)")
    in_worker = get_worker_info() is not None
    batch: dict[str, Any] = {}
    for key in samples[0]:
        try:
            values = [sample[key] for sample in samples]
        except KeyError:
            missing = sum(key not in sample for sample in samples)
            raise ValueError(f"collate: {missing} of {len(samples)} samples lack the key {key!r}") from None
        first = values[0]
        try:
            if isinstance(first, torch.Tensor) and not in_worker:
                batch[key] = torch.stack(values)
            else:
                batch[key] = default_collate(values)
        except (RuntimeError, TypeError) as exc:
            shapes = sorted({tuple(value.shape) for value in values if isinstance(value, torch.Tensor)})
            detail = f" (shapes {shapes[:4]}{' ...' if len(shapes) > 4 else ''})" if len(shapes) > 1 else ""
            raise ValueError(
                f"collate: cannot batch {key!r}{detail}: {exc}; pad or crop it in getitem_{key}, or collate "
                "that property yourself"
            ) from exc
    return batch
