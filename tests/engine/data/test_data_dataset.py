"""Tests of engine.data.Dataset: getitem_ discovery, property selection, normalizers, batched fetch."""

from __future__ import annotations

import pickle

import pytest
import torch

from engine.data import Dataset
from engine.data.dataset import getitem_names
from noether.core.schemas.dataset import DatasetBaseConfig
from noether.core.schemas.normalizers import MeanStdNormalizerConfig, ShiftAndScaleNormalizerConfig


class Points(Dataset):
    """Three properties over 5 samples: x = index, y = 10 * index, label = index % 2."""

    def __len__(self) -> int:
        return 5

    def getitem_x(self, index: int) -> torch.Tensor:
        return torch.tensor([float(index)])

    def getitem_y(self, index: int) -> torch.Tensor:
        return torch.tensor([10.0 * index])

    def getitem_label(self, index: int) -> int:
        return index % 2


class MorePoints(Points):
    """Inherits x, y, label and adds z."""

    def getitem_z(self, index: int) -> torch.Tensor:
        return torch.tensor([-float(index)])


class NoLength(Dataset):
    """Forgets __len__."""

    def getitem_x(self, index: int) -> int:
        return index


def config(**fields) -> DatasetBaseConfig:
    return DatasetBaseConfig(kind="tests.Points", **fields)


def test_discovers_getitem_methods_sorted():
    """Every getitem_ method becomes a property, sorted by name."""
    assert Points(config()).properties == ("label", "x", "y")


def test_discovers_inherited_getitem_methods():
    """getitem_ methods of base classes are found too."""
    assert MorePoints(config()).properties == ("label", "x", "y", "z")
    assert getitem_names(MorePoints) == ("label", "x", "y", "z")


def test_sample_holds_every_property():
    """A sample maps each property to its getitem_ value."""
    sample = MorePoints(config())[3]
    assert sample == {"label": 1, "x": torch.tensor([3.0]), "y": torch.tensor([30.0]), "z": torch.tensor([-3.0])}


def test_included_properties_select():
    """included_properties keeps only the listed properties."""
    dataset = Points(config(included_properties=frozenset({"x", "label"})))
    assert dataset.properties == ("label", "x")
    assert list(dataset[2]) == ["label", "x"]


def test_excluded_properties_win_over_included():
    """A property both included and excluded is not loaded."""
    dataset = Points(config(included_properties=frozenset({"x", "y"}), excluded_properties=frozenset({"y"})))
    assert dataset.properties == ("x",)


def test_included_property_without_getitem_is_an_error():
    """Including a property that has no getitem_ method names it and the available ones."""
    with pytest.raises(ValueError) as info:
        Points(config(included_properties=frozenset({"x", "pressure"})))
    assert str(info.value) == "included_properties: no getitem_ method for 'pressure' (available: 'label', 'x', 'y')"


def test_excluded_property_without_getitem_is_an_error():
    """Excluding a property that has no getitem_ method (a typo) is an error too."""
    with pytest.raises(ValueError) as info:
        Points(config(excluded_properties=frozenset({"lable"})))
    assert str(info.value) == "excluded_properties: no getitem_ method for 'lable' (available: 'label', 'x', 'y')"


def test_normalizers_apply_in_order_to_their_property():
    """Normalizers of a property run in order on its value; other properties are untouched."""
    normalizers = {
        "y": (MeanStdNormalizerConfig(mean=20.0, std=10.0), ShiftAndScaleNormalizerConfig(shift=1.0, scale=3.0))
    }
    dataset = Points(config(dataset_normalizers=normalizers))
    sample = dataset[4]
    assert sample["y"].tolist() == [9.0]  # ((40 - 20) / 10 + 1) * 3
    assert sample["x"].tolist() == [4.0]
    assert dataset.normalizers["y"].inverse(torch.tensor([9.0])).tolist() == [40.0]


def test_normalizer_of_unknown_property_is_an_error():
    """A normalizer for a property without getitem_ method names it and the available ones."""
    with pytest.raises(ValueError) as info:
        Points(config(dataset_normalizers={"p": MeanStdNormalizerConfig(mean=0.0, std=1.0)}))
    assert str(info.value) == "dataset_normalizers.p: no getitem_p method to normalize (available: 'label', 'x', 'y')"


def test_normalizer_of_excluded_property_is_ignored():
    """A normalizer for an existing but excluded property is accepted and never runs."""
    dataset = Points(
        config(
            excluded_properties=frozenset({"y"}),
            dataset_normalizers={"y": MeanStdNormalizerConfig(mean=0.0, std=1.0)},
        )
    )
    assert dataset.properties == ("label", "x")
    assert "y" not in dataset[0]


def test_getitems_equals_getitem():
    """__getitems__ returns exactly [__getitem__(i) for i in indices]."""
    dataset = MorePoints(config(dataset_normalizers={"x": ShiftAndScaleNormalizerConfig(shift=-1.0, scale=2.0)}))
    indices = [4, 0, 2, 2]
    batched = dataset.__getitems__(indices)
    single = [dataset[i] for i in indices]
    assert len(batched) == len(single)
    for a, b in zip(batched, single):
        assert a.keys() == b.keys()
        assert all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k])) for k in a)


def test_missing_len_has_a_helpful_message():
    """A dataset without __len__ says which method to implement."""
    with pytest.raises(NotImplementedError) as info:
        len(NoLength(config()))
    assert str(info.value) == "NoLength must implement __len__(self) -> int, the number of samples"


def test_iteration_stops_after_len():
    """Iterating a dataset yields len(dataset) samples and ends."""
    assert [sample["label"] for sample in Points(config())] == [0, 1, 0, 1, 0]


def test_pickle_round_trip_keeps_samples():
    """A pickled dataset (as sent to spawned workers) loads the same samples."""
    dataset = Points(config(dataset_normalizers={"x": MeanStdNormalizerConfig(mean=1.0, std=2.0)}))
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy.properties == dataset.properties
    assert copy[3]["x"].tolist() == [1.0]


def test_config_schema_defaults_to_base_config():
    """The base class declares DatasetBaseConfig as its config schema."""
    assert Dataset.config_schema is DatasetBaseConfig
