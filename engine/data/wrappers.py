"""Dataset wrappers (repeat, shuffle, subset) and :func:`build_dataset`, which applies them from a config.

A wrapper is a view: it maps its own indices to the wrapped dataset's indices and forwards everything else
(``properties``, ``config``, ``normalizers``, any other attribute of the dataset it wraps). Fetching a batch
goes through the wrapped dataset's ``__getitems__`` with the mapped indices, so a dataset that loads batches
at once stays fast under any stack of wrappers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from noether.core.config.kinds import resolve_kind
from noether.core.schemas.dataset import (
    DatasetBaseConfig,
    DatasetWrapperConfig,
    DatasetWrappers,
    RepeatWrapperConfig,
    ShuffleWrapperConfig,
    SubsetWrapperConfig,
)
from noether.core.schemas.normalizers import NormalizerConfig

from engine.data.dataset import Dataset
from engine.data.normalizers import NormalizerBase

__all__ = [
    "DatasetWrapper",
    "IndexMapWrapper",
    "RepeatWrapper",
    "ShuffleWrapper",
    "SubsetWrapper",
    "build_dataset",
    "make_wrapper",
    "shuffled_indices",
    "user_kinds",
]


class DatasetWrapper(Dataset):
    """Base of the wrappers: a view of ``dataset`` under an index map.

    Subclasses implement :meth:`source_index` (and ``__len__``); ``__getitem__`` / ``__getitems__`` map the
    indices and ask the wrapped dataset. A wrapper of your own is named by its class path in a dataset's
    ``dataset_wrappers`` (``kind: my_project.data.EveryOtherWrapper``) and constructed as ``cls(dataset, config)``
    with its config (a :class:`~noether.core.schemas.DatasetWrapperConfig`, or the attrs subclass the class
    declares as ``config_schema``); it calls ``super().__init__(dataset)``. ``properties``, ``config``, ``normalizers`` and every other attribute
    that the wrapper lacks come from the wrapped dataset; ``wrapper.getitem_<property>(index)`` maps the index
    too.

    Args:
        dataset: The dataset to wrap (an :class:`engine.data.Dataset` or another wrapper).
    """

    config_schema: type = DatasetWrapperConfig
    """The config class of a wrapper of your own (subclasses narrow it to their own ``DatasetWrapperConfig``
    subclass)."""

    def __init__(self, dataset: Dataset) -> None:
        # Deliberately not Dataset.__init__: a wrapper has no getitem_ methods of its own.
        self.dataset = dataset
        """The wrapped dataset."""
        self._fetch_many = getattr(dataset, "__getitems__", None)

    def source_index(self, index: int) -> int:
        """The wrapped dataset's index of this view's sample ``index``.

        Args:
            index: An index of this view.

        Returns:
            The index in the wrapped dataset.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement source_index(index) -> int")

    def source_indices(self, indices: Sequence[int]) -> list[int]:
        """Map several indices at once (see :meth:`source_index`).

        Args:
            indices: Indices of this view.

        Returns:
            The wrapped dataset's indices, in order.
        """
        source_index = self.source_index
        return [source_index(index) for index in indices]

    @property
    def properties(self) -> tuple[str, ...]:  # type: ignore[override]
        """The wrapped dataset's properties."""
        return self.dataset.properties

    @property
    def config(self) -> DatasetBaseConfig:  # type: ignore[override]
        """The wrapped dataset's config."""
        return self.dataset.config

    @property
    def normalizers(self) -> dict[str, Any]:  # type: ignore[override]
        """The wrapped dataset's normalizers."""
        return self.dataset.normalizers

    @property
    def root_dataset(self) -> Dataset:
        """The innermost dataset, below every wrapper."""
        dataset = self.dataset
        while isinstance(dataset, DatasetWrapper):
            dataset = dataset.dataset
        return dataset

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the wrapper lacks. "dataset" is guarded: it is missing while unpickling.
        if name == "dataset" or name.startswith("__"):
            raise AttributeError(name)
        found = getattr(self.dataset, name)
        if name.startswith("getitem_") and callable(found):
            source_index = self.source_index
            return lambda index, *args, **kwargs: found(source_index(index), *args, **kwargs)
        return found

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The wrapped dataset's sample at ``source_index(index)``.

        Args:
            index: An index of this view.

        Returns:
            The sample dict.
        """
        return self.dataset[self.source_index(index)]

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        """Map the indices and fetch them from the wrapped dataset in one call.

        Args:
            indices: Indices of this view.

        Returns:
            One sample dict per index, in order.
        """
        mapped = self.source_indices(indices)
        if self._fetch_many is not None:
            return self._fetch_many(mapped)
        return [self.dataset[index] for index in mapped]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_fetch_many", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fetch_many = getattr(self.dataset, "__getitems__", None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dataset!r}, length={len(self)})"


def _check_index(index: int, length: int) -> int:
    if not 0 <= index < length:
        raise IndexError(f"index {index} is out of range for a dataset of length {length}")
    return index


class IndexMapWrapper(DatasetWrapper):
    """A view through an explicit list of indices: sample ``i`` is the wrapped dataset's ``indices[i]``.

    Args:
        dataset: The dataset to wrap.
        indices: Indices into ``dataset`` (each ``0 <= index < len(dataset)``); repeats allowed.

    Raises:
        ValueError: An index is out of range.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        super().__init__(dataset)
        self.indices: list[int] = [int(index) for index in indices]
        """The wrapped dataset's index of every sample of this view."""
        length = len(dataset)
        bad = [index for index in self.indices if not 0 <= index < length]
        if bad:
            raise ValueError(
                f"indices must lie in [0, {length}) for a dataset of length {length} (got {bad[:5]}"
                f"{' ...' if len(bad) > 5 else ''})"
            )

    def __len__(self) -> int:
        return len(self.indices)

    def source_index(self, index: int) -> int:
        """``indices[index]`` (see :meth:`DatasetWrapper.source_index`).

        Args:
            index: An index of this view.

        Returns:
            The wrapped dataset's index.
        """
        return self.indices[_check_index(index, len(self.indices))]

    def source_indices(self, indices: Sequence[int]) -> list[int]:
        """``[self.indices[i] for i in indices]`` (see :meth:`DatasetWrapper.source_indices`).

        Args:
            indices: Indices of this view.

        Returns:
            The wrapped dataset's indices.
        """
        own, length = self.indices, len(self.indices)
        try:
            return [own[index] if index >= 0 else own[_check_index(index, length)] for index in indices]
        except IndexError:
            for index in indices:
                _check_index(index, length)
            raise


