"""Tests of engine.data.collate: stacking, the default_collate fallback and error messages."""

from __future__ import annotations

import pytest
import torch

from engine.data import collate


def test_stacks_equal_shape_tensors():
    """Tensors of equal shape are stacked along a new first dimension."""
    batch = collate([{"x": torch.tensor([1.0, 2.0])}, {"x": torch.tensor([3.0, 4.0])}])
    assert batch["x"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_other_values_use_default_collate():
    """Numbers, strings and nested dicts are batched like torch's default_collate."""
    batch = collate([{"n": 1, "s": "a", "d": {"v": 0.5}}, {"n": 2, "s": "b", "d": {"v": 1.5}}])
    assert batch["n"].tolist() == [1, 2]
    assert batch["s"] == ["a", "b"]
    assert batch["d"]["v"].tolist() == [0.5, 1.5]


def test_samples_are_not_modified_or_aliased():
    """Collating leaves the samples as they were and the batch shares no memory with them."""
    x = torch.zeros(3)
    samples = [{"x": x}, {"x": torch.ones(3)}]
    batch = collate(samples)
    batch["x"].add_(5.0)
    assert samples[0]["x"] is x and x.tolist() == [0.0, 0.0, 0.0]


def test_different_shapes_name_the_key():
    """Tensors of different shapes are an error naming the property and the shapes."""
    with pytest.raises(ValueError) as info:
        collate([{"points": torch.zeros(3, 2)}, {"points": torch.zeros(4, 2)}])
    assert str(info.value).startswith("collate: cannot batch 'points' (shapes [(3, 2), (4, 2)]): ")


def test_missing_key_is_an_error():
    """A sample lacking a key of the first sample is an error naming the key."""
    with pytest.raises(ValueError) as info:
        collate([{"x": 1, "y": 2}, {"x": 3}])
    assert str(info.value) == "collate: 1 of 2 samples lack the key 'y'"


def test_empty_list_is_an_error():
    """Collating no samples is an error."""
    with pytest.raises(ValueError) as info:
        collate([])
    assert str(info.value) == "collate needs at least one sample (got an empty list)"
