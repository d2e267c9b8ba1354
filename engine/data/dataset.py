"""The dataset base class: ``__len__`` plus one ``getitem_<property>(index)`` method per property."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch.utils.data

from engine.data.normalizers import NormalizerChain, make_normalizer_chain
from noether.core.schemas.dataset import DatasetBaseConfig

__all__ = ["Dataset", "getitem_names"]

_PREFIX = "getitem_"


@functools.cache
def getitem_names(cls: type) -> tuple[str, ...]:
    """The properties a class provides: every callable ``getitem_<name>`` attribute, inherited ones included.

    Resolved once per class (cached), sorted by name.

    Args:
        cls: A dataset class.

    Returns:
        The property names (without the ``getitem_`` prefix), sorted.

    >>> class Points(Dataset):
    ...     def getitem_y(self, index): ...
    ...     def getitem_x(self, index): ...
    >>> getitem_names(Points)
    ('x', 'y')
    """
    return tuple(
        sorted(
            name[len(_PREFIX):]
            for name in dir(cls)
            if name.startswith(_PREFIX) and len(name) > len(_PREFIX) and callable(getattr(cls, name, None))
        )
    )


def _quoted(names: Any) -> str:
    return ", ".join(repr(name) for name in sorted(names)) or "none"


def _normalized(getter: Callable[[int], Any], chain: NormalizerChain, index: int) -> Any:
    return chain(getter(index))


class Dataset(torch.utils.data.Dataset):
    """Base class of user datasets: implement ``__len__`` and one ``getitem_<property>(index)`` per property.

    A sample is the dict ``{property: getitem_<property>(index)}`` over :attr:`properties`, each value passed
    through the normalizers configured for its property (``config.dataset_normalizers``). The ``getitem_``
    methods are found once, when the dataset is constructed (inherited ones included); fetching a sample costs
    one call per property and nothing else. Subclasses that override ``__init__`` must call
    ``super().__init__(config)``.

    The engine sets two attributes on the datasets it builds (on the outermost wrapper): ``pipeline``, the
    pipeline built from ``config.pipeline`` that every loader of the dataset batches with (absent: samples
    are stacked by :func:`engine.data.collate`), and ``dataset_key``, the dataset's key in ``datasets``.

    Args:
        config: The dataset's config; ``included_properties`` / ``excluded_properties`` select the properties,
            ``dataset_normalizers`` normalizes them. ``dataset_wrappers`` are applied by
            :func:`engine.data.build_dataset`, not here.
        dataset_config: The config under Noether's keyword (``super().__init__(dataset_config=...)``), instead
            of ``config``.

    Raises:
        ValueError: ``included_properties`` or ``excluded_properties`` names a property without a
            ``getitem_`` method, or ``dataset_normalizers`` has a key that is no property.

    >>> import torch
    >>> from noether.core.schemas.dataset import DatasetBaseConfig
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def getitem_x(self, index):
    ...         return torch.tensor(float(index))
    ...     def getitem_y(self, index):
    ...         return torch.tensor(float(index) ** 2)
    >>> dataset = Squares(DatasetBaseConfig(kind="my.Squares"))
    >>> dataset.properties
    ('x', 'y')
    >>> dataset[3]
    {'x': tensor(3.), 'y': tensor(9.)}
    """

    config_schema: ClassVar[type] = DatasetBaseConfig
    """The config class of this dataset (subclasses may narrow it to their own ``DatasetBaseConfig`` subclass)."""

    properties: tuple[str, ...]
    """The properties every sample holds, sorted: ``getitem_`` methods after included / excluded filtering."""
    normalizers: dict[str, NormalizerChain]
    """The normalizers per property (only properties that have some), e.g. to ``inverse`` a prediction."""

    def __init__(self, config: DatasetBaseConfig | None = None, *, dataset_config: DatasetBaseConfig | None = None) -> None:
        if (config is None) == (dataset_config is None):
            raise TypeError("give the dataset's config once: positionally or as dataset_config= (Noether's keyword)")
        super().__init__()
        config = self.config = config if config is not None else dataset_config
        available = getitem_names(type(self))
        included, excluded = config.included_properties, config.excluded_properties
        for field, names in (("included_properties", included), ("excluded_properties", excluded)):
            missing = set(names or ()) - set(available)
            if missing:
                raise ValueError(
                    f"{field}: no getitem_ method for {_quoted(missing)} (available: {_quoted(available)})"
                )
        self.properties = tuple(
            name
            for name in available
            if (included is None or name in included) and (excluded is None or name not in excluded)
        )
        self.normalizers = {}
        for name, configs in (config.dataset_normalizers or {}).items():
            if name not in available:
                raise ValueError(
                    f"dataset_normalizers.{name}: no getitem_{name} method to normalize "
                    f"(available: {_quoted(available)})"
                )
            self.normalizers[name] = make_normalizer_chain(configs)
        self._loaders = self._make_loaders()

    def _make_loaders(self) -> tuple[tuple[str, Callable[[int], Any]], ...]:
        loaders = []
        for name in self.properties:
            getter = getattr(self, _PREFIX + name)
            chain = self.normalizers.get(name)
            loaders.append((name, functools.partial(_normalized, getter, chain) if chain else getter))
        return tuple(loaders)

    def __len__(self) -> int:
        """The number of samples; every subclass implements it.

        Raises:
            NotImplementedError: Always, in the base class.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} must implement __len__(self) -> int, the number of samples"
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Load one sample.

        Args:
            index: The sample's index, ``0 <= index < len(self)``.

        Returns:
            ``{property: value}`` for every property, normalizers applied.
        """
        return {name: load(index) for name, load in self._loaders}

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        """Load several samples: the batched fetch path of ``torch.utils.data.DataLoader``.

        Override it to load a batch at once (e.g. one fancy-indexing read); the result must equal
        ``[self[index] for index in indices]``.

        Args:
            indices: The samples' indices.

        Returns:
            One sample dict per index, in order.
        """
        if type(self).__getitem__ is not Dataset.__getitem__:  # a subclass builds its samples itself: use it
            return [self[index] for index in indices]
        loaders = self._loaders
        return [{name: load(index) for name, load in loaders} for index in indices]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Iterate over all samples in order (a ``for`` loop over the dataset ends after ``len(self)`` samples)."""
        for index in range(len(self)):
            yield self[index]

    def __getstate__(self) -> dict[str, Any]:
        # Bound methods of self are rebuilt after unpickling (spawned DataLoader workers), not pickled.
        state = self.__dict__.copy()
        state.pop("_loaders", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "properties" in state:
            self._loaders = self._make_loaders()
