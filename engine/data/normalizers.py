"""Normalizers: transforms of one property's values, built from normalizer configs.

Every built-in normalizer of Noether is an affine map ``(x + shift) * scale``, optionally after a signed
``log1p`` (``logscale``). :func:`make_normalizer` turns a config into that map, or constructs a user's own
:class:`NormalizerBase` subclass that a config's ``kind`` names; :class:`NormalizerChain` applies several in
order and undoes them in reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from noether.core.config.kinds import resolve_kind
from noether.core.schemas.normalizers import (
    AnyNormalizer,
    MeanStdNormalizerConfig,
    NormalizerConfig,
    PositionNormalizerConfig,
    ShiftAndScaleNormalizerConfig,
)

__all__ = ["Normalizer", "NormalizerBase", "NormalizerChain", "make_normalizer", "make_normalizer_chain"]

_MIN_STD = 1e-6
"""Noether clamps every standard deviation to at least this before taking its reciprocal."""

_BOUNDS_RELATIVE_TOLERANCE = 1e-5
"""Slack of the position normalizer's range check, relative to ``scale`` (float32 rounding at the edges)."""


def _values(value: float | tuple[float, ...]) -> tuple[float, ...]:
    return tuple(float(v) for v in value) if isinstance(value, tuple) else (float(value),)


def to_logscale(x: torch.Tensor) -> torch.Tensor:
    """Signed log scale: ``sign(x) * log1p(|x|)``.

    Args:
        x: Values in the original scale.

    Returns:
        The values in log scale, same shape.

    >>> to_logscale(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [-0.6931471824645996, 0.0, 0.6931471824645996]
    True
    """
    return torch.sign(x) * torch.log1p(x.abs())


