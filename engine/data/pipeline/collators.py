"""Collators: turn a micro-batch's samples into (part of) a batch, each for the items it lists.

Every collator reads its items from the samples and builds new tensors; samples are never modified. In a
DataLoader worker the batch tensors are allocated in shared memory, so that they reach the main process
without another copy (what ``torch.utils.data.default_collate`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate, get_worker_info

from engine.data.pipeline.errors import PipelineError

__all__ = ["Collator", "ConcatCollator", "ConcatSparseTensorCollator", "DefaultCollator", "PadCollator"]


class Collator:
    """Base of collators: ``collator(samples) -> dict`` with the keys of :attr:`output_keys`.

    Subclasses implement ``__call__``; ``output_keys`` (``None``: not known before a call) lets
    ``MultiStagePipeline`` reject two collators that would produce the same key when it is built.
    """

    output_keys: tuple[str, ...] | None = None
    """The keys this collator's batches have, when known in advance."""

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(samples) -> dict")

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in vars(self).items()
                           if not key.startswith("_") and key != "output_keys")
        return f"{type(self).__name__}({fields})"


def _items(items: Sequence[str] | str | None, what: str) -> tuple[str, ...]:
    if isinstance(items, str):
        items = (items,)
    if items is None or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{what} must be a list of item names (got {items!r})")
    if len(set(items)) != len(items):
        raise ValueError(f"{what} names an item twice (got {list(items)})")
    return tuple(items)


def values_of(samples: list[dict[str, Any]], item: str) -> list[Any]:
    """The values of ``item`` in every sample; a :class:`PipelineError` naming the first sample without it."""
    try:
        return [sample[item] for sample in samples]
    except (KeyError, TypeError):
        for position, sample in enumerate(samples):
            if not isinstance(sample, dict):
                raise PipelineError(f"expected a sample dict (got {type(sample).__name__})", sample=position) from None
            if item not in sample:
                raise PipelineError(f"missing (the sample has {', '.join(map(repr, sample)) or 'no items'})",
                                    item=item, sample=position) from None
        raise


def tensors_of(samples: list[dict[str, Any]], item: str, *, min_ndim: int = 1) -> list[torch.Tensor]:
    """The values of ``item`` as tensors with at least ``min_ndim`` dimensions and the same trailing shape
    and dtype as the first sample's; a :class:`PipelineError` naming the first sample that differs."""
    values = values_of(samples, item)
    first = values[0]
    for position, value in enumerate(values):
        if not isinstance(value, torch.Tensor) or value.ndim < min_ndim:
            found = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise PipelineError(f"expected a tensor with at least {min_ndim} dimension{'s' * (min_ndim > 1)} "
                                f"(got {found})", item=item, sample=position)
        if value.shape[1:] != first.shape[1:]:
            raise PipelineError(f"trailing shape {tuple(value.shape[1:])} differs from sample 0's "
                                f"{tuple(first.shape[1:])} (shape {tuple(value.shape)} against "
                                f"{tuple(first.shape)})", item=item, sample=position)
        if value.dtype != first.dtype:
            raise PipelineError(f"dtype {value.dtype} differs from sample 0's {first.dtype}", item=item,
                                sample=position)
    return values


