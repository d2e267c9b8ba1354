"""Tests of engine.data.wrappers: repeat, shuffle and subset views, their composition and build_dataset."""

from __future__ import annotations

import pytest
import torch

from engine.data import Dataset, build_dataset
from engine.data.wrappers import RepeatWrapper, SubsetWrapper
from noether.core.schemas.dataset import (
    DatasetBaseConfig,
    RepeatWrapperConfig,
    ShuffleWrapperConfig,
    SubsetWrapperConfig,
)
from noether.core.schemas.normalizers import ShiftAndScaleNormalizerConfig


class Numbers(Dataset):
    """Six samples: i = index, x = [index] as a float tensor."""

    def __len__(self) -> int:
        return 6

    def getitem_i(self, index: int) -> int:
        return index

    def getitem_x(self, index: int) -> torch.Tensor:
        return torch.tensor([float(index)])


class Empty(Numbers):
    """No samples."""

    def __len__(self) -> int:
        return 0


def build(*wrappers, seed: int = 0, **fields) -> Dataset:
    config = DatasetBaseConfig(kind="tests.Numbers", dataset_wrappers=tuple(wrappers) or None, **fields)
    return build_dataset(Numbers, config, seed=seed)


def order(dataset: Dataset) -> list[int]:
    return [sample["i"] for sample in dataset]


@pytest.mark.parametrize(
    ("wrapper", "expected"),
    [
        (RepeatWrapperConfig(repetitions=2), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]),
        (ShuffleWrapperConfig(seed=0), [3, 2, 5, 4, 0, 1]),
        (ShuffleWrapperConfig(), [3, 2, 5, 4, 0, 1]),
        (SubsetWrapperConfig(indices=(5, 0, 0, 2)), [5, 0, 0, 2]),
        (SubsetWrapperConfig(start_index=2, end_index=4), [2, 3]),
        (SubsetWrapperConfig(start_index=4), [4, 5]),
        (SubsetWrapperConfig(end_index=100), [0, 1, 2, 3, 4, 5]),
        (SubsetWrapperConfig(start_percent=0.5), [3, 4, 5]),
        (SubsetWrapperConfig(start_percent=0.2, end_percent=0.7), [1, 2, 3]),
        (SubsetWrapperConfig(end_percent=0.5), [0, 1, 2]),
    ],
    ids=lambda value: repr(value) if isinstance(value, list) else type(value).__name__,
)
def test_each_wrapper_config(wrapper, expected):
    """Each wrapper config yields the documented order of the wrapped dataset's samples."""
    dataset = build(wrapper)
    assert len(dataset) == len(expected)
    assert order(dataset) == expected
    assert [sample["i"] for sample in dataset.__getitems__(list(range(len(dataset))))] == expected


def test_shuffle_is_numpys_seeded_permutation():
    """The shuffle order is numpy.random.default_rng(seed).permutation(n), as in Noether."""
    numpy = pytest.importorskip("numpy")
    assert order(build(ShuffleWrapperConfig(seed=7))) == numpy.random.default_rng(7).permutation(6).tolist()


def test_shuffle_without_seed_uses_build_seed():
    """A shuffle config without seed uses build_dataset's seed."""
    assert order(build(ShuffleWrapperConfig(), seed=7)) == order(build(ShuffleWrapperConfig(seed=7)))
    assert order(build(ShuffleWrapperConfig(), seed=7)) != order(build(ShuffleWrapperConfig(), seed=0))


def test_wrappers_compose_in_config_order():
    """The first wrapper wraps the dataset and the last one is outermost."""
    assert order(build(SubsetWrapperConfig(start_index=4), RepeatWrapperConfig(repetitions=2))) == [4, 5, 4, 5]
    assert order(build(RepeatWrapperConfig(repetitions=2), SubsetWrapperConfig(start_index=4))) == [4, 5, 0, 1, 2, 3, 4, 5]
    assert order(build(ShuffleWrapperConfig(seed=0), SubsetWrapperConfig(end_index=3))) == [3, 2, 5]
    assert order(build(SubsetWrapperConfig(end_index=3), ShuffleWrapperConfig(seed=0))) == [2, 0, 1]


def test_wrappers_pass_properties_config_and_normalizers_through():
    """A stack of wrappers exposes the dataset's properties, config, normalizers and attributes."""
    normalizers = {"x": ShiftAndScaleNormalizerConfig(shift=1.0, scale=2.0)}
    dataset = build(SubsetWrapperConfig(start_index=1), RepeatWrapperConfig(repetitions=3), dataset_normalizers=normalizers)
    assert isinstance(dataset, RepeatWrapper) and isinstance(dataset.dataset, SubsetWrapper)
    assert dataset.properties == ("i", "x")
    assert dataset.config is dataset.root_dataset.config
    assert dataset.normalizers["x"].inverse(torch.tensor([4.0])).tolist() == [1.0]
    assert dataset[0]["x"].tolist() == [4.0]
    assert dataset.getitem_i(5) == 1  # index mapped through both wrappers


def test_wrapper_getitems_equals_getitem():
    """A wrapper's batched fetch equals fetching one by one."""
    dataset = build(ShuffleWrapperConfig(seed=3), RepeatWrapperConfig(repetitions=2))
    indices = [11, 0, 5, 6]
    assert [s["i"] for s in dataset.__getitems__(indices)] == [dataset[i]["i"] for i in indices]


def test_wrapper_index_out_of_range():
    """Indexing past a wrapper's end raises IndexError."""
    dataset = build(SubsetWrapperConfig(end_index=2))
    with pytest.raises(IndexError) as info:
        dataset.__getitems__([0, 2])
    assert str(info.value) == "index 2 is out of range for a dataset of length 2"


def test_subset_index_outside_dataset_is_an_error_naming_the_wrapper():
    """Subset indices beyond the dataset are an error that names the wrapper's position."""
    with pytest.raises(ValueError) as info:
        build(RepeatWrapperConfig(repetitions=2), SubsetWrapperConfig(indices=(0, 12, 13)))
    assert str(info.value) == "dataset_wrappers[1]: indices must lie in [0, 12) for a dataset of length 12 (got [12, 13])"


def test_subset_start_beyond_dataset_is_an_error():
    """A start_index past the dataset's end is an error."""
    with pytest.raises(ValueError) as info:
        build(SubsetWrapperConfig(start_index=7))
    assert str(info.value) == "dataset_wrappers[0]: start_index must be <= the dataset's length 6 (got 7)"


def test_repeat_of_empty_dataset_is_an_error():
    """Repeating an empty dataset is an error."""
    config = DatasetBaseConfig(kind="tests.Empty", dataset_wrappers=(RepeatWrapperConfig(repetitions=2),))
    with pytest.raises(ValueError) as info:
        build_dataset(Empty, config)
    assert str(info.value) == "dataset_wrappers[0]: cannot repeat an empty dataset"


def test_build_dataset_rejects_non_dataset_classes():
    """build_dataset needs a subclass of engine.data.Dataset."""
    with pytest.raises(TypeError) as info:
        build_dataset(dict, DatasetBaseConfig(kind="builtins.dict"))
    assert str(info.value) == "dataset_class must be a subclass of engine.data.Dataset (got <class 'dict'>)"


def test_build_dataset_without_wrappers_returns_the_dataset():
    """Without wrappers, build_dataset returns the dataset itself."""
    dataset = build()
    assert type(dataset) is Numbers and order(dataset) == [0, 1, 2, 3, 4, 5]