class RepeatWrapper(DatasetWrapper):
    """The wrapped dataset ``repetitions`` times in a row: sample ``i`` is ``dataset[i % len(dataset)]``.

    Args:
        dataset: The dataset to repeat (not empty).
        config: ``repetitions`` (>= 2).

    Raises:
        ValueError: The dataset is empty.
    """

    def __init__(self, dataset: Dataset, config: RepeatWrapperConfig) -> None:
        super().__init__(dataset)
        self.wrapper_config = config
        """This wrapper's config."""
        self._source_length = len(dataset)
        if self._source_length == 0:
            raise ValueError("cannot repeat an empty dataset")
        self._length = self._source_length * config.repetitions

    def __len__(self) -> int:
        return self._length

    def source_index(self, index: int) -> int:
        """``index % len(dataset)`` (see :meth:`DatasetWrapper.source_index`).

        Args:
            index: An index of this view.

        Returns:
            The wrapped dataset's index.
        """
        return _check_index(index, self._length) % self._source_length

    def source_indices(self, indices: Sequence[int]) -> list[int]:
        """``[i % len(dataset) for i in indices]`` (see :meth:`DatasetWrapper.source_indices`).

        Args:
            indices: Indices of this view.

        Returns:
            The wrapped dataset's indices.
        """
        length, source_length = self._length, self._source_length
        return [_check_index(index, length) % source_length for index in indices]


def shuffled_indices(length: int, seed: int) -> list[int]:
    """The fixed permutation of ``range(length)`` used by :class:`ShuffleWrapper`.

    It is ``numpy.random.default_rng(seed).permutation(length)``: the permutation Noether's ``ShuffleWrapper``
    uses for the same seed, so a split made by shuffle + subset selects the same samples as in Noether.

    Args:
        length: The number of samples.
        seed: The permutation's seed (>= 0).

    Returns:
        A permutation of ``range(length)``.

    Raises:
        ImportError: numpy is not installed.

    >>> sorted(shuffled_indices(5, seed=3)) == [0, 1, 2, 3, 4]
    True
    """
    try:
        import numpy
    except ImportError as exc:
        raise ImportError("the shuffle wrapper needs numpy (pip install numpy)") from exc
    return numpy.random.default_rng(seed).permutation(length).tolist()


