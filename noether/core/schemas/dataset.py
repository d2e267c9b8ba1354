"""Dataset configs: the dataset class, its wrappers and normalizers, and which properties it loads."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import FieldProblem, at_least, in_closed_interval, own_class_kind, run_object_checks
from noether.core.schemas.normalizers import AnyNormalizer
from noether.core.schemas.pipeline import PipelineConfig

_PREFIX = "noether.data.base.wrappers."


@attrs.frozen(kw_only=True)
class RepeatWrapperConfig:
    """Repeat the wrapped dataset ``repetitions`` times."""

    kind: Literal["noether.data.base.wrappers.RepeatWrapper"] = _PREFIX + "RepeatWrapper"
    """The wrapper class path."""
    repetitions: int = attrs.field(validator=at_least(2))
    """How often the dataset is repeated (>= 2)."""


@attrs.frozen(kw_only=True)
class ShuffleWrapperConfig:
    """Present the wrapped dataset in a fixed, seeded permutation."""

    kind: Literal["noether.data.base.wrappers.ShuffleWrapper"] = _PREFIX + "ShuffleWrapper"
    """The wrapper class path."""
    seed: int | None = attrs.field(default=None, validator=at_least(0))
    """Seed of the permutation (>= 0). ``None``: the run's ``seed``."""


@attrs.frozen(kw_only=True)
class SubsetWrapperConfig:
    """Keep a subset of the wrapped dataset: explicit indices, an index range, or a fraction range."""

    kind: Literal["noether.data.base.wrappers.SubsetWrapper"] = _PREFIX + "SubsetWrapper"
    """The wrapper class path."""
    indices: tuple[int, ...] | None = None
    """Explicit indices to keep, in this order."""
    start_index: int | None = attrs.field(default=None, validator=at_least(0))
    """First index to keep (inclusive)."""
    end_index: int | None = attrs.field(default=None, validator=at_least(0))
    """Index after the last one to keep (exclusive)."""
    start_percent: float | None = attrs.field(default=None, validator=in_closed_interval(0.0, 1.0))
    """Fraction of the dataset at which the subset starts."""
    end_percent: float | None = attrs.field(default=None, validator=in_closed_interval(0.0, 1.0))
    """Fraction of the dataset at which the subset ends."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, self.check_one_selection)

    def check_one_selection(self) -> None:
        """Ensure that exactly one way of selecting (indices, index range, percent range) is used, in order."""
        ways = {
            "indices": self.indices is not None,
            "start_index/end_index": self.start_index is not None or self.end_index is not None,
            "start_percent/end_percent": self.start_percent is not None or self.end_percent is not None,
        }
        chosen = [name for name, used in ways.items() if used]
        if len(chosen) != 1:
            got = ", ".join(chosen) if chosen else "none"
            raise FieldProblem(f"use exactly one of indices, start_index/end_index, start_percent/end_percent (got {got})")
        for start, end in (("start_index", "end_index"), ("start_percent", "end_percent")):
            low, high = getattr(self, start), getattr(self, end)
            if low is not None and high is not None and low >= high:
                raise FieldProblem(f"{start} must be less than {end} (got {low!r} >= {high!r})")


WRAPPER_KINDS = (_PREFIX + "RepeatWrapper", _PREFIX + "ShuffleWrapper", _PREFIX + "SubsetWrapper")
"""The built-in dataset wrapper kinds (Noether's class paths)."""


@attrs.frozen(kw_only=True)
class DatasetWrapperConfig:
    """A dataset wrapper class of your own: ``kind`` is its class path, a subclass of ``engine.data.DatasetWrapper``
    that the engine constructs as ``cls(dataset, config)``. The class may declare ``config_schema``, an attrs
    subclass of ``DatasetWrapperConfig`` with its own fields; without one, ``kind`` is the only key."""

    kind: str = attrs.field(validator=own_class_kind(WRAPPER_KINDS, _PREFIX, "dataset wrapper"))
    """The class path of the wrapper, e.g. ``my_project.data.EveryOtherWrapper`` (not under Noether's wrapper
    module, where only the built-in kinds exist)."""


DatasetWrappers = RepeatWrapperConfig | ShuffleWrapperConfig | SubsetWrapperConfig | DatasetWrapperConfig
"""Any dataset wrapper config, selected by its ``kind``: a built-in one, or :class:`DatasetWrapperConfig` (or the
subclass its class declares) for any other class path."""


@attrs.frozen(kw_only=True)
class DatasetBaseConfig:
    """A dataset: its class, optional pipeline, normalizers, wrappers and the properties it loads."""

    kind: str
    """The dataset class path."""
    pipeline: PipelineConfig | None = None
    """The pipeline that turns a micro-batch of samples into a batch (``kind`` and its class's fields).
    ``None``: samples are stacked key by key (``engine.data.collate``)."""
    dataset_normalizers: dict[str, tuple[AnyNormalizer, ...] | AnyNormalizer] | None = None
    """Normalizers per data source (property name): one normalizer or a list applied in order."""
    dataset_wrappers: tuple[DatasetWrappers, ...] | None = None
    """Wrappers applied in order around the dataset (repeat, shuffle, subset)."""
    included_properties: frozenset[str] | None = None
    """The ``getitem_<property>`` methods to call. ``None``: all of them."""
    excluded_properties: frozenset[str] | None = None
    """Properties never loaded, even when listed in ``included_properties``."""


@attrs.frozen(kw_only=True)
class StandardDatasetConfig(DatasetBaseConfig):
    """Base config for datasets with fixed splits."""

    root: str
    """Root directory of the dataset."""
    split: Literal["train", "val", "test"]
    """Which split of the dataset to use."""
