"""Sample and batch processors: ``processor(dict) -> dict``, applied per sample before collation or to the
collated batch after it.

A processor returns a new dict and never modifies the one it is given or the tensors in it: the dataset may
hand out the same objects again (a cached sample), and Noether's per-sample deep copy, which guards against
that at about 38 µs per sample, is not needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from engine.data.pipeline.collators import _items
from engine.data.pipeline.errors import PipelineError

__all__ = ["BatchProcessor", "DuplicateKeys", "PointSampling", "RenameKeys", "SampleProcessor"]


class SampleProcessor:
    """Base of sample processors: ``processor(sample) -> sample``, returning a new dict.

    Noether's ``save_copy`` is kept for ported code: a shallow copy of a dict or list, never of tensors.
    """

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(sample) -> dict")

    @staticmethod
    def save_copy(obj: Any) -> Any:
        """A shallow copy of a dict or list (the values are shared, not copied); anything else as it is."""
        if isinstance(obj, dict):
            return dict(obj)
        if isinstance(obj, list):
            return list(obj)
        return obj

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in vars(self).items()
                           if not key.startswith("_") and key != "output_keys")
        return f"{type(self).__name__}({fields})"


class BatchProcessor(SampleProcessor):
    """Base of batch processors: ``processor(batch) -> batch``, returning a new dict."""


def _key_map(key_map: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(key_map, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in key_map.items()):
        raise ValueError(f"key_map must map item names to item names (got {key_map!r})")
    if not key_map:
        raise ValueError("key_map must not be empty (got {})")
    return dict(key_map)


class RenameKeys(BatchProcessor):
    """Rename items: ``{source: target}``; usable as a sample processor and as a batch processor.

    Args:
        key_map: Old name to new name; every old name must be present, no new name may already exist.

    >>> RenameKeys({"x": "position"})({"x": 1, "y": 2})
    {'position': 1, 'y': 2}
    """

    def __init__(self, key_map: Mapping[str, str]) -> None:
        self.key_map = _key_map(key_map)
        """Old name to new name."""

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        """A new dict with the items renamed, in their original order."""
        for source, target in self.key_map.items():
            if source not in data:
                raise PipelineError(f"missing (it has {', '.join(map(repr, data)) or 'no items'})", item=source)
            if target in data and target not in self.key_map:
                raise PipelineError(f"renaming {source!r} to it would overwrite it", item=target)
        return {self.key_map.get(key, key): value for key, value in data.items()}


class DuplicateKeys(BatchProcessor):
    """Add items under more names: ``{source: target}``; the value is shared, not copied (processors never
    modify values in place, so sharing is safe).

    Args:
        key_map: Existing name to additional name.

    >>> DuplicateKeys({"x": "x_raw"})({"x": 1})
    {'x': 1, 'x_raw': 1}
    """

    def __init__(self, key_map: Mapping[str, str]) -> None:
        self.key_map = _key_map(key_map)
        """Existing name to additional name."""

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        """A new dict with the additional names."""
        out = dict(data)
        for source, target in self.key_map.items():
            if source not in data:
                raise PipelineError(f"missing (it has {', '.join(map(repr, data)) or 'no items'})", item=source)
            if target in data:
                raise PipelineError(f"duplicating {source!r} to it would overwrite it", item=target)
            out[target] = data[source]
        return out


class PointSampling(SampleProcessor):
    """Keep a random subset of ``num_points`` rows, the same rows in every listed item (positions and their
    targets stay aligned). A sample with fewer rows keeps all of them, in random order.

    The rows come from ``torch.randperm`` on torch's global generator, which the loader seeds per micro-batch
    from (seed, epoch, position, rank): the same points for any ``num_workers`` and after a resume. With
    ``seed`` set, the rows depend on the sample's ``index`` item alone (fixed points, e.g. for evaluation).

    Args:
        items: The items to subsample (tensors with the same number of rows).
        num_points: Rows to keep (>= 1).
        seed: ``None``: draw from the global generator; else a fixed seed combined with ``sample["index"]``.

    >>> sample = {"x": torch.arange(10.0), "y": torch.arange(10.0) * 2, "id": 7}
    >>> out = PointSampling(items=["x", "y"], num_points=3)(sample)
    >>> out["x"].shape, bool((out["y"] == out["x"] * 2).all()), out["id"]
    (torch.Size([3]), True, 7)
    """

    def __init__(self, items: Sequence[str], num_points: int, seed: int | None = None) -> None:
        self.items = _items(items, "items")
        """The items subsampled with the same rows."""
        if not self.items:
            raise ValueError("items must name at least one item (got [])")
        if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 1:
            raise ValueError(f"num_points must be an integer >= 1 (got {num_points!r})")
        self.num_points = num_points
        """Rows to keep."""
        self.seed = seed
        """Fixed seed (with the sample's ``index``), or ``None``."""

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        """A new sample with the listed items subsampled; the other items are shared."""
        first = self.items[0]
        rows = None
        for item in self.items:
            if item not in sample:
                raise PipelineError(f"missing (the sample has {', '.join(map(repr, sample)) or 'no items'})", item=item)
            value = sample[item]
            if not isinstance(value, torch.Tensor) or value.ndim == 0:
                found = "a 0-d tensor" if isinstance(value, torch.Tensor) else type(value).__name__
                raise PipelineError(f"expected a tensor with rows to sample (got {found})", item=item)
            if rows is None:
                rows = value.shape[0]
            elif value.shape[0] != rows:
                raise PipelineError(f"has {value.shape[0]} rows but {first!r} has {rows}; the items sampled "
                                    "together need the same rows", item=item)
        generator = None
        if self.seed is not None:
            if "index" not in sample:
                raise PipelineError("missing: PointSampling with a seed draws from the sample's index", item="index")
            generator = torch.Generator().manual_seed(self.seed + int(sample["index"]))
        keep = torch.randperm(rows, generator=generator)[: self.num_points]
        out = dict(sample)
        for item in self.items:
            out[item] = sample[item][keep]
        return out