class ShuffleWrapper(IndexMapWrapper):
    """The wrapped dataset in a fixed, seeded order (see :func:`shuffled_indices`).

    Args:
        dataset: The dataset to shuffle.
        config: ``seed``; ``None`` uses ``default_seed``.
        default_seed: The seed when ``config.seed`` is ``None`` (:func:`build_dataset` passes its ``seed``).
    """

    def __init__(self, dataset: Dataset, config: ShuffleWrapperConfig, *, default_seed: int = 0) -> None:
        self.seed = config.seed if config.seed is not None else default_seed
        """The seed of the permutation actually used."""
        super().__init__(dataset, shuffled_indices(len(dataset), self.seed))
        self.wrapper_config = config
        """This wrapper's config."""


def subset_indices(length: int, config: SubsetWrapperConfig) -> range | tuple[int, ...]:
    """The indices a subset config keeps of a dataset of ``length`` samples.

    - ``indices``: those, in that order;
    - ``start_index`` / ``end_index``: ``range(start, min(end, length))``, start defaulting to 0 and end to
      ``length``;
    - ``start_percent`` / ``end_percent``: ``range(int(start * length), int(end * length))``, defaults 0.0 and
      1.0.

    Args:
        length: The wrapped dataset's length.
        config: The subset config (exactly one way of selecting, checked by the config).

    Returns:
        The kept indices.

    Raises:
        ValueError: ``start_index`` lies beyond the end of the dataset.

    >>> from noether.core.schemas.dataset import SubsetWrapperConfig
    >>> subset_indices(10, SubsetWrapperConfig(start_percent=0.25, end_percent=0.75))
    range(2, 7)
    >>> subset_indices(10, SubsetWrapperConfig(start_index=8, end_index=20))
    range(8, 10)
    """
    if config.indices is not None:
        return tuple(config.indices)
    if config.start_index is not None or config.end_index is not None:
        start = config.start_index or 0
        end = min(length if config.end_index is None else config.end_index, length)
        if start > end:
            raise ValueError(f"start_index must be <= the dataset's length {length} (got {start})")
        return range(start, end)
    start_percent = config.start_percent if config.start_percent is not None else 0.0
    end_percent = config.end_percent if config.end_percent is not None else 1.0
    return range(int(start_percent * length), int(end_percent * length))


class SubsetWrapper(IndexMapWrapper):
    """A subset of the wrapped dataset: explicit indices, an index range or a fraction range.

    See :func:`subset_indices` for which indices each way keeps.

    Args:
        dataset: The dataset to take a subset of.
        config: The subset config.

    Raises:
        ValueError: An index is out of range, or ``start_index`` lies beyond the dataset.
    """

    def __init__(self, dataset: Dataset, config: SubsetWrapperConfig) -> None:
        super().__init__(dataset, subset_indices(len(dataset), config))
        self.wrapper_config = config
        """This wrapper's config."""


def make_wrapper(dataset: Dataset, config: DatasetWrappers, *, seed: int = 0) -> DatasetWrapper:
    """Wrap ``dataset`` as a wrapper config says.

    Args:
        dataset: The dataset to wrap.
        config: A repeat, shuffle or subset wrapper config, or a :class:`~noether.core.schemas.DatasetWrapperConfig`
            naming a :class:`DatasetWrapper` subclass of your own (constructed as ``cls(dataset, config)``).
        seed: The shuffle seed when a shuffle config's ``seed`` is ``None``.

    Returns:
        The wrapper.

    Raises:
        TypeError: ``config`` is no wrapper config.
        ValueError: The wrapper cannot be applied to this dataset (see each wrapper).
        ConfigError: A user kind cannot be imported or is no :class:`DatasetWrapper` subclass (at ``kind``).
    """
    match config:
        case RepeatWrapperConfig():
            return RepeatWrapper(dataset, config)
        case ShuffleWrapperConfig():
            return ShuffleWrapper(dataset, config, default_seed=seed)
        case SubsetWrapperConfig():
            return SubsetWrapper(dataset, config)
        case DatasetWrapperConfig(kind=kind):
            return resolve_kind(kind, DatasetWrapper, path="kind")(dataset, config)
        case _:
            raise TypeError(
                "expected a dataset wrapper config (RepeatWrapperConfig, ShuffleWrapperConfig, SubsetWrapperConfig, "
                f"DatasetWrapperConfig) (got {type(config).__name__})"
            )


