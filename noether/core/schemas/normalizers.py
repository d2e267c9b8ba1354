"""Normalizer configs: fixed affine transforms applied to one data source of a dataset."""

from __future__ import annotations

from typing import Literal

import attrs

from noether.core.schemas._checks import FieldProblem, greater_than, own_class_kind, run_object_checks

_PREFIX = "noether.data.preprocessors.normalizers."

FloatOrFloats = float | tuple[float, ...]
"""A single value, or one value per channel."""


def _as_tuple(value: FloatOrFloats) -> tuple[float, ...]:
    return value if isinstance(value, tuple) else (value,)


def _check_same_shape(config: object, first: str, second: str) -> None:
    a, b = _as_tuple(getattr(config, first)), _as_tuple(getattr(config, second))
    if len(a) != len(b):
        raise FieldProblem(f"{first} and {second} must have the same length (got {len(a)} and {len(b)})")


@attrs.frozen(kw_only=True)
class MeanStdNormalizerConfig:
    """Normalize as ``(x - mean) / std`` (after ``log1p``-style log scaling when ``logscale``)."""

    kind: Literal["noether.data.preprocessors.normalizers.MeanStdNormalization"] = _PREFIX + "MeanStdNormalization"
    """The normalizer class path."""
    mean: FloatOrFloats
    """The mean to subtract: one value, or one per channel."""
    std: FloatOrFloats
    """The standard deviation to divide by (> 0): one value, or one per channel."""
    logscale: bool = False
    """Transform the data to log scale before normalizing."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, lambda: _check_same_shape(self, "mean", "std"), self.check_std_positive)

    def check_std_positive(self) -> None:
        """Ensure that every standard deviation is positive."""
        for index, value in enumerate(_as_tuple(self.std)):
            if value <= 0:
                field = f"std[{index}]" if isinstance(self.std, tuple) else "std"
                raise FieldProblem(f"must be > 0 (got {value!r})", field)


@attrs.frozen(kw_only=True)
class PositionNormalizerConfig:
    """Scale coordinates linearly from ``[raw_pos_min, raw_pos_max]`` to ``[0, scale]`` (or ``[-scale, scale]``)."""

    kind: Literal["noether.data.preprocessors.normalizers.PositionNormalizer"] = _PREFIX + "PositionNormalizer"
    """The normalizer class path."""
    raw_pos_min: FloatOrFloats
    """Minimum raw coordinate of the whole domain: one value, or one per axis."""
    raw_pos_max: FloatOrFloats
    """Maximum raw coordinate of the whole domain (element-wise > raw_pos_min)."""
    scale: float = attrs.field(default=1000.0, validator=greater_than(0.0))
    """The normalized coordinates span [0, scale] (> 0)."""
    zero_center: bool = False
    """Span [-scale, scale] instead of [0, scale]."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, lambda: _check_same_shape(self, "raw_pos_min", "raw_pos_max"), self.check_min_max)

    def check_min_max(self) -> None:
        """Ensure that ``raw_pos_max`` is element-wise greater than ``raw_pos_min``."""
        low, high = _as_tuple(self.raw_pos_min), _as_tuple(self.raw_pos_max)
        bad = [i for i, (a, b) in enumerate(zip(low, high)) if b <= a]
        if bad:
            raise FieldProblem(f"must be element-wise greater than raw_pos_min (got violations at indices {bad})", "raw_pos_max")


@attrs.frozen(kw_only=True)
class ShiftAndScaleNormalizerConfig:
    """Normalize as ``(x + shift) * scale``."""

    kind: Literal["noether.data.preprocessors.normalizers.ShiftAndScaleNormalizer"] = (
        _PREFIX + "ShiftAndScaleNormalizer"
    )
    """The normalizer class path."""
    shift: FloatOrFloats
    """The value to add: one value, or one per channel."""
    scale: FloatOrFloats
    """The factor to multiply by (> 0): one value, or one per channel."""
    logscale: bool = False
    """Transform the data to log scale before normalizing."""

    def __attrs_post_init__(self) -> None:
        run_object_checks(self, lambda: _check_same_shape(self, "shift", "scale"), self.check_shift_scale)

    def check_shift_scale(self) -> None:
        """Ensure that every scale is positive."""
        for index, value in enumerate(_as_tuple(self.scale)):
            if value <= 0:
                field = f"scale[{index}]" if isinstance(self.scale, tuple) else "scale"
                raise FieldProblem(f"must be > 0 (got {value!r})", field)


NORMALIZER_KINDS = (
    _PREFIX + "MeanStdNormalization",
    _PREFIX + "PositionNormalizer",
    _PREFIX + "ShiftAndScaleNormalizer",
)
"""The built-in normalizer kinds (Noether's class paths)."""


@attrs.frozen(kw_only=True)
class NormalizerConfig:
    """A normalizer class of your own: ``kind`` is its class path, a subclass of ``engine.data.NormalizerBase``
    that the engine constructs with this config. The class may declare ``config_schema``, an attrs subclass of
    ``NormalizerConfig`` with its own fields (``@attrs.frozen(kw_only=True)``); without one, ``kind`` is the only
    key."""

    kind: str = attrs.field(validator=own_class_kind(NORMALIZER_KINDS, _PREFIX, "normalizer"))
    """The class path of the normalizer, e.g. ``my_project.data.LogNormalizer`` (not under Noether's normalizer
    module, where only the built-in kinds exist)."""


BuiltinNormalizer = MeanStdNormalizerConfig | PositionNormalizerConfig | ShiftAndScaleNormalizerConfig
"""The built-in normalizer configs."""

AnyNormalizer = BuiltinNormalizer | NormalizerConfig
"""Any normalizer config, selected by its ``kind``: a built-in one, or :class:`NormalizerConfig` (or the subclass
its class declares) for any other class path."""