def new_batch_tensor(shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """An uninitialised tensor for a batch: in shared memory inside a DataLoader worker (no copy on its way to
    the main process), ordinary memory in the main process."""
    out = torch.empty(tuple(shape), dtype=like.dtype, device=like.device)
    return out.share_memory_() if get_worker_info() is not None and like.device.type == "cpu" else out


def stack(samples: list[dict[str, Any]], item: str) -> Any:
    """Batch ``item`` along a new first dimension: ``torch.stack`` for tensors of equal shape, else
    ``torch.utils.data.default_collate`` (numbers, numpy arrays, nested dicts)."""
    values = values_of(samples, item)
    first = values[0]
    if isinstance(first, torch.Tensor):
        for position, value in enumerate(values):
            if not isinstance(value, torch.Tensor) or value.shape != first.shape:
                found = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
                raise PipelineError(f"{found} differs from sample 0's shape {tuple(first.shape)}; pad it "
                                    "(PadCollator) or concatenate it (ConcatCollator)", item=item, sample=position)
        if get_worker_info() is None:
            return torch.stack(values)
    try:
        return default_collate(values)
    except (RuntimeError, TypeError) as exc:
        raise PipelineError(f"cannot be batched: {exc}", item=item) from exc


class DefaultCollator(Collator):
    """Stack each item along a new first dimension (``torch.stack`` / ``default_collate``): the collation of
    samples whose items have equal shapes.

    Args:
        items: The items to stack; ``None``: every item of the first sample.
        optional_items: Items stacked only when the first sample has them.

    >>> DefaultCollator(items=["x"])([{"x": torch.zeros(2), "y": 1}, {"x": torch.ones(2), "y": 2}])
    {'x': tensor([[0., 0.],
            [1., 1.]])}
    """

    def __init__(self, items: Sequence[str] | None = None, optional_items: Sequence[str] | None = None) -> None:
        self.items = None if items is None else _items(items, "items")
        """The items stacked (``None``: every item of the first sample)."""
        self.optional_items = _items(optional_items or (), "optional_items")
        """Items stacked when present."""
        if self.items is not None:
            self.output_keys = self.items + self.optional_items

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Stack the items of ``samples``."""
        items = self.items if self.items is not None else tuple(samples[0])
        batch = {item: stack(samples, item) for item in items}
        batch.update((item, stack(samples, item)) for item in self.optional_items if item in samples[0])
        return batch


class PadCollator(Collator):
    """Pad each item's first dimension to the longest sample's and stack: ``(batch, longest, *rest)``.

    With ``mask_key``, the batch also holds a bool tensor ``(batch, longest)`` that is True on real rows; all
    listed items must then have the same length within each sample (one mask serves them all).

    Args:
        items: The items to pad (tensors with at least one dimension and equal trailing shapes).
        mask_key: The key of the mask of real rows; ``None``: no mask.
        pad_value: The value of padded rows.

    >>> batch = PadCollator(items=["x"], mask_key="mask")([{"x": torch.ones(2, 1)}, {"x": torch.ones(1, 1)}])
    >>> batch["x"].squeeze(-1)
    tensor([[1., 1.],
            [1., 0.]])
    >>> batch["mask"]
    tensor([[ True,  True],
            [ True, False]])
    """

    def __init__(self, items: Sequence[str], mask_key: str | None = None, pad_value: float = 0) -> None:
        self.items = _items(items, "items")
        """The items padded."""
        if not self.items:
            raise ValueError("items must name at least one item (got [])")
        if mask_key is not None and mask_key in self.items:
            raise ValueError(f"mask_key {mask_key!r} is also one of the items {list(self.items)}")
        self.mask_key = mask_key
        """The key of the mask of real rows, or ``None``."""
        self.pad_value = pad_value
        """The value of padded rows."""
        self.output_keys = self.items + ((mask_key,) if mask_key is not None else ())

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Pad and stack the items of ``samples`` (and build the mask)."""
        batch: dict[str, Any] = {}
        lengths: list[int] | None = None
        for item in self.items:
            values = tensors_of(samples, item)
            item_lengths = [value.shape[0] for value in values]
            if self.mask_key is not None:
                if lengths is None:
                    lengths = item_lengths
                else:
                    for position, (length, expected) in enumerate(zip(item_lengths, lengths)):
                        if length != expected:
                            raise PipelineError(f"has {length} rows but {self.items[0]!r} has {expected}; one "
                                                f"mask ({self.mask_key!r}) needs equal lengths, or use a "
                                                "PadCollator per item", item=item, sample=position)
            longest = max(item_lengths)
            out = new_batch_tensor((len(values), longest, *values[0].shape[1:]), values[0]).fill_(self.pad_value)
            for row, (value, length) in enumerate(zip(values, item_lengths)):
                out[row, :length] = value
            batch[item] = out
        if self.mask_key is not None:  # row fills: 2x faster than comparing an arange with the lengths
            mask = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
            for row, length in enumerate(lengths):
                mask[row, :length] = True
            batch[self.mask_key] = mask
        return batch


class ConcatCollator(Collator):
    """Concatenate each item along its first dimension: ``(sum of rows, *rest)``, as sparse and graph models
    take point clouds; with ``batch_index_key``, also the int64 sample index of every row.

    Args:
        items: The items to concatenate (tensors with at least one dimension and equal trailing shapes).
        batch_index_key: The key of the rows' sample indices (from the first item's lengths); ``None``: none.

    >>> batch = ConcatCollator(items=["x"], batch_index_key="batch_idx")(
    ...     [{"x": torch.zeros(2, 3)}, {"x": torch.ones(1, 3)}])
    >>> batch["x"].shape, batch["batch_idx"]
    (torch.Size([3, 3]), tensor([0, 0, 1]))
    """

    def __init__(self, items: Sequence[str], batch_index_key: str | None = None) -> None:
        self.items = _items(items, "items")
        """The items concatenated."""
        if not self.items:
            raise ValueError("items must name at least one item (got [])")
        if batch_index_key is not None and batch_index_key in self.items:
            raise ValueError(f"batch_index_key {batch_index_key!r} is also one of the items {list(self.items)}")
        self.batch_index_key = batch_index_key
        """The key of the rows' sample indices, or ``None``."""
        self.output_keys = self.items + ((batch_index_key,) if batch_index_key is not None else ())

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Concatenate the items of ``samples`` (and build the rows' sample indices)."""
        batch: dict[str, Any] = {}
        for item in self.items:
            values = tensors_of(samples, item)
            rows = sum(value.shape[0] for value in values)
            batch[item] = torch.cat(values, out=new_batch_tensor((rows, *values[0].shape[1:]), values[0]))
        if self.batch_index_key is not None:  # slice fills: 2x faster than repeat_interleave
            lengths = [sample[self.items[0]].shape[0] for sample in samples]
            index = torch.empty(sum(lengths), dtype=torch.int64)
            start = 0
            for position, length in enumerate(lengths):
                index[start:start + length] = position
                start += length
            batch[self.batch_index_key] = index
        return batch


class ConcatSparseTensorCollator(ConcatCollator):
    """Noether's name and arguments for :class:`ConcatCollator` (``create_batch_idx``, ``batch_idx_key``).

    Args:
        items: The items to concatenate.
        create_batch_idx: Add the rows' sample indices under ``batch_idx_key``.
        batch_idx_key: Their key.
    """

    def __init__(self, items: Sequence[str], create_batch_idx: bool = False, batch_idx_key: str = "batch_idx") -> None:
        super().__init__(items, batch_index_key=batch_idx_key if create_batch_idx else None)