def build_dataset(dataset_class: type[Dataset], config: DatasetBaseConfig, *, seed: int = 0) -> Dataset:
    """Construct ``dataset_class(config)`` and apply ``config.dataset_wrappers`` in order (the first wraps the dataset).

    Args:
        dataset_class: A subclass of :class:`engine.data.Dataset`.
        config: The dataset's config.
        seed: The seed of shuffle wrappers whose ``seed`` is ``None`` (pass the run's ``seed``).

    Returns:
        The dataset, or the outermost wrapper around it.

    Raises:
        TypeError: ``dataset_class`` is not a subclass of :class:`engine.data.Dataset`.
        ValueError: A wrapper cannot be applied; the message starts with ``dataset_wrappers[<i>]``.

    >>> import torch
    >>> from noether.core.schemas.dataset import DatasetBaseConfig, RepeatWrapperConfig, SubsetWrapperConfig
    >>> class Numbers(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def getitem_x(self, index):
    ...         return index
    >>> config = DatasetBaseConfig(kind="my.Numbers", dataset_wrappers=(
    ...     SubsetWrapperConfig(start_index=3), RepeatWrapperConfig(repetitions=2)))
    >>> [sample["x"] for sample in build_dataset(Numbers, config)]
    [3, 4, 3, 4]
    """
    if not (isinstance(dataset_class, type) and issubclass(dataset_class, Dataset)):
        raise TypeError(f"dataset_class must be a subclass of engine.data.Dataset (got {dataset_class!r})")
    dataset = dataset_class(config)
    for position, wrapper_config in enumerate(config.dataset_wrappers or ()):
        try:
            dataset = make_wrapper(dataset, wrapper_config, seed=seed)
        except ValueError as exc:
            raise ValueError(f"dataset_wrappers[{position}]: {exc}") from exc
    return dataset


def user_kinds(config: DatasetBaseConfig, path: str) -> list[tuple[str, str, type]]:
    """The normalizer and wrapper classes of the user's that a dataset config names, to import and check before
    anything is built: ``(config path, kind, required base class)`` each.

    Args:
        config: A dataset config.
        path: The config path of the dataset, e.g. ``datasets.train``.

    Returns:
        One entry per :class:`~noether.core.schemas.NormalizerConfig` / :class:`~noether.core.schemas.DatasetWrapperConfig`.

    >>> from noether.core.schemas import DatasetWrapperConfig, NormalizerConfig
    >>> config = DatasetBaseConfig(kind="my.Points", dataset_normalizers={"x": (NormalizerConfig(kind="my.Log"),)},
    ...                            dataset_wrappers=(DatasetWrapperConfig(kind="my.EveryOther"),))
    >>> [(at, kind, base.__name__) for at, kind, base in user_kinds(config, "datasets.train")]
    [('datasets.train.dataset_normalizers.x[0].kind', 'my.Log', 'NormalizerBase'), ('datasets.train.dataset_wrappers[0].kind', 'my.EveryOther', 'DatasetWrapper')]
    """
    found = []
    for name, normalizers in (config.dataset_normalizers or {}).items():
        listed = normalizers if isinstance(normalizers, tuple) else (normalizers,)
        for index, normalizer in enumerate(listed):
            if isinstance(normalizer, NormalizerConfig):
                at = f"{path}.dataset_normalizers.{name}" + (f"[{index}]" if isinstance(normalizers, tuple) else "")
                found.append((f"{at}.kind", normalizer.kind, NormalizerBase))
    for index, wrapper in enumerate(config.dataset_wrappers or ()):
        if isinstance(wrapper, DatasetWrapperConfig):
            found.append((f"{path}.dataset_wrappers[{index}].kind", wrapper.kind, DatasetWrapper))
    return found