def from_logscale(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_logscale`: ``sign(x) * (exp(|x|) - 1)``.

    Args:
        x: Values in log scale.

    Returns:
        The values in the original scale, same shape.

    >>> from_logscale(torch.tensor([0.0, 0.6931471805599453], dtype=torch.float64)).tolist()
    [0.0, 1.0]
    """
    return torch.sign(x) * torch.expm1(x.abs())


class NormalizerBase:
    """Base of normalizers: ``normalizer(x)`` normalizes one property's value, ``normalizer.inverse(y)`` undoes it.

    A normalizer of your own subclasses this, implements both methods and is named by its class path in a
    dataset's ``dataset_normalizers`` (``kind: my_project.data.LogNormalizer``); the engine constructs it with its
    config (a :class:`~noether.core.schemas.NormalizerConfig`, or the attrs subclass the class declares as
    ``config_schema`` for fields of its own). Noether calls this ``denormalize``; the engine calls ``inverse``.

    Args:
        config: The normalizer's config.

    >>> import attrs
    >>> from noether.core.schemas import NormalizerConfig
    >>> @attrs.frozen(kw_only=True)
    ... class TimesConfig(NormalizerConfig):
    ...     factor: float
    >>> class Times(NormalizerBase):
    ...     config_schema = TimesConfig
    ...     def __call__(self, x):
    ...         return x * self.config.factor
    ...     def inverse(self, y):
    ...         return y / self.config.factor
    >>> Times(TimesConfig(kind="my.Times", factor=4.0))(torch.tensor([1.0, 2.0])).tolist()
    [4.0, 8.0]
    """

    config_schema: type = NormalizerConfig
    """The config class of this normalizer (subclasses narrow it to their own ``NormalizerConfig`` subclass)."""

    def __init__(self, config: NormalizerConfig) -> None:
        self.config = config
        """This normalizer's config."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` (every subclass implements it).

        Args:
            x: The raw value of the property.

        Returns:
            The normalized value.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement __call__(x)")

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Undo :meth:`__call__` (every subclass implements it).

        Args:
            y: A normalized value.

        Returns:
            The value in the original scale.
        """
        raise NotImplementedError(f"{type(self).__qualname__} must implement inverse(y)")


class Normalizer(NormalizerBase):
    """The affine map ``y = (f(x) + shift) * scale`` with ``f`` the signed log1p when ``logscale``, else identity.

    ``shift`` and ``scale`` are one number (applied to every element) or one number per channel (broadcast over
    the last dimension). The constants take the dtype and device of the input; integer inputs become the
    default float dtype.

    Args:
        shift: Value(s) added before scaling.
        scale: Factor(s) multiplied after shifting (> 0).
        logscale: Apply the signed log1p before the affine map (and its inverse after undoing it).
        bounds: ``(low, high)`` that every normalized value must lie in (within a small relative tolerance),
            checked on every call; ``None``: no check.
        name: Shown in ``repr`` and in error messages.

    >>> normalizer = Normalizer(shift=-2.0, scale=0.25)
    >>> normalizer(torch.tensor([2.0, 6.0, 10.0])).tolist()
    [0.0, 1.0, 2.0]
    >>> normalizer.inverse(torch.tensor([0.0, 1.0, 2.0])).tolist()
    [2.0, 6.0, 10.0]
    """

    def __init__(
        self,
        *,
        shift: float | tuple[float, ...],
        scale: float | tuple[float, ...],
        logscale: bool = False,
        bounds: tuple[float, float] | None = None,
        name: str = "Normalizer",
    ) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # built from numbers, not from one config
        shifts, scales = _values(shift), _values(scale)
        if len(shifts) != len(scales):
            raise ValueError(f"shift and scale must have the same length (got {len(shifts)} and {len(scales)})")
        if any(not s > 0 for s in scales):
            raise ValueError(f"scale must be > 0 (got {scale!r})")
        self.shift = shifts
        """The shift values (one, or one per channel)."""
        self.scale = scales
        """The scale values (one, or one per channel)."""
        self.logscale = logscale
        """Whether the signed log1p is applied first."""
        self.bounds = bounds
        """Range the normalized values must lie in, or ``None``."""
        self.name = name
        """Name shown in ``repr`` and errors."""
        self._per_channel = len(shifts) > 1 or isinstance(shift, tuple) or isinstance(scale, tuple)
        # Scalars stay Python floats: arithmetic with them keeps the tensor's dtype and needs no device copy.
        self._scalar = (shifts[0], scales[0]) if not self._per_channel else None
        self._tensors: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}
        if bounds is not None:
            slack = _BOUNDS_RELATIVE_TOLERANCE * max(abs(bounds[0]), abs(bounds[1]), 1.0)
            self._checked_bounds = (bounds[0] - slack, bounds[1] + slack)

    def _constants(self, x: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        if self._scalar is not None:
            return self._scalar
        key = (x.dtype, x.device)
        found = self._tensors.get(key)
        if found is None:
            found = (
                torch.tensor(self.shift, dtype=torch.float64).to(dtype=x.dtype, device=x.device),
                torch.tensor(self.scale, dtype=torch.float64).to(dtype=x.dtype, device=x.device),
            )
            self._tensors[key] = found
        return found

    @staticmethod
    def _as_float(x: object, what: str) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what} needs a torch.Tensor (got {type(x).__name__})")
        return x if x.is_floating_point() or x.is_complex() else x.to(torch.get_default_dtype())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x``.

        Args:
            x: A tensor; per-channel constants broadcast over its last dimension.

        Returns:
            ``(f(x) + shift) * scale``, a new tensor.

        Raises:
            TypeError: ``x`` is not a tensor.
            ValueError: ``bounds`` is set and a normalized value lies outside it.
        """
        x = self._as_float(x, self.name)
        if self.logscale:
            x = to_logscale(x)
        shift, scale = self._constants(x)
        y = (x + shift) * scale
        if self.bounds is not None and y.numel():
            low, high = self._checked_bounds
            if bool(y.min() < low) or bool(y.max() > high):
                raise ValueError(
                    f"{self.name}: normalized values must lie in [{self.bounds[0]:g}, {self.bounds[1]:g}] "
                    f"(got min {float(y.min()):g}, max {float(y.max()):g}); check raw_pos_min / raw_pos_max"
                )
        return y

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Undo the normalization: ``f^-1(y / scale - shift)``.

        Args:
            y: A normalized tensor (e.g. a model's prediction).

        Returns:
            The values in the original scale, a new tensor.

        Raises:
            TypeError: ``y`` is not a tensor.
        """
        y = self._as_float(y, self.name)
        shift, scale = self._constants(y)
        x = y / scale - shift
        return from_logscale(x) if self.logscale else x

    def __repr__(self) -> str:
        def show(values: tuple[float, ...]) -> str:
            return f"{values[0]!r}" if not self._per_channel else repr(values)

        extra = ", logscale=True" if self.logscale else ""
        extra += f", bounds={self.bounds!r}" if self.bounds is not None else ""
        return f"{self.name}(shift={show(self.shift)}, scale={show(self.scale)}{extra})"


class NormalizerChain:
    """Several normalizers applied in order; :meth:`inverse` undoes them in reverse order.

    Args:
        normalizers: The normalizers, first applied first.

    >>> chain = NormalizerChain([Normalizer(shift=1.0, scale=2.0), Normalizer(shift=0.0, scale=10.0)])
    >>> chain(torch.tensor([0.0, 1.0])).tolist()
    [20.0, 40.0]
    >>> chain.inverse(torch.tensor([20.0, 40.0])).tolist()
    [0.0, 1.0]
    """

    def __init__(self, normalizers: Iterable[NormalizerBase]) -> None:
        self.normalizers: tuple[NormalizerBase, ...] = tuple(normalizers)
        """The normalizers, in the order they are applied."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Apply every normalizer in order.

        Args:
            x: The raw tensor.

        Returns:
            The normalized tensor.
        """
        for normalizer in self.normalizers:
            x = normalizer(x)
        return x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Undo every normalizer, last one first.

        Args:
            y: A normalized tensor.

        Returns:
            The tensor in the original scale.
        """
        for normalizer in reversed(self.normalizers):
            y = normalizer.inverse(y)
        return y

    def __len__(self) -> int:
        return len(self.normalizers)

    def __repr__(self) -> str:
        return f"NormalizerChain({list(self.normalizers)!r})"


def make_normalizer(config: AnyNormalizer) -> NormalizerBase:
    """Build the normalizer described by a normalizer config (Noether's formulas for the built-in kinds).

    - ``MeanStdNormalizerConfig``: ``(f(x) - mean) / max(std, 1e-6)``.
    - ``ShiftAndScaleNormalizerConfig``: ``(f(x) + shift) * scale``.
    - ``PositionNormalizerConfig``: ``(x - raw_pos_min) * scale / (raw_pos_max - raw_pos_min)``, spanning
      ``[0, scale]``; with ``zero_center``: ``(x - (min + max) / 2) * 2 * scale / (max - min)``, spanning
      ``[-scale, scale]``. Values outside that range (beyond a relative tolerance of 1e-5 of ``scale``) raise
      ``ValueError``: the raw bounds do not cover the data.

    ``f`` is the signed ``log1p`` when the config has ``logscale: true``, else the identity. Any other kind (a
    :class:`~noether.core.schemas.NormalizerConfig`) names a :class:`NormalizerBase` subclass, constructed with
    the config.

    Args:
        config: A normalizer config.

    Returns:
        A normalizer with ``__call__`` and ``inverse``: a :class:`Normalizer` for the built-in kinds.

    Raises:
        TypeError: ``config`` is not a normalizer config.
        ConfigError: A user kind cannot be imported or is no :class:`NormalizerBase` subclass (at ``kind``).

    >>> from noether.core.schemas.normalizers import PositionNormalizerConfig
    >>> position = make_normalizer(PositionNormalizerConfig(raw_pos_min=(0.0, -1.0), raw_pos_max=(2.0, 1.0), scale=10.0))
    >>> position(torch.tensor([[1.0, 1.0], [0.0, -1.0]])).tolist()
    [[5.0, 10.0], [0.0, 0.0]]
    """
    match config:
        case MeanStdNormalizerConfig(mean=mean, std=std, logscale=logscale):
            shift = tuple(-m for m in _values(mean))
            scale = tuple(1.0 / max(s, _MIN_STD) for s in _values(std))
            per_channel = isinstance(mean, tuple) or isinstance(std, tuple)
            return Normalizer(
                shift=shift if per_channel else shift[0],
                scale=scale if per_channel else scale[0],
                logscale=logscale,
                name="MeanStdNormalizer",
            )
        case ShiftAndScaleNormalizerConfig(shift=shift, scale=scale, logscale=logscale):
            return Normalizer(shift=shift, scale=scale, logscale=logscale, name="ShiftAndScaleNormalizer")
        case PositionNormalizerConfig(raw_pos_min=low, raw_pos_max=high, scale=size, zero_center=zero_center):
            lows, highs = _values(low), _values(high)
            if zero_center:
                shift = tuple(-(a + b) / 2 for a, b in zip(lows, highs))
                scale = tuple(2 * size / (b - a) for a, b in zip(lows, highs))
                bounds = (-size, size)
            else:
                shift = tuple(-a for a in lows)
                scale = tuple(size / (b - a) for a, b in zip(lows, highs))
                bounds = (0.0, size)
            per_channel = isinstance(low, tuple) or isinstance(high, tuple)
            return Normalizer(
                shift=shift if per_channel else shift[0],
                scale=scale if per_channel else scale[0],
                bounds=bounds,
                name="PositionNormalizer",
            )
        case NormalizerConfig(kind=kind):
            return resolve_kind(kind, NormalizerBase, path="kind")(config)
        case _:
            raise TypeError(
                "expected a normalizer config (MeanStdNormalizerConfig, PositionNormalizerConfig, "
                f"ShiftAndScaleNormalizerConfig, NormalizerConfig) (got {type(config).__name__})"
            )


def make_normalizer_chain(configs: AnyNormalizer | Iterable[AnyNormalizer]) -> NormalizerChain:
    """Build the chain of one property's normalizers from one config or a sequence of them.

    Args:
        configs: One normalizer config, or several applied in order.

    Returns:
        A :class:`NormalizerChain`.

    >>> from noether.core.schemas.normalizers import ShiftAndScaleNormalizerConfig
    >>> make_normalizer_chain(ShiftAndScaleNormalizerConfig(shift=1.0, scale=2.0))
    NormalizerChain([ShiftAndScaleNormalizer(shift=1.0, scale=2.0)])
    """
    if not isinstance(configs, (tuple, list)):
        configs = (configs,)
    return NormalizerChain(make_normalizer(config) for config in configs)
